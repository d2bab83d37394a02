"""Transcript of the selected job: live segments, search, click-to-play, edit, export."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs, fmt
from app.jobs import Job, JobStatus
from engine.options import EXPORT_FORMATS
from engine.segments import Segment

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
MATCH_COLOR = QColor("#fff59d")
CURRENT_MATCH_COLOR = QColor("#ffca28")


class SegmentModel(QAbstractTableModel):
    """Rows of the displayed job's `segments` list (the list is shared with the Job, so edits
    are what later exports write)."""

    edited = Signal(str, int, str)  # job_id, row, new text

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self._count = 0  # rows announced to views; the job's list may already be longer
        self._matches: list[int] = []
        self._match_set: set[int] = set()
        self.current_match = -1

    def set_job(self, job: Job | None) -> None:
        self.beginResetModel()
        self.job = job
        self._count = len(job.segments) if job is not None else 0
        self._matches, self._match_set, self.current_match = [], set(), -1
        self.endResetModel()

    def sync(self) -> None:
        """Announce segments the job gained since the last call (live transcription)."""
        if self.job is None:
            return
        total = len(self.job.segments)
        if total < self._count:  # replaced by the final list
            self.set_job(self.job)
        elif total > self._count:
            self.beginInsertRows(QModelIndex(), self._count, total - 1)
            self._count = total
            self.endInsertRows()

    def segment(self, row: int) -> Segment | None:
        if self.job is None or not 0 <= row < self._count:
            return None
        return self.job.segments[row]

    # search
    def search(self, query: str) -> list[int]:
        query = query.strip().casefold()
        old = self._match_set
        if query and self.job is not None:
            self._matches = [r for r in range(self._count) if query in self.job.segments[r].text.casefold()]
        else:
            self._matches = []
        self._match_set = set(self._matches)
        self.current_match = 0 if self._matches else -1
        for row in old | self._match_set:
            self.dataChanged.emit(self.index(row, 0), self.index(row, 1), [Qt.ItemDataRole.BackgroundRole])
        return list(self._matches)

    @property
    def matches(self) -> list[int]:
        return list(self._matches)

    # Qt model API
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else 2

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("Time", "Text (double-click to correct)")[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return ("Click a time to play the recording from there", "Double-click the text to correct it")[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        segment = self.segment(index.row()) if index.isValid() else None
        if segment is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if index.column() == 0:
                return f"▶ {fmt.timestamp(segment.start)}" if role == Qt.ItemDataRole.DisplayRole else segment.start
            return segment.text.strip() if role == Qt.ItemDataRole.DisplayRole else segment.text
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            return f"{fmt.timestamp(segment.start)} – {fmt.timestamp(segment.end)}: click to play from here"
        if role == Qt.ItemDataRole.BackgroundRole and index.row() in self._match_set:
            current = self._matches[self.current_match] if self.current_match >= 0 else -1
            return CURRENT_MATCH_COLOR if index.row() == current else MATCH_COLOR
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.isValid() and index.column() == 1:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        segment = self.segment(index.row()) if index.isValid() else None
        if segment is None or index.column() != 1 or role != Qt.ItemDataRole.EditRole or self.job is None:
            return False
        text = " ".join(str(value).split())
        if not text or text == segment.text.strip():
            return False
        # Word timings no longer match edited text, so they are dropped for that segment.
        self.job.segments[index.row()] = replace(segment, text=text, words=None)
        self.job.edited = True
        self.dataChanged.emit(index, index)
        self.edited.emit(self.job.id, index.row(), text)
        return True


class _Player:
    """QtMultimedia is imported on first use only (it is slow to load and not always needed)."""

    def __init__(self) -> None:
        from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

        self.player = QMediaPlayer()
        self.audio = QAudioOutput()
        self.player.setAudioOutput(self.audio)
        self.source: Path | None = None
        self._pending_ms: int | None = None
        self.player.mediaStatusChanged.connect(self._on_status)

    def play_from(self, path: Path, seconds: float) -> None:
        position = int(seconds * 1000)
        if self.source != path:
            # Some backends ignore a seek before the file is loaded: repeat it once loaded.
            self._pending_ms = position
            self.player.setSource(QUrl.fromLocalFile(str(path)))
            self.source = path
        self.player.setPosition(position)
        self.player.play()

    def _on_status(self, status) -> None:
        from PySide6.QtMultimedia import QMediaPlayer

        if self._pending_ms is not None and status in (
            QMediaPlayer.MediaStatus.LoadedMedia,
            QMediaPlayer.MediaStatus.BufferedMedia,
        ):
            self.player.setPosition(self._pending_ms)
            self._pending_ms = None

    def toggle(self) -> bool:
        from PySide6.QtMultimedia import QMediaPlayer

        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
            return False
        self.player.play()
        return True

    def stop(self) -> None:
        self.player.stop()


class TranscriptView(QWidget):
    message = Signal(str)  # one line for the status bar
    segment_edited = Signal(str, int, str)

    def __init__(self, parent: QWidget | None = None, player_factory: Callable[[], object] = _Player) -> None:
        super().__init__(parent)
        self.model = SegmentModel(self)
        self.model.edited.connect(self.segment_edited)
        self.model.edited.connect(lambda *_: self._refresh_title())
        self._player_factory = player_factory
        self._player = None
        self.last_export: Path | None = None

        self.title = QLabel("Select a recording in the queue to see its transcript.")
        self.title.setWordWrap(True)  # a failure shows its whole reason here
        self.title.setStyleSheet("font-weight: 600;")
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search the transcript…")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(240)
        self.match_label = QLabel("")
        self.match_label.setMinimumWidth(90)
        self.prev_button = QToolButton(text="▲", toolTip="Previous match (Shift+Enter)")
        self.next_button = QToolButton(text="▼", toolTip="Next match (Enter)")

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        # No ResizeToContents here: it re-measures every row on every insert, so the UI thread
        # stalled longer and longer as a live transcript grew. The time column has a fixed
        # width; a row's height is fitted when it arrives, and all rows only when the text
        # column's width changes (debounced) or another job is shown.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        # Wide enough for its cells and its header (the header was once clipped to "ime (click: play").
        metrics = self.table.fontMetrics()
        header_width = header.fontMetrics().horizontalAdvance(str(self.model.headerData(0, Qt.Orientation.Horizontal)))
        self.table.setColumnWidth(0, max(metrics.horizontalAdvance("▶ 0:00:00.0 "), header_width) + 24)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._refit_rows = QTimer(self, singleShot=True, interval=150)
        self._refit_rows.timeout.connect(self.table.resizeRowsToContents)
        header.sectionResized.connect(lambda index, _old, _new: index == 1 and self._refit_rows.start())
        self.model.rowsInserted.connect(self._fit_new_rows)
        self.model.modelReset.connect(self._refit_rows.start)
        self.table.setToolTip("Click a line to play the recording from there; double-click the text to edit it.")

        self.play_button = QPushButton("Play / pause")
        self.play_button.setEnabled(False)
        self.export_buttons: dict[str, QPushButton] = {}
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setToolTip("Open the folder the transcripts were written to")

        search_row = QHBoxLayout()
        search_row.addWidget(self.search_box, 1)
        search_row.addWidget(self.match_label)
        search_row.addWidget(self.prev_button)
        search_row.addWidget(self.next_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.play_button)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Export:"))
        for name in EXPORT_FORMATS:
            button = QPushButton(name.upper())
            button.setMaximumWidth(64)
            button.setToolTip(f"Save the transcript (with your edits) as {name.upper()}")
            button.clicked.connect(lambda _checked=False, f=name: self.export_format(f))
            self.export_buttons[name] = button
            bottom.addWidget(button)
        bottom.addWidget(self.open_folder_button)

        # Long file names must not widen the window: the title may be cut, never the layout.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(search_row)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

        self.search_box.textChanged.connect(self._on_search)
        self.search_box.returnPressed.connect(lambda: self.step_match(1))
        QShortcut(QKeySequence("Shift+Return"), self.search_box, activated=lambda: self.step_match(-1))
        self.next_button.clicked.connect(lambda: self.step_match(1))
        self.prev_button.clicked.connect(lambda: self.step_match(-1))
        self.table.clicked.connect(self._on_clicked)
        self.play_button.clicked.connect(self._toggle_play)
        self.open_folder_button.clicked.connect(self.open_output_folder)
        self._update_buttons()

    # ----------------------------------------------------------------- job binding
    @property
    def job(self) -> Job | None:
        return self.model.job

    def set_job(self, job: Job | None) -> None:
        if job is not self.model.job and self._player is not None:
            self._player.stop()
        self.model.set_job(job)
        self._refresh_title()
        self._on_search(self.search_box.text())
        self._update_buttons()

    def _fit_new_rows(self, _parent: QModelIndex, first: int, last: int) -> None:
        for row in range(first, last + 1):
            self.table.resizeRowToContents(row)

    def refresh(self, job_id: str) -> None:
        """The job changed (new segments, finished, replaced list)."""
        if self.job is None or self.job.id != job_id:
            return
        at_bottom = self._scrolled_to_bottom()
        self.model.sync()
        if self.search_box.text():
            self._on_search(self.search_box.text())
        if at_bottom:
            self.table.scrollToBottom()
        self._refresh_title()
        self._update_buttons()

    def _scrolled_to_bottom(self) -> bool:
        bar = self.table.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _refresh_title(self) -> None:
        job = self.job
        if job is None:
            self.title.setText("Select a recording in the queue to see its transcript.")
            return
        count = len(job.segments)
        if job.status == JobStatus.FAILED:  # why, with its fix, rather than "0 segments"
            reason = job.reason or "transcription failed"
            prefix = f"{job.name}: "
            reason = reason[len(prefix):] if reason.startswith(prefix) else reason
            kept = f" ({count} segment{'s' if count != 1 else ''} kept)" if count else ""
            self.title.setText(f"{job.name} failed{kept}: {reason}")
            return
        state = {JobStatus.RUNNING: " — transcribing…", JobStatus.QUEUED: " — waiting in the queue"}.get(job.status, "")
        edited = " (edited)" if job.edited else ""
        self.title.setText(f"{job.name}: {count} segment{'s' if count != 1 else ''}{edited}{state}")

    def _update_buttons(self) -> None:
        has_text = self.job is not None and len(self.job.segments) > 0
        for button in self.export_buttons.values():
            button.setEnabled(has_text)
        self.open_folder_button.setEnabled(self.job is not None)
        self.play_button.setEnabled(self._player is not None and self.job is not None)

    # ----------------------------------------------------------------- search
    def _on_search(self, text: str) -> None:
        matches = self.model.search(text)
        if not text.strip():
            self.match_label.setText("")
        else:
            self.match_label.setText(f"{len(matches)} match{'es' if len(matches) != 1 else ''}")
        if matches:
            self.table.scrollTo(self.model.index(matches[0], 1))

    def step_match(self, step: int) -> None:
        matches = self.model.matches
        if not matches:
            return
        self.model.current_match = (self.model.current_match + step) % len(matches)
        row = matches[self.model.current_match]
        self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, 1))
        self.table.scrollTo(self.model.index(row, 1))
        self.match_label.setText(f"{self.model.current_match + 1} of {len(matches)}")

    def reveal(self, row: int, query: str | None = None) -> bool:
        """Scroll to segment `row` and select it; with `query`, highlight its matches too
        (opening a hit from "Search all sessions"). False if the job has no such row."""
        if query is not None and query.strip() and self.search_box.text() != query:
            self.search_box.setText(query)  # highlights every match in this transcript
        index = self.model.index(row, 1)
        if not index.isValid():
            return False
        matches = self.model.matches
        if row in matches:
            self.model.current_match = matches.index(row)
            self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, 1))
            self.match_label.setText(f"{self.model.current_match + 1} of {len(matches)}")
        self.table.setCurrentIndex(index)
        self.table.selectRow(row)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    # ----------------------------------------------------------------- playback
    def _on_clicked(self, index: QModelIndex) -> None:
        segment = self.model.segment(index.row())
        if segment is not None:
            self.play_from(segment.start)

    def play_from(self, seconds: float) -> None:
        if self.job is None:
            return
        try:
            if self._player is None:
                self._player = self._player_factory()
            self._player.play_from(self.job.path, seconds)
        except Exception as error:  # noqa: BLE001 - playback is a convenience, never fatal
            log.debug("playback failed", exc_info=True)
            self.message.emit(fmt.one_line(f"Cannot play {self.job.name}: {error}"))
            return
        self.message.emit(f"Playing {self.job.name} from {fmt.timestamp(seconds)}")
        self._update_buttons()

    def _toggle_play(self) -> None:
        if self._player is not None:
            self._player.toggle()

    # ----------------------------------------------------------------- export
    def output_folder(self) -> Path | None:
        job = self.job
        if job is None:
            return None
        if job.outputs:
            return Path(next(iter(job.outputs.values()))).parent
        output_dir = getattr(job.options, "output_dir", None)
        return Path(output_dir) if output_dir else job.path.parent

    def export_format(self, fmt_name: str, path: Path | None = None) -> Path | None:
        """Write the transcript as it stands (edits included). Asks where when `path` is None."""
        job = self.job
        if job is None or not job.segments:
            return None
        if path is None:
            folder = self.output_folder() or job.path.parent
            suggested = folder / f"{job.path.stem}.{fmt_name}"
            chosen = file_dialogs.save_file(
                self, f"Export {fmt_name.upper()}", suggested, f"{fmt_name.upper()} (*.{fmt_name})"
            )
            if chosen is None:
                return None
            path = chosen
        try:
            from engine.export import export, mode_limit

            written = export(
                list(job.segments),
                Path(path),
                fmt_name,
                metadata={"source": job.path.name, "edited": job.edited},
                max_mode=mode_limit(job.path),  # never more readable than the recording
            )
        except Exception as error:  # noqa: BLE001
            log.debug("export failed", exc_info=True)
            self.message.emit(fmt.one_line(f"Export failed: {error}"))
            return None
        self.last_export = Path(written)
        self.message.emit(f"Saved {Path(written).name}")
        return self.last_export

    def export_any(self) -> Path | None:
        """File → Export…: one dialog for every format; the chosen file's extension (or its
        filter) says which."""
        job = self.job
        if job is None or not job.segments:
            self.message.emit("Select a recording with a transcript to export it")
            return None
        from engine.options import EXPORT_FORMATS

        folder = self.output_folder() or job.path.parent
        filters = ";;".join(f"{'WebVTT' if name == 'vtt' else name.upper()} (*.{name})" for name in EXPORT_FORMATS)
        chosen = file_dialogs.save_file(self, "Export transcript", folder / f"{job.path.stem}.txt", filters)
        if chosen is None:
            return None
        fmt_name = chosen.suffix.lstrip(".").lower()
        if fmt_name not in EXPORT_FORMATS:
            fmt_name, chosen = "txt", chosen.with_name(chosen.name + ".txt")
        return self.export_format(fmt_name, chosen)

    def open_output_folder(self) -> None:
        folder = self.output_folder()
        if folder is None:
            return
        if not folder.is_dir():
            self.message.emit(f"The folder {folder} does not exist yet")
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            # No file manager (a bare desktop, a remote session): say where the files are.
            self.message.emit(f"No file manager could be opened here; the transcripts are in {folder}")
