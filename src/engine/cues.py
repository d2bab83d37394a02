"""Segments become subtitles a person can read.

Rules every cue follows:
- it never runs across a pause longer than 2.5 s (with word timings: nor across a pause of
  0.5 s after a sentence end, or 1.2 s after any word, where turns change),
- cues are sorted, and one voice's cues never overlap; two speakers talking at once get
  cues that do (players stack them), instead of the first one cut to a blink,
- at most two lines of at most 42 columns (a single word wider than that gets a line of
  its own and is never cut; text without spaces, such as Chinese or Japanese, breaks
  between characters),
- at most 7 s long: always with word timings, as far as the text allows without them.

With word timings, words are grouped greedily and a cue starts at its first word and ends
at its last. Without them, a segment's text is cut into pieces that each fit two lines and
spread over the voiced parts of the segment (from the voice detector) in proportion to
their length, so no cue covers a long silence.

Widths are display columns: East Asian wide characters count two, combining marks zero;
for any other text that is the number of characters.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from engine.segments import Cue, Segment, Word

LINE_WIDTH = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
MAX_PAUSE_S = 2.5
MIN_CUE_S = 0.5
# With word timings a cue also ends at a pause of this long after a sentence end, or of
# SOFT_PAUSE_S after any word: where one speaker usually stops and the other starts.
TURN_PAUSE_S = 0.5
SOFT_PAUSE_S = 1.2

_SENTENCE_END = ".?!…。？！"
_TRAILING_CLOSERS = "\"'”’»)]}」』）】〉》"

# Scripts written without spaces between words: a line may break between any two letters.
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


# --------------------------------------------------------------------------- line wrapping


@dataclass(frozen=True)
class _Unit:
    """Something a line may not break inside: a word, or one character of unspaced script."""

    text: str
    space: bool  # a space separates it from the unit before


def _is_unspaced(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _UNSPACED_RANGES)


def _no_break_before(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category in ("Pe", "Pf", "Po") or category.startswith("M")


def _no_break_after(ch: str) -> bool:
    return unicodedata.category(ch) in ("Ps", "Pi")


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    for word in text.split():
        if not any(_is_unspaced(ch) for ch in word):
            units.append(_Unit(word, True))
            continue
        first = True
        current = ""
        for ch in word:
            if current and (
                _no_break_before(ch)
                or _no_break_after(current[-1])
                or (not _is_unspaced(ch) and not _is_unspaced(current[-1]))
            ):
                current += ch
                continue
            if current:
                units.append(_Unit(current, first))
                first = False
            current = ch
        if current:
            units.append(_Unit(current, first))
    if units:
        units[0] = _Unit(units[0].text, False)
    return units


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Display columns of `text` (wide East Asian characters count two)."""
    return sum(_char_width(ch) for ch in text)


def _join(units: Sequence[_Unit]) -> str:
    parts: list[str] = []
    for index, unit in enumerate(units):
        if index and unit.space:
            parts.append(" ")
        parts.append(unit.text)
    return "".join(parts)


class _Widths:
    """Width of units[i:j] joined on one line, in O(1) after O(n) set-up."""

    def __init__(self, units: Sequence[_Unit]):
        self.text = [0]
        self.spaces = [0]
        for unit in units:
            self.text.append(self.text[-1] + text_width(unit.text))
            self.spaces.append(self.spaces[-1] + (1 if unit.space else 0))

    def line(self, i: int, j: int) -> int:
        if j <= i:
            return 0
        return self.text[j] - self.text[i] + self.spaces[j] - self.spaces[i + 1]


def _greedy_lines(units: Sequence[_Unit], width: int, widths: _Widths) -> list[tuple[int, int]]:
    lines: list[tuple[int, int]] = []
    start = 0
    for k in range(1, len(units) + 1):
        if k - 1 > start and widths.line(start, k) > width:
            lines.append((start, k - 1))
            start = k - 1
    if start < len(units):
        lines.append((start, len(units)))
    return lines


