"""A job's status: one vocabulary for the store, the engine's outcomes and the front ends."""
from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    """Stored as its value; a `str` subclass, so `status == "done"` holds for old callers."""

    QUEUED = "queued"  # registered, not started
    RUNNING = "running"  # a live process is working on it
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # was running when its process died; resumable

    @property
    def finished(self) -> bool:
        """Nothing more will happen to it unless the user asks (Retry, a rerun)."""
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED)

    def __str__(self) -> str:
        return self.value


STATUSES = tuple(status.value for status in JobStatus)
