"""The queue's memory: jobs registered in the engine's job store survive a restart.

The store is optional. If it cannot be opened (read-only home) the app still transcribes;
the queue just starts empty next time, and the status bar says why once. A damaged store is
moved aside by the engine and a new one started: `notice` then says where the old one is.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.fmt import one_line
from app.jobs import Job, JobStatus

if TYPE_CHECKING:
    from engine import JobStore, Segment

log = logging.getLogger(__name__)

# Statuses the retention setting deletes: every session that has ended. Queued jobs (no
# text yet, waiting in the queue for Start) and running ones are never expired.
RETENTION_STATUSES = ("done", "failed", "cancelled", "interrupted")
# Store statuses that come back into the queue at start-up: work left to do.
UNFINISHED_STATUSES = ("queued", "running", "interrupted")
SEARCH_LIMIT = 200  # hits listed by "Search all sessions"
# A search for one speaker's lines reads this many times more matches each round until it has
# SEARCH_LIMIT of theirs (or every match): the other speakers' lines come first as often as not.
_SPEAKER_READ_AHEAD = 8


def speaker_key(name: str) -> str:
    """What two speaker names must share to be the same person across sessions: "Therapist"
    in one and "therapist " in another (names are typed per session) are one filter entry."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class SearchHit:
    """One stored segment that contains the searched text."""

    job_id: str
    position: int  # index in store.segments(job_id), i.e. the transcript row
    start_s: float
    text: str
    name: str  # the recording's file name
    # Who said it, as the transcript names them ("Therapist" once renamed, else "Speaker 2");
    # None when the transcript has no speakers.
    speaker: str | None = None


@dataclass(frozen=True)
class SessionRow:
    """One stored session, as the History view lists it."""

    job_id: str
    name: str  # the recording's file name
    path: Path
    status: str  # "Done", "Failed", "Cancelled", "Queued", "Interrupted"
    duration_s: float | None
    created_at: float  # seconds since the epoch: when it was queued
    updated_at: float  # the last change (finished, edited)


_SESSION_STATUS = {"running": "Interrupted", "interrupted": "Interrupted"}


