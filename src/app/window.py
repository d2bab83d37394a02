"""The main window: queue on the left, transcript/report/settings/health on the right, gauges
along the bottom. Wiring only; behaviour lives in the controller and the views."""
from __future__ import annotations

import logging
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QByteArray, QCoreApplication, QEventLoop, QItemSelectionModel, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs
from app.background import pool
from app.drop_zone import DropZone
from app.engine_adapter import EngineAdapter, EngineFactory
from app.gauges import GaugePanel, Sampler, SystemMonitor
from app.health_view import HealthView, _check_device
from app.history import History, SearchHit
from app.history_view import HistoryView
from app.jobs import Job, JobStatus
from app.keep_awake import KeepAwake
from app.model_manager import ModelManager, download_label
from app.progress_delegate import StageProgressDelegate
from app.queue_controller import QueueController
from app.queue_model import COL_DURATION, COL_ELAPSED, COL_ETA, COL_FILE, COL_PROGRESS, COL_STATUS, QueueModel
from app.report_view import ReportView
from app.resources import app_icon
from app.session_search import SessionSearch
from app.settings import AppSettings, SettingsStore
from app.settings_panel import SettingsPanel
from app.transcript_view import TranscriptView

log = logging.getLogger(__name__)

APP_TITLE = "SessionScribe"
# Qt adds the application's display name ("SessionScribe", set in app.gui) to every window
# title, so the window's own title names only what is going on, or nothing when idle.
IDLE_TITLE = ""
PREFERRED_SIZE = QSize(1440, 900)
MEDIA_FILTER = (
    "Recordings (*.wav *.mp3 *.m4a *.aac *.flac *.ogg *.opus *.wma *.aiff *.mp4 *.mov *.mkv *.webm *.avi);;All files (*)"
)


def model_check_for(adapter: EngineAdapter) -> Callable[[Any], str | None]:
    """Before a job starts: the named model it needs that is not on this computer (the
    device decides what "auto" means, so the engine's plan is asked first). Runs on a pool
    thread."""

    def check(options: Any) -> str | None:
        from engine import missing_model

        device = str(getattr(adapter.plan(options), "device", "cpu"))
        return missing_model(options.model, device, options.language)

    return check


class QueueTable(QTableView):
    """Queue table: rows reorder by drag; files dragged in from outside are queued."""

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegateForColumn(COL_PROGRESS, StageProgressDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropOverwriteMode(False)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(34)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.horizontalHeader()
        # Name and progress share what is left, so a narrow queue (a 1280-pixel screen) has no
        # horizontal scroll bar; both cells elide and their tooltips hold the whole text.
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Stretch)
        for column in (COL_DURATION, COL_STATUS, COL_ELAPSED, COL_ETA):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)


