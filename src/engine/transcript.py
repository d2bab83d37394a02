"""The transcript: what the engine returns, the store keeps, the app shows and edits, and
every export is rendered from (engine.export.render).

One type, so the voiced regions that place cue times travel with the words everywhere: the
app's export used to get segments without them and timed its cues differently from the
CLI's (same segment: 10.000-15.312 from the CLI, 9.800-14.498 from the app).
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from engine.folders import APP_NAME
from engine.segments import Segment


def recording_date(path: Path | str) -> str | None:
    """The recording's modification date (local), YYYY-MM-DD; None where it cannot be read."""
    try:
        return datetime.date.fromtimestamp(os.stat(path).st_mtime).isoformat()
    except (OSError, ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class TranscriptInfo:
    """What the JSON export's metadata says about the transcript."""

    source: str  # the recording's file name (never its folder)
    duration_s: float  # audio decoded, seconds
    language: str | None
    model: str  # a model's name, or a model folder's name
    edited: bool = False  # corrected by hand since the engine wrote it
    speakers: tuple[str, ...] = ()  # names by speaker number; "Speaker N" where none is given
    # The session's date, YYYY-MM-DD: the recording's modification date (`recording_date`),
    # taken when the job ran and kept with the transcript, so every later export (DOCX's
    # header) says the same date even after the file is copied or touched.
    recorded: str | None = None

    def speaker_name(self, speaker: int) -> str:
        if 0 <= speaker < len(self.speakers) and self.speakers[speaker].strip():
            return self.speakers[speaker].strip()
        return f"Speaker {speaker + 1}"

    def to_dict(self) -> dict:
        data = {
            "source": self.source,
            "duration_s": self.duration_s,
            "language": self.language,
            "model": self.model,
            "word_timestamps": True,
            "generator": APP_NAME,
        }
        if self.edited:
            data["edited"] = True
        if self.speakers:
            data["speakers"] = list(self.speakers)
        if self.recorded:
            data["recorded"] = self.recorded
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TranscriptInfo":
        return cls(
            source=str(data.get("source", "")),
            duration_s=float(data.get("duration_s") or 0.0),
            language=data.get("language"),
            model=str(data.get("model", "")),
            edited=bool(data.get("edited", False)),
            speakers=tuple(str(name) for name in data.get("speakers") or ()),
            recorded=str(data["recorded"]) if data.get("recorded") else None,
        )


@dataclass(frozen=True)
class Transcript:
    segments: tuple[Segment, ...]
    speech: tuple[tuple[float, float], ...] = ()  # voiced regions, seconds of the recording
    info: TranscriptInfo = field(default_factory=lambda: TranscriptInfo("", 0.0, None, ""))

    @classmethod
    def of(
        cls, segments: Sequence[Segment], speech: Sequence[tuple[float, float]] = (), **info
    ) -> "Transcript":
        """A transcript from parts (tests, benchmarks, a store's rows)."""
        defaults = {"source": "", "duration_s": 0.0, "language": None, "model": ""}
        return cls(
            tuple(segments),
            tuple((float(a), float(b)) for a, b in speech),
            TranscriptInfo(**{**defaults, **info}),
        )

    @property
    def speaker_numbers(self) -> list[int]:
        """The speakers heard, in order of number."""
        return sorted({s.speaker for s in self.segments if s.speaker is not None})

    def speaker_name(self, speaker: int | None) -> str | None:
        return None if speaker is None else self.info.speaker_name(speaker)

    def with_speaker_names(self, names: Sequence[str]) -> "Transcript":
        """Names for speakers 0, 1, ... (a rename applies to every export)."""
        return replace(self, info=replace(self.info, speakers=tuple(names)))

    def with_text(self, position: int, text: str) -> "Transcript":
        """The transcript with segment `position` corrected to `text` (marked edited)."""
        segments = list(self.segments)
        segments[position] = replace(segments[position], text=text)
        return replace(self, segments=tuple(segments), info=replace(self.info, edited=True))

    def with_segments(self, segments: Sequence[Segment], edited: bool = True) -> "Transcript":
        return replace(
            self, segments=tuple(segments), info=replace(self.info, edited=self.info.edited or edited)
        )
