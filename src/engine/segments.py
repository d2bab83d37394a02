"""Transcript data: words and segments, always in seconds of the original recording."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0
    speaker: int | None = None  # 0-based; a name from the transcript's speaker names

    def to_dict(self) -> dict:
        data = {"start": self.start, "end": self.end, "text": self.text, "probability": self.probability}
        if self.speaker is not None:
            data["speaker"] = self.speaker
        return data


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] | None = None
    speaker: int | None = None  # one speaker per segment: a turn change splits a segment

    def to_dict(self) -> dict:
        data = {"start": self.start, "end": self.end, "text": self.text}
        if self.speaker is not None:
            data["speaker"] = self.speaker
        if self.words is not None:
            data["words"] = [word.to_dict() for word in self.words]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Segment":
        words = data.get("words")
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            words=None if words is None else tuple(Word(**word) for word in words),
            speaker=data.get("speaker"),
        )


@dataclass(frozen=True)
class Cue:
    """One subtitle: a span of time and up to two lines of text."""

    start: float
    end: float
    lines: tuple[str, ...] = field(default_factory=tuple)
    speaker: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
