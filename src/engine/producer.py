"""The producer: a recording decoded, cut into windows, conditioned and searched for speech.

decode (its own thread, up to DECODE_AHEAD_BLOCKS blocks ahead) -> windows cut at silences
-> condition -> speech clips (another thread, one window ahead of the model). The engine's
job run, the benchmarks and anything else that needs "the clips the model will see" use
this one composition, so they measure what the product does.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Protocol

import numpy as np

from engine import decode as decode_stage
from engine.channel_words import bleed_threshold
from engine.condition import EdgeSilence, condition
from engine.decode import SAMPLE_RATE, DecodeReport
from engine.errors import Cancelled
from engine.events import Stage
from engine.report import StageClock
from engine.speech import Clip, SpeechDetector
from engine.windowing import FIRST_WINDOW_S, WINDOW_S_CPU, WINDOW_S_GPU, cut_windows

if TYPE_CHECKING:
    from engine.diarize import Voices

# Decoding may run this many 30-s blocks (~1.9 MB each, ~31 MB in all) ahead of conditioning,
# so the decoder keeps a core busy while torch finishes importing for the first window; more
# (40 blocks) raised the 180-min / 45-min peak RSS ratio from 1.07 to 1.13.
DECODE_AHEAD_BLOCKS = 16


@dataclass
class ChannelPart:
    """One channel of a two-microphone window: conditioned and searched for speech alone."""

    channel: int
    audio: np.ndarray
    clips: list[Clip]


@dataclass
class Window:
    index: int
    offset: int  # samples from the start of the recording
    length: int
    audio: np.ndarray | None  # None when an earlier run finished this window (job store)
    clips: list[Clip]  # with `parts`: every channel's clips, in channel order
    nonfinite: int = 0  # damaged (NaN/Inf) samples replaced by silence
    voices: "Voices | None" = None  # its speech's speaker embeddings (engine.diarize)
    # One speaker per channel (engine.channel_route "speakers"): each channel's audio and
    # clips, and the raw channel levels of the window (for the merge's bleed rule); `audio`
    # is then an empty array (prepared, but nothing to send as one mono window).
    parts: tuple[ChannelPart, ...] = ()
    levels: "WindowLevels | None" = None

    @property
    def speech(self) -> list[tuple[float, float]]:
        """Voiced regions, seconds of the recording (channels' regions joined where they overlap)."""
        spans = [span for clip in self.clips for span in clip.voiced]
        if not self.parts:
            return spans
        joined: list[tuple[float, float]] = []
        for start, end in sorted(spans):
            if joined and start <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(joined[-1][1], end))
            else:
                joined.append((start, end))
        return joined

    @property
    def start_s(self) -> float:
        return self.offset / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return (self.offset + self.length) / SAMPLE_RATE


class WindowLevels:
    """Per-channel 30-ms levels of one window's raw audio, asked in recording seconds
    (engine.channels.ChannelLevels.rms_over with the window's offset): the merge compares
    channels without the audio, and only the window's frames are held (0.1 MB for 300 s)."""

    def __init__(self, audio: np.ndarray, offset: int) -> None:
        from engine.channels import LayoutMeter

        meter = LayoutMeter(audio.shape[0])
        meter.add(audio)
        self._levels = meter.levels()
        self._offset_s = offset / SAMPLE_RATE

    @property
    def rms(self) -> np.ndarray:
        """(channels, frames) linear RMS from the window's first sample."""
        return self._levels.rms

    def rms_over(self, channel: int, start_s: float, end_s: float) -> float:
        return self._levels.rms_over(channel, max(0.0, start_s - self._offset_s), max(0.0, end_s - self._offset_s))


class StageReporter(Protocol):
    """Where the producer says how its stages go (a job run turns these into events)."""

    def started(self, stage: Stage) -> None: ...

    def progress(self, stage: Stage, done_s: float, total_s: float) -> None: ...


class _Silent:
    def started(self, stage: Stage) -> None:
        pass

    def progress(self, stage: Stage, done_s: float, total_s: float) -> None:
        pass


def window_length(device: str, override_s: float | None = None) -> float:
    """Seconds per window: longer on a GPU, where batches want more clips (engine.windowing)."""
    return override_s or (WINDOW_S_GPU if device == "cuda" else WINDOW_S_CPU)


def decoded_blocks(
    path: Path,
    report: DecodeReport,
    clock: StageClock,
    total_s: float,
    reporter: StageReporter = _Silent(),
    in_child: bool = True,
    blocks: Iterator[np.ndarray] | None = None,
) -> Iterator[np.ndarray]:
    """The recording as 16 kHz mono float32 blocks, timed on `clock` under "decode".
    `in_child`: decode in a child process (the product: a crashing codec takes only the child
    down); False decodes in this process (benchmarks of the decoder itself). `blocks`: a
    stream of its own instead (engine.channel_route: mono, or (channels, n) blocks)."""
    if blocks is None:
        stream = decode_stage.stream_audio_in_child if in_child else decode_stage.stream_audio
        blocks = stream(Path(path), report)
    decoded = 0
    first = True
    while True:
        started = time.perf_counter()
        block = next(blocks, None)
        clock.add(Stage.DECODE.value, time.perf_counter() - started)
        if block is None:
            return
        if first:
            reporter.started(Stage.DECODE)
            first = False
        decoded += block.shape[-1]
        seconds = decoded / SAMPLE_RATE
        reporter.progress(Stage.DECODE, seconds, max(total_s, seconds))
        yield block