def initial_geometry(available: QRect) -> QRect:
    """The first window: the preferred size where the screen's available area (without
    panels and docks) has room, else that whole area; centred in it. A fixed 1440x900 put the
    export buttons off a 1280x720 screen."""
    width = min(PREFERRED_SIZE.width(), available.width())
    height = min(PREFERRED_SIZE.height(), available.height())
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings_store: SettingsStore | None = None,
        settings: AppSettings | None = None,
        engine_factory: EngineFactory | None = None,
        sampler_factory: Callable[[], Sampler] | None = None,
        health_check: Callable[[], Any] | None = None,
        player_factory: Callable[[], object] | None = None,
        probe: Callable[[Path], float | None] | None | bool = True,
        start_monitor: bool = True,
        history: History | None = None,
        model_check: Callable[[Any], str | None] | None | bool = True,
    ) -> None:
        super().__init__()
        self.settings_store = settings_store or SettingsStore()
        self.settings = settings or self.settings_store.load()
        self.setWindowTitle(IDLE_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        # Tests replace this to answer the "a job is running, quit?" question.
        self.confirm_quit: Callable[[], bool] = self._ask_quit
        self.confirm_remove: Callable[[list[Job]], bool] = self._ask_remove
        self._followed: str | None = None  # the running job the window selected by itself
        self._auto_selecting = False
        self._fitted_after_show = False

        # --- core objects
        self.history = history or History.open()
        self.adapter = EngineAdapter(engine_factory, store=self.history.store, parent=self)
        self.queue_model = QueueModel(self)
        controller_kwargs: dict[str, Any] = {} if probe is True else {"probe": probe or None}
        controller_kwargs["model_check"] = model_check_for(self.adapter) if model_check is True else (model_check or None)
        self.controller = QueueController(
            self.queue_model,
            self.adapter,
            self.settings.effective_options,
            history=self.history,
            parent=self,
            **controller_kwargs,
        )
        self.monitor = SystemMonitor(sampler_factory, parent=self)

        # --- widgets
        self.drop_zone = DropZone()
        self.session_search = SessionSearch(self.history.search if self.history.store is not None else None)
        self.table = QueueTable(self.queue_model)
        self.transcript = TranscriptView(**({"player_factory": player_factory} if player_factory else {}))
        self.report = ReportView()
        self.report.set_rates(self.settings.options.gpu_dollars_per_hour, self.settings.options.api_dollars_per_minute)
        self.settings_panel = SettingsPanel(self.settings, self.settings_store, plan=self.adapter.plan)
        self.health = HealthView(**({"check": health_check} if health_check else {"check": _check_device}))
        self.gauges = GaugePanel()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 8, 4, 0)
        left_layout.addWidget(self.drop_zone)
        left_layout.addWidget(self.session_search)
        self.queue_summary = QLabel("")
        self.queue_summary.setStyleSheet("color: #546e7a;")
        self.clear_finished_button = QPushButton("Clear finished")
        self.clear_finished_button.setToolTip(
            "Take done, failed and cancelled recordings off today's queue (they stay in History)"
        )
        summary_row = QHBoxLayout()
        summary_row.setContentsMargins(0, 4, 0, 0)
        summary_row.addWidget(self.queue_summary, 1)
        summary_row.addWidget(self.clear_finished_button)
        queue_page = QWidget()
        queue_layout = QVBoxLayout(queue_page)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.addLayout(summary_row)
        queue_layout.addWidget(self.table, 1)
        self.history_view = HistoryView(self.history.sessions if self.history.store is not None else None)
        # Today's queue (this run's work) beside the history of every stored session.
        self.left_tabs = QTabWidget()
        self.left_tabs.addTab(queue_page, "Today's queue")
        self.left_tabs.addTab(self.history_view, "History")
        left_layout.addWidget(self.left_tabs, 1)
        self.model_manager: ModelManager | None = None

        self.tabs = QTabWidget()
        self.tabs.addTab(self.transcript, "Transcript")
        self.tabs.addTab(self.report, "Run report")
        self.tabs.addTab(self.settings_panel, "Settings")
        self.tabs.addTab(self.health, "Health")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 8, 8, 0)
        right_layout.addWidget(self.tabs)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 4)
        splitter.setSizes([780, 640])
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(splitter, 1)
        central_layout.addWidget(self.gauges)
        self.setCentralWidget(central)
        self._build_actions()
        self.statusBar().showMessage("Ready. Everything stays on this computer.")
        self.keep_awake = KeepAwake()
        self.keep_awake_label = QLabel()
        self.keep_awake_label.hide()
        self.statusBar().addPermanentWidget(self.keep_awake_label)
        self._keep_awake_hide = QTimer(self, singleShot=True, interval=15000)
        self._keep_awake_hide.timeout.connect(self.keep_awake_label.hide)

        # --- wiring
        self.drop_zone.files_dropped.connect(self.add_paths)
        self.drop_zone.add_files_clicked.connect(self.choose_files)
        self.drop_zone.add_folder_clicked.connect(self.choose_folder)
        self.controller.note.connect(self.show_message)
        self.controller.skipped.connect(self.drop_zone.show_notes)
        self.controller.job_updated.connect(self._on_job_updated)
        self.controller.segment_added.connect(lambda job_id, _segment: self.transcript.refresh(job_id))
        self.controller.job_finished.connect(self._on_job_finished)
        self.controller.started_changed.connect(lambda _started: self._update_actions())
        self.controller.download_progress.connect(self._on_download_progress)
        self.controller.device_notice.connect(self._on_device_notice)
        self.controller.reopened.connect(self._reopen)
        self.adapter.busy_changed.connect(lambda _busy: self._update_actions())
        self.adapter.busy_changed.connect(self._keep_awake_while_busy)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self.queue_model.rowsInserted.connect(lambda *_: self._update_actions())
        self.queue_model.rowsRemoved.connect(lambda *_: self._on_selection())
        # A deleted session must not linger in the search results (the store row goes just
        # after the queue row, hence "soon").
        self.queue_model.rowsRemoved.connect(lambda *_: self.session_search.refresh_soon())
        # The History tab follows the store while it is shown (a removed row's session goes
        # from the store just after the row: hence the next turn of the event loop).
        for signal in (self.queue_model.rowsInserted, self.queue_model.rowsRemoved):
            signal.connect(lambda *_: QTimer.singleShot(0, self._refresh_history_if_shown))
        self.session_search.hit_opened.connect(self.open_search_hit)
        self.history_view.session_opened.connect(self.open_session)
        self.history_view.delete_requested.connect(self.delete_session)
        self.left_tabs.currentChanged.connect(lambda _i: self._refresh_history_if_shown())
        self.clear_finished_button.clicked.connect(self.clear_finished)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._queue_menu)
        self.controller.model_missing.connect(self._on_model_missing)
        self.transcript.fix_model.connect(lambda model, download: self.open_model_manager(model, download))
        self.settings_panel.manage_models.connect(lambda: self.open_model_manager())
        self.settings_panel.model_downloaded.connect(lambda _name: self._on_models_changed())
        self.transcript.message.connect(self.show_message)
        self.transcript.segment_edited.connect(self.history.update_text)
        self.transcript.speakers_renamed.connect(self.history.set_speaker_names)
        self.transcript.speakers_swapped.connect(self.history.swap_speakers)
        self.transcript.speakers_merged.connect(self.history.merge_speakers)
        self.transcript.segment_speaker_set.connect(self.history.set_segment_speaker)
        self.transcript.segment_split.connect(self.history.split_segment)
        self.transcript.recounter = self.history.recount_speakers
        # ...and the open search names who said its lines anew (after the store has the change:
        # slots run in the order they were connected).
        for speakers_changed in (
            self.transcript.speakers_renamed, self.transcript.speakers_swapped, self.transcript.segment_speaker_set,
            self.transcript.speakers_merged, self.transcript.speakers_recounted, self.transcript.segment_split,
        ):
            speakers_changed.connect(lambda *_: self.session_search.refresh_soon())
        self.settings_panel.message.connect(self.show_message)
        self.health.message.connect(self.show_message)
        self.report.rates_changed.connect(self.settings_panel.save_rates)
        self.monitor.sample_ready.connect(self.gauges.show_sample)
        self._title_timer = QTimer(self)
        self._title_timer.setInterval(1000)
        self._title_timer.timeout.connect(self._update_title)
        self._title_timer.start()

        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode()))
        self.fit_screen(restored=bool(self.settings.window_geometry))
        self.apply_retention()  # before listing: expired sessions never show up
        self.controller.restore()
        if self.history.problem:
            self.show_message(self.history.problem)
        self.notice_box: QMessageBox | None = None
        if self.history.notice:
            self.show_notice("Job history damaged", self.history.notice)
        if start_monitor:
            self.monitor.start()
        # Slow look-ups (device check, model cache, 'auto' plan) start once the window is up.
        self._deferred = QTimer(self, singleShot=True, interval=800)
        self._deferred.timeout.connect(self._deferred_start)
        self._deferred.start()
        self._update_actions()

    # ----------------------------------------------------------------- actions
    def fit_screen(self, restored: bool = False) -> None:
        """Size the window to the screen it opens on; a size restored from another (bigger)
        screen is shrunk to this one."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            self.resize(PREFERRED_SIZE)
            return
        available = screen.availableGeometry()
        if restored and available.contains(self.frameGeometry()):
            return
        handle = self.windowHandle()
        if handle is not None:  # the frame is known once shown: keep it on the screen too
            margins = handle.frameMargins()
            available = available.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        self.setGeometry(initial_geometry(available))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._fitted_after_show:
            # The window manager adds its frame only now: shrink if the frame left the screen.
            self._fitted_after_show = True
            QTimer.singleShot(0, lambda: self.fit_screen(restored=True))

    def _build_actions(self) -> None:
        bar = QToolBar("Queue")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(bar)

        style = self.style()

        def action(text: str, slot, shortcut: str | None = None, tip: str = "", icon=None) -> QAction:
            act = QAction(text, self)
            if icon is not None:
                act.setIcon(style.standardIcon(icon))
            act.triggered.connect(slot)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.setToolTip(tip or text)
            bar.addAction(act)
            return act

        pix = QStyle.StandardPixmap
        self.add_files_action = action("Add files…", self.choose_files, "Ctrl+O", "Add recordings to the queue", pix.SP_FileIcon)
        self.add_folder_action = action("Add folder…", self.choose_folder, "Ctrl+Shift+O", "Add every recording in a folder", pix.SP_DirIcon)
        bar.addSeparator()
        # The toolbar's one button toggles; the menu's Start and Pause carry Ctrl+Return (only
        # one of them is enabled at a time, so the shortcut is never ambiguous).
        self.start_action = action("Start queue", self.toggle_queue, None, "Start or pause the queue", pix.SP_MediaPlay)
        self.cancel_action = action("Cancel job", self.controller.cancel_running, "Ctrl+.", "Stop the recording being transcribed", pix.SP_MediaStop)
        self.retry_action = action("Retry", self.retry_selected, None, "Queue the selected recordings again (finished parts are reused when nothing changed)", pix.SP_BrowserReload)
        self.remove_action = action("Remove", self.remove_selected, "Del", "Remove the selected recordings and delete their stored transcripts (exported files on disk are kept)", pix.SP_TrashIcon)
        bar.addSeparator()
        self.settings_action = action("Settings", lambda: self.tabs.setCurrentWidget(self.settings_panel), "Ctrl+,", "Model, device, output folder and formats", pix.SP_FileDialogDetailedView)
        self.health_action = action("Health", lambda: self.tabs.setCurrentWidget(self.health), None, "GPU, driver and library check", pix.SP_MessageBoxInformation)
        self._build_menus()

    def _build_menus(self) -> None:
        """A menu bar, so every command and its shortcut can be found (the toolbar shows no
        shortcuts, and Ctrl+Q must quit)."""

        def plain(text: str, slot, shortcut: QKeySequence | str | None = None, tip: str = "") -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip)
            return act

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.add_files_action)
        file_menu.addAction(self.add_folder_action)
        file_menu.addSeparator()
        self.export_action = plain(
            "Export…", self.transcript.export_any, "Ctrl+E", "Save the shown transcript as TXT, SRT, WebVTT or JSON"
        )
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        self.quit_action = plain("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # also where the platform has none
        file_menu.addAction(self.quit_action)

        queue_menu = menus.addMenu("&Queue")
        self.queue_start_action = plain("Start", self.controller.start, "Ctrl+Return", "Transcribe the queued recordings one by one")
        self.queue_pause_action = plain("Pause", self.toggle_queue, "Ctrl+Return", "Finish the current recording, then stop")
        for act in (self.queue_start_action, self.queue_pause_action):
            queue_menu.addAction(act)
        queue_menu.addSeparator()
        for act in (self.cancel_action, self.retry_action, self.remove_action):
            queue_menu.addAction(act)
        queue_menu.addSeparator()
        self.clear_finished_action = plain(
            "Clear finished", self.clear_finished, None, "Take finished recordings off today's queue (they stay in History)"
        )
        queue_menu.addAction(self.clear_finished_action)
        self.history_action = plain("History", self.show_history, "Ctrl+H", "Every stored session: filter, sort, reopen")
        queue_menu.addAction(self.history_action)

        models_menu = menus.addMenu("&Models")
        self.models_action = plain(
            "Model manager…", lambda: self.open_model_manager(), "Ctrl+M", "Models on this computer: download, import, delete"
        )
        models_menu.addAction(self.models_action)

        help_menu = menus.addMenu("&Help")
        help_menu.addAction(plain("Command line…", self.show_command_line_help))
        help_menu.addAction(plain("About SessionScribe", self.show_about))
        for act in (
            self.export_action, self.quit_action, self.queue_start_action, self.queue_pause_action,
            self.history_action, self.models_action,
        ):
            self.addAction(act)  # shortcuts work while the menu is closed, and in tests

    def show_command_line_help(self) -> None:
        QMessageBox.information(
            self,
            "Command line",
            "Everything the window does also works in a terminal, e.g. over SSH:\n\n"
            "sessionscribe transcribe FILE...\nsessionscribe models list\nsessionscribe doctor\n\n"
            "sessionscribe transcribe --help explains every option.",
        )

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About SessionScribe",
            "SessionScribe transcribes session recordings on this computer. "
            "Nothing leaves it: no audio, no text, no names.",
        )

    def _update_actions(self) -> None:
        selected = self.selected_jobs()
        running = self.controller.running_job()
        started = self.controller.started
        self.start_action.setText("Pause queue" if started else "Start queue")
        self.start_action.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause if started else QStyle.StandardPixmap.SP_MediaPlay)
        )
        self.start_action.setToolTip(
            "Finish the current recording, then stop" if started else "Transcribe the queued recordings one by one"
        )
        has_queued = self.queue_model.next_queued() is not None
        self.start_action.setEnabled(started or has_queued)
        self.queue_start_action.setEnabled(not started and has_queued)
        self.queue_pause_action.setEnabled(started)
        self.export_action.setEnabled(self.transcript.job is not None and bool(self.transcript.job.segments))
        self.cancel_action.setEnabled(running is not None and running.status == JobStatus.RUNNING)
        self.retry_action.setEnabled(any(j.status.finished for j in selected))
        self.remove_action.setEnabled(bool(selected))
        any_finished = any(job.status.finished and not job.missing_model for job in self.queue_model.jobs)
        self.clear_finished_action.setEnabled(any_finished)
        self.clear_finished_button.setEnabled(any_finished)
        self._update_summary()

    def _update_summary(self) -> None:
        jobs = self.queue_model.jobs
        if not jobs:
            self.queue_summary.setText("The queue is empty.")
            return
        counts: dict[str, int] = {}
        for job in jobs:
            label = "need a model" if job.missing_model and job.status == JobStatus.FAILED else job.status.value.lower()
            counts[label] = counts.get(label, 0) + 1
        parts = [f"{n} {'needs a model' if label == 'need a model' and n == 1 else label}" for label, n in counts.items()]
        started = self.controller.started
        if self.controller.running_job() is not None:
            state = "queue running" if started else "queue pauses after this recording"
        elif self.controller.waiting_for_model():
            state = "waiting for a model (Models…)"
        elif self.queue_model.next_queued() is not None:
            state = "queue running" if started else "queue paused — press Start"
        else:
            state = "nothing waiting"
        self.queue_summary.setText(f"{len(jobs)} recording{'s' if len(jobs) != 1 else ''}: {', '.join(parts)} · {state}")

    # ----------------------------------------------------------------- commands
    def add_paths(self, paths: list[Path]) -> list[Job]:
        return self.controller.add_paths(paths)

    def clear_finished(self) -> None:
        count = self.controller.clear_finished()
        if count:
            self.show_message(f"Cleared {count} finished recording{'s' if count != 1 else ''} from the queue; History keeps them")
        self._update_actions()

    def _history_shown(self) -> bool:
        return self.left_tabs.currentWidget() is self.history_view

    def _refresh_history_if_shown(self) -> None:
        if self._history_shown():
            self.history_view.refresh()

    def show_history(self) -> None:
        self.left_tabs.setCurrentWidget(self.history_view)
        self.history_view.refresh()
        self.history_view.filter_box.setFocus()

    def open_session(self, job_id: str) -> bool:
        """Show a stored session's transcript: its queue row when today's queue has it, else
        straight from the store (it is not queued again)."""
        if self.queue_model.job(job_id) is not None:
            self.select_job(job_id)
            self.table.scrollTo(self.queue_model.index(self.queue_model.row_of(job_id), 0))
            job = self.queue_model.job(job_id)
        else:
            job = self.history.job(job_id)
            if job is None:
                self.show_message("That session is no longer in the history")
                self.history_view.refresh()
                return False
            self.table.clearSelection()  # the transcript pane shows a session, not a queue row
            self.history.load_segments(job)
            self.transcript.set_job(job)
            self.report.set_job(job)
            self._update_actions()
        if self.transcript.job is not job and job is not None:  # several queue rows were selected
            self.history.load_segments(job)
            self.transcript.set_job(job)
            self.report.set_job(job)
        self.tabs.setCurrentWidget(self.transcript)
        return True

    # ----------------------------------------------------------------- models
    def open_model_manager(self, model: str | None = None, download: bool = False) -> ModelManager:
        """The model manager (one, modeless); `model` selected, and downloaded if asked."""
        if self.model_manager is None:
            manager = ModelManager(self)
            manager.models_changed.connect(self._on_models_changed)
            manager.use_model.connect(self.settings_panel.use_model)
            manager.imported.connect(self._on_model_imported)
            manager.message.connect(self.show_message)
            self.model_manager = manager
        manager = self.model_manager
        manager.refresh(select=model)
        manager.show()
        manager.raise_()
        manager.activateWindow()
        if model and download:
            manager.start_download(model)
        return manager

    def _on_model_imported(self, value: str) -> None:
        """Jobs waiting for a model run with the one just imported (an imported folder is
        never what "auto" or a model name picks by itself)."""
        if self.controller.waiting_for_model():
            self.settings_panel.use_model(value)
            self.show_message(f"New jobs use the imported model {Path(value).name} (Settings)")

    def _on_models_changed(self) -> None:
        self.settings_panel.refresh_models()
        if self.model_manager is not None and self.model_manager.isVisible():
            self.model_manager.refresh()
        self.controller.model_arrived()

    def _on_model_missing(self, job_id: str, model: str) -> None:
        """Show the job that could not start, with its fix under the reason."""
        self.select_job(job_id)
        self.tabs.setCurrentWidget(self.transcript)

    def _queue_menu(self, position) -> None:
        menu = self.queue_menu_for(self.table.indexAt(position).row())
        if menu is not None:
            menu.exec(self.table.viewport().mapToGlobal(position))

    def queue_menu_for(self, row: int) -> QMenu | None:
        """The queue row's context menu: the fix for a job waiting for a model first."""
        job = self.queue_model.job_at(row)
        if job is None:
            return None
        if job.id not in {j.id for j in self.selected_jobs()}:
            self.select_job(job.id)
        menu = QMenu(self)
        if job.missing_model and job.status == JobStatus.FAILED:
            model = job.missing_model
            menu.addAction(download_label(model), lambda: self.open_model_manager(model, download=True))
            menu.addAction("Choose model…", lambda: self.open_model_manager(model))
            menu.addSeparator()
        for act in (self.retry_action, self.cancel_action, self.remove_action):
            menu.addAction(act)
        return menu

    def choose_files(self) -> None:
        files = file_dialogs.open_files(self, "Add recordings", MEDIA_FILTER)
        if files:
            self.add_paths(files)

    def choose_folder(self) -> None:
        folder = file_dialogs.existing_folder(self, "Add every recording in a folder")
        if folder:
            self.add_paths([folder])

    def toggle_queue(self) -> None:
        if self.controller.started:
            self.controller.pause()
            self.show_message("Queue paused: the current recording finishes, then the queue stops")
        else:
            self.controller.start()

    def retry_selected(self) -> None:
        self.controller.retry([job.id for job in self.selected_jobs()])
        self._on_selection()

    def delete_session(self, job_id: str) -> bool:
        """Erase a stored session from the History tab, after asking (the same question as
        removing a finished row from today's queue). A session still in today's queue goes
        the queue's way (a running one is cancelled first); its row goes too."""
        job = self.queue_model.job(job_id) or self.history.job(job_id)
        if job is None:
            self.history_view.refresh()
            return False
        if not self.confirm_remove([job]):
            return False
        name = job.name
        if self.queue_model.job(job_id) is not None:
            self.controller.remove([job_id])
        else:
            self.history.delete(job_id)
        shown = self.transcript.job
        if shown is not None and shown.id == job_id:  # (the store makes a new Job each time)
            self.transcript.set_job(None)
            self.report.set_job(None)
        self.history_view.refresh()
        self._update_actions()
        self.show_message(f"Deleted {name} from the history; exported files stay on disk")
        return True

    def remove_selected(self) -> None:
        jobs = self.selected_jobs()
        transcripts = [job for job in jobs if job.status == JobStatus.DONE]
        if transcripts and not self.confirm_remove(transcripts):
            return
        self.controller.remove([job.id for job in jobs])

    def _ask_remove(self, jobs: list[Job]) -> bool:
        what = jobs[0].name if len(jobs) == 1 else f"{len(jobs)} transcripts"
        return self._ask_yes_no(
            "Delete from the history?",
            f"Delete {what} from SessionScribe's history? The stored transcript and its edits are "
            "erased and can no longer be searched.\n\nExported files (TXT, SRT, …) stay on disk.",
        )

    def _ask_yes_no(self, title: str, text: str) -> bool:
        """A question whose safe answer, No, is the default."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def open_search_hit(self, hit: SearchHit, query: str = "") -> bool:
        """Show the hit's session in the transcript view, scrolled to the segment."""
        if not self.open_session(hit.job_id):
            self.session_search.refresh()
            return False
        job = self.transcript.job
        if job is None:
            return False
        if not self.transcript.reveal(hit.position, query or None):
            self.show_message(f"{job.name}: that line is not in the transcript any more")
            return False
        return True

    def selected_jobs(self) -> list[Job]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [job for row in rows if (job := self.queue_model.job_at(row)) is not None]

    def select_job(self, job_id: str) -> None:
        row = self.queue_model.row_of(job_id)
        if row >= 0:
            self.table.selectionModel().select(
                self.queue_model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.table.setCurrentIndex(self.queue_model.index(row, 0))

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)
        # A long line (a failure with its fix) is clipped by a narrow window: all of it is
        # in the tooltip, wrapped (Qt does not wrap plain-text tooltips).
        self.statusBar().setToolTip(textwrap.fill(text, 100))

    def show_notice(self, title: str, text: str) -> None:
        """Something the user must not miss (the status bar clears itself): a message box
        that does not block the window, and the status bar until the next message."""
        self.statusBar().showMessage(text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copy the path
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.notice_box = box

    # ----------------------------------------------------------------- reactions
    def _focused_job(self) -> Job | None:
        selected = self.selected_jobs()
        return selected[0] if len(selected) == 1 else None

    def _on_selection(self) -> None:
        if not self._auto_selecting:
            self._followed = None  # the user picked: stop following the queue
        job = self._focused_job()
        if job is not self.transcript.job:
            if job is not None:
                self.history.load_segments(job)
            self.transcript.set_job(job)
        self.report.set_job(job)
        self._update_actions()

    def _on_job_updated(self, job_id: str) -> None:
        job = self.queue_model.job(job_id)
        # Follow the running job when the user has not picked one, so the transcript fills
        # live; a row the window picked itself (the previous running job) does not count.
        if job is not None and job.status == JobStatus.RUNNING and job_id != self._followed:
            selected = [j.id for j in self.selected_jobs()]
            if not selected or selected == [self._followed]:
                self._auto_selecting = True
                try:
                    self.select_job(job_id)
                finally:
                    self._auto_selecting = False
                self._followed = job_id
        if self.transcript.job is not None and self.transcript.job.id == job_id:
            self.transcript.refresh(job_id)
        self._update_actions()

    def apply_retention(self) -> list[str]:
        """The retention setting (off by default): delete ended sessions not changed for N
        days, from the store and from the queue. Runs at start-up and after each job, not
        when the setting changes: typing "30" passes through "3" on the way."""
        days = self.settings.retention_days
        deleted = self.history.apply_retention(days)
        for job_id in deleted:
            job = self.queue_model.job(job_id)
            if job is not None and job.status.finished:
                self.queue_model.remove_job(job_id)
        if deleted:
            self.show_message(
                f"Deleted {len(deleted)} session{'s' if len(deleted) != 1 else ''} not changed "
                f"for {days} days (Settings: history)"
            )
            self.session_search.refresh_soon()
        return deleted

    def _on_job_finished(self, job_id: str) -> None:
        self.apply_retention()
        job = self.queue_model.job(job_id)
        if job is not None and self.transcript.job is job:
            self.transcript.refresh(job_id)
            self.report.set_job(job)
        self.history_view.refresh()
        if job is not None and job.status == JobStatus.DONE:
            self.show_message(f"{job.name}: transcript ready ({', '.join(sorted(job.outputs)) or 'no files'})")
            self.session_search.refresh()  # the new transcript is searchable now
        self._update_actions()

    def _reopen(self, job_id: str) -> None:
        """A finished recording was added again: show what is already there."""
        self.select_job(job_id)
        row = self.queue_model.row_of(job_id)
        if row >= 0:
            self.table.scrollTo(self.queue_model.index(row, 0))
        self.tabs.setCurrentWidget(self.transcript)

    def _on_download_progress(self, model: str, done: int, total: int | None) -> None:
        self.settings_panel.show_download_progress((done, total), model)
        if total:
            self.show_message(f"Downloading model {model}: {100 * done / total:.0f} %")
        if total and done >= total:
            QTimer.singleShot(1500, self.settings_panel.hide_download_progress)

    def _on_device_notice(self, message: str, fix: str) -> None:
        self.health.add_notice(message, fix)
        self.show_message(message)

    def _update_title(self) -> None:
        job = self.controller.running_job()
        if job is None:
            self.setWindowTitle(IDLE_TITLE)
        else:
            self.setWindowTitle(f"{job.name} ({job.overall_fraction() * 100:.0f} %)")

    def _deferred_start(self) -> None:
        self.health.run_check()
        self.settings_panel.refresh_models()
        self.settings_panel.refresh_plan()

    # ----------------------------------------------------------------- drops anywhere
    # Files dropped on any part of the window (transcript, gauges...) are queued too; the
    # drop zone and the table handle their own drops first.
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # ----------------------------------------------------------------- closing
    def _ask_quit(self) -> bool:
        job = self.controller.running_job()
        name = job.name if job else "A recording"
        return self._ask_yes_no(
            "Quit SessionScribe?",
            f"{name} is still being transcribed.\n\nQuit anyway? The transcription is cancelled; "
            "running it again later continues where it stopped.",
        )

    def _keep_awake_while_busy(self, busy: bool) -> None:
        """busy_changed goes False only when no next job started (the queue is done or
        paused), so one hold covers a whole queue. Said in a permanent status-bar label, not
        a message: it must not replace a job's own notes (failed, ready, queued again)."""
        if busy:
            note = self.keep_awake.hold()
            if note is not None:
                self._keep_awake_hide.stop()
                held = self.keep_awake.held
                self.keep_awake_label.setText(
                    "☕ Kept awake while transcribing" if held else "May sleep: could not keep this computer awake"
                )
                self.keep_awake_label.setToolTip(note)
                self.keep_awake_label.show()
            return
        note = self.keep_awake.release()
        if note is None:
            self.keep_awake_label.hide()
            return
        self.keep_awake_label.setText(note)
        self.keep_awake_label.setToolTip(note)
        self._keep_awake_hide.start()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.adapter.is_busy():
            if not self.confirm_quit():
                event.ignore()
                return
            self.controller.pause()
            self.controller.cancel_running()
            self.statusBar().showMessage("Cancelling the running transcription…")
            self.wait_until_idle(10.0)
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        try:
            self.settings_store.save(self.settings)
        except OSError:
            log.warning("could not save settings on exit", exc_info=True)
        self._deferred.stop()
        self._title_timer.stop()
        self.settings_panel.cancel_download()
        if self.model_manager is not None:
            self.model_manager.cancel_download()  # a half download is discarded, not left behind
        self.monitor.stop()
        self.adapter.shutdown()
        self.keep_awake.release()
        # Let short look-ups (device check, model list) finish so none outlives the app.
        pool().waitForDone(3000)
        self.history.close()
        event.accept()

    def wait_until_idle(self, timeout_s: float) -> bool:
        """Keep the UI responsive while the engine winds down (used when quitting)."""
        deadline = time.monotonic() + timeout_s
        while self.adapter.is_busy() and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        return not self.adapter.is_busy()
