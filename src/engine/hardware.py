"""How to run on this machine: device, compute type, batch size and thread counts.

Lesson from the seed: 24 workers pegged the CPU at 99.97 % while the GPU idled at 1.45 %.
Throughput comes from GPU batching; CPU threads are few and chosen from the hardware.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from engine.options import TranscribeOptions

GIB = 1024**3
DEFAULT_MODEL_CUDA = "large-v3-turbo"
DEFAULT_MODEL_CPU = "small"
# On the CPU a batch buys no speed and costs memory (the beam's cross-attention cache grows
# with batch x beam): the cores go to parallel workers instead (CPU_MAX_WORKERS), each
# decoding one clip at a time. 10-min session, tiny.en, 2 cores, process wall / peak RSS:
# 2 workers x batch 1 10.3-10.9 s / 696-733 MB; x batch 2 11.4-11.9 s / 798-928 MB; x batch 3
# 11.9-12.4 s / 984-1,045 MB; one worker of 2 threads x batch 4 (the plan before) 17.1-17.7 s
# / 884-967 MB; faster-whisper batched (batch 8) 14.2-15.2 s / 929 MB.
CPU_BATCH_SIZE = 1
# One CTranslate2 worker per core, up to this many: a worker of several OpenMP threads spends
# much of each decoder step waking and parking its team (the decoder's operations are small;
# 2 cores: 6 s of the job's 25 s of CPU were system time, mostly futex wake-ups), while
# workers of one thread each decode their own clips side by side (system time 0.8-1.1 s).
# Each holds one clip's working set (~75 MB with tiny.en): at the cap, as many beams are in
# flight as in the one batch of 4 before, so memory never exceeds the old plan's. The cap is
# a guess for bigger CPUs; only 2 cores were measured.
CPU_MAX_WORKERS = 4


@dataclass(frozen=True)
class Runtime:
    device: str  # "cuda" | "cpu": what will actually run
    compute_type: str
    batch_size: int
    cpu_threads: int  # CTranslate2 intra-op threads
    num_workers: int  # CTranslate2 inter-op workers (parallel generate calls)
    vad_workers: int  # Silero VAD threads
    model: str  # the model name or folder asked for, "auto" resolved
    free_vram_bytes: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)


def cpu_split(cores: int, threads: int | None = None, workers: int | None = None) -> tuple[int, int]:
    """(CTranslate2 workers, threads each) for `cores` on the CPU: one worker per core up to
    CPU_MAX_WORKERS, the cores shared out among them. Given `workers`, the cores are shared
    out among them; given `threads` only, as many workers of that many threads as the cores
    hold."""
    if workers:
        return workers, threads or max(1, cores // workers)
    if threads:
        return max(1, min(CPU_MAX_WORKERS, cores // threads)), threads
    workers = max(1, min(CPU_MAX_WORKERS, cores))
    return workers, max(1, cores // workers)


def usable_cores() -> int:
    """Physical cores this process may use (hyper-threads add little to these workloads)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        allowed = os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or allowed
    return max(1, min(allowed, physical))


def batch_size_for_vram(free_bytes: int, model_bytes: int | None) -> int:
    """8 GB free -> 8, 16 GB+ -> 16 for a large-v3-sized model; smaller models get more.

    The table is the measured one for large-v3 (1.5 B parameters, ~3 GB in float16); a model
    a quarter of that size leaves room for about twice the batch.
    """
    if free_bytes >= 16 * GIB:
        size = 16
    elif free_bytes >= 8 * GIB:
        size = 8
    elif free_bytes >= 4 * GIB:
        size = 4
    else:
        size = 2
    if model_bytes is not None and model_bytes > 0:
        large_v3_bytes = 3 * GIB
        if model_bytes <= large_v3_bytes // 8:
            size *= 4
        elif model_bytes <= large_v3_bytes // 3:
            size *= 2
    return min(size, 64)


def model_size_bytes(model_dir: Path | None) -> int | None:
    if model_dir is None:
        return None
    weights = model_dir / "model.bin"
    return weights.stat().st_size if weights.exists() else None


def plan_runtime(
    options: TranscribeOptions,
    cuda_usable: bool,
    free_vram_bytes: int | None = None,
    model_dir: Path | None = None,
    cores: int | None = None,
) -> Runtime:
    """Resolve every 'auto' in `options`; explicit settings always win."""
    cores = cores or usable_cores()
    notes: list[str] = []
    device = options.device
    if device == "auto":
        device = "cuda" if cuda_usable else "cpu"
    elif device == "cuda" and not cuda_usable:
        notes.append("CUDA was asked for but is not usable here; running on the CPU")
        device = "cpu"

    compute_type = options.compute_type
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    elif device == "cpu" and compute_type in ("float16", "int8_float16"):
        notes.append(f"{compute_type} needs a GPU; using int8 on the CPU")
        compute_type = "int8"

    model = options.model
    if model == "auto":
        model = DEFAULT_MODEL_CUDA if device == "cuda" else DEFAULT_MODEL_CPU

    if options.batch_size:
        batch_size = options.batch_size
    elif device == "cuda":
        batch_size = batch_size_for_vram(free_vram_bytes or 0, model_size_bytes(model_dir))
    else:
        batch_size = CPU_BATCH_SIZE

    if device == "cuda":
        # The GPU does the heavy work: a few CPU threads feed it (decode, VAD, features).
        cpu_threads = min(4, cores)
        num_workers = 1
        vad_workers = max(1, min(4, cores - 1))
    else:
        # CTranslate2 gets every core, as parallel workers (CPU_MAX_WORKERS); VAD shares
        # them (it runs while the previous window transcribes, so both stay busy without
        # oversubscribing).
        num_workers, cpu_threads = cpu_split(cores, options.cpu_threads, options.num_workers)
        vad_workers = max(1, min(4, cores))
    return Runtime(
        device=device,
        compute_type=compute_type,
        batch_size=batch_size,
        cpu_threads=options.cpu_threads or cpu_threads,
        num_workers=options.num_workers or num_workers,
        vad_workers=vad_workers,
        model=model,
        free_vram_bytes=free_vram_bytes,
        notes=tuple(notes),
    )
