"""Typed progress events: the only way the engine talks to whoever drives it.

Events are plain frozen dataclasses so they cross threads (and Qt signals) safely. They never
carry audio; `SegmentReady` carries transcript text, so consumers must not log it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union

from engine.segments import Segment

if TYPE_CHECKING:
    from engine.report import RunReport
    from engine.transcript import Transcript


class Stage(str, Enum):
    DECODE = "decode"
    CONDITION = "condition"
    SPEECH = "speech"
    TRANSCRIBE = "transcribe"
    SPEAKERS = "speakers"  # who said what (engine.diarize): voices embedded as windows are
    # prepared, told apart and put on the words once the whole recording is heard
    EXPORT = "export"


@dataclass(frozen=True)
class JobStarted:
    job_id: str
    path: Path
    duration_s: float | None  # None when the container does not say


@dataclass(frozen=True)
class StageStarted:
    job_id: str
    stage: Stage


@dataclass(frozen=True)
class StageProgress:
    """`done`/`total` in the stage's own unit (seconds of audio for audio stages)."""

    job_id: str
    stage: Stage
    done: float
    total: float
    # True: `done` moved past work an earlier run finished (taken from the job store), not
    # work done now; a front end must not take a speed (or an ETA) from it.
    reused: bool = False

    @property
    def fraction(self) -> float:
        if self.total <= 0:
            return 0.0
        return max(0.0, min(1.0, self.done / self.total))


@dataclass(frozen=True)
class StageFinished:
    job_id: str
    stage: Stage
    seconds: float  # wall time the stage was busy
    reused: bool = False  # all of its work came from an earlier run of the job (resume)
    skipped: bool = False  # turned off for this job (speakers off): nothing ran


@dataclass(frozen=True)
class SegmentReady:
    job_id: str
    segment: Segment


@dataclass(frozen=True)
class JobNote:
    """Something the user should know that is not a failure (e.g. 'no speech found')."""

    job_id: str
    message: str
    level: str = "info"  # "info" | "warning"


@dataclass(frozen=True)
class JobDone:
    job_id: str
    outputs: dict[str, Path]
    report: "RunReport"
    transcript: "Transcript | None" = None  # what the exports were rendered from


@dataclass(frozen=True)
class JobFailed:
    job_id: str
    reason: str  # one human line that names the file


@dataclass(frozen=True)
class JobCancelled:
    job_id: str


@dataclass(frozen=True)
class ModelDownloadProgress:
    model: str
    done_bytes: int
    total_bytes: int | None


@dataclass(frozen=True)
class DeviceNotice:
    """The device check found a problem and the engine fell back (message says how to fix)."""

    message: str
    fix: str = ""


Event = Union[
    JobStarted,
    StageStarted,
    StageProgress,
    StageFinished,
    SegmentReady,
    JobNote,
    JobDone,
    JobFailed,
    JobCancelled,
    ModelDownloadProgress,
    DeviceNotice,
]
EventSink = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    """Default sink for callers that do not watch progress."""
