"""One queued recording and its live progress, as the UI sees it (no Qt here).

Timing uses time.monotonic(). Stages overlap in the engine (the next window decodes while
the current one is transcribed), so each stage keeps its own start, progress and measured
rate, and the ETA is taken from whichever unfinished stage will take longest.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from engine import JobStatus as StoreStatus
from engine import RunReport, Segment, Stage, TranscribeOptions, Transcript


@dataclass(frozen=True)
class StageRow:
    """How the app shows one engine stage: its name, its share of a job's progress (for the
    window title and taskbar: transcription dominates), and its colour in the run report."""

    label: str
    weight: float
    colour: str


# The one table of stages in the app; tests/app/test_stage_table.py checks every engine
# `Stage` has its row (a stage without one used to raise KeyError every second of a job).
STAGE_TABLE: dict[Stage, StageRow] = {
    Stage.DECODE: StageRow("Decode", 0.05, "#26a69a"),
    Stage.CONDITION: StageRow("Condition", 0.05, "#7e57c2"),
    Stage.SPEECH: StageRow("Speech", 0.10, "#ffa726"),
    Stage.TRANSCRIBE: StageRow("Transcribe", 0.65, "#1e88e5"),
    Stage.SPEAKERS: StageRow("Speakers", 0.10, "#ec407a"),
    Stage.EXPORT: StageRow("Export", 0.05, "#8d6e63"),
}
STAGES: tuple[Stage, ...] = tuple(Stage)
STAGE_LABELS = {stage: row.label for stage, row in STAGE_TABLE.items()}


class JobStatus(str, Enum):
    QUEUED = "Queued"
    RUNNING = "Running"
    CANCELLING = "Cancelling"
    DONE = "Done"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)

    @classmethod
    def from_store(cls, status: str) -> "JobStatus":
        """A row as the queue shows it: a job another process still runs, or one whose
        process died, cannot be continued from here until it is retried: Failed, with why."""
        return {
            StoreStatus.QUEUED: cls.QUEUED,
            StoreStatus.DONE: cls.DONE,
            StoreStatus.CANCELLED: cls.CANCELLED,
        }.get(status, cls.FAILED)


@dataclass
class StageState:
    started_at: float | None = None
    finished_at: float | None = None
    done: float = 0.0
    total: float = 0.0
    seconds: float | None = None  # busy time reported by StageFinished
    skipped: bool = False  # turned off for the job (speakers off)
    # Where the stage stood when it last took over an earlier run's work (a resumed job): the
    # speed, and so the time left, is measured on what happened after it.
    base_fraction: float = 0.0
    base_at: float | None = None

    @property
    def fraction(self) -> float:
        if self.finished_at is not None:
            return 1.0
        if self.total <= 0:
            return 0.0
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def active(self) -> bool:
        return self.started_at is not None and self.finished_at is None

    def remaining_s(self, now: float) -> float | None:
        """Time left at the rate measured so far; None until the rate means something."""
        if not self.active or self.started_at is None:
            return None
        start = self.base_at if self.base_at is not None else self.started_at
        spent = now - start
        fraction = self.fraction
        done = fraction - self.base_fraction
        if done < 0.02 or spent < 0.5:
            return None
        return spent * (1.0 - fraction) / done


_ids = itertools.count(1)


def new_job_id() -> str:
    # Unique within a run and readable in logs; the engine store may replace it with its own.
    return f"job-{int(time.time())}-{next(_ids)}"


@dataclass
class Job:
    path: Path
    id: str = field(default_factory=new_job_id)
    status: JobStatus = JobStatus.QUEUED
    duration_s: float | None = None
    reason: str | None = None  # one line, for failed jobs
    notes: list[str] = field(default_factory=list)
    stages: dict[Stage, StageState] = field(default_factory=lambda: {s: StageState() for s in STAGES})
    started_at: float | None = None
    finished_at: float | None = None
    segments: list[Segment] = field(default_factory=list)  # as shown: live, then with corrections
    transcript: Transcript | None = None  # as the engine finished it (voiced regions, metadata)
    edited: bool = False
    outputs: dict[str, Path] = field(default_factory=dict)
    report: RunReport | None = None
    options: TranscribeOptions | None = None  # what the job ran with
    activity: str | None = None  # work before the first stage, e.g. "Downloading model 40 %"
    from_history: bool = False  # loaded from the job store at start-up (transcript read lazily)
    edited_at: float | None = None  # time.time() of the last edit: exports older are stale
    edited_while_running: bool = False  # the engine's own exports cannot hold these edits
    output_stamps: dict[str, Any] = field(default_factory=dict)  # path -> app.stale_exports.OutputStamp
    # The named model this job needs and that is not on this computer: it was not started,
    # and its row and the transcript pane offer to download it (or choose another).
    missing_model: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def reset(self) -> None:
        """Back to the queue (retry): forget everything the last attempt produced."""
        self.status = JobStatus.QUEUED
        self.reason = None
        self.activity = None
        self.notes.clear()
        self.stages = {s: StageState() for s in STAGES}
        self.started_at = self.finished_at = None
        self.segments = []
        self.transcript = None
        self.edited = False
        self.edited_at = None
        self.edited_while_running = False
        self.outputs = {}
        self.output_stamps = {}
        self.report = None
        self.missing_model = None

    def current_transcript(self) -> Transcript:
        """The transcript as it stands, corrections included: what every export of this job
        renders (engine.render), so an unedited one is byte-identical to the engine's."""
        base = self.transcript or Transcript.of([], source=self.path.name)
        return base.with_segments(self.segments, edited=self.edited)

    def current_stage(self) -> Stage | None:
        """The furthest-downstream stage that is running: that is where the job really is."""
        for stage in reversed(STAGES):
            if self.stages[stage].active:
                return stage
        return None

    def elapsed_s(self, now: float | None = None) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else (now or time.monotonic())
        return max(0.0, end - self.started_at)

    def eta_s(self, now: float | None = None, transcribe_rate: float | None = None) -> float | None:
        """Seconds left, from measured stage rates.

        `transcribe_rate` (wall seconds per audio second, measured on earlier jobs) covers the
        time before this job's transcription has produced a rate of its own.
        """
        if self.status not in (JobStatus.RUNNING, JobStatus.CANCELLING):
            return None
        now = now or time.monotonic()
        estimates = [r for s in STAGES if (r := self.stages[s].remaining_s(now)) is not None]
        transcribe = self.stages[Stage.TRANSCRIBE]
        if (
            transcribe.started_at is None
            and transcribe_rate is not None
            and self.duration_s is not None
        ):
            estimates.append(self.duration_s * transcribe_rate)
        return max(estimates) if estimates else None

    def overall_fraction(self) -> float:
        """Rough whole-job progress for the window title/taskbar: transcription dominates."""
        if self.status == JobStatus.DONE:
            return 1.0
        return sum(STAGE_TABLE[s].weight * self.stages[s].fraction for s in STAGES)
