"""`sessionscribe history list | delete | purge`, and the CLI on a damaged job store."""
from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path

import pytest

from engine import cli
from engine.segments import Segment
from engine.store import DB_NAME, JobStore

SECRET = "marmalade disclosure"
DAY = 86400.0


def _session(store: JobStore, name: str, status: str, age_days: float, duration: float = 125.0) -> str:
    job = store.create_job(Path("/recordings") / name, {}, "k", f"fp-{name}")
    for index in range(2):
        store.commit_window(
            job.id, index, index * 60.0, index * 60.0 + 60.0,
            [Segment(index * 60.0 + n, index * 60.0 + n + 0.5, f" {SECRET} {name} {n}") for n in range(30)],
            [],
        )
    store.set_duration(job.id, duration)
    if status == "done":
        store.finish(job.id, {}, {})
    else:
        store.set_status(job.id, status, f"{name}: stopped")
    _sql(store.path, "UPDATE jobs SET updated_at = ?, created_at = ? WHERE id = ?",
         time.time() - age_days * DAY, time.time() - age_days * DAY, job.id)
    return job.id


def _sql(path: Path, statement: str, *params) -> None:
    conn = sqlite3.connect(str(path))
    try:
        with conn:
            conn.execute(statement, params)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
    finally:
        conn.close()


def _on_disk(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith(DB_NAME))


@pytest.fixture
def sessions(tmp_path):
    with JobStore() as store:
        ids = {
            "old done": _session(store, "Old Client.m4a", "done", 40),
            "old cancelled": _session(store, "Cancelled Client.m4a", "cancelled", 35),
            "recent": _session(store, "Recent Client.m4a", "done", 1, duration=3725.0),
        }
        folder = store.path.parent
    return ids, folder


def test_history_list_shows_id_date_status_duration_and_name(sessions, capsys):
    ids, _folder = sessions
    assert cli.main(["history", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "LAST", "CHANGE", "STATUS", "DURATION", "RECORDING"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert len(rows) == 3
    recent = rows[ids["recent"][: cli.ID_WIDTH]]
    assert "done" in recent and "1:02:05" in recent and recent.endswith("Recent Client.m4a")
    assert "cancelled" in rows[ids["old cancelled"][: cli.ID_WIDTH]]


def test_history_delete_by_short_id_erases_the_text(sessions, capsys):
    ids, folder = sessions
    assert cli.main(["history", "delete", ids["recent"][:8]]) == 0
    assert "Deleted 1 session" in capsys.readouterr().err
    with JobStore() as store:
        assert store.get_job(ids["recent"]) is None
        assert {job.id for job in store.list_jobs()} == {ids["old done"], ids["old cancelled"]}
    assert b"Recent Client" not in _on_disk(folder)


def test_history_delete_of_an_unknown_id_is_one_line_and_deletes_nothing(sessions, capsys):
    ids, _folder = sessions
    assert cli.main(["history", "delete", ids["recent"], "feedbeef"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "feedbeef" in err and "Traceback" not in err
    with JobStore() as store:
        assert len(store.list_jobs()) == 3


def test_history_purge_deletes_old_sessions_whatever_their_status_and_scrubs_the_file(sessions, capsys):
    """Cancelled and failed jobs kept their text forever; purge removes it from the disk."""
    ids, folder = sessions
    assert SECRET.encode() in _on_disk(folder)
    assert cli.main(["history", "purge", "--older-than", "30"]) == 0
    assert "Deleted 2 sessions" in capsys.readouterr().err
    with JobStore() as store:
        assert [job.id for job in store.list_jobs()] == [ids["recent"]]
        assert store.integrity_ok()
    on_disk = _on_disk(folder)
    for name in (b"Old Client", b"Cancelled Client"):  # text, its folded copy, the index
        assert name not in on_disk and name.lower() not in on_disk
    assert b"Recent Client" in on_disk
    assert os.stat(folder / DB_NAME).st_size < 64 * 1024


@pytest.mark.parametrize("days", ["-1", "soon", "nan"])
def test_history_purge_needs_a_number_of_days(days, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["history", "purge", "--older-than", days])
    assert exit_info.value.code == 2


def test_a_session_running_in_a_live_process_is_not_purged(tmp_path, capsys):
    with JobStore() as store:
        job = store.create_job(Path("live.wav"), {}, "k", "fp", status="running")
        _sql(store.path, "UPDATE jobs SET updated_at = 0 WHERE id = ?", job.id)
        assert cli.main(["history", "purge", "--older-than", "0"]) == 0
        assert store.get_job(job.id) is not None
        assert cli.main(["history", "delete", job.id]) == 1
        assert "being transcribed" in capsys.readouterr().err


def test_names_with_control_characters_cannot_drive_the_terminal(tmp_path, capsys):
    with JobStore() as store:
        store.create_job(Path("/r/Jane\x1b]0;owned\x07\rDoe.wav"), {}, "k")
    assert cli.main(["history", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "Jane\\x1b]0;owned\\x07\\x0dDoe.wav" in out


def test_cli_goes_on_transcribing_when_the_store_is_damaged(speech_available, tiny_model, tmp_path):
    """Random bytes over one page: every later job used to fail (DatabaseError)."""
    from support.audio import session, write_audio
    from test_cli import run_cli

    with JobStore() as store:
        for n in range(6):
            _session(store, f"s{n}.wav", "done", 1)
        path = store.path
    with open(path, "r+b") as handle:
        handle.seek(2 * 4096)
        handle.write(random.Random(5).randbytes(4096))
    audio, _ = session([0.5, "We can start.", 0.5])
    recording = write_audio(tmp_path / "in" / "a.ogg", audio)
    result = run_cli("transcribe", str(recording), "--model", str(tiny_model), "--format", "txt")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "damaged" in line]
    assert len(warnings) == 1 and str(path.parent / "jobs.damaged-") in warnings[0]
    assert "Traceback" not in result.stderr
    kept = [p for p in path.parent.iterdir() if p.name.startswith("jobs.damaged-") and p.suffix == ".sqlite3"]
    assert len(kept) == 1 and (kept[0].stat().st_mode & 0o777) == 0o600
    again = run_cli("transcribe", str(recording), "--model", str(tiny_model), "--format", "txt")
    assert again.returncode == 0 and "damaged" not in again.stderr  # told once
    with JobStore() as store:
        assert [job.status for job in store.list_jobs()] == ["done"]
