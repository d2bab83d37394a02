"""The model manager: which Whisper models are on this computer (size, folder), download one
with byte progress and Cancel, import a model folder or an archive of one, delete one.

Every slow call (cache scans, downloads, copying or extracting gigabytes, deleting) runs on a
pool thread (app.background); the dialog only shows what comes back. It is modeless: the
queue and the transcript stay usable while a model downloads.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs, fmt
from app.background import run_in_background
from engine import (
    DOWNLOAD_MB,
    MODEL_FOLDER,
    Cancelled,
    ModelAdvice,
    ModelEntry,
    ModelError,
    catalog,
    delete_model,
    discard_partial_download,
    download,
    import_model,
    models_dir,
)

COLUMNS = ("Model", "On this computer", "Size", "Folder")
COL_NAME, COL_STATE, COL_SIZE, COL_FOLDER = range(len(COLUMNS))
ARCHIVE_FILTER = "Model archives (*.zip *.tar.gz *.tgz *.tar);;All files (*)"
EntryRole = Qt.ItemDataRole.UserRole + 1

# Failures shown in this window name its own buttons, never a command to type.
MANAGER_ADVICE = ModelAdvice(
    missing="press Download while online, or press \"Import folder…\" and pick " + MODEL_FOLDER,
    offline="copy " + MODEL_FOLDER + " from a computer that has one and press \"Import folder…\" here",
)


def model_size(num_bytes: int) -> str:
    """Decimal units, as `sessionscribe models list` and the model hub say them: "484 MB"."""
    return f"{num_bytes / 1e9:.1f} GB" if num_bytes >= 1e9 else f"{num_bytes / 1e6:.0f} MB"


def size_text(entry: ModelEntry) -> str:
    if entry.present:
        return model_size(entry.size_bytes)
    return f"~{model_size(entry.size_bytes)} download" if entry.size_bytes else "—"


def download_label(name: str) -> str:
    """"Download small (~484 MB)": what a fix button offers, with its cost."""
    megabytes = DOWNLOAD_MB.get(name)
    return f"Download {name} (~{model_size(megabytes * 1_000_000)})" if megabytes else f"Download {name}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _download_task(name: str, cancel: threading.Event, report: Callable[[Any], None]) -> Path:
    try:
        return download(name, lambda done, total: report((done, total)), cancel, advice=MANAGER_ADVICE)
    except Cancelled:
        discard_partial_download(name)  # no half model is left on disk
        raise
    except ModelError as error:
        if error.kind == "hub-unreachable":  # the usual offline case, said short, with its way out
            raise ModelError(
                f"no connection to the model hub, so {name} cannot be downloaded now. "
                + _sentence(MANAGER_ADVICE.for_offline(name)),
                kind=error.kind,
            ) from None
        raise


class ModelManager(QDialog):
    models_changed = Signal()  # a model was downloaded, imported or deleted
    use_model = Signal(str)  # "Use in Settings": a model name or an imported model's folder
    imported = Signal(str)  # an imported model's folder (before models_changed)
    message = Signal(str)  # one line for the main window's status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 560)
        self.entries: list[ModelEntry] = []
        self._cancel: threading.Event | None = None
        self._downloading: str | None = None
        self._busy = False  # importing or deleting
        self._select_after: str | None = None
        # Tests replace these (the dialogs are Qt's own and would block).
        self.confirm_delete: Callable[[ModelEntry], bool] = self._ask_delete
        self.choose_folder: Callable[[], Path | None] = lambda: file_dialogs.existing_folder(
            self, "Folder holding a CTranslate2 Whisper model"
        )
        self.choose_archive: Callable[[], Path | None] = self._pick_archive

        self.summary = QLabel("Looking for models on this computer…")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setStyleSheet("QTableWidget::item { padding: 0 8px 0 4px; }")
        header = self.table.horizontalHeader()
        for column in (COL_NAME, COL_STATE, COL_SIZE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_FOLDER, QHeaderView.ResizeMode.Stretch)

        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel download")
        self.delete_button = QPushButton("Delete…")
        self.use_button = QPushButton("Use in Settings")
        self.import_folder_button = QPushButton("Import folder…")
        self.import_archive_button = QPushButton("Import archive…")
        self.close_button = QPushButton("Close")
        self.progress = QProgressBar()
        self.progress.setFormat("%p %")
        self.progress_label = QLabel("")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button.setToolTip("Fetch the selected model from the model hub (the only network use)")
        self.delete_button.setToolTip("Delete the selected model from this computer (asks first)")
        self.use_button.setToolTip("Make the selected model the one new jobs use")
        self.import_folder_button.setToolTip("Copy a folder holding a CTranslate2 Whisper model into SessionScribe's models folder")
        self.import_archive_button.setToolTip("Extract a .zip or .tar.gz of a model folder into SessionScribe's models folder")

        actions = QHBoxLayout()
        for button in (self.download_button, self.delete_button, self.use_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.import_folder_button)
        actions.addWidget(self.import_archive_button)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)
        progress_row.addWidget(self.cancel_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addLayout(progress_row)
        layout.addLayout(bottom)

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self._use())
        self.download_button.clicked.connect(lambda: self.start_download())
        self.cancel_button.clicked.connect(self.cancel_download)
        self.delete_button.clicked.connect(self.delete_selected)
        self.use_button.clicked.connect(self._use)
        self.import_folder_button.clicked.connect(self._import_folder)
        self.import_archive_button.clicked.connect(self._import_archive)
        self.close_button.clicked.connect(self.close)
        self._show_progress(False)
        self._update_buttons()

    # ----------------------------------------------------------------- listing
    def refresh(self, select: str | None = None) -> None:
        """Look for models again (a cache scan, off the UI thread)."""
        self._select_after = select or self._select_after or self.selected_name()
        run_in_background(catalog, self._show_entries, lambda reason: self._say(f"Could not list the models: {reason}"))

    def _show_entries(self, entries: list[ModelEntry]) -> None:
        self.entries = list(entries)
        wanted = self._select_after
        self._select_after = None
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            name = QTableWidgetItem(entry.name + ("  (imported)" if entry.imported else ""))
            name.setData(EntryRole, entry)
            state = QTableWidgetItem("✓ on disk" if entry.present else "not downloaded")
            state.setForeground(QColor("#2e7d32" if entry.present else "#78909c"))
            size = QTableWidgetItem(size_text(entry))
            size.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            folder = QTableWidgetItem(str(entry.folder) if entry.folder else "")
            folder.setToolTip(str(entry.folder) if entry.folder else "")
            for column, item in enumerate((name, state, size, folder)):
                self.table.setItem(row, column, item)
            if wanted is not None and entry.name == wanted:
                self.table.selectRow(row)
        present = [entry for entry in entries if entry.present]
        total = sum(entry.size_bytes for entry in present)
        cache = next((entry.folder for entry in present if not entry.imported), None)
        where = f"the model cache shared with other tools ({cache.parents[2]})" if cache else "the model cache shared with other tools"
        self.summary.setText(
            f"{len(present)} model{'s' if len(present) != 1 else ''} on this computer ({model_size(total)}). "
            f"Downloads go to {where}; imported models to {models_dir()}. "
            "Nothing else is sent or fetched."
        )
        self._update_buttons()

    def selected(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), COL_NAME)
        return item.data(EntryRole) if item is not None else None

    def selected_name(self) -> str | None:
        entry = self.selected()
        return entry.name if entry is not None else None

    def select(self, name: str) -> bool:
        for row, entry in enumerate(self.entries):
            if entry.name == name:
                self.table.selectRow(row)
                return True
        self._select_after = name  # the list is still coming
        return False

    def entry(self, name: str) -> ModelEntry | None:
        return next((entry for entry in self.entries if entry.name == name), None)

    def _update_buttons(self) -> None:
        entry = self.selected()
        idle = self._downloading is None and not self._busy
        self.download_button.setEnabled(idle and entry is not None and not entry.present and not entry.imported)
        self.delete_button.setEnabled(idle and entry is not None and entry.present)
        self.use_button.setEnabled(entry is not None and entry.present)
        self.import_folder_button.setEnabled(idle)
        self.import_archive_button.setEnabled(idle)
        self.cancel_button.setEnabled(self._cancel is not None and not self._cancel.is_set())
        if entry is not None and not entry.present and not entry.imported:
            self.download_button.setText(download_label(entry.name))
        else:
            self.download_button.setText("Download")

    # ----------------------------------------------------------------- downloading
    @property
    def downloading(self) -> str | None:
        return self._downloading

    def start_download(self, name: str | None = None) -> bool:
        """Download `name` (default: the selected model) on a pool thread."""
        if name is not None:
            self.select(name)
        name = name or self.selected_name()
        if name is None or self._downloading is not None or self._busy:
            return False
        cancel = threading.Event()
        self._cancel = cancel
        self._downloading = name
        self._show_progress(True)
        self.progress.setRange(0, 0)  # busy until the first byte count arrives
        self.progress_label.setText(f"Downloading {name}…")
        self._say("")
        self._update_buttons()

        def finished(_folder: Path) -> None:
            self._download_ended(name, None)

        def failed(reason: str) -> None:
            if cancel.is_set():
                self._download_ended(name, f"Download of {name} cancelled; nothing of it was kept.")
            else:
                self._download_ended(name, f"Download of {name} failed: {reason}")

        run_in_background(
            lambda report: _download_task(name, cancel, report), finished, failed, self._on_progress
        )
        return True

    def _on_progress(self, progress: tuple[int, int | None]) -> None:
        done, total = progress
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress_label.setText(f"{self._downloading}: {fmt.size(done)} of {fmt.size(total)}")
            self._show_state(self._downloading, f"downloading {100 * done / total:.0f} %")
        else:
            self.progress.setRange(0, 0)
            self.progress_label.setText(f"{self._downloading}: {fmt.size(done)}")

    def _show_state(self, name: str | None, text: str) -> None:
        """The model's row says it is on its way (the bar is below the list)."""
        row = next((row for row, entry in enumerate(self.entries) if entry.name == name and not entry.imported), -1)
        item = self.table.item(row, COL_STATE) if row >= 0 else None
        if item is not None:
            item.setText(text)
            item.setForeground(QColor("#1565c0"))

    def cancel_download(self) -> None:
        if self._cancel is not None and not self._cancel.is_set():
            self._cancel.set()
            self.progress_label.setText("Cancelling…")
            self._update_buttons()

    def _download_ended(self, name: str, problem: str | None) -> None:
        self._cancel = None
        self._downloading = None
        self._show_progress(False)
        if problem is None:
            self._say(f"{name} downloaded: new jobs can use it.")
            self.message.emit(f"Model {name} downloaded")
            self.models_changed.emit()
        else:
            self._say(problem)
            self.message.emit(fmt.one_line(problem, fmt.REASON_LIMIT))
        self.refresh(select=name)

    def _show_progress(self, visible: bool) -> None:
        for widget in (self.progress, self.progress_label, self.cancel_button):
            widget.setVisible(visible)

    # ----------------------------------------------------------------- import / delete
    def _pick_archive(self) -> Path | None:
        files = file_dialogs.open_files(self, "Archive of a CTranslate2 Whisper model", ARCHIVE_FILTER)
        return files[0] if files else None

    def _import_folder(self) -> None:
        folder = self.choose_folder()
        if folder:
            self.import_from(folder)

    def _import_archive(self) -> None:
        archive = self.choose_archive()
        if archive:
            self.import_from(archive)

    def import_from(self, source: Path) -> None:
        """Copy or extract a model into SessionScribe's models folder, then list it."""
        if self._busy or self._downloading is not None:
            return
        self._run_busy(
            f"Importing {source.name}…",
            lambda: import_model(source),
            lambda entry: (
                self._say(f"Imported {entry.name}: it is checked and ready; press \"Use in Settings\" to run jobs with it."),
                self.imported.emit(entry.value),
                self.models_changed.emit(),
                self.refresh(select=entry.name),
            ),
            f"{source.name} was not imported",
        )

    def delete_selected(self) -> None:
        entry = self.selected()
        if entry is None or not entry.present or not self.confirm_delete(entry):
            return
        self._run_busy(
            f"Deleting {entry.name}…",
            lambda: delete_model(entry),
            lambda _none: (self._say(f"Deleted {entry.name} ({model_size(entry.size_bytes)} freed)."), self.models_changed.emit(), self.refresh()),
            f"{entry.name} was not deleted",
        )

    def _run_busy(self, doing: str, task: Callable[[], Any], done: Callable[[Any], Any], failure: str) -> None:
        self._busy = True
        self._show_progress(True)
        self.cancel_button.hide()
        self.progress.setRange(0, 0)
        self.progress_label.setText(doing)
        self._update_buttons()

        def finish() -> None:
            self._busy = False
            self._show_progress(False)
            self._update_buttons()

        def ok(result: Any) -> None:
            finish()
            done(result)

        def failed(reason: str) -> None:
            finish()
            self._say(f"{failure}: {reason}")

        run_in_background(task, ok, failed)

    def _ask_delete(self, entry: ModelEntry) -> bool:
        where = "SessionScribe's models folder" if entry.imported else "the model cache (other tools using it will download it again)"
        answer = QMessageBox.question(
            self,
            "Delete this model?",
            f"Delete {entry.name} ({model_size(entry.size_bytes)}) from {where}?\n\n{entry.folder}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _use(self) -> None:
        entry = self.selected()
        if entry is not None and entry.present:
            self.use_model.emit(entry.value)
            self._say(f"New jobs use {entry.name}.")

    def _say(self, text: str) -> None:
        self.status.setText(fmt.one_line(text, fmt.REASON_LIMIT) if text else "")

    def closeEvent(self, event) -> None:  # a download goes on in the background; say so
        if self._downloading is not None:
            self.message.emit(f"Model {self._downloading} is still downloading (Models… shows its progress)")
        super().closeEvent(event)
