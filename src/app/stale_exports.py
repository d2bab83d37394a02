"""Exports beside the recording that a transcript edit has made stale, and bringing them up
to date without touching anything SessionScribe did not write (no Qt here).

A file is rewritten only when (1) the job store lists it as one of this job's outputs (the
same rule the engine uses on a rerun) and (2) its content is still what SessionScribe wrote
or last saw there (a sha256 taken when the job's outputs were first shown or written): a
file the user changed or replaced since is left alone and named.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine import SessionScribeError


@dataclass
class OutputStamp:
    digest: str  # sha256 of the content SessionScribe wrote (or found when it first looked)
    written_at: float  # seconds since the epoch; an edit after this makes the file stale
    ours: bool = True  # False once found changed by someone else: never listed or rewritten again


@dataclass
class UpdateResult:
    written: list[Path] = field(default_factory=list)
    changed_outside: list[Path] = field(default_factory=list)  # not ours any more: left alone
    failed: list[str] = field(default_factory=list)  # one line each


def digest(path: Path) -> str | None:
    hasher = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
    except OSError:
        return None
    return hasher.hexdigest()


def stamp_outputs(job) -> None:
    """Remember what is in each of the job's outputs now, once per file (before any edit can
    make it stale). Missing files get no stamp."""
    for path in job.outputs.values():
        key = str(path)
        if key in job.output_stamps:
            continue
        found = digest(Path(path))
        if found is None:
            continue
        try:
            written_at = os.stat(path).st_mtime
        except OSError:
            continue
        if job.edited_while_running:
            written_at = 0.0  # the engine wrote its own text, without the edits made meanwhile
        job.output_stamps[key] = OutputStamp(found, written_at)


def note_written(job, path: Path) -> None:
    """SessionScribe has just written `path` with the current transcript (e.g. "Export" to one
    of the job's own output names): it is up to date, and still ours."""
    stamp = job.output_stamps.get(str(path))
    if stamp is not None and stamp.ours:
        job.output_stamps[str(path)] = OutputStamp(digest(Path(path)) or "", time.time())


def stale_outputs(job) -> list[Path]:
    """The job's outputs written before its last edit (those still on disk), in format order."""
    if job.edited_at is None:
        return []
    stale = []
    for path in job.outputs.values():
        stamp = job.output_stamps.get(str(path))
        if stamp is not None and stamp.ours and stamp.written_at < job.edited_at and Path(path).exists():
            stale.append(Path(path))
    return stale


def update_outputs(job) -> UpdateResult:
    """Rewrite the job's stale outputs from its corrected transcript, atomically, with the
    engine's own renderer, keeping each file's permissions (never more readable than the
    recording)."""
    from engine import export_transcript, mode_limit

    result = UpdateResult()
    formats = {str(path): fmt for fmt, path in job.outputs.items()}
    transcript = job.current_transcript()
    for path in stale_outputs(job):
        stamp = job.output_stamps[str(path)]
        if digest(path) != stamp.digest:
            stamp.ours = False
            result.changed_outside.append(path)
            continue
        try:
            export_transcript(transcript, path, formats[str(path)], max_mode=mode_limit(job.path))
        except (SessionScribeError, OSError, ValueError) as error:
            result.failed.append(" ".join(str(error).split()))
            continue
        note_written(job, path)
        result.written.append(path)
    return result