class History:
    def __init__(self, store: "JobStore | None" = None, problem: str | None = None, notice: str | None = None) -> None:
        self.store = store
        self.problem = problem  # one line when the store could not be opened
        self.notice = notice  # one line when a damaged store was moved aside at open

    @classmethod
    def open(cls, path: Path | None = None) -> "History":
        try:
            from engine import JobStore

            store = JobStore(path) if path is not None else JobStore()
            store.mark_interrupted_on_open()
            recovered = store.recovered
            return cls(store, notice=recovered.notice() if recovered is not None else None)
        except Exception as error:  # noqa: BLE001 - history is a convenience
            log.warning("job store unavailable", exc_info=True)
            return cls(None, one_line(f"Job history unavailable ({error}); the queue will not survive a restart"))

    def register(self, job: Job, options: Any) -> None:
        """Record a newly queued job; its id becomes the store's, which the engine resumes."""
        if self.store is None:
            return
        try:
            record = self.store.create_job(job.path, options.to_dict(), "", None, status="queued")
        except Exception:  # noqa: BLE001
            log.warning("could not record a queued job", exc_info=True)
            return
        job.id = record.id

    def load(self) -> list[Job]:
        """Today's queue at start-up, oldest first: the jobs left unfinished last time (still
        queued, or interrupted by a crash). Ended sessions are in the history (sessions())."""
        if self.store is None:
            return []
        try:
            records = self.store.list_jobs()  # newest first
        except Exception:  # noqa: BLE001
            log.warning("could not read the job history", exc_info=True)
            return []
        jobs = [
            self._job(record, JobStatus.from_store(record.status))
            for record in records
            if record.status in UNFINISHED_STATUSES
        ]
        jobs.reverse()
        return jobs

    def sessions(self) -> list[SessionRow]:
        """Every stored session, newest first (the History view). Raises on a store error."""
        if self.store is None:
            return []
        return [
            SessionRow(
                record.id,
                record.input_name,
                Path(record.input_path),
                _SESSION_STATUS.get(record.status, record.status.capitalize()),
                record.duration_s,
                record.created_at,
                record.updated_at,
            )
            for record in self.store.list_jobs()
        ]

    def _job(self, record: Any, status: JobStatus) -> Job:
        job = Job(path=Path(record.input_path), id=record.id, status=status, duration_s=record.duration_s)
        job.reason = record.reason if status == JobStatus.FAILED else None
        if record.status in ("interrupted", "running") and not job.reason:
            job.reason = f"{job.name}: stopped before it finished; Retry continues where it stopped"
        job.outputs = {fmt: Path(path) for fmt, path in (record.outputs or {}).items()}
        job.from_history = True
        if record.report:
            try:
                from engine import RunReport

                job.report = RunReport.from_dict(record.report)
            except Exception:  # noqa: BLE001 - an older report shape: no report view
                job.report = None
        return job

    def job(self, job_id: str) -> Job | None:
        """A stored job as a queue row (for a search hit older than the rows listed)."""
        if self.store is None:
            return None
        try:
            record = self.store.get_job(job_id)
        except Exception:  # noqa: BLE001
            log.warning("could not read a stored job", exc_info=True)
            return None
        if record is None:
            return None
        return self._job(record, JobStatus.from_store(record.status))

    def latest_for_path(self, path: Path) -> Job | None:
        """The newest stored job of the recording at `path`, as a queue row, or None."""
        if self.store is None:
            return None
        try:
            record = self.store.latest_for_path(path)
        except Exception:  # noqa: BLE001
            log.warning("could not look up a stored job", exc_info=True)
            return None
        if record is None:
            return None
        return self._job(record, JobStatus.from_store(record.status))

    def fingerprint(self, job_id: str) -> str | None:
        """The content fingerprint the engine recorded for a job (None: never run)."""
        if self.store is None:
            return None
        try:
            record = self.store.get_job(job_id)
        except Exception:  # noqa: BLE001
            return None
        return None if record is None else record.fingerprint

    def search(self, text: str, limit: int = SEARCH_LIMIT, speaker: str | None = None) -> list[SearchHit]:
        """Every stored transcript's segments containing `text` (case-insensitive), newest
        session first; with `speaker`, only the lines of speakers so named (speaker_key).
        Blocking: call it from a background task. Raises on a store error."""
        if self.store is None or not text.strip():
            return []
        wanted = speaker_key(speaker) if speaker else ""
        sessions: dict[str, tuple[str, Any]] = {}
        asked = limit
        while True:
            found = self.store.search(text, limit=asked)
            hits = [self._hit(job_id, position, segment, sessions) for job_id, position, segment in found]
            if wanted:
                hits = [hit for hit in hits if hit.speaker is not None and speaker_key(hit.speaker) == wanted]
            if not wanted or len(hits) >= limit or len(found) < asked:
                return hits[:limit]
            asked *= _SPEAKER_READ_AHEAD

    def _hit(self, job_id: str, position: int, segment: Any, sessions: dict[str, tuple[str, Any]]) -> SearchHit:
        if job_id not in sessions:
            from engine import TranscriptInfo

            record = self.store.get_job(job_id)
            # The names the store keeps with the job (set_speaker_names, or the Settings' names
            # the run started with): what store.transcript(job_id).info holds, without reading
            # every segment of every session that matched.
            info = TranscriptInfo.from_dict(record.transcript_info or {}) if record is not None else None
            sessions[job_id] = (record.input_name if record is not None else "(deleted recording)", info)
        name, info = sessions[job_id]
        if segment.speaker is None:
            said_by = None
        elif info is not None:
            said_by = info.speaker_name(segment.speaker)
        else:
            said_by = f"Speaker {segment.speaker + 1}"
        return SearchHit(job_id, position, float(segment.start), segment.text.strip(), name, said_by)

    def load_segments(self, job: Job) -> None:
        """Fill a history job's transcript on first view (kept out of start-up)."""
        if self.store is None or job.segments or not job.from_history:
            return
        try:
            job.transcript = self.store.transcript(job.id)
            job.segments = list(job.transcript.segments)
            job.edited = job.transcript.info.edited
            record = self.store.get_job(job.id) if job.edited else None
            if record is not None:
                job.edited_at = record.updated_at  # exports written before it are stale
        except Exception:  # noqa: BLE001
            log.warning("could not read a stored transcript", exc_info=True)

    def update_text(self, job_id: str, position: int, text: str) -> None:
        if self.store is None:
            return
        try:
            self.store.update_segment_text(job_id, position, text)
        except (KeyError, IndexError):
            pass  # the job ran without the store (or the window is not committed yet)
        except Exception:  # noqa: BLE001
            log.warning("could not save an edit", exc_info=True)

    # Speakers (issue 12): stored with the job, so the names, a swap, a merge and a
    # reassigned line survive a restart and every later export uses them.
    def set_speaker_names(self, job_id: str, names: tuple[str, ...]) -> None:
        self._save("set_speaker_names", job_id, list(names))

    def swap_speakers(self, job_id: str, first: int, second: int) -> None:
        self._save("swap_speakers", job_id, first, second)

    def merge_speakers(self, job_id: str, source: int, target: int) -> None:
        self._save("merge_speakers", job_id, source, target)

    def set_segment_speaker(self, job_id: str, position: int, speaker: int) -> None:
        self._save("set_segment_speaker", job_id, position, speaker)

    def split_segment(self, job_id: str, position: int) -> None:
        self._save("split_segment", job_id, position)

    def recount_speakers(self, job_id: str, count: int | None) -> list[Segment] | None:
        """The job's speakers told apart again into `count` (None: counted) from the voices
        its store kept (engine.speaker_recount): its segments as stored, or None when it kept
        none (or there is no store)."""
        if self.store is None:
            return None
        from engine import recount_speakers

        try:
            return recount_speakers(self.store, job_id, count)
        except KeyError:
            return None  # the job ran without the store
        except Exception:  # noqa: BLE001 - the transcript stays as it was
            log.warning("could not tell the speakers apart again", exc_info=True)
            return None

    def _save(self, method: str, job_id: str, *args) -> None:
        if self.store is None:
            return
        try:
            getattr(self.store, method)(job_id, *args)
        except (KeyError, IndexError):
            pass  # the job ran without the store
        except Exception:  # noqa: BLE001 - the change stays in this window; exports have it
            log.warning("could not save a speaker change (%s)", method, exc_info=True)

    def delete(self, job_id: str) -> None:
        if self.store is None:
            return
        try:
            self.store.delete_job(job_id)
        except Exception:  # noqa: BLE001
            log.warning("could not delete a job from the store", exc_info=True)

    def apply_retention(self, days: int | None) -> list[str]:
        """Delete ended sessions not changed for `days` days; returns their ids."""
        if self.store is None or not days or days < 1:
            return []
        try:
            return self.store.purge(time.time() - days * 86400.0, RETENTION_STATUSES)
        except Exception:  # noqa: BLE001 - retention runs again after the next job
            log.warning("could not apply the retention setting", exc_info=True)
            return []

    def close(self) -> None:
        if self.store is not None:
            try:
                self.store.close()
            except Exception:  # noqa: BLE001
                pass
