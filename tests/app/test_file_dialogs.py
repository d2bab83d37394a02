"""Qt's file dialogs must not record the clinician's recording folders anywhere shared.

Each test runs the window in a child process with a fresh HOME and XDG_CONFIG_HOME: Qt
fixes its settings paths once per process, so only a fresh process shows where they go.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QFileDialog
    app = QApplication([])
    from app.settings import SettingsStore
    from app.window import MainWindow
    from app_fakes import FakeEngineFactory, FakeHealth, FakeSampler

    recording, folder = (Path(arg) for arg in sys.argv[1:3])
    window = MainWindow(settings_store=SettingsStore(), engine_factory=FakeEngineFactory(),
                        sampler_factory=FakeSampler, health_check=FakeHealth, probe=None,
                        start_monitor=False)
    seen = []

    def answer(pick):
        tries = []

        def poll():
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, QFileDialog):
                QTimer.singleShot(50, poll)
                return
            if not tries:
                seen.append(dialog.testOption(QFileDialog.Option.DontUseNativeDialog))
            tries.append(1)
            if len(tries) > 100:
                dialog.reject()  # never hang the test: it fails on what it checks instead
                return
            pick(dialog)
            dialog.accept()
            if dialog.isVisible():  # the file list still loading: try again
                QTimer.singleShot(50, poll)
        QTimer.singleShot(50, poll)

    def pick_file(dialog):
        dialog.selectFile(str(recording))

    def pick_folder(dialog):
        dialog.setDirectory(str(folder))  # accepting with no name chosen picks the folder

    def pick_export(dialog):
        pass  # the suggested name, beside the recording

    answer(pick_file)
    window.choose_files()
    answer(pick_folder)
    window.choose_folder()
    answer(pick_folder)
    window.settings_panel._choose_output()
    job = window.queue_model.jobs[0]
    from engine.segments import Segment
    job.segments = [Segment(0.0, 1.0, " hello")]
    window.transcript.set_job(job)
    answer(pick_export)
    exported = window.transcript.export_format("txt")
    window.confirm_quit = lambda: True
    window.close()
    print(json.dumps({"jobs": [str(j.path) for j in window.queue_model.jobs],
                      "output_dir": window.settings.options.output_dir and str(window.settings.options.output_dir),
                      "exported": str(exported), "dialogs": len(seen),
                      "non_native": all(seen)}))
    """
)


def test_file_dialogs_leave_no_qtproject_conf_or_folder_history(tmp_path):
    home = tmp_path / "home"
    xdg = tmp_path / "xdg-config"
    config = tmp_path / "sessionscribe-config"
    for folder in (home, xdg):
        folder.mkdir()
    recordings = home / "Clients" / "Jane Doe sessions"
    recordings.mkdir(parents=True)
    recording = recordings / "intake.wav"
    recording.write_bytes(b"RIFF")
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(xdg),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        SESSIONSCRIBE_CONFIG_DIR=str(config),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join(str(p) for p in (ROOT / "src", ROOT / "tests", ROOT / "tests" / "app")),
    )
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(recording), str(recordings)],
        capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # the dialogs really opened and were accepted
    assert outcome == {"jobs": [str(recording)], "output_dir": str(recordings), "exported": str(recordings / "intake.txt"), "dialogs": 4,
                       "non_native": True}

    written = [p for root in (home, xdg, config, tmp_path / "xdg-data") if root.exists() for p in root.rglob("*") if p.is_file()]
    assert not [p for p in written if p.name == "QtProject.conf"], written
    for path in written:
        if path.is_relative_to(recordings) or path.name == "settings.json":
            continue  # the recordings themselves; our own settings (the chosen output folder)
        assert b"Jane Doe" not in path.read_bytes(), path
    assert (config / "qt").stat().st_mode & 0o777 == 0o700
