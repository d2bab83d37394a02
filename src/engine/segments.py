"""Transcript data: words and segments, always in seconds of the original recording."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] | None = None

    def to_dict(self) -> dict:
        data = {"start": self.start, "end": self.end, "text": self.text}
        if self.words is not None:
            data["words"] = [asdict(word) for word in self.words]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Segment":
        words = data.get("words")
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            words=None if words is None else tuple(Word(**word) for word in words),
        )


@dataclass(frozen=True)
class Cue:
    """One subtitle: a span of time and up to two lines of text."""

    start: float
    end: float
    lines: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
