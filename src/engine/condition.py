"""Stage 2 — condition: DC removal, peak normalization and silence finding, in torch.

All of it is O(n) chunked math on the chosen device: the seed's 8000-tap conv1d "silence
trim" spent 537 s on a 45-minute session; 100 ms RMS chunks give the same answer in
milliseconds. Nothing here moves the clock: the audio keeps its length and the silence
found is reported as chunk flags, which later stages use to skip and to trim edges.
"""
from __future__ import annotations

import gc
import importlib
import sys
import threading
from dataclasses import dataclass

import numpy as np

from engine.decode import SAMPLE_RATE

CHUNK_SAMPLES = SAMPLE_RATE // 10  # 100 ms RMS chunks
# A chunk quieter than this (after normalization) is silence. Speech normalized to a -20 dBFS
# peak sits around -35..-25 dBFS RMS; room noise is well under -60.
SILENCE_DBFS = -55.0


@dataclass
class ConditionedAudio:
    audio: np.ndarray  # float32, same length as the input: the clock never moves
    chunk_active: np.ndarray  # bool per 100 ms chunk: True where the level is above silence
    gain_db: float  # applied gain (0 when the window is digital silence)
    dc_offset: float

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


def warm_torch() -> None:
    """Start importing torch in the background: it takes 2-3 s, and conditioning needs it only
    once the first window is decoded. Idempotent; callers may start it as early as they like."""
    if "torch" not in sys.modules:
        threading.Thread(target=import_frozen, args=("torch",), daemon=True, name="import-torch").start()


def import_frozen(*modules: str) -> None:
    """Import `modules` with the cyclic garbage collector paused, then freeze what exists.

    torch's import creates about a million long-lived objects. With the collector running,
    the import keeps re-walking its own growing heap (measured: 2.1 s of CPU instead of 1.7 s),
    and every later full collection walks it again, on whichever thread allocates: in a job
    that is the transcribing thread, in the app the UI thread. Frozen objects are skipped by
    collections for the rest of the process; they are still freed by reference counting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def pick_device(requested: str):
    """The torch device for conditioning: CUDA when asked for and usable, else the CPU (and
    then torch gets one thread)."""
    import torch  # 2-3 s to import: kept off start-up, warmed while the first window decodes

    if requested == "cuda" and torch.cuda.is_available():
        return torch.device("cuda")
    # On the CPU, torch only runs small ops (this stage, log-Mel features) while CTranslate2
    # and the VAD threads keep every core busy; its idle OpenMP workers would spin between
    # those ops (measured: 0.27 s of CPU less per 20-min job with one thread).
    torch.set_num_threads(1)
    return torch.device("cpu")


def condition(audio: np.ndarray, target_dbfs: float = -20.0, device="cpu") -> ConditionedAudio:
    """Remove DC, bring the peak to `target_dbfs`, and flag silent 100 ms chunks.

    Works in place on `audio` when it already lives on the CPU as float32 (the pipeline owns
    each window): three passes over the samples in total, no temporaries of the audio's size.
    """
    import torch

    device = torch.device(device)
    if audio.size == 0:
        return ConditionedAudio(audio.astype(np.float32), np.zeros(0, dtype=bool), 0.0, 0.0)
    host = np.ascontiguousarray(audio, dtype=np.float32)
    samples = torch.from_numpy(host).to(device)
    count = samples.shape[0]
    pad = (-count) % CHUNK_SAMPLES
    chunks = torch.nn.functional.pad(samples, (0, pad)).view(-1, CHUNK_SAMPLES) if pad else (
        samples.view(-1, CHUNK_SAMPLES)
    )
    # One pass each for the per-chunk sums and norms; DC and RMS follow from them.
    chunk_sum = chunks.sum(dim=1).double()  # float32 is exact enough over 1600 samples
    chunk_sq = torch.linalg.vector_norm(chunks, dim=1).double().square()
    dc = float(chunk_sum.sum() / count)
    low, high = torch.aminmax(samples)
    peak = max(abs(float(low) - dc), abs(float(high) - dc))
    if peak < 1e-6:  # digital silence: nothing to normalize, nothing to find
        active = np.zeros(chunks.shape[0], dtype=bool)
        return ConditionedAudio(host, active, 0.0, dc)
    gain = (10.0 ** (target_dbfs / 20.0)) / peak
    sizes = torch.full_like(chunk_sum, float(CHUNK_SAMPLES))
    if pad:
        sizes[-1] = CHUNK_SAMPLES - pad
    # mean((x - dc)^2) per chunk, from the sums: no second look at the samples.
    centered_power = (chunk_sq - 2.0 * dc * chunk_sum + sizes * dc * dc) / sizes
    level_db = 10.0 * torch.log10((centered_power * gain * gain).clamp_min(1e-12))
    active = (level_db > SILENCE_DBFS).cpu().numpy()
    samples.sub_(dc).mul_(gain)
    if samples.device.type != "cpu":
        host = samples.cpu().numpy()
    return ConditionedAudio(
        audio=host, chunk_active=active, gain_db=float(20.0 * np.log10(gain)), dc_offset=dc
    )
