"""A stand-in for engine.pipeline.Engine: same interface, the real event sequence, no model.

Events come in the real engine's order under the one id the app gave the job: JobStarted,
then decoding (on its own thread, in the engine) while the model loads; stages overlap (decode/condition/speech finish while transcription runs), progress is
reported in seconds of audio, and cancel() stops it within one step. It returns the real
`JobOutcome` with a `Transcript`, and writes its exports with the engine's own renderer.
With `speakers=N` (>= 2) its speaker stage labels segment i as speaker i % N (words too)
after transcription, as the real one does: live segments come unlabelled, the final transcript
and the store's windows labelled, named from `options.speaker_names`. With `voices=M` each
window also keeps voices, as the real one's do: segment i's speech sounds like voice i % M (an
embedding near the M-th axis), so the speakers can be told apart again from the store.
Recordings whose name contains "broken" fail with a one-line reason, like a damaged file.
Given the app's job store, it records the run there like the real engine: status, one
committed window per segment, and the outputs and report when done.
"""
from __future__ import annotations

import threading
from dataclasses import replace
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

from engine.events import (
    JobCancelled,
    JobDone,
    JobFailed,
    JobNote,
    JobStarted,
    SegmentReady,
    Stage,
    StageFinished,
    StageProgress,
    StageStarted,
)
from engine.job_run import JobOutcome
from engine.monitor import GpuSample, SystemSample
from engine.report import RunReport
from engine.segments import Segment, Word
from engine.status import JobStatus
from engine.transcript import Transcript

WORDS = ("I have been sleeping better mostly", "How did your body feel in that moment",
         "It was probably a seven maybe an eight", "Let's pause there for a second")


# What a missing model fails with in the app (engine.models + app.engine_adapter's advice):
# longer than one_line's 200 characters, with its fix at the end.
LONG_MODEL_REASON = (
    "model 'small' is not on this computer and there is no connection to the model hub (ConnectError): "
    "copy a folder holding a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json) from a "
    "computer that has one, then open Models… (Settings, or the Models menu) and press \"Import folder…\""
)


