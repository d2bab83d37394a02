"""Who spoke when, as RTTM (`<stem>.rttm`): one line per stretch of one speaker's speech, the
file that diarization scorers read (pyannote.metrics, dscore, NIST md-eval;
bench/score_speakers.py), so speaker labels can be checked against a reference of one's own.

The transcript's rows say it less well: a row runs from its first word to its last as Whisper
timed them. On 10 sessions of bench/outside_sessions.py (2026-11-27, tiny.en, every word
given its right speaker), rows of one sentence each put 88.1-92.0 % of the speech time on
the right speaker, rows of one turn 96.3-98.2 %, these stretches 98.7-99.7 %.

A stretch is the speech the pipeline heard (the transcript's Silero regions, to 30 ms), cut
between the words of two speakers halfway across the pause that separates them; the
words' own times fill in where no region was found. A pause shorter than a row ends at
(speaker_labels.ROW_PAUSE_S) does not end a speaker's stretch. Speech with no word within that
distance is left out: no words, no one to give it to.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import accumulate
from pathlib import Path
from typing import Iterable, NamedTuple

from engine.speaker_labels import ROW_PAUSE_S
from engine.transcript import Transcript

UNKNOWN = "unknown"  # the label of speech whose speaker is not known (speakers off)


class Stretch(NamedTuple):
    start: float
    end: float
    speaker: int | None


def _said(transcript: Transcript) -> list[Stretch]:
    """Every word with its speaker (a segment without words, edited by hand: the segment)."""
    said: list[Stretch] = []
    for segment in transcript.segments:
        words = [w for w in segment.words or () if w.text.strip()]
        if words:
            said.extend(Stretch(w.start, max(w.start, w.end), segment.speaker if w.speaker is None else w.speaker)
                        for w in words)
        elif segment.text.strip():
            said.append(Stretch(segment.start, max(segment.start, segment.end), segment.speaker))
    return sorted(said)


def _claimed(region: tuple[float, float], near: list[Stretch]) -> Iterable[Stretch]:
    """The parts of one speech region each nearby word claims: up to halfway to its neighbours
    and no further than ROW_PAUSE_S from itself."""
    start, end = region
    for index, word in enumerate(near):
        low = max(start, word.start - ROW_PAUSE_S)
        high = min(end, word.end + ROW_PAUSE_S)
        if index:
            low = max(low, (near[index - 1].end + word.start) / 2)
        if index + 1 < len(near):
            high = min(high, (word.end + near[index + 1].start) / 2)
        if high > low:
            yield Stretch(low, high, word.speaker)


def speaker_stretches(transcript: Transcript) -> list[Stretch]:
    """Who spoke when, in time order: stretches of one speaker, never two at once."""
    said = _said(transcript)
    starts = [w.start for w in said]
    reach = list(accumulate((w.end for w in said), max))  # how far the words so far reach
    pieces = list(said)
    for region in transcript.speech:
        near = said[bisect_right(reach, region[0] - ROW_PAUSE_S) : bisect_left(starts, region[1] + ROW_PAUSE_S)]
        pieces.extend(_claimed(region, [w for w in near if w.end > region[0] - ROW_PAUSE_S]))
    out: list[Stretch] = []
    for piece in sorted(pieces):
        if out:
            last = out[-1]
            if piece.speaker == last.speaker and piece.start - last.end <= ROW_PAUSE_S:
                out[-1] = last._replace(end=max(last.end, piece.end))
                continue
            if piece.start < last.end:  # heard at once (two microphones): the later starts where this ends
                if piece.end <= last.end:
                    continue
                piece = piece._replace(start=last.end)
        out.append(piece)
    return out


def _token(text: str, default: str) -> str:
    """One RTTM field: no spaces (fields are whitespace-separated)."""
    return re.sub(r"\s+", "_", text.strip()) or default


def rttm_line(recording: str, start: float, end: float, speaker: str) -> str:
    """`SPEAKER <recording> 1 <start> <duration> <NA> <NA> <speaker> <NA> <NA>`, names without spaces."""
    return (f"SPEAKER {_token(recording, 'recording')} 1 {start:.3f} {end - start:.3f} <NA> <NA> "
            f"{_token(speaker, UNKNOWN)} <NA> <NA>")


def format_rttm(transcript: Transcript) -> str:
    """One `rttm_line` per stretch; the speaker is its name in the transcript (spaces as '_'),
    `unknown` where none is known."""
    uri = Path(transcript.info.source).stem
    lines = [rttm_line(uri, stretch.start, stretch.end,
                       UNKNOWN if stretch.speaker is None else transcript.info.speaker_name(stretch.speaker))
             for stretch in speaker_stretches(transcript)]
    return "\n".join(lines) + "\n" if lines else ""