def _balanced_lines(
    units: Sequence[_Unit], count: int, width: int, widths: _Widths
) -> list[tuple[int, int]]:
    """Split into exactly `count` valid lines, as even as possible (shorter lines on top)."""
    n = len(units)

    def valid(i: int, j: int) -> bool:
        return j - i == 1 or widths.line(i, j) <= width

    # best[k][j]: (cost, previous break) for units[:j] on k lines; cost ranks the widest
    # line first, then the spread, then a shorter top line.
    best: list[dict[int, tuple[tuple, int]]] = [{0: ((0, 0, ()), -1)}]
    for k in range(1, count + 1):
        layer: dict[int, tuple[tuple, int]] = {}
        for j in range(k, n - (count - k) + 1):
            for i, (cost, _) in best[k - 1].items():
                if i >= j or not valid(i, j):
                    continue
                w = widths.line(i, j)
                new = (max(cost[0], w), cost[1] + w * w, cost[2] + (w,))
                if j not in layer or new < layer[j][0]:
                    layer[j] = (new, i)
        best.append(layer)
    if n not in best[count]:
        return _greedy_lines(units, width, widths)
    bounds: list[tuple[int, int]] = []
    j = n
    for k in range(count, 0, -1):
        i = best[k][j][1]
        bounds.append((i, j))
        j = i
    return bounds[::-1]


def _wrap_units(units: Sequence[_Unit], width: int, max_lines: int) -> list[str]:
    if not units:
        return []
    widths = _Widths(units)
    if widths.line(0, len(units)) <= width:
        return [_join(units)]
    lines = _greedy_lines(units, width, widths)
    if len(lines) <= max_lines:
        lines = _balanced_lines(units, len(lines), width, widths)
    return [_join(units[i:j]) for i, j in lines]


def wrap_lines(text: str, width: int = LINE_WIDTH, max_lines: int = MAX_LINES) -> list[str]:
    """Break `text` into the fewest lines of at most `width` columns, evenly balanced.

    Breaks at spaces (and between characters of scripts written without spaces); runs of
    whitespace collapse. A word wider than `width` gets a line of its own and is not cut.
    When the text needs more than `max_lines` lines, all of them are returned (filled
    greedily) so nothing is lost: callers that need at most `max_lines` cut the text first.
    """
    return _wrap_units(_units(text), width, max_lines)


def _fits(units: Sequence[_Unit]) -> bool:
    if not units:
        return True
    widths = _Widths(units)
    return len(_greedy_lines(units, LINE_WIDTH, widths)) <= MAX_LINES


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip().rstrip(_TRAILING_CLOSERS)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def _ends_clause(text: str) -> bool:
    stripped = text.rstrip().rstrip(_TRAILING_CLOSERS)
    return bool(stripped) and stripped[-1] in ",;:、，；："


# --------------------------------------------------------------------------- drafts


@dataclass
class _Draft:
    start: float
    end: float
    text: str
    speaker: int | None = None
    labelled: bool = False  # its text opens with the speaker's name


def _concat(left: str, right: str) -> str:
    """Append a word's text (which carries Whisper's leading space, or none inside a word)."""
    if not left:
        return right.strip()
    if right[:1].isspace():
        return left + " " + right.strip()
    return left + right.strip()


def join_text(left: str, right: str) -> str:
    """Join texts from two segments: a space, except between two unspaced-script letters
    (or before the closing punctuation that follows one: `谈谈。好的`, not `谈谈 。好的`).
    Cues and TXT paragraphs join by this one rule."""
    right = right.strip()
    if not left:
        return right
    if not right:
        return left
    if _is_unspaced(left[-1]) and (_is_unspaced(right[0]) or _no_break_before(right[0])):
        return left + right
    return left + " " + right