class FakeEngine:
    def __init__(
        self, sink, store=None, *, segments: int = 6, step_s: float = 0.02, duration_s: float = 60.0,
        speakers: int | None = None, voices: int | None = None, channel_route: str = "",
        texts: tuple[str, ...] = (),
    ):
        self._sink = sink
        self.channel_route = channel_route  # "speakers": its report says each channel was one
        self.texts = texts  # segment i says texts[i % len(texts)]; none given: "<words> number i."
        self.speakers = speakers
        self.voices = voices
        self.store = store
        self._cancel = threading.Event()
        self.segments = segments
        self.step_s = step_s
        self.duration_s = duration_s
        self.calls: list[tuple[Path, object]] = []
        self.threads: set[int] = set()

    def cancel(self) -> None:
        self._cancel.set()

    def plan(self, options):
        return SimpleNamespace(device="cpu", compute_type="int8", batch_size=4, cpu_threads=2,
                               num_workers=1, vad_workers=1, model="tiny")

    def _record(self, method: str, job_id: str, *args) -> None:
        """Write to the job store like the real engine (jobs the app registered only)."""
        if self.store is None or self.store.get_job(job_id) is None:
            return
        getattr(self.store, method)(job_id, *args)

    def _step(self) -> None:
        time.sleep(self.step_s)
        if self._cancel.is_set():
            raise _Stop()

    def transcribe(self, path: Path, options, job_id: str | None = None, output_stem: Path | None = None):
        self._cancel.clear()
        self.threads.add(threading.get_ident())
        self.calls.append((Path(path), options))
        job_id = job_id or uuid.uuid4().hex
        path = Path(path)
        emit = self._sink
        started = time.perf_counter()
        if "broken" in path.name or "nomodel" in path.name:
            time.sleep(self.step_s)
            reason = f"{path.name}: not a recording that can be read (Invalid data found)"
            if "nomodel" in path.name:  # a long reason with its fix, like a missing model's
                reason = LONG_MODEL_REASON
            self._record("set_status", job_id, "failed", reason)
            emit(JobFailed(job_id, reason))
            return JobOutcome(job_id, JobStatus.FAILED, reason=reason)
        total = self.duration_s
        self._record("set_status", job_id, "running")
        segments: list[Segment] = []
        try:
            # As in the engine: started under its final id, then decoding runs while the
            # model loads, ahead of the other stages.
            self._record("set_duration", job_id, total)
            emit(JobStarted(job_id, path, total))
            emit(StageStarted(job_id, Stage.DECODE))
            emit(StageProgress(job_id, Stage.DECODE, min(total, 30.0), total))
            self._step()
            emit(StageStarted(job_id, Stage.CONDITION))
            emit(StageStarted(job_id, Stage.SPEECH))
            emit(StageStarted(job_id, Stage.TRANSCRIBE))
            step = total / self.segments
            for i in range(self.segments):
                # Preparation runs ahead of transcription, as in the real pipeline.
                ahead = min(total, (i + 2) * step)
                for stage in (Stage.DECODE, Stage.CONDITION, Stage.SPEECH):
                    emit(StageProgress(job_id, stage, ahead, total))
                if ahead >= total and i == self.segments - 2:
                    for stage in (Stage.DECODE, Stage.CONDITION, Stage.SPEECH):
                        emit(StageFinished(job_id, stage, 0.01 * self.segments))
                self._step()
                emit(StageProgress(job_id, Stage.TRANSCRIBE, (i + 0.5) * step, total))
                self._step()
                text = f" {self.texts[i % len(self.texts)]}" if self.texts else f" {WORDS[i % len(WORDS)]} number {i + 1}."
                segment = Segment(i * step, (i + 0.9) * step, text)
                segments.append(segment)
                self._record("commit_window", job_id, i, i * step, (i + 1) * step, [segment],
                             [(segment.start, segment.end)], _voice(segment, i, self.voices))
                emit(StageProgress(job_id, Stage.TRANSCRIBE, (i + 1) * step, total))
                emit(SegmentReady(job_id, segment))
            for stage in (Stage.DECODE, Stage.CONDITION, Stage.SPEECH):
                emit(StageFinished(job_id, stage, 0.01 * self.segments))
            emit(StageFinished(job_id, Stage.TRANSCRIBE, self.step_s * 2 * self.segments))
            emit(StageStarted(job_id, Stage.SPEAKERS))
            if self.speakers and options.speaker_labels:
                segments = [_labelled(segment, i % self.speakers) for i, segment in enumerate(segments)]
                for i, segment in enumerate(segments):
                    self._record("relabel_window", job_id, i, [segment])
            emit(StageFinished(job_id, Stage.SPEAKERS, 0.01, skipped=not options.speaker_labels))
            emit(StageStarted(job_id, Stage.EXPORT))
            from engine.export import write_outputs

            stem = output_stem or Path(options.output_dir or path.parent) / path.stem
            transcript = Transcript.of(
                segments, [(s.start, s.end) for s in segments], source=path.name, duration_s=total, model="tiny",
                speakers=tuple(options.speaker_names) if self.speakers else (),
            )
            outputs = write_outputs(transcript, stem, options.formats)
            emit(StageProgress(job_id, Stage.EXPORT, 1.0, 1.0))
            emit(StageFinished(job_id, Stage.EXPORT, 0.01))
        except _Stop:
            self._record("set_status", job_id, "cancelled")
            emit(JobCancelled(job_id))
            return JobOutcome(job_id, JobStatus.CANCELLED)
        wall = time.perf_counter() - started
        report = RunReport(
            model="tiny", device="cpu", compute_type="int8", batch_size=4, cpu_threads=2,
            num_workers=1, vad_workers=1, audio_s=total, wall_s=wall,
            stages={"decode": 0.05, "condition": 0.02, "speech": 0.1, "transcribe": wall * 0.8, "export": 0.01},
            peak_ram_bytes=512 * 2**20, peak_vram_bytes=None,
            gpu_dollars_per_hour=options.gpu_dollars_per_hour,
            api_dollars_per_minute=options.api_dollars_per_minute, channel_route=self.channel_route,
        )
        self._record("finish", job_id, {k: str(v) for k, v in outputs.items()}, report.to_dict(), transcript.info.to_dict())
        emit(JobNote(job_id, f"{path.name}: fake engine finished", "info"))
        emit(JobDone(job_id, outputs, report, transcript))
        return JobOutcome(job_id, JobStatus.DONE, outputs, None, report, transcript)


