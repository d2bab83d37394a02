"""`sessionscribe batch`: one slice of a manifest, for Slurm array jobs and Kubernetes Indexed Jobs.

An archive of thousands of sessions runs with the scheduler a site already has: every array
task reads the same manifest (one recording per line), takes its own slice and transcribes
it like `sessionscribe transcribe` would, with no new dependency.

- Slices: entry i (after folders are expanded and repeats dropped, in manifest order) belongs
  to task i mod K. Every entry is in exactly one slice, the split is the same in every task
  (it depends on nothing but the manifest), and appending to the manifest moves no entry
  already there to another task. Round robin also spreads a manifest sorted by date or length
  evenly, where contiguous blocks would give one task all the long sessions.
- Output names: planned over the whole manifest (engine.inputs.plan_output_stems), not the
  slice, so `a/s1.wav` and `b/s1.wav` in different tasks still get `s1.*` and `s1-2.*`.
- Job store: one per slice, `<output dir>/.sessionscribe/slice-<N>-of-<K>.sqlite3`, written by
  that task only. Not the user's own store: on a cluster the home folder is usually NFS or
  Lustre, where SQLite's write-ahead log (shared memory between the processes writing) does
  not work across nodes, and a hundred tasks writing one file would corrupt it; and a store on
  a node's local disk would not be found by a rerun that lands on another node. One writer
  per file, on the shared file system next to the exports, is safe and survives reruns. It
  holds the transcripts too (it is what lets a killed task resume mid-recording): it is 0600
  in a 0700 folder; delete the folder when the archive is done.
- Reruns: a recording whose job in the slice's store is done, for the same content and
  transcript options, with every export asked for still on disk, is skipped without decoding
  it; one that was cut off carries on from its last finished window (the engine's resume).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence


STORE_FOLDER = ".sessionscribe"
INDEX_ENV = ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")  # Slurm arrays, Kubernetes Indexed Jobs
COUNT_ENV = ("SLURM_ARRAY_TASK_COUNT",)  # Kubernetes does not tell a pod its Job's completions


class BatchUsageError(ValueError):
    """The manifest or the slice asked for cannot be used: one human line (exit code 2)."""


# -- the manifest ---------------------------------------------------------------------------
def read_manifest(manifest: Path) -> list[Path]:
    """The recordings a manifest lists, in order: one path per line; blank lines and lines
    starting with # are ignored; relative paths are relative to the manifest's folder."""
    try:
        text = Path(manifest).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchUsageError(f"{manifest.name}: the manifest does not exist") from None
    except UnicodeDecodeError:
        raise BatchUsageError(f"{manifest.name}: the manifest is not UTF-8 text (one path per line)") from None
    except OSError as error:
        raise BatchUsageError(f"{manifest.name}: could not read the manifest ({error.strerror or error})") from None
    base = Path(manifest).parent
    entries = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry).expanduser()
        entries.append(path if path.is_absolute() else base / path)
    return entries


def slice_of(count_entries: int, index: int, count: int) -> list[int]:
    """Positions of the entries task `index` of `count` transcribes (round robin)."""
    return list(range(index, count_entries, count))


@dataclass(frozen=True)
class TaskPosition:
    index: int
    count: int


def task_position(index: int | None, count: int | None, environ: Mapping[str, str] = os.environ) -> TaskPosition:
    """--index / --count, else the scheduler's variables; raises BatchUsageError when the
    slice is not known or not one of the `count`."""
    if index is None:
        index = _from_env(INDEX_ENV, environ)
    if count is None:
        count = _from_env(COUNT_ENV, environ)
    if index is None:
        raise BatchUsageError("no --index given, and neither $SLURM_ARRAY_TASK_ID nor $JOB_COMPLETION_INDEX is set")
    if count is None:
        raise BatchUsageError("no --count given, and $SLURM_ARRAY_TASK_COUNT is not set")
    if count < 1:
        raise BatchUsageError(f"--count must be at least 1 (got {count})")
    if not 0 <= index < count:
        raise BatchUsageError(
            f"--index {index} is not one of 0..{count - 1} (slices count from 0: a Slurm array for "
            f"{count} tasks is --array=0-{count - 1})"
        )
    return TaskPosition(index, count)


def _from_env(names: Sequence[str], environ: Mapping[str, str]) -> int | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                raise BatchUsageError(f"${name} is {value!r}, not a whole number") from None
    return None


# -- the slice's job store ------------------------------------------------------------------
def slice_store_path(output_dir: Path, position: TaskPosition) -> Path:
    return Path(output_dir) / STORE_FOLDER / f"slice-{position.index:04d}-of-{position.count:04d}.sqlite3"


