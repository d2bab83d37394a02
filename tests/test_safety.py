"""Data-safety and privacy guards (issue 10): logs, terminal, core dumps, private folders."""
from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and rlimits")


def run_python(code: str, *, cwd: Path | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
        timeout=300, stdin=subprocess.DEVNULL,
    )


def run_cli(*args: str, cwd: Path | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    return run_python(f"import sys; from engine.cli import main; sys.exit(main({list(args)!r}))", cwd=cwd, env_extra=env_extra)


def _log_text(home: Path) -> str:
    for handler in logging.getLogger("sessionscribe").handlers:
        handler.flush()
    return "".join(path.read_text(encoding="utf-8") for path in sorted((home / "logs").glob("sessionscribe.log*")))


# -- item 8: names never reach the log ---------------------------------------------------------
def test_a_failed_job_logs_its_kind_never_the_name(tmp_path, private_home):
    from engine.logs import setup_logging
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    setup_logging()
    recording = tmp_path / "Empty: Jane Doe.wav"
    recording.write_bytes(b"")
    outcome = Engine().transcribe(recording, TranscribeOptions(model="tiny"))
    assert outcome.status == "failed"
    assert "Jane Doe" in outcome.reason  # the user is told which file
    text = _log_text(private_home)
    assert "failed: InputError" in text, text
    assert "Jane" not in text and "Empty:" not in text, text


def test_tracebacks_in_the_log_keep_the_kind_but_not_the_message(private_home):
    from engine.logs import setup_logging

    setup_logging()
    log = logging.getLogger("sessionscribe.test")
    name = "/nonexistent/" + "Jane" + " Doe session.wav"  # not spelled out in a source line
    try:
        try:
            open(name)
        except OSError as error:
            raise RuntimeError(f"wrapping {error}") from error
    except RuntimeError:
        log.exception("something broke")
    text = _log_text(private_home)
    assert "something broke" in text and "FileNotFoundError" in text and "RuntimeError" in text
    assert "Jane" not in text, text


# -- item 10: no core dumps ----------------------------------------------------------------------
@posix_only
def test_cli_disables_core_dumps():
    code = (
        "import resource, sys, engine.cli as cli\n"
        "cli.doctor_command = lambda: print('core', resource.getrlimit(resource.RLIMIT_CORE)) or 0\n"
        "sys.exit(cli.main(['doctor']))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "core (0, 0)" in result.stdout


@posix_only
def test_app_disables_core_dumps():
    code = (
        "import resource, sys, app.gui\n"
        "app.gui.run_gui = lambda paths, overrides: print('core', resource.getrlimit(resource.RLIMIT_CORE)) or 0\n"
        "from app.launcher import main\n"
        "sys.exit(main(['gui']))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "core (0, 0)" in result.stdout


# -- item 11: control characters in names never reach the terminal ---------------------------------
@posix_only
def test_control_characters_in_names_are_escaped_on_the_terminal(tmp_path, tiny_model):
    folder = tmp_path / "in"
    folder.mkdir()
    evil = folder / "a\x1b]0;owned\x07\x1b[31mred\rforged line.wav"
    evil.write_bytes(b"")
    (folder / "b\x1b[2Jnotes.txt").write_text("not audio")
    result = run_cli("transcribe", str(evil), str(folder), "--model", str(tiny_model))
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\r" not in result.stderr
    assert "\\x1b]0;owned" in result.stderr  # still recognisable
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "forged line.wav" in error_lines[0]


@posix_only
def test_a_name_that_is_not_utf8_gets_one_line_and_the_queue_goes_on(tmp_path, tiny_model):
    """Latin-1 bytes in a file name (an old share, a USB stick) used to fail the job with
    "unexpected error (UnicodeEncodeError)" from the job store."""
    from support.audio import write_audio

    folder = tmp_path / "in"
    folder.mkdir()
    latin = folder / os.fsdecode(b"caf\xe9 session.wav")
    try:
        write_audio(latin, _tone(1.0))
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    write_audio(folder / "next.wav", _tone(1.0))
    out = tmp_path / "out"
    result = run_cli("transcribe", str(latin), str(folder / "next.wav"), "--model", str(tiny_model),
                     "--format", "txt", "--output-dir", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    assert "caf\ufffd session.wav" in error_lines[0] and "not valid text" in error_lines[0]
    assert (out / "next.txt").is_file()


def test_printable_escapes_controls_and_keeps_unicode():
    from engine.privacy import printable

    assert printable("Séance 12 — 北京.wav") == "Séance 12 — 北京.wav"
    assert printable("a\nb\u202ec") == "a\\x0ab\\u202ec"


# -- item 14: existing data/log folders keep their modes; shared ones are refused -------------------
@posix_only
def test_an_existing_private_data_folder_keeps_its_mode(tmp_path, monkeypatch):
    from engine.store import JobStore

    folder = tmp_path / "mine"
    folder.mkdir()
    folder.chmod(0o2750)  # setgid: the owner's choice
    monkeypatch.setenv("SESSIONSCRIBE_DATA_DIR", str(folder))
    JobStore().close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2750


@posix_only
def test_a_data_folder_others_can_write_is_refused_untouched(tmp_path, monkeypatch):
    from engine.store import JobStore, StoreError

    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    monkeypatch.setenv("SESSIONSCRIBE_DATA_DIR", str(folder))
    with pytest.raises(StoreError, match="other users can write"):
        JobStore()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o1777
    assert list(folder.iterdir()) == []


@posix_only
def test_log_folders_existing_are_left_alone_new_ones_are_private(tmp_path, monkeypatch):
    from engine.errors import SessionScribeError
    from engine.logs import setup_logging

    existing = tmp_path / "logs-existing"
    existing.mkdir()
    existing.chmod(0o2750)
    monkeypatch.setenv("SESSIONSCRIBE_LOG_DIR", str(existing))
    setup_logging()
    assert stat.S_IMODE(existing.stat().st_mode) == 0o2750

    fresh = tmp_path / "new" / "logs"
    monkeypatch.setenv("SESSIONSCRIBE_LOG_DIR", str(fresh))
    setup_logging()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700

    shared = tmp_path / "logs-shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("SESSIONSCRIBE_LOG_DIR", str(shared))
    with pytest.raises(SessionScribeError, match="other users can write"):
        setup_logging()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777


@posix_only
def test_cli_refuses_a_shared_log_folder_in_one_line(tmp_path, tiny_model):
    shared = tmp_path / "logs-shared"
    shared.mkdir()
    shared.chmod(0o777)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    result = run_cli("transcribe", str(empty), "--model", str(tiny_model),
                     env_extra={"SESSIONSCRIBE_LOG_DIR": str(shared)})
    assert "Traceback" not in result.stderr
    assert "log folder" in result.stderr and "other users can write" in result.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777


def _tone(seconds: float, rate: int = 16000) -> "np.ndarray":
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


# -- item 7: the decoder child never imports from the working folder --------------------------------
def test_decoder_child_ignores_packages_in_the_working_folder(tmp_path, monkeypatch):
    from support.audio import write_audio

    from engine.decode import stream_audio_in_child

    recording = write_audio(tmp_path / "rec" / "tone.wav", _tone(2.0))
    hostile = tmp_path / "cwd"
    marker = tmp_path / "ran-untrusted-code"
    for package in ("engine", "numpy"):
        (hostile / package).mkdir(parents=True)
        (hostile / package / "__init__.py").write_text(
            f"open({str(marker)!r}, 'a').write({package!r})\nraise ImportError('stray package')\n"
        )
    monkeypatch.chdir(hostile)
    relative = os.path.relpath(recording, hostile)  # relative names still work
    blocks = list(stream_audio_in_child(Path(relative)))
    assert sum(block.shape[0] for block in blocks) == 32000
    assert not marker.exists()


# -- item 18: a decoder crash says what kind of error, never the path -------------------------------
def test_decoder_crash_reports_its_kind_to_the_user_and_the_log(tmp_path, monkeypatch, private_home):
    from support.audio import write_audio

    from engine.decode import stream_audio_in_child
    from engine.errors import InputError
    from engine.logs import setup_logging

    setup_logging()
    recording = write_audio(tmp_path / "Jane Doe.wav", _tone(1.0))
    hook = tmp_path / "hook"
    hook.mkdir()
    # Make the child's PyAV fail the way a library bug would, with the path in its message.
    (hook / "sitecustomize.py").write_text(
        "import av\n"
        "def _broken(path, *args, **kwargs):\n"
        "    raise RuntimeError(f'internal failure on {path}')\n"
        "av.open = _broken\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(hook))
    with pytest.raises(InputError) as caught:
        list(stream_audio_in_child(recording))
    message = str(caught.value)
    assert message.startswith("Jane Doe.wav: ") and "RuntimeError" in message, message
    assert "internal failure" not in message
    assert "RuntimeError" in caught.value.kind
    text = _log_text(private_home)
    assert "RuntimeError" in text and "Jane" not in text, text


# -- item 13: symbolic link loops in a folder --------------------------------------------------------
def _loops(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "self.wav").symlink_to(folder / "self.wav")
    (folder / "ping.mp3").symlink_to(folder / "pong.mp3")
    (folder / "pong.mp3").symlink_to(folder / "ping.mp3")
    (folder / "up").symlink_to(folder)


@posix_only
def test_symlink_loops_in_a_folder_are_noted_and_skipped(tmp_path):
    from engine.inputs import expand_inputs

    root = tmp_path / "in"
    _loops(root)
    good = root / "session.wav"
    good.write_bytes(b"x")
    files, notes = expand_inputs([root, root / "self.wav"])
    assert files == [good, root / "self.wav"]  # named explicitly: kept, the engine explains
    assert sum("loops back on itself" in note for note in notes) == 3, notes


@posix_only
def test_cli_transcribes_a_folder_holding_symlink_loops(tmp_path, tiny_model):
    from support.audio import write_audio

    root = tmp_path / "in"
    _loops(root)
    write_audio(root / "tone.wav", _tone(1.0))
    result = run_cli("transcribe", str(root), str(root / "self.wav"), "--model", str(tiny_model), "--format", "txt")
    assert "Traceback" not in result.stderr, result.stderr
    assert (root / "tone.txt").exists(), result.stderr
    assert "error: self.wav: the link loops back on itself" in result.stderr
    assert "1 of 2 recording(s) transcribed" in result.stderr


def test_a_warm_import_that_fails_prints_nothing_and_the_real_import_still_raises(tmp_path, monkeypatch):
    """Warm-up imports run on threads of their own; a CI run once showed a user's terminal
    one's traceback, when the CLI exited mid-import after a job that ended at once. The
    caller's own import is where a real failure belongs."""
    import importlib
    import threading

    from engine.process import warm_imports

    (tmp_path / "warm_import_that_fails.py").write_text("raise RuntimeError('broken on import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    escaped: list = []  # what threading would print to stderr as "Exception in thread ..."
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    warm_imports("warm_import_that_fails")
    for thread in threading.enumerate():
        if thread.name == "import-warm_import_that_fails":
            thread.join(10)
    assert not escaped
    with pytest.raises(RuntimeError, match="broken on import"):
        importlib.import_module("warm_import_that_fails")