def _word_drafts(words: Sequence[tuple[Word, bool]], label: str = "") -> list[_Draft]:
    """Group words greedily; the flag marks the first word of a segment. `label` ("Client: ")
    opens the first cue and counts toward its width like its words."""
    drafts: list[_Draft] = []
    text = ""
    start = end = 0.0
    last: Word | None = None

    def flush() -> None:
        nonlocal text
        if text:
            # A single word stretched over more than 7 s usually swallowed the silence
            # before it: keep its last 7 s.
            drafts.append(_Draft(max(start, end - MAX_CUE_S), end, text, labelled=bool(label) and not drafts))
        text = ""

    for word, first_of_segment in words:
        if not word.text.strip():
            continue
        w_start = float(word.start)
        w_end = max(float(word.end), w_start)
        if last is not None:
            w_start = max(w_start, last.start)  # Whisper's word times can step backwards
            w_end = max(w_end, w_start)
        if text:
            candidate = (
                join_text(text, word.text) if first_of_segment else _concat(text, word.text)
            )
            assert last is not None
            full = not _fits(_units(candidate))
            too_long = max(end, w_end) - start > MAX_CUE_S
            gap = w_start - end
            # A turn change: a sentence ends and a pause follows, or a long pause. One cue
            # holding the end of one turn and the start of the next put the next turn's first
            # words up to 2.5 s before they were said (bench/accuracy.py: cue start p90
            # 1.5-2.8 s before this rule, the errors all from such cues).
            pause = (
                gap > MAX_PAUSE_S
                or gap >= TURN_PAUSE_S and _ends_sentence(last.text)
                or gap >= SOFT_PAUSE_S
            )
            half_full = text_width(text) >= LINE_WIDTH or end - start >= MAX_CUE_S / 2
            sentence = _ends_sentence(last.text) and half_full
            if full or too_long or pause or sentence:
                flush()
            else:
                text = candidate
                end = max(end, w_end)
                last = Word(w_start, w_end, word.text, word.probability)
                continue
        text = ("" if drafts else label) + word.text.strip()
        start, end = w_start, w_end
        last = Word(w_start, w_end, word.text, word.probability)
    flush()
    return drafts


