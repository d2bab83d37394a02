"""`sessionscribe` dispatch: CLI subcommands without Qt, `gui` with queued files and overrides."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app import launcher

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_subcommands_go_to_the_engine_cli_without_qt():
    result = _run(
        """
        import sys, types
        calls = []
        fake = types.ModuleType("engine.cli")
        fake.main = lambda argv: calls.append(list(argv)) or 3
        sys.modules["engine.cli"] = fake
        from app.launcher import main
        for command in (["transcribe", "a.mp3", "--model", "tiny"], ["doctor"], ["models", "list"]):
            assert main(command) == 3
        assert calls == [["transcribe", "a.mp3", "--model", "tiny"], ["doctor"], ["models", "list"]], calls
        loaded = [name for name in sys.modules if name.startswith("PySide6")]
        assert not loaded, loaded
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_app_package_is_import_light():
    result = _run(
        """
        import sys
        import app, app.launcher, app.fmt
        heavy = [m for m in ("PySide6", "torch", "faster_whisper", "ctranslate2", "engine.pipeline") if m in sys.modules]
        assert not heavy, heavy
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr


def test_gui_arguments_become_run_overrides(monkeypatch, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    recording = tmp_path / "a.mp3"
    captured = {}
    import app.gui

    monkeypatch.setattr(app.gui, "run_gui", lambda paths, overrides: captured.update(paths=paths, overrides=overrides) or 0)
    rc = launcher.main(
        ["gui", str(recording), "--model", str(model), "--device", "cpu", "--format", "srt,txt",
         "--format", "json", "--output-dir", str(tmp_path / "out")]
    )
    assert rc == 0
    assert captured["paths"] == [recording]
    assert captured["overrides"] == {
        "model": str(model.resolve()),
        "device": "cpu",
        "formats": ("srt", "txt", "json"),
        "output_dir": (tmp_path / "out").resolve(),
    }


def test_no_arguments_opens_the_window(monkeypatch):
    import app.gui

    captured = {}
    monkeypatch.setattr(app.gui, "run_gui", lambda paths, overrides: captured.update(paths=paths, overrides=overrides) or 0)
    assert launcher.main([]) == 0
    assert captured == {"paths": [], "overrides": {}}


def test_unknown_format_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        launcher.main(["gui", "--format", "odt"])
    assert exit_info.value.code == 2
    assert "unknown format odt" in capsys.readouterr().err


def test_python_dash_m_app_shows_gui_help():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, "-m", "app", "gui", "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0
    assert "--output-dir" in result.stdout and "--model" in result.stdout


def test_gui_starts_with_files_queued_and_running(qtbot, monkeypatch, tmp_path):
    """run_gui queues the given paths, applies overrides, starts the queue (app.exec stubbed)."""
    from PySide6.QtWidgets import QApplication

    import app.gui
    import app.window
    from app_fakes import FakeEngineFactory, FakeHealth, FakeSampler

    factory = FakeEngineFactory(segments=3, step_s=0.01)
    created = []
    original = app.window.MainWindow

    def window_factory(*args, **kwargs):
        kwargs.update(engine_factory=factory, sampler_factory=FakeSampler, health_check=FakeHealth, probe=None, model_check=None)
        window = original(*args, **kwargs)
        window.confirm_quit = lambda: True
        created.append(window)
        return window

    monkeypatch.setattr(app.window, "MainWindow", window_factory)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui installs its own
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    assert app.gui.run_gui([recording], {"device": "cpu", "formats": ("srt",), "output_dir": tmp_path / "out"}) == 0
    window = created[0]
    qtbot.addWidget(window)
    assert window.controller.started
    job = window.queue_model.jobs[0]
    qtbot.waitUntil(lambda: job.status.finished, timeout=5000)
    assert set(job.outputs) == {"srt"} and job.outputs["srt"].parent == tmp_path / "out"
    assert window.settings_panel.override_note.isVisibleTo(window.settings_panel)
    window.close()
    # Overrides were not saved.
    from app.settings import SettingsStore

    assert SettingsStore().load().options.formats != ("srt",)


def test_pinned_pyside_survives_an_hour_of_live_updates():
    """300k void Qt calls (an hour of live updates) must not exhaust None's references: PySide6
    6.12 wheels leaked one per call on Python 3.11 and aborted the app; the pin excludes them."""
    result = _run(
        """
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QObject, Signal
        from PySide6.QtWidgets import QApplication, QLabel
        app = QApplication([])
        label = QLabel()
        class Emitter(QObject):
            ping = Signal(object)
        emitter = Emitter()
        emitter.ping.connect(lambda value: None)
        for _ in range(300_000):
            label.setText("x")
            emitter.ping.emit(None)
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip().endswith("ok")


def test_bench_hook_reports_and_quits(qtbot, monkeypatch, tmp_path, capsys):
    """SESSIONSCRIBE_BENCH=1: the app prints its timings for bench/app_timing.py and closes."""
    from PySide6.QtWidgets import QApplication

    import app.gui
    import app.window
    from app_fakes import FakeEngineFactory, FakeHealth, FakeSampler

    created = []
    original = app.window.MainWindow

    def window_factory(*args, **kwargs):
        kwargs.update(engine_factory=FakeEngineFactory(segments=3, step_s=0.01), sampler_factory=FakeSampler,
                      health_check=FakeHealth, probe=None, model_check=None)
        created.append(original(*args, **kwargs))
        return created[-1]

    monkeypatch.setenv("SESSIONSCRIBE_BENCH", "1")
    monkeypatch.setattr(app.window, "MainWindow", window_factory)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    app.gui.run_gui([recording], {"output_dir": tmp_path / "out"})
    window = created[0]
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    out = capsys.readouterr().out
    assert "window-shown " in out and "ui-stall p50=" in out and "queue-done " in out


def test_no_display_says_so_in_one_line_and_exits_without_qt():
    """Over SSH (no $DISPLAY, no $WAYLAND_DISPLAY) the window cannot open: one line saying so
    and how to use the command line, a non-zero exit, and Qt is never loaded (no Qt abort)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT / "src")
    result = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode not in (0, 134), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no display" in lines[0] and "sessionscribe transcribe FILE" in lines[0]
    assert "xcb" not in result.stderr and "Traceback" not in result.stderr


def test_no_display_check_lets_an_offscreen_platform_through(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert launcher.no_display_reason() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setattr(sys, "platform", "linux")
    assert "no display" in launcher.no_display_reason()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert launcher.no_display_reason() is None


@pytest.mark.parametrize("argv", [["transcrib", "a.wav"], ["histroy", "list"], ["doctr"]])
def test_mistyped_subcommand_is_a_usage_error_not_the_window(argv, monkeypatch, capsys, tmp_path):
    import app.gui

    monkeypatch.chdir(tmp_path)  # no file of that name here
    monkeypatch.setattr(app.gui, "run_gui", lambda *a: pytest.fail("the window must not open"))
    with pytest.raises(SystemExit) as exit_info:
        launcher.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "did you mean" in err


def test_history_is_a_cli_command_too(monkeypatch):
    import engine

    calls = []
    # The launcher reaches the CLI through the engine's door (`from engine import cli_main`).
    monkeypatch.setattr(engine, "cli_main", lambda argv: calls.append(list(argv)) or 0)
    assert launcher.main(["history", "list"]) == 0
    assert calls == [["history", "list"]]


def test_an_existing_recording_still_opens_the_window(monkeypatch, tmp_path):
    import app.gui

    recording = tmp_path / "session"
    recording.write_bytes(b"x")
    captured = {}
    monkeypatch.setattr(app.gui, "run_gui", lambda paths, overrides: captured.update(paths=paths) or 0)
    assert launcher.main([str(recording)]) == 0
    assert captured["paths"] == [recording]
