"""Stage 3 — speech: find speech with Silero VAD and cut it into clips for batching.

Silero VAD is the ONNX model inside the faster-whisper wheel. faster-whisper runs it on
one thread over the whole recording; we run it only on the spans the conditioning stage
found non-silent, split across a few threads (onnxruntime releases the GIL), and turn its
per-frame probabilities into clips:
- a clip is at most 30 s long (one Whisper window),
- a clip never runs across a pause longer than 2 s, so one subtitle never spans one.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from engine.condition import CHUNK_SAMPLES, ConditionedAudio
from engine.decode import SAMPLE_RATE

FRAME = 512  # Silero's frame at 16 kHz: 32 ms
MAX_CLIP_S = 30.0
MAX_PAUSE_IN_CLIP_S = 2.0


@dataclass(frozen=True)
class SpeechSettings:
    threshold: float = 0.5  # a frame at or above this starts speech
    neg_threshold: float = 0.35  # speech continues until frames drop below this...
    min_silence_s: float = 0.16  # ...for at least this long (faster-whisper's batched default)
    min_speech_s: float = 0.2  # shorter bursts (clicks, coughs) are not speech
    pad_s: float = 0.2  # context kept around each region, never beyond half a gap
    # Context given to Silero around non-silent spans; its state needs it to warm up (0.3 s
    # lost a 0.8-s phrase of the JFK recording, tests/test_stages.py).
    silence_margin_s: float = 0.5
    max_clip_s: float = MAX_CLIP_S
    max_pause_s: float = MAX_PAUSE_IN_CLIP_S


@dataclass(frozen=True)
class Clip:
    """A span sent to Whisper as one item of a batch. Times in seconds of the recording."""

    start: float
    end: float
    speech: tuple[tuple[float, float], ...]  # the voiced regions inside, for cue timing

    @property
    def duration(self) -> float:
        return self.end - self.start


class SpeechDetector:
    """Silero VAD over a thread pool; one instance serves every window of a job."""

    def __init__(self, workers: int, settings: SpeechSettings = SpeechSettings()) -> None:
        from faster_whisper.vad import get_vad_model  # loads onnxruntime: keep it lazy

        self.settings = settings
        self.workers = max(1, workers)
        self._model = get_vad_model()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="vad")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def probabilities(
        self, window: ConditionedAudio, progress: Callable[[float], None] | None = None
    ) -> np.ndarray:
        """Speech probability per 32 ms frame; frames in conditioned silence get 0."""
        frame_count = -(-window.audio.shape[0] // FRAME)
        probs = np.zeros(frame_count, dtype=np.float32)
        spans = self._spans_to_scan(window, frame_count)
        pieces = _split_for_workers(spans, self.workers)
        audio = window.audio
        total = sum(end - start for start, end in pieces) or 1
        done = 0

        def run(piece: tuple[int, int]) -> tuple[int, np.ndarray]:
            start, end = piece
            # A copy: faster-whisper's Silero wrapper zeroes the last 64 samples of the array
            # it is given, and this window's audio goes on to Whisper.
            samples = audio[start * FRAME : end * FRAME].copy()
            if samples.shape[0] < (end - start) * FRAME:  # the window's last, partial frame
                samples = np.pad(samples, (0, (end - start) * FRAME - samples.shape[0]))
            return start, self._model(samples)

        for start, out in self._pool.map(run, pieces):
            probs[start : start + out.shape[0]] = out
            done += out.shape[0]
            if progress:
                progress(done / total)
        return probs

    def _spans_to_scan(self, window: ConditionedAudio, frame_count: int) -> list[tuple[int, int]]:
        """Frame ranges worth running Silero on: non-silent chunks plus a margin of context."""
        active = window.chunk_active
        if not active.any():
            return []
        margin = int(self.settings.silence_margin_s * SAMPLE_RATE)
        edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
        starts = np.flatnonzero(edges == 1) * CHUNK_SAMPLES - margin
        ends = np.flatnonzero(edges == -1) * CHUNK_SAMPLES + margin
        spans: list[tuple[int, int]] = []
        for start, end in zip(starts, ends):
            first = max(0, int(start) // FRAME)
            last = min(frame_count, -(-int(end) // FRAME))
            if spans and first <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], last))
            else:
                spans.append((first, last))
        return spans

    def clips(self, window: ConditionedAudio, offset_samples: int, progress=None) -> list[Clip]:
        probs = self.probabilities(window, progress)
        regions = speech_regions(probs, self.settings)
        return make_clips(
            regions, probs, window.audio.shape[0], offset_samples, self.settings
        )


def _split_for_workers(spans: list[tuple[int, int]], workers: int) -> list[tuple[int, int]]:
    """Cut long spans so each worker gets a similar share; Silero's state restarts per piece,
    so pieces stay long (>= 20 s) to keep that effect at the edges negligible."""
    total = sum(end - start for start, end in spans)
    if not total:
        return []
    min_piece = int(20 * SAMPLE_RATE / FRAME)
    target = max(min_piece, -(-total // workers))
    pieces = []
    for start, end in spans:
        while end - start > target + min_piece:
            pieces.append((start, start + target))
            start += target
        pieces.append((start, end))
    return pieces


def speech_regions(probs: np.ndarray, settings: SpeechSettings) -> list[tuple[int, int]]:
    """Hysteresis over frame probabilities -> [start, end) frame ranges of speech."""
    min_silence = max(1, round(settings.min_silence_s * SAMPLE_RATE / FRAME))
    min_speech = max(1, round(settings.min_speech_s * SAMPLE_RATE / FRAME))
    regions: list[tuple[int, int]] = []
    above = probs >= settings.threshold
    below = probs < settings.neg_threshold
    # Only frames where the state can change matter: walk them instead of every frame.
    i, n = 0, probs.shape[0]
    starts = np.flatnonzero(above)
    while True:
        nxt = np.searchsorted(starts, i)
        if nxt >= starts.shape[0]:
            break
        start = int(starts[nxt])
        # speech lasts until `min_silence` consecutive frames fall below neg_threshold
        end = _end_of_speech(below, start, min_silence)
        if end - start >= min_speech:
            regions.append((start, end))
        i = end + 1
        if i >= n:
            break
    return regions


def _end_of_speech(below: np.ndarray, start: int, min_silence: int) -> int:
    position = start
    n = below.shape[0]
    while position < n:
        quiet = np.flatnonzero(below[position:])
        if quiet.size == 0:
            return n
        first_quiet = position + int(quiet[0])
        run_end = first_quiet
        while run_end < n and below[run_end]:
            run_end += 1
        if run_end - first_quiet >= min_silence or run_end == n:
            return first_quiet
        position = run_end
    return n


def make_clips(
    regions: Sequence[tuple[int, int]],
    probs: np.ndarray,
    window_samples: int,
    offset_samples: int,
    settings: SpeechSettings,
) -> list[Clip]:
    """Group speech regions (frame ranges) into clips of <= max_clip_s with no long pause."""
    max_clip = int(settings.max_clip_s * SAMPLE_RATE / FRAME)
    max_pause = int(settings.max_pause_s * SAMPLE_RATE / FRAME)
    pad = int(settings.pad_s * SAMPLE_RATE / FRAME)
    # Whisper sees the pad too, so leave room for it inside the 30 s.
    limit = max_clip - 2 * pad - 1
    pieces: list[tuple[int, int]] = []
    for start, end in regions:
        while end - start > limit:  # a monologue with no pause: cut at its quietest moment
            search_from = start + limit * 2 // 3
            cut = search_from + int(np.argmin(probs[search_from : start + limit]))
            pieces.append((start, cut))
            start = cut
        pieces.append((start, end))

    padded = _pad(pieces, pad, -(-window_samples // FRAME))
    groups: list[list[int]] = []
    for index, (start, end) in enumerate(padded):
        if groups:
            first = padded[groups[-1][0]]
            previous = pieces[groups[-1][-1]]
            pause = pieces[index][0] - previous[1]
            if pause <= max_pause and end - first[0] <= max_clip:
                groups[-1].append(index)
                continue
        groups.append([index])

    def seconds(frame: int) -> float:
        sample = min(frame * FRAME, window_samples) + offset_samples
        return round(sample / SAMPLE_RATE, 3)

    return [
        Clip(
            start=seconds(padded[group[0]][0]),
            end=seconds(padded[group[-1]][1]),
            speech=tuple((seconds(padded[i][0]), seconds(padded[i][1])) for i in group),
        )
        for group in groups
    ]


def _pad(pieces: list[tuple[int, int]], pad: int, frame_count: int) -> list[tuple[int, int]]:
    """Widen each piece by `pad` frames without crossing the middle of the gap to a neighbour."""
    padded = []
    for index, (start, end) in enumerate(pieces):
        low = 0 if index == 0 else (pieces[index - 1][1] + start) // 2
        high = frame_count if index == len(pieces) - 1 else (end + pieces[index + 1][0]) // 2
        padded.append((max(low, start - pad), min(high, end + pad)))
    return padded
