"""'Search all sessions': find text in every stored transcript, open a hit at its segment.

The query runs in the job store on a pool thread (app.background), never on the UI thread:
a few hundred stored sessions are a few hundred thousand segments. Typing is debounced;
only the answer to the latest query is shown.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app import fmt
from app.background import run_in_background
from app.history import SEARCH_LIMIT, SearchHit

DEBOUNCE_MS = 250
ROWS_SHOWN = 7  # the list grows up to this many rows, then scrolls
HitRole = Qt.ItemDataRole.UserRole + 1


def snippet(text: str, query: str, width: int = 90) -> str:
    """The part of `text` around the first match of `query`, at most about `width` chars."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    at = text.lower().find(query.strip().lower())
    start = max(0, at - width // 3) if at >= 0 else 0
    end = min(len(text), start + width)
    start = max(0, end - width)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def hit_label(hit: SearchHit, query: str) -> str:
    return f"{hit.name} · {fmt.timestamp(hit.start_s)} · {snippet(hit.text, query)}"


class SessionSearch(QWidget):
    hit_opened = Signal(object, str)  # SearchHit, the query that found it
    searched = Signal(int)  # results shown for the latest query (their count)

    def __init__(self, search: Callable[[str], list[SearchHit]] | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._search = search
        self._generation = 0
        self._shown_query = ""
        self.box = QLineEdit()
        self.box.setPlaceholderText("Search all sessions…")
        self.box.setClearButtonEnabled(True)
        self.box.setToolTip("Find words in every stored transcript; click a result to open it at that line")
        self.count = QLabel("")
        self.count.setStyleSheet("color: #546e7a;")
        self.results = QListWidget()
        self.results.setUniformItemSizes(True)
        self.results.setWordWrap(False)
        self.results.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.results.setAlternatingRowColors(True)
        self.results.setStyleSheet("QListWidget::item { padding: 3px 4px; }")
        self.results.hide()

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.box, 1)
        row.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.results)

        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_now)
        self.box.textChanged.connect(lambda _text: self._timer.start())
        self.box.returnPressed.connect(self._on_return)
        self.box.installEventFilter(self)
        self.results.itemClicked.connect(self._open)
        self.results.itemActivated.connect(self._open)
        if search is None:
            self.box.setEnabled(False)
            self.box.setPlaceholderText("Search unavailable: the job history could not be opened")

    # ----------------------------------------------------------------- searching
    @property
    def pending(self) -> bool:
        """A query is typed or running whose results are not shown yet."""
        return self._timer.isActive() or self._shown_query != self.box.text().strip()

    def search_for(self, text: str) -> None:
        """Type `text` and search at once (no debounce)."""
        self.box.setText(text)
        self.run_now()

    def refresh(self) -> None:
        """Search again for what is shown (a session was deleted or has finished)."""
        if self.box.text().strip():
            self.run_now()

    def refresh_soon(self) -> None:
        """Like refresh(), after the debounce delay (lets a delete in progress finish)."""
        if self.box.text().strip():
            self._timer.start()

    def run_now(self) -> None:
        self._timer.stop()
        query = self.box.text().strip()
        self._generation += 1
        generation = self._generation
        if not query or self._search is None:
            self._show(generation, query, [])
            return
        self.count.setText("Searching…")
        search = self._search

        def task() -> tuple[int, str, list[SearchHit] | None, str]:
            try:
                return generation, query, search(query), ""
            except Exception as error:  # noqa: BLE001 - one line under the box
                return generation, query, None, fmt.one_line(str(error) or type(error).__name__)

        # A bound method (not a lambda): Qt drops the call if this widget is gone by then.
        run_in_background(task, self._on_answer)

    def _on_answer(self, answer: tuple[int, str, list[SearchHit] | None, str]) -> None:
        generation, query, hits, reason = answer
        if hits is None:
            self._failed(generation, query, reason)
        else:
            self._show(generation, query, hits)

    def _show(self, generation: int, query: str, hits: list[SearchHit]) -> None:
        if generation != self._generation:
            return  # an older query answered late
        self._shown_query = query
        self.results.clear()
        if not query:
            self.count.setText("")
            self.results.hide()
            self.searched.emit(0)
            return
        for hit in hits:
            item = QListWidgetItem(hit_label(hit, query))
            item.setData(HitRole, hit)
            item.setToolTip(f"{hit.name}, {fmt.timestamp(hit.start_s)}\n{hit.text}")
            self.results.addItem(item)
        sessions = len({hit.job_id for hit in hits})
        if not hits:
            self.count.setText("No matches")
        else:
            first = f"first {len(hits)}" if len(hits) >= SEARCH_LIMIT else str(len(hits))
            self.count.setText(
                f"{first} match{'es' if len(hits) != 1 else ''} in {sessions} session{'s' if sessions != 1 else ''}"
            )
        self.count.setToolTip("Refine the search to see the rest" if len(hits) >= SEARCH_LIMIT else "")
        if hits:
            rows = min(len(hits), ROWS_SHOWN)
            frame = 2 * self.results.frameWidth()
            row_height = self.results.sizeHintForRow(0)
            self.results.setFixedHeight(rows * (row_height if row_height > 0 else 22) + frame)
            self.results.show()
        else:
            self.results.hide()
        self.searched.emit(len(hits))

    def _failed(self, generation: int, query: str, reason: str) -> None:
        if generation != self._generation:
            return
        self._shown_query = query
        self.results.clear()
        self.results.hide()
        self.count.setText("Search failed")
        self.count.setToolTip(reason)
        self.searched.emit(0)

    # ----------------------------------------------------------------- opening
    def hits(self) -> list[SearchHit]:
        return [self.results.item(row).data(HitRole) for row in range(self.results.count())]

    def _open(self, item: QListWidgetItem) -> None:
        hit = item.data(HitRole)
        if hit is not None:
            self.hit_opened.emit(hit, self._shown_query)

    def _on_return(self) -> None:
        if self.pending:
            self.run_now()
        elif self.results.count():
            self.results.setCurrentRow(0)
            self._open(self.results.item(0))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Down arrow from the search box walks into the results; Escape clears the search.
        if watched is self.box and event.type() == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Down and self.results.isVisible() and self.results.count():
                self.results.setFocus()
                self.results.setCurrentRow(max(0, self.results.currentRow()))
                return True
            if event.key() == Qt.Key.Key_Escape and self.box.text():
                self.box.clear()
                self.run_now()
                return True
        return super().eventFilter(watched, event)