def _voiced_regions(
    segment: Segment, speech: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    start = float(segment.start)
    end = max(float(segment.end), start)
    regions = []
    for a, b in speech:
        lo, hi = max(float(a), start), min(float(b), end)
        if hi > lo:
            regions.append((lo, hi))
    if not regions:
        if end <= start:
            end = start + MIN_CUE_S
        regions = [(start, end)]
    return regions


def _piece_bounds(units: Sequence[_Unit], weights: list[float], count: int) -> list[int]:
    """Cut units into `count` runs of about equal weight, preferring sentence ends."""
    n = len(units)
    cumulative = [0.0]
    for weight in weights:
        cumulative.append(cumulative[-1] + weight)
    total = cumulative[-1]
    bounds = [0]
    for i in range(1, count):
        target = total * i / count
        bonus = 0.3 * total / count
        best_j, best_score = None, math.inf
        for j in range(bounds[-1] + 1, n - (count - i) + 1):
            score = abs(cumulative[j] - target)
            if _ends_sentence(units[j - 1].text):
                score -= bonus
            elif _ends_clause(units[j - 1].text):
                score -= bonus / 3
            if score < best_score:
                best_j, best_score = j, score
        assert best_j is not None
        bounds.append(best_j)
    bounds.append(n)
    return bounds


def _split_pieces(units: Sequence[_Unit], span_s: float) -> list[list[_Unit]]:
    """Cut into pieces that each fit two lines and, where the text allows, last <= 7 s."""
    n = len(units)
    if n == 0:
        return []
    greedy = 0
    start = 0
    for k in range(1, n + 1):
        if k - 1 > start and not _fits(units[start:k]):
            greedy += 1
            start = k - 1
    greedy += 1
    weights = [_weight(unit, index) for index, unit in enumerate(units)]
    count = min(n, max(greedy, math.ceil(span_s / MAX_CUE_S - 1e-9), 1))
    while count < n:
        bounds = _piece_bounds(units, weights, count)
        pieces = [list(units[a:b]) for a, b in zip(bounds, bounds[1:])]
        total = sum(weights)
        short = all(
            span_s * sum(weights[a:b]) / total <= MAX_CUE_S for a, b in zip(bounds, bounds[1:])
        )
        if short and all(_fits(piece) for piece in pieces):
            return pieces
        count += 1
    return [[unit] for unit in units]


def _weight(unit: _Unit, index: int) -> float:
    return len(unit.text) + (1 if unit.space and index else 0)


class _Timeline:
    """Maps positions on the voiced time of some regions (gaps removed) back to real time."""

    def __init__(self, regions: Sequence[tuple[float, float]]):
        self.regions = list(regions)
        self.offsets = [0.0]
        for a, b in self.regions:
            self.offsets.append(self.offsets[-1] + (b - a))

    @property
    def duration(self) -> float:
        return self.offsets[-1]

    def start_at(self, x: float) -> float:
        """Real time of voiced position x, at the start of a region when x sits on a seam."""
        for (a, b), lo, hi in zip(self.regions, self.offsets, self.offsets[1:]):
            if x < hi - 1e-9:
                return a + max(0.0, x - lo)
        return self.regions[-1][1]

    def end_at(self, x: float) -> float:
        """Real time of voiced position x, at the end of a region when x sits on a seam."""
        for (a, b), lo, hi in zip(self.regions, self.offsets, self.offsets[1:]):
            if x <= hi + 1e-9:
                return min(b, a + max(0.0, x - lo))
        return self.regions[-1][1]


def _text_drafts(segment: Segment, speech: Sequence[tuple[float, float]], label: str = "") -> list[_Draft]:
    units = _units(label + segment.text.strip() if label else segment.text)
    if not units:
        return []
    regions = _voiced_regions(segment, speech)

    # Blocks: voiced regions separated by pauses of at most 2.5 s. No cue crosses blocks.
    blocks: list[list[tuple[float, float]]] = [[regions[0]]]
    for region in regions[1:]:
        if region[0] - blocks[-1][-1][1] > MAX_PAUSE_S:
            blocks.append([region])
        else:
            blocks[-1].append(region)

    # Share the text among blocks in proportion to their voiced time, at unit boundaries.
    weights = [_weight(unit, index) for index, unit in enumerate(units)]
    cumulative = [0.0]
    for weight in weights:
        cumulative.append(cumulative[-1] + weight)
    total_weight = cumulative[-1]
    voiced = [sum(b - a for a, b in block) for block in blocks]
    total_voiced = sum(voiced)
    cuts = [0]
    seen = 0.0
    for block_voiced in voiced[:-1]:
        seen += block_voiced
        target = total_weight * seen / total_voiced if total_voiced > 0 else 0.0
        j = min(range(cuts[-1], len(units) + 1), key=lambda k: (abs(cumulative[k] - target), k))
        cuts.append(j)
    cuts.append(len(units))

    drafts: list[_Draft] = []
    for block, a, b in zip(blocks, cuts, cuts[1:]):
        block_units = units[a:b]
        if not block_units:
            continue
        timeline = _Timeline(block)
        pieces = _split_pieces(block_units, block[-1][1] - block[0][0])
        piece_weights = [
            sum(_weight(unit, 1 if i else 0) for i, unit in enumerate(piece)) for piece in pieces
        ]
        total = sum(piece_weights)
        position = 0.0
        for piece, weight in zip(pieces, piece_weights):
            begin = timeline.duration * position / total
            position += weight
            finish = timeline.duration * position / total
            drafts.append(_Draft(timeline.start_at(begin), timeline.end_at(finish), _join(piece),
                                 labelled=bool(label) and not drafts))
    return drafts


# --------------------------------------------------------------------------- public


def build_cues(
    segments: Sequence[Segment],
    speech: Sequence[tuple[float, float]] = (),
    names: Callable[[int], str] | None = None,
) -> list[Cue]:
    """Turn transcript segments into sorted subtitle cues (one voice's never overlap).

    `speech` holds the voiced regions (start, end) in seconds of the recording; it is used
    only for segments without word timings. With `names` (SRT), the speaker's name opens the
    first cue of each turn (`Client: ...`) and counts toward its two lines of 42: added
    after wrapping, it made lines of up to 53 characters (30-min bench session: 29 of 405
    cues).
    """
    regions = sorted((float(a), float(b)) for a, b in speech if float(b) > float(a))
    ordered = sorted(
        (segment for segment in segments if segment.text and segment.text.strip()),
        key=lambda segment: (segment.start, segment.end),
    )

    drafts: list[_Draft] = []
    word_run: list[tuple[Word, bool]] = []
    run_speaker: int | None = None

    label = ""  # the name still to open this turn's first cue

    def spoken_by(new: list[_Draft], speaker: int | None) -> list[_Draft]:
        nonlocal label
        if new:
            label = ""
        return [replace(draft, speaker=speaker) for draft in new]

    for segment in ordered:
        if segment.speaker != run_speaker:  # a turn change ends a cue: none mixes two voices
            drafts.extend(spoken_by(_word_drafts(word_run, label), run_speaker))
            word_run = []
            run_speaker = segment.speaker
            label = f"{names(run_speaker)}: " if names is not None and run_speaker is not None else ""
        if segment.words:
            word_run.extend(
                (word, index == 0) for index, word in enumerate(segment.words)
            )
            continue
        drafts.extend(spoken_by(_word_drafts(word_run, label), run_speaker))
        word_run = []
        drafts.extend(spoken_by(_text_drafts(segment, regions, label), segment.speaker))
    drafts.extend(spoken_by(_word_drafts(word_run, label), run_speaker))
    if names is not None:
        drafts = _name_changes(drafts, names)
    return _finish(drafts)


def _name_changes(drafts: list[_Draft], names: Callable[[int], str]) -> list[_Draft]:
    """In time order, a cue whose speaker is not the one shown last opens with the name. A
    turn's first cue has it already; this is for turns said over each other, where the
    other voice's cue lands inside a turn (stereo_diarization.wav: "behind the curtain on
    the left." came after the other speaker's cue with no name). Where the name no longer
    fits the cue's two lines, the rest goes to a cue of its own."""
    out: list[_Draft] = []
    shown: int | None = None
    for draft in sorted(drafts, key=lambda d: (d.start, d.end)):
        if draft.speaker is not None and draft.speaker != shown and not draft.labelled:
            units = _units(f"{names(draft.speaker)}: {draft.text}")
            lines = _greedy_lines(units, LINE_WIDTH, _Widths(units))
            cut = lines[MAX_LINES - 1][1] if len(lines) > MAX_LINES else len(units)
            head, tail = _join(units[:cut]), _join(units[cut:])
            middle = draft.start + (draft.end - draft.start) * len(head) / max(1, len(head) + len(tail))
            out.append(replace(draft, end=middle if tail else draft.end, text=head, labelled=True))
            if tail:
                out.append(replace(draft, start=middle, text=tail, labelled=True))
        else:
            out.append(draft)
        if draft.speaker is not None:
            shown = draft.speaker
    return out


def _one_voice(a: int | None, b: int | None) -> bool:
    """Cues that must not overlap: the same speaker's, or any without a known speaker."""
    return a is None or b is None or a == b


def _finish(drafts: list[_Draft]) -> list[Cue]:
    """Whole milliseconds, sorted, at least 0.5 s where the next cue of the same voice allows.

    A cue ends where the next one of its voice (or of no known voice) starts, never where
    another speaker's starts: cut at the other voice, the first of two sentences said
    together lasted 96 ms (stereo_diarization.wav)."""
    items = []
    for draft in drafts:
        lines = _wrap_units(_units(draft.text), LINE_WIDTH, MAX_LINES)
        if not lines:
            continue
        start = round(draft.start * 1000)
        end = max(round(draft.end * 1000), start)
        items.append([start, end, tuple(lines), draft.speaker])
    items.sort(key=lambda item: (item[0], item[1]))
    for previous, item in zip(items, items[1:]):
        if item[0] <= previous[0]:  # two cues at one instant: keep both, 1 ms apart
            item[0] = previous[0] + 1
        item[1] = max(item[1], item[0] + 1)
    if items:
        items[0][1] = max(items[0][1], items[0][0] + 1)
    minimum = round(MIN_CUE_S * 1000)
    for index, item in enumerate(items):
        end = max(item[1], item[0] + minimum)
        following = next((other for other in items[index + 1 :] if _one_voice(item[3], other[3])), None)
        if following is not None:
            end = min(end, following[0])
        item[1] = end
    return [Cue(start / 1000, end / 1000, lines, speaker) for start, end, lines, speaker in items]
