"""Private by construction: no network, no text in logs, nothing left in TMPDIR."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine.options import TranscribeOptions
from engine.pipeline import Engine
from engine.store import JobStore
from support.audio import session, write_audio

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach another machine fails loudly and is recorded."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", lambda self, *a, **k: refuse(*a))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, *a, **k: refuse(*a))
    monkeypatch.setattr(socket.socket, "sendto", lambda self, *a, **k: refuse(*a))
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_a_whole_job_runs_with_sockets_blocked(no_network, speech_available, tiny_model, tmp_path):
    from engine.logs import setup_logging

    setup_logging()
    audio, _ = session([1.0, "Nothing here may leave this machine."])
    path = write_audio(tmp_path / "private.m4a", audio)
    with JobStore() as store:
        outcome = Engine(store=store).transcribe(
            path, TranscribeOptions(model=str(tiny_model), word_timestamps=True)
        )
    assert outcome.status == "done", outcome.reason
    assert outcome.outputs["srt"].read_text().count("hello") == 1
    assert no_network == []


def _files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_fresh_home_keeps_text_only_in_exports_and_private_store(speech_available, tiny_model, tmp_path):
    home, tmp, out = tmp_path / "home", tmp_path / "tmp", tmp_path / "exports"
    for folder in (home, tmp):
        folder.mkdir()
    audio, _ = session([1.0, "A sentence from a private session.", 2.0, "And another one."])
    recording = write_audio(tmp_path / "visit.mp3", audio)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("XDG_", "SESSIONSCRIBE_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "transcribe", str(recording), "--model", str(tiny_model),
         "--output-dir", str(out), "--word-timestamps"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "hello" not in result.stderr  # progress never prints transcript text

    assert _files_under(tmp) == []  # no audio, no text left in TMPDIR
    holding_text = [path for path in _files_under(home) if b"hello" in path.read_bytes()]
    store_files = [path for path in holding_text if "jobs.sqlite3" in path.name]
    assert store_files and set(holding_text) == set(store_files), holding_text
    for path in _files_under(home):
        if "SessionScribe" in str(path) or "sessionscribe" in path.name:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, (path, oct(mode))
    logs = [path for path in _files_under(home) if path.name.startswith("sessionscribe.log")]
    log_text = b"".join(path.read_bytes() for path in logs)
    assert b" done" in log_text  # the run was logged...
    assert b"hello" not in log_text and b"visit" not in log_text  # ...without text or file name
    assert sorted(p.name for p in out.iterdir()) == ["visit.json", "visit.srt", "visit.txt", "visit.vtt"]
