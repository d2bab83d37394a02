"""Process-wide settings, in one place, applied by the entry points (CLI, app, benchmarks).

Library code never changes the process behind its caller's back; what it needs from the
process is set here, once, with the reason and the measured number beside each setting.
"""
from __future__ import annotations

import ctypes
import gc
import importlib
import sys
import threading


def prepare_process() -> None:
    """Everything a SessionScribe process sets for itself before its first job."""
    tune_malloc()


# glibc's mallopt() parameter numbers
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_MIB = 1 << 20


def tune_malloc(arenas: int = 2) -> None:
    """Set glibc's allocator up for a job: few arenas, big buffers kept between uses.

    - Arenas: each job runs its decode and prepare stages on fresh threads; glibc gives
      threads their own arenas (up to 8 per core) and memory freed in one is not reused by
      another, so a long queue of jobs fragmented into steadily growing RSS. Measured with
      bench/queue_memory.py: +33 MB over 40 jobs by default, flat (and 50 MB lower) with two.
    - Thresholds: by default a big buffer (above a sliding threshold of at most 32 MB: a
      batch's attention scores, a Silero batch) is mapped fresh and unmapped after each use,
      and the heap's top is handed back whenever it frees up, so the same memory is faulted
      in and zeroed again and again (a 20-min job: 250,000 page faults by default, 137,000
      with this). Buffers up to 256 MB now come from the heap and stay there; memory goes
      back to the OS after each job (`release_free_memory`).
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arenas)
        libc.mallopt(_M_MMAP_THRESHOLD, 256 * _MIB)
        libc.mallopt(_M_TRIM_THRESHOLD, 512 * _MIB)


def release_free_memory() -> None:
    """Give memory freed by the job back to the OS. glibc keeps freed blocks in per-thread
    arenas; over a queue of many jobs that reads as creeping RSS (measured: +47 MB over 40
    short jobs without this, +19 MB with it; see bench/queue_memory.py)."""
    gc.collect()  # cycles (generators, tracebacks) can hold a window's arrays until then
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc():
    """glibc's C library, or None elsewhere (macOS, Windows, musl): its allocator tuning
    does not apply there."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist (glibc only)
    except (OSError, AttributeError):
        return None
    return libc


def warm_imports(module: str = "faster_whisper") -> None:
    """Start importing `module` in the background: by default faster-whisper (CTranslate2,
    tokenizers, onnxruntime), which a job needs only once the first window is decoded.
    Idempotent; callers may start it as early as they like."""
    if module not in sys.modules:
        threading.Thread(
            target=_warm_import, args=(module,), daemon=True, name=f"import-{module}"
        ).start()


def _warm_import(module: str) -> None:
    """import_frozen(module) as a warm-up only: its failure is no one's to see. The caller's own
    import raises it again where it is handled; and when the process exits mid-import (a job
    that ended at once: a 1-s tone, no speech), the interpreter's teardown failed the import
    and the thread's traceback reached the user's terminal (a CI run, tests/test_safety.py)."""
    try:
        import_frozen(module)
    except BaseException:  # noqa: BLE001 - see the docstring
        pass


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
