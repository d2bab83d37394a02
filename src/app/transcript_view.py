"""Transcript of the selected job: live segments, search, click-to-play, edit, export."""
from __future__ import annotations

import bisect
import html
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QColor, QDesktopServices, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs, fmt, speakers, stale_exports
from app.confidence_delegate import ConfidenceDelegate
from app.jobs import Job, JobStatus
from app.model_manager import download_label
from engine import EXPORT_FORMATS, EXPORT_SUFFIXES, Segment, sentences

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
MATCH_COLOR = QColor("#fff59d")
CURRENT_MATCH_COLOR = QColor("#ffca28")
PLAYING_COLOR = QColor("#cde6fb")
LOW_CONFIDENCE = 0.5  # words the model gave less than this probability are marked
LOW_CONFIDENCE_STYLE = "color:#b3261e; text-decoration:underline;"
SKIP_S = 5.0
SPEEDS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
# Keys that work while the text editor has focus: a line editor takes Ctrl+Left/Right (words)
# and Shift+arrows (selection) for itself, so seeking is on Alt+Left/Right.
PLAY_PAUSE_KEY = "Ctrl+Space"
BACK_KEY = "Alt+Left"
FORWARD_KEY = "Alt+Right"
REPLAY_KEY = "Ctrl+R"
# Model columns. The speaker column is the model's last one (so the time and text columns
# keep their numbers) and is shown between them (see TranscriptView: header.moveSection).
TIME_COLUMN, TEXT_COLUMN, SPEAKER_COLUMN = 0, 1, 2

# How the export dialogs name each format (others: the format in capitals).
FORMAT_LABELS = {"vtt": "WebVTT", "docx": "Word document", "maxqda": "MAXQDA text", "rttm": "RTTM (who spoke when)"}
# The formats with a button under the transcript. RTTM (speaker stretches for diarization
# scorers, not for reading) is in File → Export… and the settings only.
BUTTON_FORMATS = tuple(name for name in EXPORT_FORMATS if name != "rttm")


def _filter(fmt_name: str) -> str:
    """The file dialog's filter for one format: `Word document (*.docx)`."""
    return f"{FORMAT_LABELS.get(fmt_name, fmt_name.upper())} (*{EXPORT_SUFFIXES[fmt_name]})"


def format_of(path: Path) -> str | None:
    """The export format a chosen file name asks for, by its ending (the longest that fits:
    `x.maxqda.txt` is MAXQDA, `x.txt` plain text); None when no format's ending fits."""
    name = path.name.lower()
    fitting = [fmt_name for fmt_name in EXPORT_FORMATS if name.endswith(EXPORT_SUFFIXES[fmt_name])]
    return max(fitting, key=lambda fmt_name: len(EXPORT_SUFFIXES[fmt_name]), default=None)


