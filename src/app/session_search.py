"""'Search all sessions': find text in every stored transcript, open a hit at its segment.

The query runs in the job store on a pool thread (app.background), never on the UI thread:
a few hundred stored sessions are a few hundred thousand segments. Typing is debounced;
only the answer to the latest query is shown.

Each hit says who said it (issue 12), by the name its transcript gives the speaker. The
combo under the box keeps one speaker's lines: it offers the names of everyone who said the
searched words, matched across sessions by name (app.history.speaker_key), since "Therapist"
is speaker 1 in one session and speaker 2 in the next.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
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
from app.history import SEARCH_LIMIT, SearchHit, speaker_key

DEBOUNCE_MS = 250
ROWS_SHOWN = 7  # the list grows up to this many rows, then scrolls
HitRole = Qt.ItemDataRole.UserRole + 1
ALL_SPEAKERS = "All speakers"


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
    said_by = f"{hit.speaker}: " if hit.speaker else ""
    return f"{hit.name} · {fmt.timestamp(hit.start_s)} · {said_by}{snippet(hit.text, query)}"


def _same_speaker(first: str | None, second: str | None) -> bool:
    """Whether two filter choices keep the same lines ("Therapist" and "therapist" do)."""
    if first is None or second is None:
        return first is second
    return speaker_key(first) == speaker_key(second)


@dataclass(frozen=True)
class Answer:
    """What one search found: the hits to list (one speaker's, when the filter asks) and
    everyone who said the words, for the filter's list."""

    generation: int
    query: str
    speaker: str | None  # the filter it ran with
    hits: list[SearchHit] | None  # None: the search failed
    speakers: list[str]
    reason: str = ""


def _find(search: Callable[..., list[SearchHit]], query: str, speaker: str | None) -> tuple[list[SearchHit], list[str]]:
    """The hits for `query` (only `speaker`'s when given) and the names of all who said it."""
    everyone = search(query)
    if speaker is None:
        hits = everyone
    elif len(everyone) < SEARCH_LIMIT:  # every match is here: no second query needed
        hits = [hit for hit in everyone if hit.speaker and speaker_key(hit.speaker) == speaker_key(speaker)]
    else:  # their lines may be past the first SEARCH_LIMIT matches
        hits = search(query, speaker=speaker)
    names: dict[str, str] = {}
    for hit in everyone + hits:
        if hit.speaker:
            names.setdefault(speaker_key(hit.speaker), hit.speaker)
    return hits, sorted(names.values(), key=speaker_key)


class SessionSearch(QWidget):
    hit_opened = Signal(object, str)  # SearchHit, the query that found it
    searched = Signal(int)  # results shown for the latest query (their count)

    def __init__(self, search: Callable[..., list[SearchHit]] | None, parent: QWidget | None = None) -> None:
        """`search(text)` finds every speaker's lines, `search(text, speaker=name)` one
        speaker's (app.history.History.search)."""
        super().__init__(parent)
        self._search = search
        self._generation = 0
        self._shown_query = ""
        self._shown_speaker: str | None = None
        self.box = QLineEdit()
        self.box.setPlaceholderText("Search all sessions…")
        self.box.setClearButtonEnabled(True)
        self.box.setToolTip("Find words in every stored transcript; click a result to open it at that line")
        # Who said it: hidden until a search finds lines with speakers (or a filter is set).
        self.speaker = QComboBox()
        self.speaker.addItem(ALL_SPEAKERS, None)
        self.speaker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.speaker.setToolTip("Show only what one speaker said (by the name their transcript gives them)")
        self.speaker.hide()
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
        # Under the box, not beside it: the pane is narrow, and the box must keep its width.
        layout.addWidget(self.speaker, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.results)

        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_now)
        self.box.textChanged.connect(lambda _text: self._timer.start())
        self.box.returnPressed.connect(self._on_return)
        self.speaker.currentIndexChanged.connect(lambda _index: self.run_now())
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
        return (
            self._timer.isActive()
            or self._shown_query != self.box.text().strip()
            or not _same_speaker(self._shown_speaker, self.speaker_filter())
        )

    def speaker_filter(self) -> str | None:
        """The speaker whose lines are listed; None: everyone's."""
        return self.speaker.currentData()

    def set_speaker_filter(self, name: str | None) -> None:
        """List only `name`'s lines (None: everyone's), searching again at once."""
        index = self._speaker_index(name)
        if index < 0:
            self.speaker.addItem(name, name)
            index = self.speaker.count() - 1
        self.speaker.setCurrentIndex(index)  # searches again (currentIndexChanged)

    def _speaker_index(self, name: str | None) -> int:
        if name is None:
            return 0
        key = speaker_key(name)
        return next((i for i in range(1, self.speaker.count()) if speaker_key(self.speaker.itemData(i)) == key), -1)

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
        speaker = self.speaker_filter()
        self._generation += 1
        generation = self._generation
        if not query or self._search is None:
            self._show(Answer(generation, query, speaker, [], []))
            return
        self.count.setText("Searching…")
        search = self._search

        def task() -> Answer:
            try:
                hits, speakers = _find(search, query, speaker)
                return Answer(generation, query, speaker, hits, speakers)
            except Exception as error:  # noqa: BLE001 - one line under the box
                return Answer(generation, query, speaker, None, [], fmt.one_line(str(error) or type(error).__name__))

        # A bound method (not a lambda): Qt drops the call if this widget is gone by then.
        run_in_background(task, self._on_answer)

    def _on_answer(self, answer: Answer) -> None:
        if answer.hits is None:
            self._failed(answer)
        else:
            self._show(answer)

    def _show(self, answer: Answer) -> None:
        if answer.generation != self._generation:
            return  # an older query answered late
        query, hits = answer.query, answer.hits or []
        self._shown_query = query
        self._shown_speaker = answer.speaker
        self._offer_speakers(answer.speakers)
        self.results.clear()
        if not query:
            self.count.setText("")
            self.results.hide()
            self.searched.emit(0)
            return
        for hit in hits:
            item = QListWidgetItem(hit_label(hit, query))
            item.setData(HitRole, hit)
            said_by = f", {hit.speaker}" if hit.speaker else ""
            item.setToolTip(f"{hit.name}, {fmt.timestamp(hit.start_s)}{said_by}\n{hit.text}")
            self.results.addItem(item)
        sessions = len({hit.job_id for hit in hits})
        if not hits:
            self.count.setText("No matches" if answer.speaker is None else f"No matches from {answer.speaker}")
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

    def _failed(self, answer: Answer) -> None:
        if answer.generation != self._generation:
            return
        self._shown_query = answer.query
        self._shown_speaker = answer.speaker
        self.results.clear()
        self.results.hide()
        self.count.setText("Search failed")
        self.count.setToolTip(answer.reason)
        self.searched.emit(0)

    def _offer_speakers(self, names: list[str]) -> None:
        """The filter lists everyone who said the words, and keeps the chosen speaker even
        when the new words are not theirs (the user chose them; "No matches from" says so)."""
        chosen = self.speaker_filter()
        if chosen is not None and speaker_key(chosen) not in {speaker_key(name) for name in names}:
            names = sorted([*names, chosen], key=speaker_key)
        self.speaker.blockSignals(True)  # rebuilding the list is not a new choice
        try:
            self.speaker.clear()
            self.speaker.addItem(ALL_SPEAKERS, None)
            for name in names:
                self.speaker.addItem(name, name)
            self.speaker.setCurrentIndex(max(0, self._speaker_index(chosen)))
        finally:
            self.speaker.blockSignals(False)
        self.speaker.setVisible(bool(names))

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
