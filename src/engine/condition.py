"""Stage 2 — condition: damaged samples, DC removal and silence finding.

All of it is O(n) chunked math: the seed's 8000-tap conv1d "silence
trim" spent 537 s on a 45-minute session; 100 ms RMS chunks give the same answer in
milliseconds. Nothing here moves the clock: the audio keeps its length and the silence
found is reported as chunk flags, which later stages use to skip and to trim edges.

Whisper hears the recording at its own level. Its log-Mel features are not level-invariant:
turning each window's peak down to -20 dBFS (the seed's normalization) cost 4-11 WER points
with tiny.en on two-voice sessions. And no decision here depends on the window's peak: with
peak normalization one 40-ms click at -1 dBFS in a quiet recording made the rest of its
120-s window "silence" (68 s of speech never reached the speech stage). Silence is an
absolute level, far below any voice.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.decode import SAMPLE_RATE

CHUNK_SAMPLES = SAMPLE_RATE // 10  # 100 ms RMS chunks
# A chunk quieter than this (RMS, absolute) is silence. Speech recorded as quietly as -40 dBFS
# peak still has 100-ms chunks above -65 dBFS RMS; digital silence, dither and the noise of a
# muted input are below it. The speech stage scans 0.5 s around every non-silent chunk, so
# soft word edges below the line are still heard.
SILENCE_DBFS = -70.0


@dataclass
class ConditionedAudio:
    audio: np.ndarray  # float32, same length as the input: the clock never moves
    chunk_active: np.ndarray  # bool per 100 ms chunk: True where the level is above silence
    dc_offset: float
    nonfinite: int = 0  # NaN/Inf samples (damaged float audio), replaced by silence
    loud_dbfs: float = -120.0  # RMS of the loudest 1 % of chunks: a level no click can move

    def edge_trim(self) -> tuple[int, int]:
        """(first, last) sample of non-silent audio, or (0, 0) for an all-silent window."""
        active = np.flatnonzero(self.chunk_active)
        if active.size == 0:
            return 0, 0
        start = int(active[0]) * CHUNK_SAMPLES
        end = min(self.audio.shape[0], (int(active[-1]) + 1) * CHUNK_SAMPLES)
        return start, end


@dataclass
class EdgeSilence:
    """Silence before the first sound and after the last, over a job's windows in order
    (in samples): the edges conditioning trims, reported in the run report."""

    leading: int = 0
    trailing: int = 0
    heard: bool = False

    def add(self, window: ConditionedAudio) -> None:
        start, end = window.edge_trim()
        length = window.audio.shape[0]
        if end == 0:  # a silent window: all leading, or all trailing so far
            if self.heard:
                self.trailing += length
            else:
                self.leading += length
            return
        if not self.heard:
            self.leading += start
            self.heard = True
        self.trailing = length - end


def _per_chunk(samples: np.ndarray, full: int, reduce) -> np.ndarray:
    """`reduce` over each 100-ms chunk (and the short last one), as float64."""
    values = np.asarray(reduce(samples[: full * CHUNK_SAMPLES].reshape(full, CHUNK_SAMPLES)), np.float64)
    if samples.shape[0] > full * CHUNK_SAMPLES:
        values = np.append(values, float(reduce(samples[full * CHUNK_SAMPLES :])))
    return values


def condition(audio: np.ndarray) -> ConditionedAudio:
    """Replace non-finite samples by silence, remove DC and flag silent 100 ms chunks.

    numpy on the host, where the decoder leaves the audio: about 0.09 s per 45 minutes on this
    project's 2-core CPU, a few passes over the samples. (It used to run in torch, which cost
    every CPU job a 250 MB, 1.7-s import that nothing else on the CPU needs.) Works in place on
    `audio` when it is float32 already (the pipeline owns each window). The level is left as
    recorded.
    """
    if audio.size == 0:
        return ConditionedAudio(audio.astype(np.float32), np.zeros(0, dtype=bool), 0.0)
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    # One NaN made the whole window's peak NaN and blanked it (251 of 487 words survived on a
    # 220-s float WAV with one NaN). Damaged samples become silence and are counted.
    finite = np.isfinite(samples)
    nonfinite = samples.shape[0] - int(np.count_nonzero(finite))
    if nonfinite:
        samples[~finite] = 0.0
    del finite
    count = samples.shape[0]
    full = count // CHUNK_SAMPLES
    sizes = np.full(full + (count > full * CHUNK_SAMPLES), float(CHUNK_SAMPLES))
    sizes[full:] = count - full * CHUNK_SAMPLES  # a short last chunk, if any
    # The median chunk mean: a recorder's DC offset is in every chunk, while a click's
    # one-sided energy would move a plain mean (and lift digital silence above the line).
    dc = float(np.median(_per_chunk(samples, full, lambda x: x.sum(axis=-1, dtype=np.float64)) / sizes))
    if abs(dc) > 1e-7:
        samples -= np.float32(dc)
    # Mean square per chunk of the centred samples (float32 sums are exact enough for dB).
    power = _per_chunk(samples, full, lambda x: np.einsum("...i,...i->...", x, x)) / sizes
    level_db = 10.0 * np.log10(np.maximum(power, 1e-12))
    active = level_db > SILENCE_DBFS
    loud = float(np.percentile(level_db, 99))
    return ConditionedAudio(
        audio=samples, chunk_active=active, dc_offset=dc, nonfinite=nonfinite, loud_dbfs=loud
    )
