"""Long recordings are processed in windows cut at silences, so memory stays flat.

Cuts depend only on the decoded samples (never on block sizes or timing), so a rerun cuts the
same windows: the job store relies on that to resume after the last committed window.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from engine.condition import CHUNK_SAMPLES
from engine.decode import SAMPLE_RATE

# Window length by device. Clips are packed within a window, so its last clip is part-full:
# on a 12-min two-voice session 120-s windows gave 18 clips (76 % full), 300-s windows 15
# (91 %), and every clip is a full 30-s encoder pass. Decoding and speech detection run far
# ahead of transcription, so a longer window costs no tail. On a GPU long windows also give
# enough clips to fill batches of 16.
WINDOW_S_CPU = 300.0  # ~19 MB of float32
WINDOW_S_GPU = 600.0  # ~38 MB
WINDOW_S = WINDOW_S_CPU
# The first window is short so transcription starts within a second of decoding.
FIRST_WINDOW_S = 60.0
CUT_SEARCH_S = 30.0  # the cut goes in the quietest stretch of the window's last 30 s
SMOOTH_CHUNKS = 5  # half a second
# Chunks within 3 dB of the quietest half second count as equally quiet: the noise floor of
# a pause wobbles by more than that from one moment to the next.
QUIET_MARGIN = 2.0


def quietest_cut(audio: np.ndarray, search_from: int, search_to: int) -> int:
    """Sample index (on the 100 ms grid) in the middle of the longest quiet stretch.

    A cut always ends a clip, so where it goes among equally quiet moments matters: in a
    breath between two sentences it splits what would have been one clip for the model (an
    extra 30-s encoder pass); in the longest pause it costs nothing, since a pause over 2 s
    ends a clip anyway. On the 20-min benchmark session: 57 clips -> 55, and every cut but
    two falls in a pause over 2 s.
    """
    first = search_from // CHUNK_SAMPLES
    last = search_to // CHUNK_SAMPLES
    if audio.ndim == 2:  # (channels, n): quiet on every channel (a pause of both speakers)
        chunks = audio[:, first * CHUNK_SAMPLES : last * CHUNK_SAMPLES].reshape(audio.shape[0], -1, CHUNK_SAMPLES)
        energy = np.einsum("cij,cij->i", chunks, chunks, dtype=np.float64)
    else:
        chunks = audio[first * CHUNK_SAMPLES : last * CHUNK_SAMPLES].reshape(-1, CHUNK_SAMPLES)
        energy = np.einsum("ij,ij->i", chunks, chunks, dtype=np.float64)
    energy[~np.isfinite(energy)] = np.inf  # damaged float audio (NaN) counts as loud
    kernel = np.ones(SMOOTH_CHUNKS)
    # Mean, not sum: at the edges fewer chunks are summed, which would look quieter.
    counts = np.convolve(np.ones_like(energy), kernel, mode="same")
    smoothed = np.convolve(energy, kernel, mode="same") / counts
    quiet = smoothed <= smoothed.min() * QUIET_MARGIN
    edges = np.diff(np.concatenate(([0], quiet.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))  # the first of equally long stretches
    middle = (int(starts[longest]) + int(ends[longest])) // 2
    return (first + middle) * CHUNK_SAMPLES


def cut_windows(
    blocks: Iterable[np.ndarray],
    window_s: float = WINDOW_S,
    search_s: float = CUT_SEARCH_S,
    first_window_s: float | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """(offset in samples, window audio) for consecutive windows of about `window_s`
    (the first one about `first_window_s`, when given). Blocks may be mono (n,) or
    (channels, n): all channels are cut at the same sample."""
    def sizes(seconds: float) -> tuple[int, int]:
        search_now = min(search_s, seconds / 2)  # short test windows too
        return int(seconds * SAMPLE_RATE), int(search_now * SAMPLE_RATE)

    window, search = sizes(first_window_s or window_s)
    pending: list[np.ndarray] = []
    buffered = 0
    offset = 0
    for block in blocks:
        pending.append(block)
        buffered += block.shape[-1]
        while buffered >= window:
            joined = np.concatenate(pending, axis=-1) if len(pending) > 1 else pending[0]
            cut = quietest_cut(joined, window - search, window)
            yield offset, joined[..., :cut].copy()
            rest = joined[..., cut:]
            pending, buffered, offset = [rest], rest.shape[-1], offset + cut
            window, search = sizes(window_s)
    if buffered:
        yield offset, (np.concatenate(pending, axis=-1) if len(pending) > 1 else pending[0]).copy()
