"""docs/screenshot-speakers.png: the window with a two-speaker session, made again in seconds
when the window changes (it went stale once the DOCX and MAXQDA export buttons came).

    xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_speakers.py [OUT.png]

The test suite's fake engine (tests/app/app_fakes.py) "transcribes" a 95-s recording into 12
lines labelled speaker 1, 2, 1, ...; the lines are then typed in as corrections (so the title
says "edited" and the exports written before are named with "Update exports"), the speakers
renamed, and "sleep" searched. Nothing is read from or written to the user's settings, job
store or logs: all of it lives in a temporary folder, deleted afterwards.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "app")]

SIZE = (1440, 900)
RECORDING = "session 2026-11-20.wav"
# (speaker, line): speaker 0 is the therapist, as the fake engine alternates them.
LINES = [
    "Last week you said the nights were the hardest. How has sleep been since then?",
    "Better, mostly. I've been going to bed at the same time, like we talked about.",
    "That's a real change. What do you notice on the nights it works?",
    "I put the phone in the kitchen. It sounds silly, but it helps.",
    "What about the nights it doesn't?",
    "Thursday was bad. I lay awake going over the meeting with my manager.",
    "What went through your mind, lying there?",
    "That I'd said the wrong thing, that everyone saw it. On a scale, maybe a seven.",
    "A seven. And where did you feel that in your body?",
    "Tight in my chest. Like before the panic attacks last year.",
    "Let's pause there for a moment and stay with that tightness.",
    "Okay.",
]


def _wait(app, done, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("screenshot: the fake job did not finish")
        app.processEvents()
        time.sleep(0.01)


def main(out: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="sessionscribe-shot-"))
    for name in ("CONFIG", "DATA", "LOG"):
        os.environ[f"SESSIONSCRIBE_{name}_DIR"] = str(work / name.lower())
    try:
        _shoot(out, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _shoot(out: Path, work: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.settings import SettingsStore
    from app.transcript_view import SPEAKER_COLUMN, TEXT_COLUMN
    from app.window import MainWindow
    from app_fakes import FakeEngineFactory, FakeHealth, FakePlayer, FakeSampler

    app = QApplication.instance() or QApplication([])
    store = SettingsStore(work / "config" / "settings.json")
    settings = store.load()
    # DOCX beside the four default text files: a clinician's usual choice, and it shows in
    # the list of exports to update.
    settings.options = settings.options.with_changes(formats=("txt", "docx", "srt", "vtt", "json"))
    factory = FakeEngineFactory(segments=len(LINES), step_s=0.005, speakers=2, duration_s=95.0)
    sampler = FakeSampler()
    window = MainWindow(
        settings_store=store, settings=settings, engine_factory=factory, sampler_factory=lambda: sampler,
        health_check=FakeHealth, player_factory=FakePlayer, probe=None, model_check=None,
    )
    factory.store = window.history.store
    window.confirm_quit = lambda: True
    window.resize(*SIZE)
    window.show()

    recording = work / RECORDING
    recording.write_bytes(b"x")  # the fake engine never reads it
    job = window.add_paths([recording])[0]
    window.controller.start()
    _wait(app, lambda: job.status.finished)
    window.select_job(job.id)
    view = window.transcript
    model = view.model
    for row, line in enumerate(LINES):
        model.setData(model.index(row, TEXT_COLUMN), line, Qt.ItemDataRole.EditRole)
    model.setData(model.index(0, SPEAKER_COLUMN), "Therapist", Qt.ItemDataRole.EditRole)
    model.setData(model.index(1, SPEAKER_COLUMN), "Client", Qt.ItemDataRole.EditRole)
    view.search_box.setText("sleep")
    # A few gauge samples, so the meters and the graph have something to show.
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(out), "PNG")
    print(f"screenshot: {out} ({out.stat().st_size // 1024} KB)")
    window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot-speakers.png")
