"""Where a job's transcripts go without destroying anything SessionScribe did not write.

`<stem>.txt` beside `Session 12.m4a` may be the clinician's own notes, or the transcript of an
earlier `Session 12.wav`. A file at an output name is replaced only when the job store says a
job for this same recording (same path, or same content) wrote it; otherwise the outputs take
the first free name of `Session 12 (transcript).txt`, `Session 12 (transcript 2).txt`, ... and
the job says so in a note. Reruns find their own earlier outputs in the store and replace them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from engine.export import output_path

ALTERNATIVE = "{stem} (transcript)"
NUMBERED = "{stem} (transcript {number})"


def _same_file_key(path: Path | str) -> str:
    return os.path.normcase(os.path.abspath(path))


def own_outputs(store, recording: Path, fingerprint: str | None) -> set[str]:
    """Output files the store says jobs for this recording (same path or same content) wrote."""
    if store is None:
        return set()
    from engine.inputs import resolved

    here = {_same_file_key(recording), _same_file_key(resolved(recording))}
    owned: set[str] = set()
    for job in store.list_jobs():
        same = _same_file_key(job.input_path) in here or (
            fingerprint is not None and job.fingerprint == fingerprint
        )
        if same:
            owned.update(_same_file_key(path) for path in job.outputs.values())
    return owned


def clashes(stem: Path, formats: Sequence[str], owned: Iterable[str] = ()) -> list[Path]:
    """The files at `<stem>.<fmt>` that writing would replace and that are not ours."""
    owned = set(owned)
    return [
        path
        for path in (output_path(stem, fmt) for fmt in formats)
        if os.path.lexists(path) and _same_file_key(path) not in owned
    ]


def _free(stem: Path, formats: Sequence[str], owned: set[str]) -> bool:
    return not clashes(stem, formats, owned)


def choose_stem(stem: Path, formats: Sequence[str], owned: Iterable[str] = ()) -> Path:
    """`stem` when none of its outputs would replace a file we did not write for this
    recording; else the first free `<stem> (transcript)`, `<stem> (transcript 2)`, ..."""
    stem = Path(stem)
    owned = set(owned)
    if _free(stem, formats, owned):
        return stem
    number = 1
    while True:
        template = ALTERNATIVE if number == 1 else NUMBERED
        candidate = stem.with_name(template.format(stem=stem.name, number=number))
        if _free(candidate, formats, owned):
            return candidate
        number += 1
