"""Where the app runs the transcription engine: one worker thread, jobs in, events out.

`EngineAdapter` lives on the UI thread and owns one worker `QThread`. Commands (run a job,
cancel) go in as method calls; everything the engine reports comes back as Qt signals over
queued connections, so widgets only ever run on the UI thread and never block.

The engine module itself (torch, faster-whisper, ...) is imported lazily inside the worker
thread the first time a job runs, which keeps the window's start-up fast.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.fmt import REASON_LIMIT, one_line

if TYPE_CHECKING:
    from engine import JobOutcome, RunReport, TranscribeOptions, Transcript

log = logging.getLogger(__name__)


class EngineLike(Protocol):
    """What the app needs from `engine.pipeline.Engine` (the tests' fake has the same shape)."""

    def transcribe(self, path: Path, options: "TranscribeOptions", job_id: str | None = None) -> "JobOutcome": ...

    def cancel(self) -> None: ...

    def plan(self, options: "TranscribeOptions") -> Any: ...


EngineFactory = Callable[[Callable[[object], None]], EngineLike]


def default_engine_factory(sink: Callable[[object], None], store: Any = None) -> EngineLike:
    """Build the real engine; called on the worker thread so the heavy import happens there.

    `store` is the app's JobStore (shared, thread-safe): the engine commits each finished
    window to it, so a cancelled or crashed job resumes where it stopped.
    """
    from engine import Engine  # heavy: torch, ctranslate2, faster-whisper

    return Engine(sink, store=store, advice=app_model_advice())


def app_model_advice():
    """How a window user gets a missing model: the model manager's buttons (Models…, in
    Settings and the menu bar) or Settings' folder button, never a command."""
    from engine import MODEL_FOLDER, ModelAdvice

    return ModelAdvice(
        missing=(
            "open Models… (Settings, or the Models menu) and download {name} while online, or press "
            "\"Import folder…\" there and pick " + MODEL_FOLDER
        ),
        offline=(
            "copy " + MODEL_FOLDER + " from a computer that has one, then open Models… (Settings, "
            "or the Models menu) and press \"Import folder…\""
        ),
    )


@dataclass
class JobResult:
    """A job's ending as the queue sees it: the engine's `JobOutcome`, or a failure before
    the engine even loaded (import error, bad install), reported the same way."""

    job_id: str
    status: str  # engine.JobStatus value: "done" | "failed" | "cancelled"
    outputs: dict[str, Path] = field(default_factory=dict)
    reason: str | None = None
    report: "RunReport | None" = None
    transcript: "Transcript | None" = None

    @classmethod
    def from_outcome(cls, outcome: "JobOutcome") -> "JobResult":
        reason = outcome.reason
        return cls(
            job_id=outcome.job_id,
            status=str(outcome.status),
            outputs=dict(outcome.outputs),
            reason=None if reason is None else one_line(reason, REASON_LIMIT),
            report=outcome.report,
            transcript=outcome.transcript,
        )


class _Worker(QObject):
    """Lives on the worker thread; `transcribe` blocks only that thread."""

    event = Signal(object)  # emitted from engine threads; delivered queued to the adapter
    finished = Signal(str, object)  # job_id, JobResult

    def __init__(self, factory: EngineFactory) -> None:
        super().__init__()
        self._factory = factory
        self._engine: EngineLike | None = None
        self._lock = threading.Lock()
        self._current: str | None = None
        self._cancelled: set[str] = set()

    def engine(self) -> EngineLike:
        with self._lock:
            existing = self._engine
        if existing is not None:
            return existing
        created = self._factory(self._sink)
        with self._lock:
            if self._engine is None:
                self._engine = created
            return self._engine

    def _sink(self, event: object) -> None:
        """Called from engine threads. A job's events carry the id the app gave it."""
        self.event.emit(event)  # Signal.emit is thread-safe; delivery is queued

    @Slot(str, object, object, object)
    def run_job(self, job_id: str, path: Path, options: Any, output_stem: Path | None) -> None:
        with self._lock:
            self._current = job_id
        try:
            if self._take_cancel(job_id):
                result = JobResult(job_id, "cancelled")
            else:
                engine = self.engine()
                if self._take_cancel(job_id):  # cancelled while the engine was loading
                    result = JobResult(job_id, "cancelled")
                else:
                    # output_stem only when set, so engines without that parameter still work
                    extra = {"output_stem": output_stem} if output_stem is not None else {}
                    outcome = engine.transcribe(Path(path), options, job_id=job_id, **extra)
                    result = JobResult.from_outcome(outcome)
        except BaseException as error:  # noqa: BLE001 - never let a traceback reach the user
            log.exception("job %s crashed", job_id)
            name = Path(path).name
            result = JobResult(job_id, "failed", reason=one_line(f"{name}: {error or type(error).__name__}"))
        finally:
            with self._lock:
                self._current = None
                self._cancelled.discard(job_id)
        self.finished.emit(job_id, result)

    def _take_cancel(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def cancel(self, job_id: str) -> None:
        """Called from the UI thread. Only forwards to the engine if that job is the one
        running, so a late click can never cancel the next job."""
        with self._lock:
            self._cancelled.add(job_id)
            engine = self._engine if self._current == job_id else None
        if engine is not None:
            engine.cancel()

    def plan(self, options: Any) -> Any:
        return self.engine().plan(options)

    @Slot(object)
    def preload(self, options: Any = None) -> None:
        """Build the engine and let it do its slow imports now, before any job runs; with the
        settings' options, the speaker model too when speakers are on."""
        try:
            engine = self.engine()
            preload = getattr(engine, "preload", None)
            if preload is not None:
                preload(options)
        except Exception:  # noqa: BLE001 - a job will report the same problem in one line
            log.exception("engine preload failed")


class EngineAdapter(QObject):
    """Turns engine events into Qt signals and app commands into engine calls."""

    event = Signal(object)  # any engine.events event, on the UI thread
    job_finished = Signal(object)  # JobResult, on the UI thread
    busy_changed = Signal(bool)
    _run = Signal(str, object, object, object)
    _preload = Signal(object)

    def __init__(
        self, engine_factory: EngineFactory | None = None, store: Any = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("sessionscribe-engine")
        if engine_factory is None:
            engine_factory = lambda sink: default_engine_factory(sink, store)  # noqa: E731
        self._worker = _Worker(engine_factory)
        self._worker.moveToThread(self._thread)
        self._run.connect(self._worker.run_job, Qt.ConnectionType.QueuedConnection)
        self._worker.event.connect(self._relay_event, Qt.ConnectionType.QueuedConnection)
        self._worker.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._preload.connect(self._worker.preload, Qt.ConnectionType.QueuedConnection)
        self._thread.start()
        self._running: str | None = None

    def preload(self, options: Any = None) -> None:
        """Warm the engine on its thread (imports, device check; the speaker model when
        `options` tell speakers apart); returns at once. Jobs sent meanwhile simply queue
        behind it on the same thread."""
        self._preload.emit(options)

    @property
    def running_job(self) -> str | None:
        return self._running

    def is_busy(self) -> bool:
        return self._running is not None

    def start_job(self, job_id: str, path: Path, options: Any, output_stem: Path | None = None) -> None:
        if self._running is not None:
            raise RuntimeError("the engine is already running a job")
        self._running = job_id
        self.busy_changed.emit(True)
        self._run.emit(job_id, Path(path), options, output_stem)

    def cancel(self, job_id: str | None = None) -> None:
        """Ask the running job to stop; returns at once (the result arrives as job_finished)."""
        target = job_id or self._running
        if target is not None:
            self._worker.cancel(target)

    def plan(self, options: Any) -> Any:
        """Blocking; call from a background task (see app.background)."""
        return self._worker.plan(options)

    @Slot(object)
    def _relay_event(self, event: object) -> None:
        self.event.emit(event)

    @Slot(str, object)
    def _on_finished(self, job_id: str, result: JobResult) -> None:
        if self._running == job_id:
            self._running = None
        self.job_finished.emit(result)
        self.busy_changed.emit(self._running is not None)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel whatever runs and stop the worker thread. True if it stopped in time."""
        self.cancel()
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if not stopped:
            log.warning("engine thread did not stop within %d ms", timeout_ms)
        return bool(stopped)
