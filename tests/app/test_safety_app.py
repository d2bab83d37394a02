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
