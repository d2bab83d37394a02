"""The engine: runs one recording through every stage and reports typed events.

Data flows one way: decode -> condition -> speech (a producer thread, window by window)
-> transcribe (the calling thread) -> cues/export. While window N transcribes, window N+1
is decoded and searched for speech, so the CPU work hides behind the model's.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from engine import decode as decode_stage
from engine.condition import EdgeSilence, condition, import_frozen, warm_imports
from engine.decode import SAMPLE_RATE, DecodeReport
from engine.errors import Cancelled, ModelError, SessionScribeError, SettingError
from engine.events import (
    DeviceNotice,
    EventSink,
    JobCancelled,
    JobDone,
    JobFailed,
    JobNote,
    JobStarted,
    ModelDownloadProgress,
    SegmentReady,
    Stage,
    StageFinished,
    StageProgress,
    StageStarted,
    ignore_events,
)
from engine.hardware import Runtime, plan_runtime
from engine.languages import english_only_note, unknown_language
from engine.health import DeviceHealth, check_device
from engine.models import CLI_ADVICE, ModelAdvice, choose_present, resolve_model
from engine.options import TranscribeOptions
from engine.report import PeakMemory, RunReport, StageClock
from engine.segments import Segment
from engine.speech import Clip, SpeechDetector
from engine.transcribe import SpeechCheck, Transcriber, WindowAudio
from engine.windows import FIRST_WINDOW_S, WINDOW_S_CPU, WINDOW_S_GPU, cut_windows

log = logging.getLogger("sessionscribe.pipeline")


@dataclass
class JobOutcome:
    job_id: str
    status: str  # "done" | "failed" | "cancelled"
    outputs: dict[str, Path] = field(default_factory=dict)
    reason: str | None = None
    report: RunReport | None = None
    segments: list[Segment] = field(default_factory=list)


@dataclass
class _Window:
    index: int
    offset: int  # samples from the start of the recording
    length: int
    audio: np.ndarray | None  # None when the window comes from the job store
    clips: list[Clip]
    nonfinite: int = 0  # damaged (NaN/Inf) samples replaced by silence


# Decoding may run this many 30-s blocks (~1.9 MB each, ~31 MB in all) ahead of conditioning,
# so the decoder keeps a core busy while torch finishes importing for the first window; more
# (40 blocks) raised the 180-min / 45-min peak RSS ratio from 1.07 to 1.13.
DECODE_AHEAD_BLOCKS = 16


class Engine:
    """Runs jobs one at a time. Thread-safe `cancel()`; everything else from one thread."""

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
        self.window_s = window_s  # None: chosen by device (engine.windows)
        self._health: DeviceHealth | None = None
        self._cuda_failure: str | None = None  # a warm-up failure: stay on the CPU after it
        self._transcribers: dict[tuple, Transcriber] = {}
        self._detectors: dict[int, SpeechDetector] = {}
        _tune_malloc()

    # -- commands -------------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        for detector in self._detectors.values():
            detector.close()
        self._detectors.clear()
        self._transcribers.clear()

    def preload(self) -> None:
        """Do the slow, one-time work now (imports, the device check, the VAD model) so the
        first job does not pay for it. The app calls this on its engine thread at start-up:
        loading torch's native library holds the GIL for ~0.5 s, which must not happen while
        a job's progress is being drawn."""
        # faster_whisper brings ctranslate2, tokenizers and the onnxruntime bindings.
        import_frozen("faster_whisper")
        if self.health().cuda_usable:
            import_frozen("torch")  # log-Mel features on the GPU (engine.features)
        self._detector(self.plan(TranscribeOptions()).vad_workers)

    def health(self) -> DeviceHealth:
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
        """Run one recording to its exports. Never raises for a bad input: the outcome says."""
        self._cancel.clear()
        adopt = job_id is None
        job_id = job_id or uuid.uuid4().hex
        self._job_id = job_id
        try:
            return self._outcome(Path(path), options, job_id, output_stem, adopt)
        finally:
            _release_free_memory()

    def _outcome(self, path, options, job_id, output_stem, adopt) -> JobOutcome:
        """Every ending becomes an outcome (and an event): bad input never raises."""
        try:
            return self._run(path, options, job_id, output_stem, adopt)
        except Cancelled:
            self._set_status(self._job_id, "cancelled")
            self._emit(JobCancelled(self._job_id))
            return JobOutcome(self._job_id, "cancelled")
        except SessionScribeError as error:
            return self._fail(self._job_id, str(error), _kind(error))
        except MemoryError:
            return self._fail(self._job_id, f"{path.name}: ran out of memory", "MemoryError")
        except Exception as error:  # a bug: the user gets one line, the log gets the detail
            log.exception("unexpected failure on job %s", self._job_id)
            kind = type(error).__name__
            return self._fail(self._job_id, f"{path.name}: unexpected error ({kind})", kind)

    # -- the job ----------------------------------------------------------------------------
    def _run(
        self,
        path: Path,
        options: TranscribeOptions,
        job_id: str,
        output_stem: Path | None,
        adopt: bool,
    ) -> JobOutcome:
        started = time.perf_counter()
        warm_imports()
        info = decode_stage.probe(path)
        clock = StageClock()
        decode_report = DecodeReport()
        plan: Future = Future()  # the producer decodes while the model loads; then it needs this
        edges = EdgeSilence()
        stop = threading.Event()
        # Decoding needs nothing from the device check or the model: it starts first.
        blocks = _Ahead(
            self._timed_blocks(path, decode_report, clock, info.duration_s or 0.0),
            DECODE_AHEAD_BLOCKS, stop, "decode", self._cancel,
        )
        windows = _Ahead(
            self._prepare_windows(blocks, plan, options, info.duration_s or 0.0, clock, edges),
            1, stop, "prepare", self._cancel,
        )
        try:
            runtime, model_dir = self._choose(options)
            runtime, transcriber = self._load(model_dir, runtime, options)
            resume = self._open_job(job_id, path, options, runtime, adopt)
            job_id = self._job_id = resume.job_id
            output_stem = self._output_stem(job_id, path, options, output_stem)  # before any transcribing
            plan.set_result(_Plan(resume, runtime.device, self._detector(runtime.vad_workers)))
            if self.store is not None and info.duration_s:
                self.store.set_duration(job_id, info.duration_s)
            self._emit(JobStarted(job_id, path, info.duration_s))
            if note := english_only_note(runtime.model, model_dir, options.language):
                self._emit(JobNote(job_id, f"{path.name}: {note}", "warning"))
            report = RunReport(
                model=runtime.model,
                device=runtime.device,
                compute_type=runtime.compute_type,
                batch_size=runtime.batch_size,
                cpu_threads=runtime.cpu_threads,
                num_workers=runtime.num_workers,
                vad_workers=runtime.vad_workers,
                gpu_dollars_per_hour=options.gpu_dollars_per_hour,
                api_dollars_per_minute=options.api_dollars_per_minute,
            )
            with PeakMemory(gpu=runtime.device == "cuda") as memory:
                segments, speech, language = self._transcribe_windows(
                    windows, transcriber, options, resume, report, clock, info.duration_s
                )
                audio_s = decode_report.samples / SAMPLE_RATE
                self._notes(job_id, path, info.duration_s, audio_s, decode_report, segments, report)
                outputs = self._export(
                    job_id, path, options, output_stem, segments, speech, language, audio_s, clock
                )
        finally:
            if not plan.done():
                plan.set_exception(Cancelled())
            windows.close()
            blocks.close()
        report.language = language
        report.audio_s = audio_s
        if edges.heard:
            report.leading_silence_s = round(edges.leading / SAMPLE_RATE, 2)
            report.trailing_silence_s = round(edges.trailing / SAMPLE_RATE, 2)
        report.segments = len(segments)
        report.stages = {stage.value: round(clock.seconds.get(stage.value, 0.0), 4) for stage in Stage}
        report.peak_ram_bytes = memory.peak_rss
        report.peak_vram_bytes = memory.peak_vram
        report.wall_s = time.perf_counter() - started
        if self.store is not None:
            self.store.finish(job_id, {k: str(v) for k, v in outputs.items()}, report.to_dict())
        log.info(
            "job %s done: %.1f s of audio in %.1f s (%s, %s, batch %d)",
            job_id, audio_s, report.wall_s, runtime.device, runtime.compute_type, runtime.batch_size,
        )
        self._emit(JobDone(job_id, outputs, report))
        return JobOutcome(job_id, "done", outputs, None, report, segments)

    def _transcribe_windows(self, windows, transcriber, options, resume, report, clock, duration_s):
        """The consumer: prepared windows through the model, committed to the store in order.

        Windows are batched together until they hold a batch's worth of clips (a 300-s window
        of conversation holds 6-10, a GPU batch 16 or more); the first window with speech goes
        alone so the first words appear within seconds.
        """
        job_id = self._job_id
        segments: list[Segment] = []
        speech: list[tuple[float, float]] = []
        check = SpeechCheck()
        language = options.language or resume.language
        pending: list[_Window] = []
        self._emit(StageStarted(job_id, Stage.TRANSCRIBE))

        def flush() -> None:
            nonlocal language
            if not pending:
                return
            with clock.timed(Stage.TRANSCRIBE.value):
                results = transcriber.transcribe_windows(
                    [WindowAudio(w.audio, w.offset, w.clips) for w in pending],
                    options,
                    language,
                    progress=self._transcribe_progress(job_id, pending, duration_s),
                )
            for window, result in zip(pending, results):
                if result.language and not language and window.clips:
                    language = result.language  # detected once, then fixed for the whole job
                    if self.store is not None:
                        self.store.set_language(job_id, language)
                window_speech = [span for clip in window.clips for span in clip.voiced]
                check.add(result.check)
                report.nonfinite_samples += window.nonfinite
                if self.store is not None:
                    self.store.commit_window(
                        job_id,
                        window.index,
                        window.offset / SAMPLE_RATE,
                        (window.offset + window.length) / SAMPLE_RATE,
                        result.segments,
                        window_speech,
                    )
                segments.extend(result.segments)
                speech.extend(window_speech)
                report.speech_s += sum(clip.duration for clip in window.clips)
                report.windows += 1
                for segment in result.segments:
                    self._emit(SegmentReady(job_id, segment))
            pending.clear()

        for window in windows:
            if self._cancel.is_set():
                raise Cancelled()
            if window.audio is None:  # finished by an earlier run: take it from the store
                flush()
                stored = resume.windows[window.index]
                segments.extend(stored.segments)
                speech.extend(stored.speech)
                report.resumed_windows += 1
                for segment in stored.segments:
                    self._emit(SegmentReady(job_id, segment))
                continue
            pending.append(window)
            clips = sum(len(w.clips) for w in pending)
            if (clips and not report.windows) or clips >= transcriber.runtime.batch_size:
                flush()
        flush()
        report.add_check(check)
        self._emit(StageFinished(job_id, Stage.TRANSCRIBE, clock.seconds.get(Stage.TRANSCRIBE.value, 0.0)))
        return segments, speech, language

    def _prepare_windows(
        self, blocks, plan: Future, options, total_s, clock, edges: EdgeSilence
    ) -> Iterator[_Window]:
        """The producer: cut windows, then condition them and find their speech clips.

        Runs in its own thread. It first waits for the job's plan (device, resume point):
        decoding, in its own thread, has started already and runs ahead meanwhile, so it
        overlaps loading the model and importing torch.
        """
        job_plan: _Plan = plan.result()  # waits for the model and device, not for decoding
        window_s = self.window_s or (WINDOW_S_GPU if job_plan.device == "cuda" else WINDOW_S_CPU)
        windows = cut_windows(blocks, window_s, first_window_s=min(FIRST_WINDOW_S, window_s))
        for index, (offset, audio) in enumerate(windows):
            if index == 0:
                self._emit(StageStarted(self._job_id, Stage.CONDITION))
                self._emit(StageStarted(self._job_id, Stage.SPEECH))
            length = audio.shape[0]
            resume = job_plan.resume
            if index < len(resume.windows) and _same_span(resume.windows[index], offset, length):
                yield _Window(index, offset, length, None, [])
                continue
            del resume.windows[index:]  # from here on, stored windows are recomputed
            end_s = (offset + length) / SAMPLE_RATE
            total = max(total_s, end_s)
            with clock.timed(Stage.CONDITION.value):
                conditioned = condition(audio)
            edges.add(conditioned)
            self._emit(StageProgress(self._job_id, Stage.CONDITION, end_s, total))

            def speech_progress(fraction: float, offset=offset, length=length, total=total) -> None:
                done = (offset + fraction * length) / SAMPLE_RATE
                self._emit(StageProgress(self._job_id, Stage.SPEECH, done, total))

            with clock.timed(Stage.SPEECH.value):
                clips = job_plan.detector.clips(conditioned, offset, progress=speech_progress)
            yield _Window(index, offset, length, conditioned.audio, clips, conditioned.nonfinite)
        for stage in (Stage.DECODE, Stage.CONDITION, Stage.SPEECH):
            self._emit(StageFinished(self._job_id, stage, clock.seconds.get(stage.value, 0.0)))

    def _timed_blocks(self, path, decode_report, clock, total_s) -> Iterator[np.ndarray]:
        blocks = decode_stage.stream_audio_in_child(path, decode_report)
        decoded = 0
        first = True
        while True:
            started = time.perf_counter()
            block = next(blocks, None)
            clock.add(Stage.DECODE.value, time.perf_counter() - started)
            if block is None:
                return
            if first:
                self._emit(StageStarted(self._job_id, Stage.DECODE))
                first = False
            decoded += block.shape[0]
            seconds = decoded / SAMPLE_RATE
            self._emit(StageProgress(self._job_id, Stage.DECODE, seconds, max(total_s, seconds)))
            yield block

    def _transcribe_progress(self, job_id: str, windows: list[_Window], duration_s: float | None):
        first = windows[0].offset
        length = windows[-1].offset + windows[-1].length - first
        total = max(duration_s or 0.0, (first + length) / SAMPLE_RATE)

        def report(fraction: float) -> None:
            if self._cancel.is_set():
                raise Cancelled()
            done = (first + fraction * length) / SAMPLE_RATE
            self._emit(StageProgress(job_id, Stage.TRANSCRIBE, done, total))

        return report

    # -- set-up -----------------------------------------------------------------------------
    def _choose(self, options: TranscribeOptions) -> tuple[Runtime, Path]:
        """Pick the device and settings and make sure the model is here (downloading it if
        needed) before any audio is touched: a missing model fails at once."""
        if problem := unknown_language(options.language):  # e.g. an old settings file
            raise SettingError(problem, kind="unknown-language")
        runtime = self.plan(options)
        for note in runtime.notes:
            self._emit(DeviceNotice(note, self._fix_text()))
        if options.model == "auto":
            options = options.with_changes(model=self._present_model(runtime, options.language))
            runtime = self.plan(options)
        model_dir = resolve_model(
            runtime.model,
            progress=lambda done, total: self._emit(ModelDownloadProgress(runtime.model, done, total)),
            cancel=self._cancel,
            advice=self.advice,
        )
        return self.plan(options, model_dir), model_dir

    def _present_model(self, runtime: Runtime, language: str | None) -> str:
        """What "auto" runs: its first choice when on disk, else the best model that is (a
        first job must not fail, or wait on a download, while a usable model sits in the
        cache), said once per engine. With no model at all, the first choice (downloaded)."""
        name, folder = choose_present(runtime.model, runtime.device, english_ok=language in (None, "en"))
        if folder is not None and name != runtime.model and (runtime.model, name) not in self._fallbacks_told:
            self._fallbacks_told.add((runtime.model, name))
            self._emit(
                DeviceNotice(
                    f"The {runtime.model} model (the best for this computer) is not downloaded; "
                    f"using {name}, the best model that is",
                    self.advice.for_missing(runtime.model),
                )
            )
        return name

    def _load(self, model_dir: Path, runtime: Runtime, options: TranscribeOptions) -> tuple[Runtime, Transcriber]:
        """Load the model (reused across jobs); if CUDA fails its warm-up, fall back to the CPU."""
        try:
            return runtime, self._transcriber(model_dir, runtime)
        except Exception as error:
            if runtime.device != "cuda":
                raise _unloadable(runtime.model, error) from None  # the model's fault, not the recording's
            self._cuda_failure = str(error).splitlines()[0][:200]
            log.warning("CUDA warm-up failed, falling back to the CPU: %s", self._cuda_failure)
            self._emit(
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

    def _fix_text(self) -> str:
        return "; ".join(self.health().fixes)

    def _transcriber(self, model_dir: Path, runtime: Runtime) -> Transcriber:
        key = (str(model_dir), runtime.device, runtime.compute_type, runtime.cpu_threads, runtime.num_workers)
        transcriber = self._transcribers.get(key)
        if transcriber is None:
            transcriber = Transcriber(model_dir, runtime)
            if runtime.device == "cuda":
                transcriber.warm_up()
            self._transcribers.clear()  # one model in memory at a time
            self._transcribers[key] = transcriber
        transcriber.runtime = runtime  # batch size may differ between jobs
        return transcriber

    def _detector(self, workers: int) -> SpeechDetector:
        if workers not in self._detectors:
            self._detectors[workers] = SpeechDetector(workers)
        return self._detectors[workers]

    def _open_job(self, job_id, path, options, runtime, adopt: bool) -> "_Resume":
        """Find what a previous run of the same input and options already finished.

        `adopt`: the caller named no job, so a resumable job for the same content and
        transcript settings is continued under its own id (a rerun of the same command).
        """
        if self.store is None:
            return _Resume(job_id, [], None)
        from engine.store import file_fingerprint

        fingerprint = file_fingerprint(path)
        key = f"{options.transcript_key()}:{runtime.model}:{runtime.compute_type}"
        record = self.store.get_job(job_id)
        if record is None and adopt:
            record = self.store.find_resumable(fingerprint, key, path.name)  # a copy: own row
        if record is None:
            # A job the caller did not register: the store names it.
            record = self.store.create_job(
                path, options.to_dict(), key, fingerprint, status="running"
            )
        elif record.fingerprint != fingerprint or record.options_key != key:
            self.store.reset_windows(record.id)  # content or settings changed: start afresh
            self.store.set_fingerprint(record.id, fingerprint, key)
        self.store.set_status(record.id, "running")
        windows = self.store.windows(record.id)
        language = self.store.get_job(record.id).language if windows else None
        return _Resume(record.id, windows, language)

    # -- endings ------------------------------------------------------------------------------
    def _notes(self, job_id, path, header_s, audio_s, decode_report, segments, report) -> None:
        cut_short = decode_report.stopped_early_at_s is not None or bool(
            header_s and audio_s + 1.0 < header_s * 0.98
        )
        if cut_short:
            self._emit(
                JobNote(
                    job_id,
                    f"{path.name}: damaged or cut short; transcribed the first "
                    f"{_clock(audio_s)} that could be decoded",
                    "warning",
                )
            )
        if decode_report.gap_s:
            log.info("job %s: %.2f s of damaged audio replaced by silence (%d place(s))",
                     job_id, decode_report.gap_s, decode_report.gaps)
            self._emit(
                JobNote(
                    job_id,
                    f"{path.name}: {decode_report.gap_s:.1f} s of damaged audio replaced by silence "
                    f"({decode_report.gaps} place(s), the first at {_clock(decode_report.first_gap_at_s or 0.0)}); "
                    "later timestamps are unaffected",
                    "warning",
                )
            )
        elif decode_report.damaged_packets and not cut_short:
            self._emit(
                JobNote(
                    job_id,
                    f"{path.name}: {decode_report.damaged_packets} damaged packet(s) skipped",
                    "warning",
                )
            )
        if report.nonfinite_samples:
            self._emit(
                JobNote(
                    job_id,
                    f"{path.name}: {report.nonfinite_samples} damaged sample(s) (not a number) "
                    "were treated as silence",
                    "warning",
                )
            )
        if report.untranscribed_regions:
            self._emit(
                JobNote(
                    job_id,
                    f"{path.name}: {report.untranscribed_regions} stretch(es) of speech "
                    f"({report.untranscribed_s:.1f} s) gave no words, even decoded again; "
                    "listen to them before relying on the transcript",
                    "warning",
                )
            )
        if report.doubtful_loops:
            self._emit(
                JobNote(
                    job_id,
                    f"{path.name}: the model repeated itself in {report.doubtful_loops} place(s); "
                    "the repeats were removed, check those passages",
                    "warning",
                )
            )
        if not segments:
            self._emit(JobNote(job_id, f"{path.name}: no speech found; the transcript is empty"))

    def _export(self, job_id, path, options, output_stem, segments, speech, language, audio_s, clock):
        from engine.export import write_outputs

        from engine.export import mode_limit

        self._emit(StageStarted(job_id, Stage.EXPORT))
        # write_outputs creates the folder and turns OS errors into one-line ExportErrors.
        stem = self._output_stem(job_id, path, options, output_stem)  # a file may have appeared since
        metadata = {
            "source": path.name,
            "duration_s": round(audio_s, 3),
            "language": language,
            "model": Path(options.model).name if Path(options.model).is_dir() else options.model,
            "word_timestamps": True,
            "generator": "SessionScribe",
        }
        with clock.timed(Stage.EXPORT.value):
            outputs = write_outputs(segments, speech, stem, options.formats, metadata, mode_limit(path))
        self._emit(StageProgress(job_id, Stage.EXPORT, 1.0, 1.0))
        self._emit(StageFinished(job_id, Stage.EXPORT, clock.seconds.get(Stage.EXPORT.value, 0.0)))
        return outputs

    def _output_stem(self, job_id, path, options, requested: Path | None) -> Path:
        """The absolute stem this job's outputs get: never one whose files we did not write
        for this recording (engine.outputs), and only names the disk takes (checked now, not
        after the whole transcription)."""
        from engine.export import check_output_names
        from engine.outputs import choose_stem, clashes, own_outputs

        stem = Path(os.path.abspath(requested or Path(options.output_dir or path.parent) / path.stem))
        record = self.store.get_job(job_id) if self.store is not None else None
        owned = own_outputs(self.store, path, record.fingerprint if record is not None else None)
        chosen = choose_stem(stem, options.formats, owned)
        check_output_names(chosen, options.formats, path.name)
        if chosen != stem:
            kept = clashes(stem, options.formats, owned)[0].name
            self._emit(
                JobNote(
                    job_id,
                    f"{path.name}: {kept} is not a transcript of this recording and is kept; "
                    f"the transcripts are saved as {chosen.name}.* instead",
                    "warning",
                )
            )
        return chosen

    def _fail(self, job_id: str, reason: str, kind: str) -> JobOutcome:
        self._set_status(job_id, "failed", reason)
        # Only the kind is logged: the reason names the file, and a file's name may itself
        # hold ": " (or an FFmpeg message may quote the path), so no split of it is safe.
        log.warning("job %s failed: %s", job_id, kind)
        self._emit(JobFailed(job_id, reason))
        return JobOutcome(job_id, "failed", reason=reason)

    def _set_status(self, job_id: str, status: str, reason: str | None = None) -> None:
        if self.store is not None and self.store.get_job(job_id) is not None:
            self.store.set_status(job_id, status, reason)

    def _emit(self, event) -> None:
        with self._emit_lock:
            try:
                self._sink(event)
            except Exception:  # a broken consumer (UI, pipe) must not take the job down
                log.exception("event sink failed on %s", type(event).__name__)


@dataclass
class _Plan:
    resume: "_Resume"
    device: str  # where the model runs: "cuda" or "cpu"
    detector: SpeechDetector


@dataclass
class _Resume:
    job_id: str
    windows: list  # engine.store.WindowRecord, in order
    language: str | None


# glibc's mallopt() parameter numbers
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_MIB = 1 << 20


def _tune_malloc(arenas: int = 2) -> None:
    """Set glibc's allocator up for a job: few arenas, big buffers kept between uses.

    - Arenas: each job runs its decode and prepare stages on fresh threads; glibc gives
      threads their own arenas (up to 8 per core) and memory freed in one is not reused by
      another, so a long queue of jobs fragmented into steadily growing RSS. Measured with
      bench/queue_memory.py: +33 MB over 40 jobs by default, flat (and 50 MB lower) with two.
    - Thresholds: by default a big buffer (above a sliding threshold of at most 32 MB: a
      batch's attention scores, a Silero batch) is mapped fresh and unmapped after each use,
      and the heap's top is handed back whenever it frees up, so the same memory is faulted
      in and zeroed again and again (a 20-min job: 250,000 page faults by default, 137,000
      with this). Buffers up to 256 MB now come from the heap and stay there; memory goes
      back to the OS after each job (`_release_free_memory`).
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arenas)
        libc.mallopt(_M_MMAP_THRESHOLD, 256 * _MIB)
        libc.mallopt(_M_TRIM_THRESHOLD, 512 * _MIB)


def _release_free_memory() -> None:
    """Give memory freed by the job back to the OS. glibc keeps freed blocks in per-thread
    arenas; over a queue of many jobs that reads as creeping RSS (measured: +47 MB over 40
    short jobs without this, +19 MB with it; see bench/queue_memory.py)."""
    gc.collect()  # cycles (generators, tracebacks) can hold a window's arrays until then
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc():
    """glibc's C library, or None elsewhere (macOS, Windows, musl): its allocator tuning
    does not apply there."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist (glibc only)
    except (OSError, AttributeError):
        return None
    return libc


class _Ahead:
    """Runs an iterator in its own thread, up to `depth` items ahead of its consumer.

    Exceptions raised in the thread come out of the consumer's loop; `close()` (or `stop`)
    makes the thread finish its current item and exit.
    """

    _END = object()

    def __init__(
        self, items: Iterator, depth: int, stop: threading.Event, name: str, cancel: threading.Event
    ) -> None:
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = stop
        self._cancel = cancel
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _stopped(self) -> bool:
        return self._stop.is_set() or self._cancel.is_set()

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as error:
            self._put(error)
        finally:
            self._items.close()  # generators must be closed by the thread that runs them

    def _put(self, item) -> bool:
        while not self._stopped():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator:
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stopped():
                    raise Cancelled() from None
                continue
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _same_span(stored, offset: int, length: int) -> bool:
    """A stored window is reused only where this run cut exactly the same window."""
    return (
        abs(stored.start_s - offset / SAMPLE_RATE) < 1e-6
        and abs(stored.end_s - (offset + length) / SAMPLE_RATE) < 1e-6
    )


def _unloadable(model: str, error: Exception) -> ModelError:
    """A model that passed the folder check but does not load: one line naming the model."""
    if isinstance(error, ModelError):  # already names the model (engine.transcribe)
        return error
    label = Path(model).name if Path(model).is_dir() else model
    kind = type(error).__name__
    return ModelError(f"{label}: the model could not be loaded ({kind})", kind=f"unloadable ({kind})")


def _kind(error: SessionScribeError) -> str:
    """"InputError" or "InputError (empty)": the class, and the error's own kind if finer."""
    name = type(error).__name__
    kind = getattr(error, "kind", name)
    return name if kind == name else f"{name} ({kind})"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