def check_same_count(output_dir: Path, position: TaskPosition) -> None:
    """A rerun must cut the manifest the same way, or it would find none of its finished work
    (and could transcribe recordings a second time under new names): refuse another count."""
    folder = Path(output_dir) / STORE_FOLDER
    try:
        names = os.listdir(folder)
    except OSError:
        return
    counts = set()
    for name in names:
        parts = name.removesuffix(".sqlite3").split("-")
        if len(parts) == 4 and parts[0] == "slice" and parts[2] == "of" and parts[3].isdigit():
            counts.add(int(parts[3]))
    others = sorted(counts - {position.count})
    if others:
        raise BatchUsageError(
            f"{Path(output_dir).name} holds slices of a run with --count {others[0]}; rerun with "
            f"--count {others[0]} (or choose another --output-dir)"
        )


def finished_job(store, path: Path, options) -> object | None:
    """The slice store's finished job for this recording, when a rerun may skip it: done,
    same transcript options, same content, and every export asked for still on disk."""
    if store is None:
        return None
    from engine.store import file_fingerprint

    record = store.latest_for_path(path)
    if record is None or record.status != "done":
        return None
    if not record.options_key.startswith(options.transcript_key() + ":"):
        return None
    if any(fmt not in record.outputs or not os.path.isfile(record.outputs[fmt]) for fmt in options.formats):
        return None
    try:
        if record.fingerprint != file_fingerprint(path):
            return None
    except OSError:
        return None  # gone or unreadable: the engine says so in one line
    return record


# -- the command ----------------------------------------------------------------------------
def add_batch_command(commands, add_job_options: Callable[[argparse.ArgumentParser], None]) -> None:
    batch = commands.add_parser(
        "batch",
        help="transcribe one slice of a manifest (a Slurm array task, a Kubernetes Indexed Job pod)",
        description="Transcribe the recordings of slice N of K of a manifest: entry i belongs to slice i mod K. "
        "Run K tasks with N = 0..K-1 and every entry is transcribed exactly once. A rerun of a slice skips the "
        "recordings it finished and resumes the one it was transcribing.",
        epilog="Exit code: 0 all of the slice done, 1 any recording failed (the others are still done), 2 wrong usage.",
    )
    batch.add_argument("--manifest", required=True, type=Path, metavar="FILES.txt",
                       help="one recording (or folder) per line; blank lines and # comments are ignored; "
                       "relative paths are relative to the manifest's folder")
    batch.add_argument("--index", type=int, default=None, metavar="N",
                       help="which slice, from 0. Default: $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX")
    batch.add_argument("--count", type=int, default=None, metavar="K",
                       help="how many slices. Default: $SLURM_ARRAY_TASK_COUNT. Give it explicitly when you "
                       "rerun only some tasks of an array")
    add_job_options(batch)


def batch_command(args: argparse.Namespace) -> int:
    from engine.cli import (
        EXIT_FAILED,
        EXIT_USAGE,
        ProgressPrinter,
        _open_store,
        _say,
        check_model_arg,
        finish_run,
        run_jobs,
        start_run,
    )
    from engine.inputs import expand_inputs, plan_output_stems

    if args.output_dir is None:
        _say("sessionscribe: batch needs --output-dir (its tasks keep their job history there)")
        return EXIT_USAGE
    try:
        position = task_position(args.index, args.count)
        entries = read_manifest(args.manifest)
        check_same_count(args.output_dir, position)
    except BatchUsageError as error:
        _say(f"sessionscribe: {error}")
        return EXIT_USAGE
    options = start_run(args)
    inputs, notes = expand_inputs(entries)  # folders expanded, the same file listed twice kept once
    stems = plan_output_stems(inputs, args.output_dir)  # over the whole manifest: no clash between slices
    mine = [inputs[i] for i in slice_of(len(inputs), position.index, position.count)]
    if position.index == 0:  # the same notes in every task: once is enough
        for note in notes:
            _say(f"note: {note}")
    _say(f"slice {position.index} of {position.count}: {len(mine)} of {len(inputs)} recording(s)")
    if not mine:
        print("0 of 0 recording(s) transcribed", file=sys.stderr)
        return 0
    if not check_model_arg(args.model):
        return EXIT_FAILED
    store = _open_store(slice_store_path(args.output_dir, position))
    try:
        todo = []
        for path in mine:
            if finished_job(store, path, options) is not None:
                _say(f"{path.name}: already transcribed, skipped")
            else:
                todo.append(path)
        failures, reports = run_jobs(todo, stems, options, store, ProgressPrinter(sys.stderr).handle)
    finally:
        if store is not None:
            store.close()
    return finish_run(args.report, len(mine), failures, reports)
