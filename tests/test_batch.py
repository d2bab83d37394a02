"""`sessionscribe batch`: Slurm/Kubernetes array tasks over a manifest, as a user runs them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.batch import BatchUsageError, TaskPosition, read_manifest, slice_of, task_position
from support.audio import session, write_audio
from test_cli import run_cli

SLURM_UNSET = {"SLURM_ARRAY_TASK_ID": "", "SLURM_ARRAY_TASK_COUNT": "", "JOB_COMPLETION_INDEX": ""}


def test_slices_cover_every_entry_exactly_once_and_appending_moves_nothing():
    for total in (0, 1, 5, 17, 100):
        for count in (1, 2, 3, 8, 150):
            slices = [slice_of(total, index, count) for index in range(count)]
            taken = sorted(position for part in slices for position in part)
            assert taken == list(range(total)), (total, count)
            sizes = [len(part) for part in slices]
            assert max(sizes) - min(sizes) <= 1  # balanced
    # Entries appended to the manifest later never move an earlier one to another task.
    for count in (2, 3, 7):
        before = {p: i for i in range(count) for p in slice_of(40, i, count)}
        after = {p: i for i in range(count) for p in slice_of(55, i, count)}
        assert all(after[p] == task for p, task in before.items())


def test_manifest_lines_comments_and_relative_paths(tmp_path):
    manifest = tmp_path / "lists" / "files.txt"
    manifest.parent.mkdir()
    manifest.write_text("# January\n\n  a.wav  \nsub/b.m4a\n/abs/c.mp3\n   # indented comment\n")
    assert read_manifest(manifest) == [manifest.parent / "a.wav", manifest.parent / "sub" / "b.m4a", Path("/abs/c.mp3")]
    with pytest.raises(BatchUsageError, match="missing.txt: the manifest does not exist"):
        read_manifest(tmp_path / "missing.txt")


def test_task_position_from_the_scheduler():
    assert task_position(None, None, {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "8"}) == TaskPosition(3, 8)
    assert task_position(None, 4, {"JOB_COMPLETION_INDEX": "2"}) == TaskPosition(2, 4)
    assert task_position(1, 2, {"SLURM_ARRAY_TASK_ID": "7"}) == TaskPosition(1, 2)  # the options win
    with pytest.raises(BatchUsageError, match="--array=0-7"):
        task_position(8, 8, {})  # a 1-based array
    with pytest.raises(BatchUsageError, match="no --count"):
        task_position(0, None, {})


@pytest.fixture(scope="module")
def archive(speech_available, tmp_path_factory) -> Path:
    """Five entries: two recordings named s1 in different folders, a comment, a missing file."""
    root = tmp_path_factory.mktemp("archive")
    lines = ["We can start whenever you are ready.", "How was your week?", "Tell me more about that.",
             "What helped last time?"]
    for folder, name, text in (("jan", "s1.ogg", lines[0]), ("feb", "s1.ogg", lines[1]),
                               ("feb", "s2.ogg", lines[2]), ("mar", "s3.m4a", lines[3])):
        (root / folder).mkdir(exist_ok=True)
        audio, _ = session([0.5, text, 0.5])
        write_audio(root / folder / name, audio)
    (root / "files.txt").write_text(
        "# the archive\njan/s1.ogg\nfeb/s1.ogg\n\nfeb/s2.ogg\nmar/s3.m4a\nmar/never-recorded.wav\n"
    )
    return root


def _batch(archive: Path, out: Path, model: Path, *extra: str, env: dict | None = None):
    return run_cli("batch", "--manifest", str(archive / "files.txt"), "--model", str(model),
                   "--output-dir", str(out), "--format", "txt,srt", *extra,
                   env_extra={**SLURM_UNSET, **(env or {})})


def test_array_tasks_transcribe_every_recording_once_and_a_rerun_skips_them(archive, tiny_model, tmp_path):
    out = tmp_path / "out"
    results = [
        _batch(archive, out, tiny_model, env={"SLURM_ARRAY_TASK_ID": str(index), "SLURM_ARRAY_TASK_COUNT": "2"})
        for index in range(2)
    ]
    # Entries 0, 2, 4 (jan/s1, feb/s2, the missing one) and 1, 3 (feb/s1, mar/s3).
    assert results[0].returncode == 1, results[0].stderr  # the missing file fails, the rest goes on
    assert results[1].returncode == 0, results[1].stderr
    assert "slice 0 of 2: 3 of 5 recording(s)" in results[0].stderr
    errors = [line for line in results[0].stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: never-recorded.wav: file not found"]
    assert "2 of 3 recording(s) transcribed" in results[0].stderr
    assert "2 of 2 recording(s) transcribed" in results[1].stderr
    # Every recording once; the two s1 recordings do not overwrite each other.
    exports = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert exports == ["s1.ogg-2.srt", "s1.ogg-2.txt", "s1.ogg.srt", "s1.ogg.txt", "s2.srt", "s2.txt", "s3.srt", "s3.txt"]
    for result in results:  # and each task transcribed only its own
        done_lines = [line for line in result.stderr.splitlines() if ": done in " in line]
        assert len(done_lines) == 2
    assert sorted(p.name for p in (out / ".sessionscribe").iterdir()) == [
        "slice-0000-of-0002.sqlite3", "slice-0001-of-0002.sqlite3"]
    assert oct((out / ".sessionscribe").stat().st_mode & 0o777) == "0o700"

    # A rerun of slice 1 (the scheduler retried it) skips what it finished: no file rewritten.
    def stamps_now() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith(".")}

    stamps = stamps_now()
    again = _batch(archive, out, tiny_model, "--index", "1", "--count", "2")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already transcribed, skipped") == 2
    assert ": done in " not in again.stderr
    assert stamps_now() == stamps
    # An export deleted by hand is written again; only that recording is transcribed again.
    (out / "s3.srt").unlink()
    third = _batch(archive, out, tiny_model, "--index", "1", "--count", "2")
    assert third.returncode == 0, third.stderr
    assert third.stderr.count("already transcribed, skipped") == 1
    assert (out / "s3.srt").exists()
    assert (out / "s1.ogg-2.txt").stat().st_mtime_ns == stamps["s1.ogg-2.txt"]


def test_usage_errors_are_one_line_and_exit_2(archive, tiny_model, tmp_path):
    out = tmp_path / "out"
    first = _batch(archive, out, tiny_model, "--index", "0", "--count", "4")
    assert first.returncode == 1  # the missing recording is in slice 0 of 4 too
    for extra, expected in (
        (("--index", "4", "--count", "4"), "--index 4 is not one of 0..3"),
        (("--index", "0"), "no --count given"),
        (("--index", "0", "--count", "2"), "rerun with --count 4"),  # a rerun must cut the same slices
    ):
        result = _batch(archive, out, tiny_model, *extra)
        assert result.returncode == 2, (extra, result.stderr)
        assert result.stderr.strip().splitlines() == [f"sessionscribe: {result.stderr.split('sessionscribe: ', 1)[1].strip()}"]
        assert expected in result.stderr
    missing = run_cli("batch", "--manifest", str(tmp_path / "nope.txt"), "--index", "0", "--count", "1",
                      "--output-dir", str(out), env_extra=SLURM_UNSET)
    assert missing.returncode == 2 and "nope.txt: the manifest does not exist" in missing.stderr
    no_dir = run_cli("batch", "--manifest", str(archive / "files.txt"), "--index", "0", "--count", "1",
                     env_extra=SLURM_UNSET)
    assert no_dir.returncode == 2 and "needs --output-dir" in no_dir.stderr
