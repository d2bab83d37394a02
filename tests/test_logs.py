"""Private logging and private temp folders: only the user can read what touches disk."""
from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # tests/conftest.py puts src/ on sys.path

from engine import logs
from engine.logs import get_logger, setup_logging

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def our_handlers(logger_name: str) -> list[logging.Handler]:
    return [h for h in logging.getLogger(logger_name).handlers if getattr(h, "_sessionscribe", False)]


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    monkeypatch.setenv("SESSIONSCRIBE_LOG_DIR", str(folder))
    root = logging.getLogger("sessionscribe")
    whisper = logging.getLogger("faster_whisper")
    saved = (root.level, whisper.level)
    yield folder
    for handler in our_handlers("sessionscribe"):
        root.removeHandler(handler)
        whisper.removeHandler(handler)
        handler.close()
    root.setLevel(saved[0])
    whisper.setLevel(saved[1])


@posix_only
def test_log_file_is_private_whatever_the_umask(log_dir):
    old_umask = os.umask(0o022)
    try:
        path = setup_logging()
        get_logger("test").info("job 1234 started: session.wav, 3600.0 s")
        assert path == log_dir / "sessionscribe.log"
        assert mode(log_dir) == 0o700
        assert mode(path) == 0o600
        assert "session.wav" in path.read_text()
    finally:
        os.umask(old_umask)


@posix_only
def test_rotated_logs_stay_private_and_bounded(log_dir):
    old_umask = os.umask(0o022)
    try:
        path = setup_logging()
        logger = get_logger("rotation")
        line = "x" * 1000
        for _ in range(5000):  # ~5 MB: several rollovers
            logger.info(line)
        files = sorted(log_dir.iterdir())
        assert [p.name for p in files] == [
            "sessionscribe.log",
            "sessionscribe.log.1",
            "sessionscribe.log.2",
            "sessionscribe.log.3",
        ]
        for file in files:
            assert mode(file) == 0o600, file
            assert file.stat().st_size <= logs.MAX_BYTES + 2000
        assert path.exists()
    finally:
        os.umask(old_umask)


@posix_only
def test_existing_log_folder_keeps_its_mode_and_a_loose_file_is_tightened(log_dir):
    log_dir.mkdir(mode=0o755)
    os.chmod(log_dir, 0o755)
    (log_dir / "sessionscribe.log").write_text("old\n")
    os.chmod(log_dir / "sessionscribe.log", 0o644)
    setup_logging()
    assert mode(log_dir) == 0o755  # not ours to retune (issue 10 item 14); others cannot write it
    assert mode(log_dir / "sessionscribe.log") == 0o600


def test_setup_is_idempotent_and_routes_faster_whisper_warnings(log_dir):
    first = setup_logging()
    second = setup_logging(logging.DEBUG)
    assert first == second
    assert len(our_handlers("sessionscribe")) == 1
    assert len(our_handlers("faster_whisper")) == 1
    assert logging.getLogger("sessionscribe").level == logging.DEBUG

    logging.getLogger("faster_whisper").info("chatty detail")
    logging.getLogger("faster_whisper").warning("model fell back to int8")
    for handler in our_handlers("sessionscribe"):
        handler.flush()
    text = first.read_text()
    assert "model fell back to int8" in text
    assert "chatty detail" not in text


def test_changing_the_log_folder_moves_the_file(log_dir, tmp_path, monkeypatch):
    setup_logging()
    monkeypatch.setenv("SESSIONSCRIBE_LOG_DIR", str(tmp_path / "other"))
    path = setup_logging()
    assert path == tmp_path / "other" / "sessionscribe.log"
    assert len(our_handlers("sessionscribe")) == 1
    get_logger("x").warning("here")
    assert "here" in path.read_text()


def test_get_logger_names_children_of_sessionscribe():
    assert get_logger("store").name == "sessionscribe.store"
    assert get_logger("sessionscribe.app").name == "sessionscribe.app"
    assert get_logger("sessionscribe").name == "sessionscribe"


def test_default_log_dir(monkeypatch):
    import platformdirs

    monkeypatch.delenv("SESSIONSCRIBE_LOG_DIR", raising=False)
    assert logs.default_log_dir() == Path(platformdirs.user_log_dir("SessionScribe", appauthor=False))


def test_engine_imports_no_qt():
    import subprocess

    code = (
        "import sys; import engine.store, engine.logs; "
        "print([m for m in sys.modules if m.startswith(('PySide', 'PyQt', 'shiboken'))])"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
