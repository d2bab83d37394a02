"""The History tab: every stored session (date, recording, duration, status), filtered by
name and status, sorted by any column; one click opens a session's transcript; Delete (the
button, the key or the row's menu) erases a stored session (the window asks first).

Today's queue lists only this run's work; this is where earlier sessions live. The list is
read from the job store (one small query) when the tab is shown and after a job ends.
"""
from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import fmt
from app.history import SessionRow

COLUMNS = ("Date", "Recording", "Duration", "Status")
COL_DATE, COL_NAME, COL_DURATION, COL_STATUS = range(len(COLUMNS))
SortRole = Qt.ItemDataRole.UserRole + 1
RowRole = Qt.ItemDataRole.UserRole + 2
ALL_STATUSES = "All statuses"
STATUSES = ("Done", "Failed", "Cancelled", "Interrupted", "Queued")
_COLORS = {"Done": "#2e7d32", "Failed": "#c62828", "Cancelled": "#8d6e63", "Interrupted": "#c62828"}

Index = QModelIndex | QPersistentModelIndex


def date_text(epoch: float, now: float | None = None) -> str:
    """"Today 14:05", "Yesterday 09:30", else "2026-11-02 16:40" (sorts and reads the same)."""
    day = time.strftime("%Y-%m-%d", time.localtime(epoch))
    clock = time.strftime("%H:%M", time.localtime(epoch))
    now = time.time() if now is None else now
    if day == time.strftime("%Y-%m-%d", time.localtime(now)):
        return f"Today {clock}"
    if day == time.strftime("%Y-%m-%d", time.localtime(now - 86400)):
        return f"Yesterday {clock}"
    return f"{day} {clock}"


class SessionModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[SessionRow] = []

    def set_rows(self, rows: list[SessionRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row, column = self.rows[index.row()], index.column()
        if role == RowRole:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                date_text(row.updated_at),
                row.name,
                fmt.clock(row.duration_s),
                row.status,
            )[column]
        if role == SortRole:  # dates and durations sort as numbers, names without case
            return (row.updated_at, row.name.lower(), row.duration_s or 0.0, row.status)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            changed = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.updated_at))
            queued = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created_at))
            return f"{row.path}\nQueued {queued}, last change {changed}\nClick to open its transcript"
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS and row.status in _COLORS:
            return QColor(_COLORS[row.status])
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_DURATION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class SessionFilter(QSortFilterProxyModel):
    """Rows whose recording name holds the typed text (any case) and whose status matches."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.text = ""
        self.status = ALL_STATUSES
        self.setSortRole(SortRole)

    def set_filter(self, text: str, status: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+, where invalidateFilter is deprecated
            self.beginFilterChange()
            self.text, self.status = text.strip().lower(), status
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.text, self.status = text.strip().lower(), status
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        rows = self.sourceModel().rows  # type: ignore[attr-defined]
        if not 0 <= source_row < len(rows):
            return False
        row = rows[source_row]
        return self.text in row.name.lower() and self.status in (ALL_STATUSES, row.status)


class HistoryView(QWidget):
    session_opened = Signal(str)  # job id: show its transcript
    delete_requested = Signal(str)  # job id: erase the stored session (the window asks first)

    def __init__(self, sessions: Callable[[], list[SessionRow]] | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self.model = SessionModel(self)
        self.proxy = SessionFilter(self)
        self.proxy.setSourceModel(self.model)
        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter by recording name…")
        self.filter_box.setClearButtonEnabled(True)
        self.status_box = QComboBox()
        self.status_box.addItems((ALL_STATUSES,) + STATUSES)
        self.count = QLabel("")
        self.count.setStyleSheet("color: #546e7a;")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip(
            "Erase the selected session's stored transcript and edits from SessionScribe "
            "(exported files and the recording stay on disk)"
        )
        self.delete_button.setEnabled(False)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_DATE, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for column in (COL_DATE, COL_DURATION, COL_STATUS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("Click a session to open its transcript; click a column header to sort")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.filter_box, 1)
        row.addWidget(self.status_box)
        row.addWidget(self.count)
        row.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)

        self.filter_box.textChanged.connect(lambda _text: self._apply_filter())
        self.status_box.currentTextChanged.connect(lambda _text: self._apply_filter())
        # One click opens (the transcript pane is beside this list); Enter too.
        self.table.clicked.connect(self._open)
        self.table.activated.connect(self._open)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.delete_button.setEnabled(self.selected_id() is not None)
        )
        self.delete_button.clicked.connect(self._delete_selected)
        QShortcut(QKeySequence.StandardKey.Delete, self.table, self._delete_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        if sessions is None:
            self.filter_box.setEnabled(False)
            self.count.setText("History unavailable: the job store could not be opened")

    def refresh(self) -> None:
        if self._sessions is None:
            return
        try:
            rows = self._sessions()
        except Exception as error:  # noqa: BLE001 - one line, never a traceback
            self.count.setText(fmt.one_line(f"Could not read the history: {error}"))
            return
        self.model.set_rows(rows)
        self._show_count()

    def _apply_filter(self) -> None:
        self.proxy.set_filter(self.filter_box.text(), self.status_box.currentText())
        self._show_count()

    def _show_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        noun = f"session{'s' if total != 1 else ''}"
        self.count.setText(f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}")

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(RowRole).job_id if rows else None

    def _delete_selected(self) -> None:
        job_id = self.selected_id()
        if job_id is not None:
            self.delete_requested.emit(job_id)

    def _menu(self, position) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        menu = QMenu(self)
        menu.addAction("Open transcript", lambda: self._open(index))
        menu.addAction("Delete from history…", self._delete_selected)
        menu.popup(self.table.viewport().mapToGlobal(position))

    def shown_rows(self) -> list[SessionRow]:
        return [self.proxy.index(row, 0).data(RowRole) for row in range(self.proxy.rowCount())]

    def open_row(self, row: int) -> None:
        self._open(self.proxy.index(row, 0))

    def _open(self, index: QModelIndex) -> None:
        session = index.data(RowRole) if index.isValid() else None
        if session is not None:
            self.session_opened.emit(session.job_id)
