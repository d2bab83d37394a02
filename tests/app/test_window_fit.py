"""Issue 13 items 11 and 13: the first window fits the screen, a menu bar with the commands
and their shortcuts, a title that does not repeat the app's name."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from app.jobs import JobStatus
from app.window import initial_geometry

ROOT = Path(__file__).resolve().parents[2]


def test_first_window_takes_the_available_screen_not_a_fixed_1440x900():
    small = QRect(0, 0, 1280, 720)
    assert initial_geometry(small) == small
    big = QRect(0, 0, 2560, 1440)
    fitted = initial_geometry(big)
    assert (fitted.width(), fitted.height()) == (1440, 900) and big.contains(fitted)
    panel = QRect(0, 32, 1280, 688)  # a top panel takes 32 pixels
    assert initial_geometry(panel) == panel


FIT_SCRIPT = """
import json, sys
from PySide6.QtCore import QByteArray, QPoint
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.window import MainWindow
from app_fakes import FakeEngineFactory, FakeHealth, FakeSampler

def window(settings=None):
    made = MainWindow(engine_factory=FakeEngineFactory(), sampler_factory=FakeSampler, health_check=FakeHealth,
                      probe=None, start_monitor=False, settings=settings)
    made.show()
    for _ in range(5):
        app.processEvents()
    return made

def inside(widget):
    top_left = widget.mapToGlobal(QPoint(0, 0))
    return available.contains(top_left) and available.contains(widget.mapToGlobal(widget.rect().bottomRight()))

available = app.primaryScreen().availableGeometry()
first = window()
result = {"first": available.contains(first.frameGeometry()),
          "export buttons": all(inside(button) for button in first.transcript.export_buttons.values())}
first.setGeometry(0, 0, 3000, 2000)
settings = first.settings
settings.window_geometry = bytes(first.saveGeometry().toBase64()).decode()
second = window(settings)
result["restored"] = available.contains(second.frameGeometry())

# The menu's shortcuts, pressed as a user would (a fresh application: the active window is ours).
import pathlib, tempfile
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
recording = pathlib.Path(tempfile.mkdtemp()) / "a.wav"
recording.write_bytes(b"x")
second.add_paths([recording])
second.activateWindow()
app.processEvents()
QTest.keyClick(second, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
result["ctrl+return starts"] = second.controller.started
QTest.keyClick(second, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
result["ctrl+return pauses"] = not second.controller.started
second.confirm_quit = lambda: True
QTest.keyClick(second, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
app.processEvents()
result["ctrl+q quits"] = not second.isVisible()
print(json.dumps(result), flush=True)
import os
os._exit(0)  # the fakes' engine thread is not worth a clean shutdown here
"""


def test_the_window_fits_a_1280x720_screen(tmp_path):
    """The first window, its export buttons, and a window saved on a bigger screen, all fit a
    1280x720 screen (Qt's offscreen platform with that screen, window frames on). Also the
    menu's shortcuts, pressed (in a fresh application, so the window is surely active)."""
    screen = tmp_path / "screen.json"
    screen.write_text(json.dumps({"windowFrameMargins": True, "screens": [
        {"name": "s", "x": 0, "y": 0, "width": 1280, "height": 720, "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screen}",
               PYTHONPATH=os.pathsep.join(str(p) for p in (ROOT / "src", ROOT / "tests" / "app", ROOT / "tests")),
               SESSIONSCRIBE_CONFIG_DIR=str(tmp_path / "config"))
    result = subprocess.run([sys.executable, "-c", FIT_SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "first": True, "export buttons": True, "restored": True,
        "ctrl+return starts": True, "ctrl+return pauses": True, "ctrl+q quits": True,
    }


def test_menu_bar_has_file_queue_and_help(make_window):
    window = make_window()
    menus = {action.text().replace("&", ""): action.menu() for action in window.menuBar().actions()}
    assert list(menus) == ["File", "Queue", "Models", "Help"]
    file_items = [a.text() for a in menus["File"].actions() if not a.isSeparator()]
    assert file_items == ["Add files…", "Add folder…", "Export…", "Quit"]
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    queue_items = [a.text() for a in menus["Queue"].actions() if not a.isSeparator()]
    assert queue_items[:2] == ["Start", "Pause"]
    assert {"Clear finished", "History"} <= set(queue_items)
    assert [a.text() for a in menus["Models"].actions()] == ["Model manager…"]


def test_window_title_does_not_repeat_the_app_name(make_window, qtbot, tmp_path):
    QApplication.instance().setApplicationDisplayName("SessionScribe")  # as app.gui does: Qt appends it
    window = make_window(segments=200, step_s=0.02)
    assert "SessionScribe" not in window.windowTitle()
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status == JobStatus.RUNNING, timeout=5000)
    window._update_title()
    assert window.windowTitle().startswith("a.wav (") and "SessionScribe" not in window.windowTitle()