def prepared_windows(
    blocks: Iterable[np.ndarray],
    detector: SpeechDetector,
    window_s: float,
    clock: StageClock,
    total_s: float = 0.0,
    stored: list | None = None,
    edges: EdgeSilence | None = None,
    reporter: StageReporter = _Silent(),
    channels: tuple[int, ...] = (),
    loud_dbfs: tuple[float, ...] | None = None,
    bleed_db: tuple[float, ...] = (),
) -> Iterator[Window]:
    """Cut windows, then condition each and find its speech clips.

    (channels, n) blocks (engine.channel_route, one speaker per channel): every channel is
    cut at the same samples, then each of `channels` conditioned and searched on its own
    (Window.parts), its bleed-only stretches silenced first (engine.channel_gate; `loud_dbfs`:
    each channel's speech level, `bleed_db` each channel's threshold); the job store sees one
    window per span as for mono.

    `stored`: windows an earlier run finished (engine.store.WindowRecord, in order). One
    this run cuts at exactly the same span comes out with `audio=None` and is not prepared
    again; from the first that differs on, stored windows are dropped from the list (the
    caller's resume point) and everything is recomputed.
    """
    stored = stored if stored is not None else []
    windows = cut_windows(blocks, window_s, first_window_s=min(FIRST_WINDOW_S, window_s))
    for index, (offset, audio) in enumerate(windows):
        if index == 0:
            reporter.started(Stage.CONDITION)
            reporter.started(Stage.SPEECH)
        length = audio.shape[-1]
        if index < len(stored) and _same_span(stored[index], offset, length):
            yield Window(index, offset, length, None, [])
            continue
        del stored[index:]  # from here on, stored windows are recomputed
        end_s = (offset + length) / SAMPLE_RATE
        total = max(total_s, end_s)
        if audio.ndim == 2:
            yield _channel_window(index, offset, audio, channels, loud_dbfs, bleed_db, detector, clock, reporter, total)
            continue
        with clock.timed(Stage.CONDITION.value):
            conditioned = condition(audio)
        if edges is not None:
            edges.add(conditioned)
        reporter.progress(Stage.CONDITION, end_s, total)

        def speech_progress(fraction: float, offset=offset, length=length, total=total) -> None:
            reporter.progress(Stage.SPEECH, (offset + fraction * length) / SAMPLE_RATE, total)

        with clock.timed(Stage.SPEECH.value):
            clips = detector.clips(conditioned, offset, progress=speech_progress)
        yield Window(index, offset, length, conditioned.audio, clips, conditioned.nonfinite)


def _channel_window(index: int, offset: int, audio: np.ndarray, channels: tuple[int, ...],
                    loud_dbfs: tuple[float, ...] | None, bleed_db: tuple[float, ...], detector,
                    clock: StageClock, reporter: StageReporter, total: float) -> Window:
    """One span of a two-microphone recording: each channel conditioned and searched alone
    (a channel's own speech level sets its conditioning, so a quiet microphone is not
    judged by the loud one's)."""
    length = audio.shape[-1]
    end_s = (offset + length) / SAMPLE_RATE
    from dataclasses import replace

    from engine.channel_gate import bleed_frames, gate

    used = channels or tuple(range(audio.shape[0]))
    with clock.timed(Stage.CONDITION.value):
        levels = WindowLevels(np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0), offset)
    parts: list[ChannelPart] = []
    nonfinite = 0
    for number, channel in enumerate(used):
        with clock.timed(Stage.CONDITION.value):
            conditioned = condition(np.ascontiguousarray(audio[channel]))
            bleed = bleed_frames(levels.rms, channel, loud_dbfs, bleed_threshold(bleed_db, channel))
            if bleed.any():
                # The zeroed stretches are silence like any other: Silero skips them and starts
                # fresh after each, as at a recording's start (engine.speech scans only the
                # chunks with sound). Run on through them, its state after ten seconds of zeros
                # scored Kennedy's first "ask" (-16 dBFS, after the other speaker's 9-s turn;
                # tests/support/real_two_mic.py) 0.43 at most, under the 0.5 that starts speech,
                # and the word was lost (0.40-0.56 with no gate); now it is transcribed. The
                # generated two-mic session at eight depths gave the same words but for
                # mishearings inside words, either way (WER 4.6-6.2 % against 4.6-6.4 %).
                gated = condition(gate(conditioned.audio, bleed))
                conditioned = replace(conditioned, audio=gated.audio, chunk_active=gated.chunk_active)
        reporter.progress(Stage.CONDITION, end_s, total)

        def speech_progress(fraction: float, number=number) -> None:
            done = (number + fraction) / len(used)
            reporter.progress(Stage.SPEECH, (offset + done * length) / SAMPLE_RATE, total)

        with clock.timed(Stage.SPEECH.value):
            clips = detector.clips(conditioned, offset, progress=speech_progress)
        parts.append(ChannelPart(channel, conditioned.audio, clips))
        nonfinite += conditioned.nonfinite
    clips = [clip for part in parts for clip in part.clips]
    return Window(index, offset, length, np.zeros(0, np.float32), clips, nonfinite, parts=tuple(parts), levels=levels)


def produce(
    path: Path,
    detector: SpeechDetector,
    device: str = "cpu",
    clock: StageClock | None = None,
    report: DecodeReport | None = None,
    in_child: bool = True,
) -> Iterator[Window]:
    """decode -> windows -> condition -> speech for one recording, decoding on its own
    thread ahead of the rest, as the engine runs it (without a job store)."""
    clock = clock if clock is not None else StageClock()
    report = report if report is not None else DecodeReport()
    stop, cancel = threading.Event(), threading.Event()
    blocks = Ahead(decoded_blocks(path, report, clock, 0.0, in_child=in_child), DECODE_AHEAD_BLOCKS, stop, "decode", cancel)
    try:
        yield from prepared_windows(blocks, detector, window_length(device), clock)
    finally:
        blocks.close()


class Ahead:
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