def _voice(segment: Segment, index: int, voices: int | None):
    """What a real speaker stage keeps of window `index`: its speech, one window over it, and
    that window's embedding (voice index % voices, a little apart from the window before)."""
    if not voices:
        return None
    import numpy as np

    from engine.diarize import EMBEDDING_DIM, Voices

    embedding = np.zeros((1, EMBEDDING_DIM), dtype=np.float32)
    embedding[0, index % voices] = 1.0
    embedding[0, voices + index] = 0.2  # no two windows alike
    span = (segment.start, segment.end)
    return Voices([span], [span], embedding)


def _labelled(segment: Segment, speaker: int) -> Segment:
    """The segment said by `speaker`, with timed words (each word its share of the time)."""
    texts = segment.text.split()
    step = (segment.end - segment.start) / len(texts)
    words = tuple(
        Word(segment.start + k * step, segment.start + (k + 1) * step, f" {text}", 0.9, speaker)
        for k, text in enumerate(texts)
    )
    return replace(segment, words=words, speaker=speaker)


class _Stop(Exception):
    pass


class FakeEngineFactory:
    """Builds one FakeEngine (like the adapter expects) and keeps it for the test to inspect."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.engine: FakeEngine | None = None
        self.store = None  # the window's job store, set by the make_window fixture

    def __call__(self, sink):
        self.engine = FakeEngine(sink, self.store, **self.kwargs)
        return self.engine


class FakeSampler:
    """Returns scripted samples; records which thread sampled (must not be the UI thread)."""

    def __init__(self, gpu: bool = True) -> None:
        self.gpu = gpu
        self.count = 0
        self.threads: set[int] = set()

    def sample(self) -> SystemSample:
        self.count += 1
        self.threads.add(threading.get_ident())
        gpu = (
            GpuSample("NVIDIA Fake 4090", 55.0 + self.count % 10, 6 * 2**30, 24 * 2**30, 61.0, 215.0)
            if self.gpu
            else None
        )
        return SystemSample(
            time=time.monotonic(),
            cpu_percent=37.0,
            ram_used_bytes=8 * 2**30,
            ram_total_bytes=32 * 2**30,
            gpu=gpu,
            gpu_unavailable_reason=None if gpu else "No NVIDIA GPU or driver found",
        )


class FakeHealth:
    cuda_usable = False
    fixes = ["Install the NVIDIA driver (550 or newer), then restart"]

    def lines(self) -> list[str]:
        return ["CUDA usable by CTranslate2: no", "NVIDIA driver: not found"]


class FakePlayer:
    """Records what the view asks of the audio player; `position` is set by tests to stand
    for where playback has got to."""

    def __init__(self) -> None:
        self.played: list[tuple[Path, float]] = []
        self.position_s: float | None = None
        self.is_playing = False
        self.rate = 1.0
        self.toggles = 0

    def play_from(self, path: Path, seconds: float) -> None:
        self.played.append((Path(path), seconds))
        self.position_s = seconds
        self.is_playing = True

    def toggle(self) -> bool:
        self.toggles += 1
        self.is_playing = not self.is_playing
        return self.is_playing

    def pause(self) -> None:
        self.is_playing = False

    def stop(self) -> None:
        self.is_playing = False

    def position(self) -> float | None:
        return self.position_s

    def playing(self) -> bool:
        return self.is_playing

    def set_rate(self, rate: float) -> None:
        self.rate = rate

    def seek(self, seconds: float) -> None:
        self.position_s = max(0.0, seconds)
