"""Stage 3 — speech: find speech with Silero VAD and pack it into clips for batching.

Silero VAD is the ONNX model inside the faster-whisper wheel. faster-whisper runs it on
one thread over the whole recording; we run it only on the spans the conditioning stage
found non-silent, split across a few threads (onnxruntime releases the GIL), and turn its
per-frame probabilities into clips the way faster-whisper's batched pipeline does:
- each voiced region is widened by a little context,
- regions are joined end to end, the pauses between them left out, into clips of at most
  30 s of audio (one Whisper window): the encoder always pays for 30 s, so a clip that
  stopped at every long pause was only 60-63 % full (faster-whisper's chunks: 93 %),
- a region longer than 30 s is cut at its least speech-like moment.
Cues no longer depend on where clips end: their times come from the words (engine.cues),
so clips need not stop at pauses.
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
# Silero is level-robust down to about -40 dBFS peak (jfk.flac: 5 regions at -2, -20, -40
# dBFS, 3 at -50): a window whose loudest 1 % of 100-ms chunks is quieter than this RMS is
# raised for the detector (only its copy; Whisper hears the recording as it is).
VAD_LEVEL_FLOOR_DBFS = -40.0
VAD_MAX_GAIN_DB = 30.0


@dataclass(frozen=True)
class SpeechSettings:
    threshold: float = 0.5  # a frame at or above this starts speech
    neg_threshold: float = 0.35  # speech continues until frames drop below this...
    min_silence_s: float = 0.16  # ...for at least this long (faster-whisper's batched default)
    min_speech_s: float = 0.2  # shorter bursts (clicks, coughs) are not speech
    pad_s: float = 0.3  # context kept around each region, never beyond half a gap
    # Context given to Silero around non-silent spans; its state needs it to warm up (0.3 s
    # lost a 0.8-s phrase of the JFK recording, tests/test_stages.py).
    silence_margin_s: float = 0.5
    max_clip_s: float = MAX_CLIP_S


Span = tuple[float, float]


@dataclass(frozen=True)
class Clip:
    """Speech sent to Whisper as one item of a batch: spans of the recording (seconds, in
    order, padded with a little context) joined end to end, at most 30 s of audio in all."""

    spans: tuple[Span, ...]
    voiced: tuple[Span, ...]  # the voiced regions inside (unpadded): what must be transcribed

    @property
    def start(self) -> float:
        return self.spans[0][0]

    @property
    def end(self) -> float:
        return self.spans[-1][1]

    @property
    def duration(self) -> float:
        """Seconds of audio the model hears (pauses between spans left out)."""
        return sum(end - start for start, end in self.spans)

    def audio(self, window: np.ndarray, offset_samples: int) -> np.ndarray:
        """The clip's samples, cut from a window that starts at `offset_samples`."""
        parts = [
            window[max(0, _sample(a) - offset_samples) : max(0, _sample(b) - offset_samples)]
            for a, b in self.spans
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def to_recording_span(self, start: float, end: float) -> Span:
        """Map a stretch of the clip's audio (as the model heard it) back to the recording,
        through the span that holds its middle: it never straddles a pause that was cut out."""
        middle = (start + end) / 2
        elapsed = 0.0
        for a, b in self.spans:
            if middle < elapsed + (b - a) or (a, b) == self.spans[-1]:
                return (
                    min(b, a + max(0.0, start - elapsed)),
                    min(b, a + max(0.0, end - elapsed)),
                )
            elapsed += b - a
        return self.end, self.end


def _sample(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))


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
        gain = _vad_gain(window.loud_dbfs)

        def run(piece: tuple[int, int]) -> tuple[int, np.ndarray]:
            start, end = piece
            # A copy: faster-whisper's Silero wrapper zeroes the last 64 samples of the array
            # it is given, and this window's audio goes on to Whisper.
            samples = audio[start * FRAME : end * FRAME].copy()
            if gain != 1.0:
                samples *= gain
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


def _vad_gain(loud_dbfs: float) -> float:
    """Gain for the detector's copy of a very quiet window (1.0 for ordinary levels)."""
    if loud_dbfs >= VAD_LEVEL_FLOOR_DBFS:
        return 1.0
    return float(10.0 ** (min(VAD_LEVEL_FLOOR_DBFS - loud_dbfs, VAD_MAX_GAIN_DB) / 20.0))


def _split_for_workers(spans: list[tuple[int, int]], workers: int) -> list[tuple[int, int]]:
    """Cut long spans so each worker gets a similar share; Silero's state restarts per piece,
    so pieces stay long (>= 20 s) to keep that effect at the edges negligible. Pieces stay
    short enough (<= 60 s) that Silero's buffers stay small: it takes the whole piece in one
    run, and two 150-s pieces of a 300-s window held ~160 MB while the model transcribed."""
    total = sum(end - start for start, end in spans)
    if not total:
        return []
    min_piece = int(20 * SAMPLE_RATE / FRAME)
    max_piece = int(60 * SAMPLE_RATE / FRAME)
    target = min(max_piece, max(min_piece, -(-total // workers)))
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
    """Pack speech regions (frame ranges) into clips of at most `max_clip_s` of audio."""
    max_clip = int(settings.max_clip_s * SAMPLE_RATE / FRAME)
    pad = int(settings.pad_s * SAMPLE_RATE / FRAME)
    # Whisper hears the pad too, so leave room for it inside the 30 s.
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
    used = 0
    for index, (start, end) in enumerate(padded):
        length = end - start
        if groups and used + length <= max_clip:
            groups[-1].append(index)
            used += length
            continue
        groups.append([index])
        used = length

    def seconds(frame: int) -> float:
        sample = min(frame * FRAME, window_samples) + offset_samples
        return round(sample / SAMPLE_RATE, 3)

    clips = []
    for group in groups:
        spans: list[Span] = []
        for i in group:  # padded neighbours that touch become one span
            a, b = seconds(padded[i][0]), seconds(padded[i][1])
            if spans and a <= spans[-1][1]:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
        voiced = tuple((seconds(pieces[i][0]), seconds(pieces[i][1])) for i in group)
        clips.append(Clip(spans=tuple(spans), voiced=voiced))
    return clips


def _pad(pieces: list[tuple[int, int]], pad: int, frame_count: int) -> list[tuple[int, int]]:
    """Widen each piece by `pad` frames without crossing the middle of the gap to a neighbour."""
    padded = []
    for index, (start, end) in enumerate(pieces):
        low = 0 if index == 0 else (pieces[index - 1][1] + start) // 2
        high = frame_count if index == len(pieces) - 1 else (end + pieces[index + 1][0]) // 2
        padded.append((max(low, start - pad), min(high, end + pad)))
    return padded
