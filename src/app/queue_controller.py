"""Queue behaviour: which job runs next, and how engine events change the rows.

Sits between the `QueueModel` (what the table shows) and the `EngineAdapter` (the engine on
its own thread). Runs one job at a time; a failed job records its reason and the queue goes
on. Everything here runs on the UI thread and returns at once.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Iterable

from PySide6.QtCore import QObject, QTimer, Signal

from app.background import run_in_background
from app.engine_adapter import EngineAdapter, JobResult
from app.fmt import REASON_LIMIT, one_line
from app.history import History
from app.jobs import Job, JobStatus
from app.queue_model import QueueModel
from engine import events as ev
from engine import TranscribeOptions

log = logging.getLogger(__name__)

ExpandFn = Callable[[list[Path]], tuple[list[Path], list[str]]]
# Before a job starts: the named model it needs that is not on this computer, or None.
ModelCheck = Callable[[TranscribeOptions], "str | None"]


def _engine_expand(paths: list[Path]) -> tuple[list[Path], list[str]]:
    from engine import expand_inputs  # light: walks folders, checks extensions

    return expand_inputs(paths)


def _fingerprint(path: Path) -> str:
    from engine import file_fingerprint  # light: hashlib; only ever on a pool thread

    return file_fingerprint(path)


def _probe_duration(path: Path) -> float | None:
    from engine import probe  # PyAV; only ever called on a pool thread

    return probe(path).duration_s


class QueueController(QObject):
    note = Signal(str)  # one line for the status bar
    skipped = Signal(list)  # notes on what the last add skipped (empty: nothing skipped)
    job_updated = Signal(str)  # job_id
    segment_added = Signal(str, object)  # job_id, Segment
    job_finished = Signal(str)  # job_id
    started_changed = Signal(bool)  # the queue was started / paused
    download_progress = Signal(str, int, object)  # model, done bytes, total bytes | None
    device_notice = Signal(str, str)  # message, fix
    reopened = Signal(str)  # job_id: a finished recording was added again; show its row
    model_missing = Signal(str, str)  # job_id, model: a job did not start for want of a model

    def __init__(
        self,
        model: QueueModel,
        adapter: EngineAdapter,
        options_provider: Callable[[], TranscribeOptions],
        expand: ExpandFn | None = None,
        probe: Callable[[Path], float | None] | None = _probe_duration,
        history: History | None = None,
        fingerprint: Callable[[Path], str] = _fingerprint,
        model_check: ModelCheck | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history or History()
        self.model = model
        self.adapter = adapter
        self._options = options_provider
        self._expand = expand or _engine_expand
        self._probe = probe
        self._fingerprint = fingerprint
        self._started = False
        self._remove_when_stopped: set[str] = set()
        self._model_check = model_check
        self._checking: str | None = None  # the job whose model is being looked for
        adapter.event.connect(self._on_event)
        adapter.job_finished.connect(self._on_finished)
        model.files_dropped.connect(self.add_paths)
        # Elapsed/ETA and the busy stripe move even when the engine is quiet.
        self._ticker = QTimer(self)
        self._ticker.setInterval(250)
        self._ticker.timeout.connect(model.tick)
        self._ticker.start()

    # ----------------------------------------------------------------- commands
    @property
    def started(self) -> bool:
        return self._started

    def running_job(self) -> Job | None:
        job_id = self.adapter.running_job
        return self.model.job(job_id) if job_id else None

    def add_paths(self, paths: Iterable[Path | str]) -> list[Job]:
        """Queue recordings; folders are searched recursively. Returns the jobs added."""
        paths = [Path(p) for p in paths]
        try:
            files, notes = self._expand(paths)
        except Exception as error:  # noqa: BLE001 - a bad path must not take the app down
            log.debug("expand failed", exc_info=True)
            self.note.emit(one_line(f"Could not add files: {error}"))
            return []
        from engine import resolved  # never raises on a symbolic link loop

        active = {resolved(job.path) for job in self.model.jobs if not job.status.finished}
        # The newest finished row of each recording (rows are oldest first).
        finished = {resolved(job.path): job for job in self.model.jobs if job.status.finished}
        jobs: list[Job] = []
        resumed: list[Job] = []
        for file in files:
            if resolved(file) in active:
                notes.append(f"{file.name}: already in the queue")
                continue
            active.add(resolved(file))
            earlier = finished.get(resolved(file)) or self._stored_job(file)
            if earlier is not None and earlier.status == JobStatus.DONE:
                self._reopen_or_add(earlier, file)  # decided once its content is compared
            elif earlier is not None:
                resumed.append(earlier)  # cancelled or failed: carry on in its own row
            else:
                jobs.append(Job(path=file))
        if jobs:
            options = self._safe_options()
            for job in jobs:
                self.history.register(job, options)
        self.model.add_jobs(jobs)
        for job in resumed:
            self._requeue(job)
        notes = [one_line(note) for note in notes]
        self.skipped.emit(notes)
        summary = f"Added {len(jobs)} recording{'s' if len(jobs) != 1 else ''}"
        if resumed:
            summary += f"; {len(resumed)} queued again in {'its' if len(resumed) == 1 else 'their'} earlier row (finished parts are reused)"
        if notes:
            summary += f"; skipped {len(notes)} (see the notes under the drop area)"
        if jobs or notes or resumed:
            self.note.emit(summary)
        elif not files:
            self.note.emit("Nothing to add: no recordings found")
        for job in jobs:
            self._probe_later(job)
        self._maybe_start_next()
        return jobs

    def _stored_job(self, file: Path) -> Job | None:
        """The newest stored session of the recording at this path that the queue does not
        list (older than the rows listed at start-up, or a CLI run); it is listed now."""
        stored = self.history.latest_for_path(file)
        if stored is None or not stored.status.finished:
            return None
        if self.model.job(stored.id) is None:
            self.model.add_jobs([stored])
        return self.model.job(stored.id)

    def _requeue(self, job: Job) -> None:
        """Back to the queue in the same row: the engine resumes that job id from the store
        (its finished windows are reused when content and settings are unchanged)."""
        job.reset()
        self.model.job_changed(job.id)
        self.job_updated.emit(job.id)

    def _reopen_or_add(self, done: Job, file: Path) -> None:
        """A finished recording added again is not transcribed again silently. Same content
        (the engine's fingerprint): its row is shown. Other content under the same name
        (a new recording saved over the old file): a new row. Hashing runs on a pool thread."""
        stored = self.history.fingerprint(done.id)

        def reopen() -> None:
            self.note.emit(
                f"{file.name}: already transcribed; showing it (Retry runs it again with the "
                "current settings, reusing what is unchanged)"
            )
            self.reopened.emit(done.id)

        def compared(fingerprint: str) -> None:
            if fingerprint == stored and self.model.job(done.id) is not None:
                reopen()
            else:
                self._add_new(file)

        if stored is None:  # never fingerprinted (e.g. no store when it ran): assume the same
            reopen()
            return
        run_in_background(lambda: self._fingerprint(file), compared, lambda _reason: self._add_new(file))

    def _add_new(self, file: Path) -> None:
        job = Job(path=file)
        self.history.register(job, self._safe_options())
        self.model.add_jobs([job])
        self.note.emit(f"Added {file.name} (its content differs from the earlier transcript)")
        self._probe_later(job)
        self._maybe_start_next()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.started_changed.emit(True)
        self._maybe_start_next()

    def pause(self) -> None:
        """Stop taking new jobs; the one running finishes normally."""
        if self._started:
            self._started = False
            self.started_changed.emit(False)

    def cancel_running(self) -> None:
        job = self.running_job()
        if job is None or job.status == JobStatus.CANCELLING:
            return
        job.status = JobStatus.CANCELLING
        self.model.job_changed(job.id)
        self.job_updated.emit(job.id)
        self.adapter.cancel(job.id)

    def remove(self, job_ids: Iterable[str]) -> None:
        for job_id in list(job_ids):
            job = self.model.job(job_id)
            if job is None:
                continue
            if job_id == self.adapter.running_job:
                # Removing the running job cancels it; the row goes once it has stopped.
                self._remove_when_stopped.add(job_id)
                self.cancel_running()
            else:
                self.model.remove_job(job_id)
                self.history.delete(job_id)

    def clear_finished(self) -> int:
        """Take finished rows (done, failed, cancelled) off today's queue. Their sessions
        stay in the history (the History tab) with their transcripts."""
        # A job waiting for its model is not finished: it starts once the model is there.
        finished = [job.id for job in self.model.jobs if job.status.finished and not job.missing_model]
        for job_id in finished:
            self.model.remove_job(job_id)
        return len(finished)

    def waiting_for_model(self) -> list[Job]:
        return [job for job in self.model.jobs if job.status == JobStatus.FAILED and job.missing_model]

    def model_arrived(self) -> int:
        """A model was downloaded or imported: jobs that did not start for want of one are
        queued again and the queue goes on (they only stopped because Start was pressed)."""
        waiting = self.waiting_for_model()
        for job in waiting:
            self._requeue(job)
        if waiting:
            self.note.emit(f"Model ready: {len(waiting)} recording{'s' if len(waiting) != 1 else ''} queued again")
            self.start()
        return len(waiting)

    def retry(self, job_ids: Iterable[str]) -> None:
        for job_id in job_ids:
            job = self.model.job(job_id)
            if job is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.DONE):
                self._requeue(job)
        self._maybe_start_next()

    def restore(self) -> None:
        """Show jobs from earlier sessions (unfinished ones first of all)."""
        jobs = [job for job in self.history.load() if self.model.job(job.id) is None]
        self.model.add_jobs(jobs)
        waiting = sum(1 for job in jobs if job.status == JobStatus.QUEUED)
        if waiting:
            self.note.emit(f"{waiting} recording{'s' if waiting != 1 else ''} still queued from last time; press Start")

    # ----------------------------------------------------------------- internals
    def _safe_options(self) -> TranscribeOptions:
        try:
            return self._options()
        except Exception:  # noqa: BLE001
            return TranscribeOptions()

    def _probe_later(self, job: Job) -> None:
        if self._probe is None:
            return
        probe, job_id, path = self._probe, job.id, job.path

        def done(duration: float | None) -> None:
            current = self.model.job(job_id)
            if current is not None and current.duration_s is None and duration:
                current.duration_s = duration
                self.model.job_changed(job_id)

        # A file that cannot be probed will fail with its own reason when it runs.
        run_in_background(lambda: probe(path), done, lambda _reason: None)

    def _maybe_start_next(self) -> None:
        if not self._started or self.adapter.is_busy() or self._checking is not None:
            return
        job = self.model.next_queued()
        if job is None:
            return
        try:
            options = self._options()
        except Exception as error:  # noqa: BLE001 - e.g. an unreadable settings value
            job.status = JobStatus.FAILED
            job.reason = one_line(f"Settings problem: {error}")
            self.model.job_changed(job.id)
            self.note.emit(f"{job.name}: {job.reason}")
            return
        if self._model_check is not None:
            self._check_model_then_start(job, options, self._model_check)
            return
        self._launch(job, options)

    def _check_model_then_start(self, job: Job, options: TranscribeOptions, check: ModelCheck) -> None:
        """A job never starts with a model that is not there: look first (cache lookups and
        the device check, on a pool thread). A check that fails lets the job start: the
        engine reports a real problem in its own words."""
        self._checking = job.id
        job_id = job.id

        def checked(missing: str | None) -> None:
            self._checking = None
            current = self.model.job(job_id)
            if current is None or current.status != JobStatus.QUEUED or not self._started or self.adapter.is_busy():
                self._maybe_start_next()
            elif missing:
                self._hold_for_model(current, missing)
            else:
                self._launch(current, options)

        run_in_background(lambda: check(options), checked, lambda _reason: checked(None))

    def _hold_for_model(self, job: Job, model: str) -> None:
        """The row says why the job did not start, and the queue waits: every other job would
        need the same model. Its fix (download, choose) is offered by the window."""
        job.status = JobStatus.FAILED
        job.missing_model = model
        job.reason = (
            f"{job.name}: the {model} model is not on this computer. Download it, or import a "
            "model folder (Models…); the queue goes on once it is there"
        )
        self.model.job_changed(job.id)
        self.job_updated.emit(job.id)
        self.pause()
        self.note.emit(one_line(job.reason, REASON_LIMIT))
        self.model_missing.emit(job.id, model)

    def _launch(self, job: Job, options: TranscribeOptions) -> None:
        job.reset()
        job.options = options
        job.status = JobStatus.RUNNING
        job.started_at = time.monotonic()
        self.model.job_changed(job.id)
        self.job_updated.emit(job.id)
        self.adapter.start_job(job.id, job.path, options, self._output_stem(job, options))

    def _output_stem(self, job: Job, options: TranscribeOptions) -> Path | None:
        """Plan names over the whole queue so a.ogg and a.m4a never overwrite each other."""
        try:
            from engine import plan_output_stems

            return plan_output_stems([j.path for j in self.model.jobs], options.output_dir).get(job.path)
        except Exception:  # noqa: BLE001 - the engine then picks the default name
            log.debug("output planning failed", exc_info=True)
            return None

    def _on_event(self, event: object) -> None:
        if isinstance(event, ev.ModelDownloadProgress):
            self.download_progress.emit(event.model, int(event.done_bytes), event.total_bytes)
            running = self.running_job()
            if running is not None:
                # The job waits for its model: say so in its row instead of a silent 0 %.
                total = event.total_bytes
                share = f" {100 * event.done_bytes / total:.0f} %" if total else ""
                running.activity = f"Downloading model {Path(event.model).name}{share}"
                self.model.job_changed(running.id)
            return
        if isinstance(event, ev.DeviceNotice):
            self.device_notice.emit(event.message, event.fix)
            return
        job = self.model.job(getattr(event, "job_id", ""))
        if job is None or job.status.finished:
            return  # late events of a removed or already-closed job
        now = time.monotonic()
        if isinstance(event, ev.JobStarted):
            if event.duration_s:
                job.duration_s = event.duration_s
        elif isinstance(event, ev.StageStarted):
            job.stages[event.stage].started_at = now
        elif isinstance(event, ev.StageProgress):
            state = job.stages[event.stage]
            if state.started_at is None:
                state.started_at = now
            state.done, state.total = float(event.done), float(event.total)
            if event.reused:  # an earlier run's work: no speed in it
                state.base_fraction, state.base_at = state.fraction, now
        elif isinstance(event, ev.StageFinished):
            state = job.stages[event.stage]
            if state.started_at is None:
                state.started_at = now
            state.finished_at = now
            state.seconds = event.seconds
            state.skipped = event.skipped
        elif isinstance(event, ev.SegmentReady):
            job.segments.append(event.segment)
            self.segment_added.emit(job.id, event.segment)
            return  # the row itself did not change
        elif isinstance(event, ev.JobNote):
            job.notes.append(event.message)
            self.note.emit(one_line(f"{job.name}: {event.message}", REASON_LIMIT))
        elif isinstance(event, ev.JobFailed):
            job.reason = one_line(event.reason, REASON_LIMIT)
        elif isinstance(event, ev.JobDone):
            job.outputs = dict(event.outputs)
            job.report = event.report
        else:
            return
        self.model.job_changed(job.id)
        self.job_updated.emit(job.id)

    def _on_finished(self, result: JobResult) -> None:
        job = self.model.job(result.job_id)
        if job is not None:
            self._close_job(job, result)
        if result.job_id in self._remove_when_stopped:
            self._remove_when_stopped.discard(result.job_id)
            self.model.remove_job(result.job_id)
            self.history.delete(result.job_id)
        # A failure or a cancel never stops the queue: the next recording starts.
        self._maybe_start_next()

    def _close_job(self, job: Job, result: JobResult) -> None:
        job.finished_at = time.monotonic()
        job.status = {"done": JobStatus.DONE, "cancelled": JobStatus.CANCELLED}.get(result.status, JobStatus.FAILED)
        if job.status == JobStatus.FAILED:
            job.reason = result.reason or job.reason or f"{job.name}: transcription failed"
            self.note.emit(one_line(job.reason, REASON_LIMIT))
        if result.outputs:
            job.outputs = dict(result.outputs)
        if result.report is not None:
            job.report = result.report
        if result.transcript is not None:
            job.transcript = result.transcript
            if not job.edited:
                job.segments = list(result.transcript.segments)
        self._learn_rate(job)
        self.model.job_changed(job.id)
        self.job_updated.emit(job.id)
        self.job_finished.emit(job.id)

    def _learn_rate(self, job: Job) -> None:
        report = job.report
        try:
            audio_s = float(report.audio_s)
            transcribe_s = float(report.stages.get("transcribe", 0.0))
        except (AttributeError, TypeError, ValueError):
            return
        if audio_s > 0 and transcribe_s > 0:
            self.model.transcribe_rate = transcribe_s / audio_s
