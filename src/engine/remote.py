"""The worker's half of a cluster run: the engine on one recording, its transcript handed back.

Imports no Ray (engine.cluster wraps `TranscribeWorker` as a Ray actor), so it runs and is
tested in one process as well.

A worker writes no files. Its engine runs with no export formats and a `MemoryStore` instead
of the job store: the engine's `Transcript` and the windows it would commit are kept in memory
and returned, and the driver, the one writer, renders the exports from that `Transcript` with
the engine's own renderer (engine.export.write_outputs) and fills its job store. Audio arrives as a path when the worker
sees the same file (a shared file system), else as bytes, which stay in memory (/dev/shm)
while the decoder reads them and are deleted after.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from engine import events as ev
from engine.options import TranscribeOptions
from engine.report import RunReport
from engine.store import JobRecord, WindowRecord
from engine.transcript import Transcript

# StageProgress is forwarded at most this often per job and stage (the last, 100 %, always):
# every event is a call to the driver's queue (~1 ms on one machine, a network round trip on
# a cluster), and the terminal redraws no faster than this anyway.
PROGRESS_EVERY_S = 0.25
# Memory-backed, so audio sent as bytes never reaches a disk; elsewhere the system's temp folder.
RAM_DIR = Path("/dev/shm")


@dataclass(frozen=True)
class AudioSource:
    """Where a worker finds a recording: the driver's path (used when the worker sees a file
    there of the same size and modification time) or, resent when it does not, its bytes."""

    path: str
    name: str
    size: int
    mtime_ns: int
    data: bytes | None = None

    @classmethod
    def of(cls, path: Path) -> "AudioSource":
        info = os.stat(path)
        return cls(str(path), Path(path).name, info.st_size, info.st_mtime_ns)

    def visible_here(self) -> bool:
        try:
            info = os.stat(self.path)
        except OSError:
            return False
        return info.st_size == self.size and info.st_mtime_ns == self.mtime_ns


@dataclass
class RemoteTranscript:
    """What a worker sends back: everything the driver needs to write the exports and the job
    store byte for byte as a local run would, and nothing else (no audio)."""

    job_id: str
    status: str  # "done" | "failed" | "cancelled" | "need-bytes" (the path is not visible here)
    reason: str | None = None
    transcript: Transcript | None = None  # what the exports are rendered from
    windows: list[WindowRecord] = field(default_factory=list)  # the same, as the store keeps it
    fingerprint: str | None = None
    options_key: str | None = None
    report: RunReport | None = None
    worker: str = ""  # host:pid, for notes and tests; never a recording's name


class MemoryStore:
    """The job store protocol the engine uses, for one job, in memory: it keeps the windows
    committed and the settings resolved, so they can travel back instead of to a disk."""

    def __init__(self, job_id: str, path: Path, options: TranscribeOptions) -> None:
        now = time.time()
        self.record = JobRecord(
            id=job_id, input_path=Path(path), input_name=Path(path).name, fingerprint=None,
            options_key="", options=options.to_dict(), status="running", reason=None,
            language=None, duration_s=None, created_at=now, updated_at=now,
        )
        self.committed: dict[int, WindowRecord] = {}

    def get_job(self, job_id: str) -> JobRecord | None:
        return self.record if job_id == self.record.id else None

    def find_resumable(self, *_args, **_kwargs) -> None:
        return None  # a cluster task always starts from the recording's beginning

    def list_jobs(self) -> list[JobRecord]:
        return []  # no outputs on a worker: nothing of ours to protect

    def _change(self, **changes) -> None:
        self.record = replace(self.record, updated_at=time.time(), **changes)

    def set_status(self, job_id: str, status: str, reason: str | None = None) -> None:
        self._change(status=status, reason=reason)

    def set_fingerprint(self, job_id: str, fingerprint: str, options_key: str) -> None:
        self._change(fingerprint=fingerprint, options_key=options_key)

    def set_language(self, job_id: str, language: str) -> None:
        self._change(language=language)

    def set_duration(self, job_id: str, seconds: float) -> None:
        self._change(duration_s=float(seconds))

    def reset_windows(self, job_id: str) -> None:
        self.committed.clear()

    def windows(self, job_id: str) -> list[WindowRecord]:
        return [self.committed[index] for index in sorted(self.committed)]

    def commit_window(self, job_id, index, start_s, end_s, segments, speech, voices=None) -> None:
        self.committed[index] = WindowRecord(
            index, float(start_s), float(end_s), [(float(a), float(b)) for a, b in speech], list(segments), voices
        )

    def relabel_window(self, job_id: str, index: int, segments) -> None:
        self.committed[index] = replace(self.committed[index], segments=list(segments))

    def finish(self, job_id: str, outputs: dict, report: dict, transcript_info: dict | None = None) -> None:
        self._change(status="done")

    def create_job(self, *_args, **_kwargs) -> JobRecord:
        raise AssertionError("MemoryStore holds the one job it was made for")


class EventForwarder:
    """The engine's event sink on a worker: passes what the driver's terminal shows on to
    `send`. Left out: transcript text (SegmentReady), and the job's ending and export stage,
    which the driver reports itself once it has written the files (so a job retried after a
    lost worker still ends exactly once)."""

    def __init__(self, send: Callable[[object], None]) -> None:
        self._send = send
        self._last: dict[tuple[str, str], float] = {}

    def __call__(self, event) -> None:
        if isinstance(event, (ev.SegmentReady, ev.JobDone, ev.JobFailed, ev.JobCancelled)):
            return
        if isinstance(event, (ev.StageStarted, ev.StageProgress, ev.StageFinished)) and event.stage is ev.Stage.EXPORT:
            return
        if isinstance(event, ev.StageProgress) and event.fraction < 1.0:
            key = (event.job_id, event.stage.value)
            now = time.monotonic()
            if now - self._last.get(key, 0.0) < PROGRESS_EVERY_S:
                return
            self._last[key] = now
        self._send(event)


class TranscribeWorker:
    """One engine, its model loaded once and kept for every recording this worker is given."""

    def __init__(self, send: Callable[[object], None] | None = None) -> None:
        from engine.pipeline import Engine

        self._engine = Engine(EventForwarder(send or (lambda _event: None)))
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()

    def transcribe(self, job_id: str, source: AudioSource, options: TranscribeOptions) -> RemoteTranscript:
        # No formats, no folder: the engine writes nothing here (the driver writes the exports).
        options = options.with_changes(formats=(), output_dir=None)
        # size -1: the driver could not read it either; the engine says why, as in a local run.
        if source.data is None and source.size >= 0 and not source.visible_here():
            return RemoteTranscript(job_id, "need-bytes", worker=self.name)
        with _local_copy(source) as path:
            store = MemoryStore(job_id, path, options)
            self._engine.store = store
            try:
                outcome = self._engine.transcribe(path, options, job_id=job_id)
            finally:
                self._engine.store = None
        record = store.record
        if outcome.status != "done":
            return RemoteTranscript(job_id, outcome.status, outcome.reason, worker=self.name)
        return RemoteTranscript(
            job_id, "done",
            transcript=outcome.transcript,
            windows=store.windows(job_id),
            fingerprint=record.fingerprint,
            options_key=record.options_key,
            report=outcome.report,
            worker=self.name,
        )


class _local_copy:
    """The recording as a path on this machine: the shared one, or its bytes in a private
    folder (0700, in memory where /dev/shm exists) under the recording's own name, so every
    message and the JSON metadata name it as a local run would; removed on exit."""

    def __init__(self, source: AudioSource) -> None:
        self._source = source
        self._folder: str | None = None

    def __enter__(self) -> Path:
        if self._source.data is None:
            return Path(self._source.path)
        base = RAM_DIR if RAM_DIR.is_dir() and os.access(RAM_DIR, os.W_OK) else None
        self._folder = tempfile.mkdtemp(prefix="sessionscribe-", dir=base)  # 0700
        path = Path(self._folder) / self._source.name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(self._source.data)
        os.utime(path, ns=(self._source.mtime_ns, self._source.mtime_ns))
        return path

    def __exit__(self, *_exc) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
