"""The app's side of issue 10's data-safety items (symbolic link loops in drops, output names)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

posix_only = pytest.mark.skipif(os.name != "posix", reason="symbolic links")


def _loops(folder: Path) -> None:
    """A link to itself, a pair pointing at each other, and a folder link back up."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "self.wav").symlink_to(folder / "self.wav")
    (folder / "ping.mp3").symlink_to(folder / "pong.mp3")
    (folder / "pong.mp3").symlink_to(folder / "ping.mp3")
    (folder / "up").symlink_to(folder)


@posix_only
def test_a_folder_with_symlink_loops_is_accepted_with_notes(make_window, tmp_path):
    window = make_window()
    root = tmp_path / "clients"
    _loops(root)
    good = root / "session.wav"
    good.write_bytes(b"not really audio")
    window.add_paths([root])
    assert [job.path for job in window.queue_model.jobs] == [good]
    notes = window.drop_zone.notes.text()
    assert "self.wav" in notes and "loops back on itself" in notes


def test_the_app_keeps_a_file_it_did_not_write_and_says_so(make_window, qtbot, tmp_path, settings_path, tiny_model):
    """Issue 10 item 1 through the window: the real engine, the app's job store."""
    import numpy as np

    from app.jobs import JobStatus
    from app.settings import AppSettings, SettingsStore
    from engine.options import TranscribeOptions
    from support.audio import write_audio

    t = np.arange(16000) / 16000
    recording = write_audio(tmp_path / "Session 12.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    notes = tmp_path / "Session 12.txt"
    notes.write_text("my own notes\n")
    store = SettingsStore(settings_path)
    store.save(AppSettings(options=TranscribeOptions(model=str(tiny_model), device="cpu", formats=("txt",))))
    window = make_window(real_engine=True, settings_store=store)
    messages: list[str] = []
    window.controller.note.connect(messages.append)
    job = window.add_paths([recording])[0]
    window.start_action.trigger()
    qtbot.waitUntil(lambda: job.status.finished, timeout=180_000)
    assert job.status == JobStatus.DONE, job.reason
    assert notes.read_text() == "my own notes\n"
    assert Path(job.outputs["txt"]) == tmp_path / "Session 12 (transcript).txt"
    assert any("Session 12.txt is not a transcript of this recording" in m for m in messages), messages
