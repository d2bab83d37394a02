"""Stage 2 — condition: damaged samples, DC removal and silence finding, in torch.

All of it is O(n) chunked math on the chosen device: the seed's 8000-tap conv1d "silence
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

import gc
import importlib
import sys
import threading
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


def sizes_of(per_chunk, pad: int):
    """Samples in each 100-ms chunk (the last one may be short)."""
    import torch

    sizes = torch.full_like(per_chunk, float(CHUNK_SAMPLES))
    if pad:
        sizes[-1] = CHUNK_SAMPLES - pad
    return sizes


def condition(audio: np.ndarray, device="cpu") -> ConditionedAudio:
    """Replace non-finite samples by silence, remove DC and flag silent 100 ms chunks.

    Works in place on `audio` when it already lives on the CPU as float32 (the pipeline owns
    each window): a few passes over the samples in total, no temporaries of the audio's size.
    The level is left as recorded.
    """
    import torch

    device = torch.device(device)
    if audio.size == 0:
        return ConditionedAudio(audio.astype(np.float32), np.zeros(0, dtype=bool), 0.0)
    host = np.ascontiguousarray(audio, dtype=np.float32)
    samples = torch.from_numpy(host).to(device)
    # One NaN made the whole window's peak NaN and blanked it (251 of 487 words survived on a
    # 220-s float WAV with one NaN). Damaged samples become silence and are counted.
    finite = torch.isfinite(samples)
    nonfinite = int(samples.numel() - finite.sum())
    if nonfinite:
        samples.masked_fill_(~finite, 0.0)
    count = samples.shape[0]
    pad = (-count) % CHUNK_SAMPLES
    chunks = torch.nn.functional.pad(samples, (0, pad)).view(-1, CHUNK_SAMPLES) if pad else (
        samples.view(-1, CHUNK_SAMPLES)
    )
    # One pass each for the per-chunk sums and norms; DC and RMS follow from them.
    chunk_sum = chunks.sum(dim=1).double()  # float32 is exact enough over 1600 samples
    chunk_sq = torch.linalg.vector_norm(chunks, dim=1).double().square()
    # The median chunk mean: a recorder's DC offset is in every chunk, while a click's
    # one-sided energy would move a plain mean (and lift digital silence above the line).
    dc = float((chunk_sum / sizes_of(chunk_sum, pad)).median())
    sizes = sizes_of(chunk_sum, pad)
    # mean((x - dc)^2) per chunk, from the sums: no second look at the samples.
    centered_power = (chunk_sq - 2.0 * dc * chunk_sum + sizes * dc * dc) / sizes
    level_db = 10.0 * torch.log10(centered_power.clamp_min(1e-12))
    active = (level_db > SILENCE_DBFS).cpu().numpy()
    loud = float(torch.quantile(level_db.float(), 0.99)) if level_db.numel() else -120.0
    if abs(dc) > 1e-7:
        samples.sub_(dc)
    if samples.device.type != "cpu":
        host = samples.cpu().numpy()
    return ConditionedAudio(
        audio=host, chunk_active=active, dc_offset=dc, nonfinite=nonfinite, loud_dbfs=loud
    )