class SegmentModel(QAbstractTableModel):
    """Rows of the displayed job's `segments` list (the list is shared with the Job, so edits
    are what later exports write)."""

    edited = Signal(str, int, str)  # job_id, row, new text
    speaker_renamed = Signal(str, object)  # job_id, all the speakers' names (tuple[str, ...])

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self._count = 0  # rows announced to views; the job's list may already be longer
        self._matches: list[int] = []
        self._match_set: set[int] = set()
        self.current_match = -1
        self.playing_row = -1  # the segment under the playback position, highlighted
        self.speaker_filter: int | None = None  # search finds this speaker's lines only
        self._segments: list[Segment] | None = None  # the job's list as last announced

    def set_job(self, job: Job | None) -> None:
        self.beginResetModel()
        self.job = job
        self._count = len(job.segments) if job is not None else 0
        self._segments = job.segments if job is not None else None
        self._matches, self._match_set, self.current_match = [], set(), -1
        self.playing_row = -1
        self.endResetModel()

    def sync(self) -> bool:
        """Announce segments the job gained since the last call (live transcription). True
        when the list was replaced (the engine's final one): rows already shown may have
        changed too, as the speaker stage splits segments at turn changes and labels them."""
        if self.job is None:
            return False
        total = len(self.job.segments)
        replaced = self.job.segments is not self._segments
        self._segments = self.job.segments
        if total < self._count:
            self.set_job(self.job)
            return True
        # Not a reset: that would close an editor and lose the selection and scroll position.
        if replaced and self._count:
            self.dataChanged.emit(self.index(0, 0), self.index(self._count - 1, SPEAKER_COLUMN))
        if total > self._count:
            self.beginInsertRows(QModelIndex(), self._count, total - 1)
            self._count = total
            self.endInsertRows()
        return replaced

    def segment(self, row: int) -> Segment | None:
        if self.job is None or not 0 <= row < self._count:
            return None
        return self.job.segments[row]

    def row_at(self, seconds: float) -> int:
        """The segment playing at `seconds`: the last one started by then. It stays lit through
        the pause after it (the line just heard, no flicker between lines); -1 before the first
        segment and after the last one has ended."""
        if self.job is None or self._count == 0:
            return -1
        starts = [segment.start for segment in self.job.segments[: self._count]]
        row = bisect.bisect_right(starts, seconds) - 1
        if row < 0 or (row == self._count - 1 and seconds > self.job.segments[row].end):
            return -1
        return row

    def set_playing_row(self, row: int) -> bool:
        """Move the highlight; True when it moved. No dataChanged: a view reloads an open
        editor from the model on dataChanged, which would wipe a correction being typed in
        the playing line. The view repaints instead (only colour and weight change)."""
        if row == self.playing_row:
            return False
        self.playing_row = row
        return True

    def low_confidence_words(self, row: int) -> list[tuple[str, float]]:
        segment = self.segment(row)
        if segment is None or not segment.words:
            return []
        return [(w.text.strip(), w.probability) for w in segment.words if w.probability < LOW_CONFIDENCE]

    def marked_html(self, row: int) -> str | None:
        """The row's text as HTML with low-confidence words marked; None when nothing is
        marked (or the words no longer spell the text, so marks could land on wrong words)."""
        segment = self.segment(row)
        if segment is None or not segment.words or not self.low_confidence_words(row):
            return None
        if "".join(w.text for w in segment.words).strip() != segment.text.strip():
            return None
        parts = []
        for word in segment.words:
            text = html.escape(word.text)
            if word.probability < LOW_CONFIDENCE:
                lead = text[: len(text) - len(text.lstrip())]
                text = f'{lead}<span style="{LOW_CONFIDENCE_STYLE}">{text.lstrip()}</span>'
            parts.append(text)
        return "".join(parts).strip()

    # search
    def search(self, query: str) -> list[int]:
        query = query.strip().casefold()
        old = self._match_set
        if query and self.job is not None:
            self._matches = [
                r for r in range(self._count)
                if query in self.job.segments[r].text.casefold() and self.shows_speaker(r)
            ]
        else:
            self._matches = []
        self._match_set = set(self._matches)
        self.current_match = 0 if self._matches else -1
        for row in old | self._match_set:
            self.dataChanged.emit(self.index(row, 0), self.index(row, SPEAKER_COLUMN), [Qt.ItemDataRole.BackgroundRole])
        return list(self._matches)

    def shows_speaker(self, row: int) -> bool:
        """Whether row `row` passes the speaker filter (every row does with "All speakers")."""
        if self.speaker_filter is None:
            return True
        segment = self.segment(row)
        return segment is not None and segment.speaker == self.speaker_filter

    def changed_all(self) -> None:
        """Speakers were renamed, swapped or reassigned: repaint every row."""
        if self._count:
            self.dataChanged.emit(self.index(0, 0), self.index(self._count - 1, SPEAKER_COLUMN))

    @property
    def matches(self) -> list[int]:
        return list(self._matches)

    # Qt model API
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("Time", "Text (double-click to correct)", "Speaker")[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return (
                "Click a time to play the recording from there",
                "Double-click the text to correct it",
                "Double-click a speaker to rename them everywhere; right-click a line to swap "
                "speakers, say who said it, or say how many spoke",
            )[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        segment = self.segment(index.row()) if index.isValid() else None
        if segment is None:
            return None
        if index.column() == SPEAKER_COLUMN:
            speaker_data = self._speaker_data(segment, role)
            if speaker_data is not None or role not in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole):
                return speaker_data
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if index.column() == 0:
                return f"▶ {fmt.timestamp(segment.start)}" if role == Qt.ItemDataRole.DisplayRole else segment.start
            return segment.text.strip() if role == Qt.ItemDataRole.DisplayRole else segment.text
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            return f"{fmt.timestamp(segment.start)} – {fmt.timestamp(segment.end)}: click to play from here"
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 1:
            return self._text_tooltip(index.row())
        if role == Qt.ItemDataRole.BackgroundRole and index.row() in self._match_set:
            current = self._matches[self.current_match] if self.current_match >= 0 else -1
            return CURRENT_MATCH_COLOR if index.row() == current else MATCH_COLOR
        if role == Qt.ItemDataRole.BackgroundRole and index.row() == self.playing_row:
            return PLAYING_COLOR
        if role == Qt.ItemDataRole.FontRole and index.row() == self.playing_row:
            font = QFont()
            font.setBold(True)  # still visible where a search match colours the row
            return font
        return None

    def _speaker_data(self, segment: Segment, role: int):
        """The speaker cell: the name in the speaker's colour, bold, after a swatch of it."""
        if segment.speaker is None or self.job is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return speakers.name(self.job, segment.speaker)
        if role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.DecorationRole):
            return QColor(speakers.colour(segment.speaker))
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            name = speakers.name(self.job, segment.speaker)
            return f"{name}: double-click to rename everywhere (view, search, every export)"
        return None

    def _text_tooltip(self, row: int) -> str | None:
        low = self.low_confidence_words(row)
        if not low or self.marked_html(row) is None:
            return None
        listed = ", ".join(f"{word} ({round(probability * 100)} %)" for word, probability in low)
        return (
            f"Underlined in red: words heard with low confidence (under {round(LOW_CONFIDENCE * 100)} %): "
            f"{listed}. Listen before trusting them (double-click to hear the line and correct it)."
        )

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.isValid() and index.column() == TEXT_COLUMN:
            flags |= Qt.ItemFlag.ItemIsEditable
        if index.isValid() and index.column() == SPEAKER_COLUMN and speakers.editable(self.job):
            segment = self.segment(index.row())
            if segment is not None and segment.speaker is not None:
                flags |= Qt.ItemFlag.ItemIsEditable  # a rename, for every line of that speaker
        return flags

    def setData(self, index: Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        segment = self.segment(index.row()) if index.isValid() else None
        if index.column() == SPEAKER_COLUMN and segment is not None and role == Qt.ItemDataRole.EditRole:
            return self.rename_speaker(segment.speaker, str(value))
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

    def rename_speaker(self, speaker: int | None, name: str) -> bool:
        """Rename `speaker` in every row (and every export of the job)."""
        if speaker is None or not speakers.editable(self.job):
            return False
        names = speakers.rename(self.job, speaker, name)
        if names is None:
            return False
        self.changed_all()
        self.speaker_renamed.emit(self.job.id, names)
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

    def pause(self) -> None:
        self.player.pause()

    def stop(self) -> None:
        self.player.stop()

    def position(self) -> float | None:
        if self._pending_ms is not None:
            return self._pending_ms / 1000  # still loading: where it is about to play from
        return self.player.position() / 1000

    def playing(self) -> bool:
        from PySide6.QtMultimedia import QMediaPlayer

        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def set_rate(self, rate: float) -> None:
        self.player.setPlaybackRate(rate)

    def seek(self, seconds: float) -> None:
        position = int(max(0.0, seconds) * 1000)
        if self._pending_ms is not None:
            self._pending_ms = position
        self.player.setPosition(position)


class TranscriptView(QWidget):
    message = Signal(str)  # one line for the status bar
    segment_edited = Signal(str, int, str)
    # Speaker changes, to be stored with the job (app.history): names by number; a swap;
    # one segment (row, as in the store's positions) said by another speaker.
    speakers_renamed = Signal(str, object)  # job_id, tuple[str, ...]
    speakers_swapped = Signal(str, int, int)  # job_id, first, second
    speakers_merged = Signal(str, int, int)  # job_id, source, target: one person, counted twice
    segment_speaker_set = Signal(str, int, int)  # job_id, row, speaker
    segment_split = Signal(str, int)  # job_id, row: one turn's row cut back into its sentences
    speakers_recounted = Signal(str)  # job_id: told apart again (already stored)
    fix_model = Signal(str, bool)  # model name, True: download it now (False: choose another)

    def __init__(self, parent: QWidget | None = None, player_factory: Callable[[], object] = _Player) -> None:
        super().__init__(parent)
        self.model = SegmentModel(self)
        self.model.edited.connect(self.segment_edited)
        self.model.edited.connect(lambda *_: self._refresh_title())
        self.model.edited.connect(self._on_edited)
        self.model.speaker_renamed.connect(self.speakers_renamed)
        self.model.speaker_renamed.connect(lambda job_id, _names: self._on_speakers_changed(job_id))
        # The job's speech regions (the window sets this from the job store): rewritten TXT and
        # subtitles are cut at the same pauses as the engine's.
        self._player_factory = player_factory
        # Tells a finished job's speakers apart again from the voices its store kept (the
        # window sets app.history's): (job_id, count or None) -> its segments as stored, or None.
        self.recounter: Callable[[str, int | None], list[Segment] | None] | None = None
        self._player = None
        self._rate = 1.0
        self._stop_at: float | None = None  # "listen before correcting": pause at the line's end
        self.last_export: Path | None = None
        # Follows the playback position: highlights the playing segment and keeps it in view.
        self._follow = QTimer(self, interval=200)
        self._follow.timeout.connect(self.poll_playback)

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
        self.speaker_filter = QComboBox()
        self.speaker_filter.setToolTip("Show and search one speaker's lines only")
        self.speaker_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.speaker_filter.hide()  # shown for a transcript with speakers
        self._rows_hidden = False  # some rows hidden by the speaker filter
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
        self.table.setItemDelegateForColumn(1, ConfidenceDelegate(self.table))
        # The speaker column sits between time and text on screen; hidden until a transcript
        # has speakers (most recordings made before issue 12, and monologues, have none).
        header.moveSection(header.visualIndex(SPEAKER_COLUMN), 1)
        header.setSectionResizeMode(SPEAKER_COLUMN, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(SPEAKER_COLUMN, metrics.horizontalAdvance("Speaker 10") + 48)
        self.table.setColumnHidden(SPEAKER_COLUMN, True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_menu)
        self.table.setToolTip(
            "Click a line to play the recording from there; double-click the text to hear that line "
            f"and correct it. While typing: {PLAY_PAUSE_KEY} play/pause, {BACK_KEY} back "
            f"{SKIP_S:.0f} s, {FORWARD_KEY} forward {SKIP_S:.0f} s, {REPLAY_KEY} hear the line again. "
            "Words underlined in red were heard with low confidence."
        )

        self.play_button = QPushButton("Play / pause")
        self.play_button.setToolTip(f"Play or pause the recording ({PLAY_PAUSE_KEY}, also while editing)")
        self.play_button.setEnabled(False)
        self.back_button = QToolButton(text=f"« {SKIP_S:.0f} s")
        self.back_button.setToolTip(f"Back {SKIP_S:.0f} seconds ({BACK_KEY}, also while editing)")
        self.forward_button = QToolButton(text=f"{SKIP_S:.0f} s »")
        self.forward_button.setToolTip(f"Forward {SKIP_S:.0f} seconds ({FORWARD_KEY}, also while editing)")
        self.speed_box = QComboBox()
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed:g}×", speed)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.setToolTip("Playback speed")
        self.export_buttons: dict[str, QPushButton] = {}
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setToolTip("Open the folder the transcripts were written to")
        self.stale_label = QLabel()
        self.stale_label.setWordWrap(True)
        self.stale_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.update_exports_button = QPushButton("Update exports")
        self.update_exports_button.setToolTip(
            "Rewrite these files with your corrections (only files SessionScribe wrote for this "
            "recording and that nobody changed since)"
        )
        self.stale_bar = QWidget()
        self.stale_bar.setStyleSheet("QWidget#staleBar { background: #fff4e5; border-radius: 4px; }")
        self.stale_bar.setObjectName("staleBar")
        stale_row = QHBoxLayout(self.stale_bar)
        stale_row.setContentsMargins(6, 3, 6, 3)
        stale_row.addWidget(self.stale_label, 1)
        stale_row.addWidget(self.update_exports_button)
        self.stale_bar.hide()

        # A job that did not start for want of a model: its fix, as buttons, under the reason.
        self.fix_download_button = QPushButton("Download")
        self.fix_choose_button = QPushButton("Choose model…")
        self.fix_choose_button.setToolTip("Open the model manager: models on this computer, import a model folder or archive")
        self.fix_download_button.clicked.connect(lambda: self._ask_fix(True))
        self.fix_choose_button.clicked.connect(lambda: self._ask_fix(False))
        self.fix_bar = QWidget()
        fix_row = QHBoxLayout(self.fix_bar)
        fix_row.setContentsMargins(0, 0, 0, 0)
        fix_row.addWidget(self.fix_download_button)
        fix_row.addWidget(self.fix_choose_button)
        fix_row.addStretch(1)
        self.fix_bar.hide()

        search_row = QHBoxLayout()
        search_row.addWidget(self.search_box, 1)
        search_row.addWidget(self.speaker_filter)
        search_row.addWidget(self.match_label)
        search_row.addWidget(self.prev_button)
        search_row.addWidget(self.next_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.back_button)
        bottom.addWidget(self.play_button)
        bottom.addWidget(self.forward_button)
        bottom.addWidget(QLabel("Speed:"))
        bottom.addWidget(self.speed_box)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Export:"))
        for name in BUTTON_FORMATS:
            button = QPushButton(name.upper())
            button.setMaximumWidth(72)  # "MAXQDA" is the widest label
            button.setToolTip(f"Save the transcript (with your edits) as {FORMAT_LABELS.get(name, name.upper())}")
            button.clicked.connect(lambda _checked=False, f=name: self.export_format(f))
            self.export_buttons[name] = button
            bottom.addWidget(button)
        bottom.addWidget(self.open_folder_button)

        # Long file names must not widen the window: the title may be cut, never the layout.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.fix_bar)
        layout.addLayout(search_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.stale_bar)
        layout.addLayout(bottom)

        self.search_box.textChanged.connect(self._on_search)
        self.speaker_filter.currentIndexChanged.connect(self._on_filter)
        self.search_box.returnPressed.connect(lambda: self.step_match(1))
        QShortcut(QKeySequence("Shift+Return"), self.search_box, activated=lambda: self.step_match(-1))
        self.next_button.clicked.connect(lambda: self.step_match(1))
        self.prev_button.clicked.connect(lambda: self.step_match(-1))
        self.table.clicked.connect(self._on_clicked)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.play_button.clicked.connect(self._toggle_play)
        self.back_button.clicked.connect(lambda: self.skip(-SKIP_S))
        self.forward_button.clicked.connect(lambda: self.skip(SKIP_S))
        self.speed_box.currentIndexChanged.connect(lambda _i: self.set_rate(self.speed_box.currentData()))
        # WidgetWithChildrenShortcut: these work while the cell editor (a child of the table)
        # has focus, so a correction never has to be left to replay the audio.
        for key, action in (
            (PLAY_PAUSE_KEY, self._toggle_play),
            (BACK_KEY, lambda: self.skip(-SKIP_S)),
            (FORWARD_KEY, lambda: self.skip(SKIP_S)),
            (REPLAY_KEY, self.replay_current),
        ):
            QShortcut(
                QKeySequence(key), self, activated=action, context=Qt.ShortcutContext.WidgetWithChildrenShortcut
            )
        self.open_folder_button.clicked.connect(self.open_output_folder)
        self.update_exports_button.clicked.connect(self.update_exports)
        self._update_buttons()

    # ----------------------------------------------------------------- job binding
    @property
    def job(self) -> Job | None:
        return self.model.job

    def set_job(self, job: Job | None) -> None:
        if job is not self.model.job and self._player is not None:
            self._player.stop()
            self._follow.stop()
            self._stop_at = None
        self.model.set_job(job)
        self._refresh_speakers(keep_filter=False)
        self._refresh_title()
        self._on_search(self.search_box.text())
        self._update_buttons()
        self._refresh_stale()

    def _fit_new_rows(self, _parent: QModelIndex, first: int, last: int) -> None:
        for row in range(first, last + 1):
            self.table.resizeRowToContents(row)
            if self.model.speaker_filter is not None:
                self.table.setRowHidden(row, not self.model.shows_speaker(row))

    def refresh(self, job_id: str) -> None:
        """The job changed (new segments, finished, replaced list)."""
        if self.job is None or self.job.id != job_id:
            return
        at_bottom = self._scrolled_to_bottom()
        if self.model.sync():
            self._refit_rows.start()  # rows already shown may hold other text now
        # Live segments have no speakers yet (the speaker stage comes last): the column and
        # filter change when the job finishes, not on every new line.
        if self.job.status.finished:
            self._refresh_speakers()
        if self.search_box.text():
            self._on_search(self.search_box.text())
        if at_bottom:
            self.table.scrollToBottom()
        self._refresh_title()
        self._update_buttons()
        self._refresh_stale()

    def _scrolled_to_bottom(self) -> bool:
        bar = self.table.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _ask_fix(self, download: bool) -> None:
        if self.job is not None and self.job.missing_model:
            self.fix_model.emit(self.job.missing_model, download)

    def _refresh_fix(self) -> None:
        model = self.job.missing_model if self.job is not None and self.job.status == JobStatus.FAILED else None
        if model:
            self.fix_download_button.setText(download_label(model))
            self.fix_download_button.setToolTip(f"Download {model} now (progress and Cancel in the model manager)")
        self.fix_bar.setVisible(bool(model))

    def _refresh_title(self) -> None:
        self._refresh_fix()
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
            failed = "did not start" if job.missing_model else "failed"  # nothing was tried
            self.title.setText(f"{job.name} {failed}{kept}: {reason}")
            return
        state = {JobStatus.RUNNING: " — transcribing…", JobStatus.QUEUED: " — waiting in the queue"}.get(job.status, "")
        edited = " (edited)" if job.edited else ""
        # How many voices were told apart: the count is what can come out wrong, and the line
        # menu's "How many spoke" sets it (the title's tooltip says where).
        heard = len(speakers.numbers(job)) if job.status.finished else 0
        voices = f", {heard} speakers" if heard >= 2 else ""
        self.title.setText(f"{job.name}: {count} segment{'s' if count != 1 else ''}{voices}{edited}{state}")
        self.title.setToolTip("More or fewer people spoke? Right-click a line: How many spoke. One person "
                              "came out as two? Right-click one of their lines: … is the same person as"
                              if voices else "")

    def _update_buttons(self) -> None:
        has_text = self.job is not None and len(self.job.segments) > 0
        for button in self.export_buttons.values():
            button.setEnabled(has_text)
        self.open_folder_button.setEnabled(self.job is not None)
        can_play = self._player is not None and self.job is not None
        self.play_button.setEnabled(can_play)
        self.back_button.setEnabled(can_play)
        self.forward_button.setEnabled(can_play)

    # ----------------------------------------------------------------- search
    def _on_search(self, text: str) -> None:
        matches = self.model.search(text)
        if not text.strip():
            self.match_label.setText("")
        else:
            self.match_label.setText(f"{len(matches)} match{'es' if len(matches) != 1 else ''}")
        if matches:
            self.table.scrollTo(self.model.index(matches[0], 1))

    # ----------------------------------------------------------------- speakers
    def _refresh_speakers(self, keep_filter: bool = True) -> None:
        """The speaker column and filter follow the transcript: shown when it has speakers,
        with their current names."""
        job = self.job
        heard = speakers.numbers(job)
        self.table.setColumnHidden(SPEAKER_COLUMN, not heard)
        wanted = self.model.speaker_filter if keep_filter else None
        if wanted not in heard:
            wanted = None
        entries = [("All speakers", None)] + [(speakers.name(job, n), n) for n in heard] if heard else []
        current = [(self.speaker_filter.itemText(i), self.speaker_filter.itemData(i)) for i in range(self.speaker_filter.count())]
        if entries != current:
            self.speaker_filter.blockSignals(True)
            self.speaker_filter.clear()
            for label, number in entries:
                self.speaker_filter.addItem(label, number)
            self.speaker_filter.blockSignals(False)
        self.speaker_filter.setVisible(bool(heard))
        index = self.speaker_filter.findData(wanted) if wanted is not None else 0
        if self.speaker_filter.count() and self.speaker_filter.currentIndex() != index:
            self.speaker_filter.blockSignals(True)
            self.speaker_filter.setCurrentIndex(index)
            self.speaker_filter.blockSignals(False)
        self.model.speaker_filter = wanted
        self._apply_filter()

    def _on_filter(self, _index: int) -> None:
        self.model.speaker_filter = self.speaker_filter.currentData()
        self._apply_filter()
        self._on_search(self.search_box.text())

    def _apply_filter(self) -> None:
        if self.model.speaker_filter is None and not self._rows_hidden:
            return  # nothing hidden, nothing to hide: no pass over a long transcript
        for row in range(self.model.rowCount()):
            hidden = not self.model.shows_speaker(row)
            if self.table.isRowHidden(row) != hidden:
                self.table.setRowHidden(row, hidden)
        self._rows_hidden = self.model.speaker_filter is not None

    def set_speaker_filter(self, speaker: int | None) -> None:
        """Show only `speaker`'s lines (None: everyone's), as the combo beside search does."""
        index = self.speaker_filter.findData(speaker) if speaker is not None else 0
        if index >= 0 and self.speaker_filter.count():
            self.speaker_filter.setCurrentIndex(index)

    def speaker_menu(self, row: int) -> QMenu | None:
        """The right-click menu of line `row`: rename its speaker, say who said it, swap two
        speakers. None where there is nothing to change (no speakers, job not finished)."""
        job = self.job
        segment = self.model.segment(row)
        if segment is None or not speakers.editable(job):
            return None
        heard = speakers.numbers(job)
        menu = QMenu(self)
        if segment.speaker is not None:
            rename = QAction(f"Rename {speakers.name(job, segment.speaker)}…", menu)
            rename.triggered.connect(lambda: self.table.edit(self.model.index(row, SPEAKER_COLUMN)))
            menu.addAction(rename)
        said_by = menu.addMenu("Said by")
        new = max(heard) + 1
        for number in [*heard, new]:
            label = speakers.name(job, number) + (" (new speaker)" if number == new else "")
            action = QAction(label, said_by, checkable=True, checked=number == segment.speaker)
            action.triggered.connect(lambda _checked=False, n=number: self.reassign(row, n))
            said_by.addAction(action)
        if len(sentences(segment)) > 1:
            # A row is a turn; a sentence in it the speaker model gave to the wrong person is
            # given back alone once the row is cut into its sentences.
            split = QAction("Split into sentences", menu)
            split.setToolTip("One line per sentence, so one of them can be said by someone else")
            split.triggered.connect(lambda: self.split(row))
            menu.addAction(split)
        pairs = [(a, b) for i, a in enumerate(heard) for b in heard[i + 1:]]
        if len(pairs) > 6 and segment.speaker is not None:  # a family session: this line's speaker's
            pairs = [(segment.speaker, other) for other in heard if other != segment.speaker]
        if pairs:
            menu.addSeparator()
        for first, second in pairs:
            swap = QAction(f"Swap {speakers.name(job, first)} and {speakers.name(job, second)}", menu)
            swap.setToolTip("Everything one said, the other said (the whole transcript)")
            swap.triggered.connect(lambda _checked=False, a=first, b=second: self.swap(a, b))
            menu.addAction(swap)
        if segment.speaker is not None and len(heard) >= 2:
            # A voice heard two ways (another microphone, a turn away from it, a phone) can
            # come out as a speaker of its own: in 2-4 of 8 generated sessions whose client's
            # sound changed half-way (docs/BENCHMARKS.md, "A voice that changes half-way").
            same = menu.addMenu(f"{speakers.name(job, segment.speaker)} is the same person as")
            same.setToolTipsVisible(True)
            for other in heard:
                if other != segment.speaker:
                    action = QAction(speakers.name(job, other), same)
                    action.setToolTip(f"Everything {speakers.name(job, segment.speaker)} said, "
                                      f"{speakers.name(job, other)} said: one person, not two")
                    action.triggered.connect(lambda _checked=False, a=segment.speaker, b=other: self.merge(a, b))
                    same.addAction(action)
        if self.recounter is not None and not speakers.by_channel(job):
            menu.addSeparator()
            how_many = menu.addMenu("How many spoke")
            how_many.setToolTipsVisible(True)
            for label, count in speakers.RECOUNT_CHOICES:
                action = QAction(label, how_many, checkable=True, checked=count == len(heard))
                action.setToolTip("Tell the speakers apart again from their voices, as this many: "
                                  "the words stay, changes of who said what give way")
                action.triggered.connect(lambda _checked=False, n=count: self.recount(n))
                how_many.addAction(action)
        return menu

    def _show_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        menu = self.speaker_menu(index.row()) if index.isValid() else None
        if menu is not None:
            menu.exec(self.table.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def swap(self, first: int, second: int) -> bool:
        job = self.job
        if not speakers.editable(job) or not speakers.swap(job, first, second):
            return False
        self.speakers_swapped.emit(job.id, first, second)
        self._on_speakers_changed(job.id)
        self.message.emit(f"Swapped {speakers.name(job, first)} and {speakers.name(job, second)}")
        return True

    def merge(self, source: int, target: int) -> bool:
        """`source` and `target` are one person: `source`'s lines become `target`'s and the
        speakers after `source` move down one (app.speakers.merge)."""
        job = self.job
        if not speakers.editable(job):
            return False
        source_name, target_name = speakers.name(job, source), speakers.name(job, target)
        if not speakers.merge(job, source, target):
            return False
        self.speakers_merged.emit(job.id, source, target)
        self._on_speakers_changed(job.id)
        self.message.emit(f"{source_name} and {target_name} are one speaker now")
        return True

    def recount(self, count: int | None) -> bool:
        """Tell the job's speakers apart again as `count` speakers (None: counted), from the
        voices it kept: clustering only, 0.7-0.8 s for a 3-h session here."""
        job = self.job
        if not speakers.editable(job) or self.recounter is None:
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            segments = self.recounter(job.id, count)
        finally:
            QApplication.restoreOverrideCursor()
        if segments is None:
            self.message.emit("This transcript kept no voices to tell apart again: it was made with "
                              "speakers off, or each channel was one speaker. Transcribe it again instead.")
            return False
        found = speakers.recounted(job, segments)
        self.model.set_job(job)  # rows split at the new turn changes
        self.speakers_recounted.emit(job.id)
        self._on_speakers_changed(job.id)
        self.message.emit(f"Told apart again: {found} speaker{'s' if found != 1 else ''}")
        return True

    def split(self, row: int) -> bool:
        """Cut line `row` (a turn) into one line per sentence (app.speakers.split)."""
        job = self.job
        if not speakers.editable(job) or self.model.segment(row) is None:
            return False
        count = speakers.split(job, row)
        if count < 2:
            return False
        self.model.set_job(job)
        self.segment_split.emit(job.id, row)
        self._on_speakers_changed(job.id)
        self.message.emit(f"Split into {count} sentences: right-click one to say who said it")
        return True

    def reassign(self, row: int, speaker: int) -> bool:
        job = self.job
        if not speakers.editable(job) or self.model.segment(row) is None or not speakers.reassign(job, row, speaker):
            return False
        self.segment_speaker_set.emit(job.id, row, speaker)
        self._on_speakers_changed(job.id)
        return True

    def _on_speakers_changed(self, job_id: str) -> None:
        if self.job is None or self.job.id != job_id:
            return
        self.model.changed_all()
        self._refresh_speakers()
        self._on_search(self.search_box.text())
        self._refresh_title()
        self._refresh_stale()

    def step_match(self, step: int) -> None:
        matches = self.model.matches
        if not matches:
            return
        self.model.current_match = (self.model.current_match + step) % len(matches)
        row = matches[self.model.current_match]
        self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, SPEAKER_COLUMN))
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
        if not self.model.shows_speaker(row):  # a hit from another speaker: show everyone
            self.set_speaker_filter(None)
        matches = self.model.matches
        if row in matches:
            self.model.current_match = matches.index(row)
            self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, SPEAKER_COLUMN))
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

    def _on_double_clicked(self, index: QModelIndex) -> None:
        """Double-click edits the text (the table's edit trigger); the line is also played,
        once, so it is heard before it is corrected. On a speaker it renames (no playing)."""
        if index.column() == SPEAKER_COLUMN:
            return
        self.play_segment(index.row())

    def play_segment(self, row: int) -> None:
        segment = self.model.segment(row)
        if segment is not None and self.play_from(segment.start):
            self._stop_at = segment.end

    def replay_current(self) -> None:
        row = self.table.currentIndex().row()
        self.play_segment(row if row >= 0 else self.model.playing_row)

    def play_from(self, seconds: float) -> bool:
        if self.job is None:
            return False
        self._stop_at = None
        try:
            if self._player is None:
                self._player = self._player_factory()
                self._player.set_rate(self._rate)
            self._player.play_from(self.job.path, seconds)
        except Exception as error:  # noqa: BLE001 - playback is a convenience, never fatal
            log.debug("playback failed", exc_info=True)
            self.message.emit(fmt.one_line(f"Cannot play {self.job.name}: {error}"))
            return False
        self.message.emit(f"Playing {self.job.name} from {fmt.timestamp(seconds)}")
        self._follow.start()
        self.poll_playback()
        self._update_buttons()
        return True

    def _toggle_play(self) -> None:
        if self._player is None:
            # Nothing played yet: start at the selected line (or the top).
            row = max(self.table.currentIndex().row(), 0)
            segment = self.model.segment(row)
            if segment is not None:
                self.play_from(segment.start)
            return
        self._stop_at = None  # a deliberate play goes on past the line's end
        if self._player.toggle():
            self._follow.start()

    def skip(self, seconds: float) -> None:
        if self._player is None:
            return
        position = self._player.position()
        if position is None:
            return
        self._player.seek(max(0.0, position + seconds))
        self.poll_playback()

    def set_rate(self, rate: float) -> None:
        self._rate = float(rate)
        if self._player is not None:
            self._player.set_rate(self._rate)

    def poll_playback(self) -> None:
        """Highlight the segment being played and keep it in view (unless a correction is
        being typed elsewhere: the editor must not be scrolled away)."""
        if self._player is None or self.job is None:
            self._follow.stop()
            return
        position = self._player.position()
        if position is None:
            return
        if self._stop_at is not None and position >= self._stop_at:
            self._stop_at = None
            self._player.pause()
        row = self.model.row_at(position)
        if not self.model.set_playing_row(row):
            return
        self.table.viewport().update()
        if row >= 0:
            if self.table.state() != QAbstractItemView.State.EditingState:
                self.table.scrollTo(self.model.index(row, 1), QAbstractItemView.ScrollHint.EnsureVisible)

    # ----------------------------------------------------------------- stale exports
    def _on_edited(self, job_id: str, _row: int, _text: str) -> None:
        if self.job is not None and self.job.id == job_id:
            self.job.edited_at = time.time()
            if not self.job.status.finished:
                self.job.edited_while_running = True
            self._refresh_stale()

    def _refresh_stale(self) -> None:
        """Show which of the job's exports an edit has made stale (none: the bar hides)."""
        job = self.job
        if job is None or not job.status.finished:
            self.stale_bar.hide()
            return
        # Before any edit can make them stale: what SessionScribe wrote (or finds) there now.
        stale_exports.stamp_outputs(job)
        stale = stale_exports.stale_outputs(job)
        if not stale:
            self.stale_bar.hide()
            return
        names = ", ".join(path.name for path in stale)
        self.stale_label.setText(f"Written before your corrections: {names}")
        self.stale_label.setToolTip("\n".join(str(path) for path in stale))
        self.stale_bar.show()

    def update_exports(self) -> None:
        job = self.job
        if job is None:
            return
        result = stale_exports.update_outputs(job)
        parts = []
        if result.written:
            parts.append(f"Updated {', '.join(path.name for path in result.written)}")
        if result.changed_outside:
            names = ", ".join(path.name for path in result.changed_outside)
            parts.append(
                f"{names} changed outside SessionScribe since it was written: not replaced "
                "(use Export to save a copy)"
            )
        parts.extend(f"Could not update {line}" for line in result.failed)
        if parts:
            self.message.emit(fmt.one_line("; ".join(parts)))
        self._refresh_stale()

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
            suggested = folder / f"{job.path.stem}{EXPORT_SUFFIXES[fmt_name]}"
            chosen = file_dialogs.save_file(self, f"Export {fmt_name.upper()}", suggested, _filter(fmt_name))
            if chosen is None:
                return None
            path = chosen
        try:
            from engine import export_transcript, mode_limit

            # The engine's own renderer: unedited, byte-identical to the CLI's file.
            written = export_transcript(
                job.current_transcript(),
                Path(path),
                fmt_name,
                max_mode=mode_limit(job.path),  # never more readable than the recording
            )
        except Exception as error:  # noqa: BLE001
            log.debug("export failed", exc_info=True)
            self.message.emit(fmt.one_line(f"Export failed: {error}"))
            return None
        self.last_export = Path(written)
        stale_exports.note_written(job, self.last_export)
        self._refresh_stale()
        self.message.emit(f"Saved {Path(written).name}")
        return self.last_export

    def export_any(self) -> Path | None:
        """File → Export…: one dialog for every format; the chosen file's extension (or its
        filter) says which."""
        job = self.job
        if job is None or not job.segments:
            self.message.emit("Select a recording with a transcript to export it")
            return None
        folder = self.output_folder() or job.path.parent
        filters = ";;".join(_filter(name) for name in EXPORT_FORMATS)
        chosen = file_dialogs.save_file(self, "Export transcript", folder / f"{job.path.stem}.txt", filters)
        if chosen is None:
            return None
        fmt_name = format_of(chosen)
        if fmt_name is None:
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
