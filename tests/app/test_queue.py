"""Adding recordings (drop, dialog), skipping what is not audio, reordering, removing."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QModelIndex, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.jobs import JobStatus
from app.queue_model import JOB_MIME


def _touch(path: Path, data: bytes = b"not really audio") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _urls(paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop(widget, mime: QMimeData) -> None:
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def test_title_names_the_app_once(make_window):
    """Qt appends the application's display name (app.gui sets it) to the window's own title:
    idle, the window's own title is empty, so the title bar says "SessionScribe" once."""
    window = make_window()
    assert window.windowTitle() == ""


def test_dropping_file_urls_queues_them(make_window, tmp_path):
    window = make_window()
    a = _touch(tmp_path / "in" / "session one.mp3")
    b = _touch(tmp_path / "in" / "session two.m4a")
    _drop(window.drop_zone, _urls([a, b]))
    assert [job.path for job in window.queue_model.jobs] == [a, b]
    assert all(job.status == JobStatus.QUEUED for job in window.queue_model.jobs)
    assert window.queue_model.index(0, 0).data() == "session one.mp3"
    # Not started: dropping queues, Start runs.
    assert window.adapter.running_job is None


def test_dropping_a_folder_searches_it_and_notes_skipped_files(make_window, tmp_path):
    window = make_window()
    root = tmp_path / "clients"
    wav = _touch(root / "a.wav")
    mp4 = _touch(root / "2024" / "march" / "b.MP4")
    _touch(root / "notes.txt")
    _touch(root / "2024" / "intake form.pdf")
    _drop(window.drop_zone, _urls([root]))
    assert sorted(job.path for job in window.queue_model.jobs) == sorted([wav, mp4])
    notes = window.drop_zone.notes
    assert notes.isVisibleTo(window)
    assert "notes.txt" in notes.text() and "intake form.pdf" in notes.text()
    assert "not an audio or video file" in notes.text()


def test_dropping_onto_the_table_also_queues(make_window, tmp_path):
    window = make_window()
    a = _touch(tmp_path / "c.flac")
    model = window.queue_model
    assert model.dropMimeData(_urls([a]), Qt.DropAction.CopyAction, -1, -1, QModelIndex())
    assert [job.path for job in model.jobs] == [a]


def test_same_file_twice_is_queued_once(make_window, tmp_path):
    window = make_window()
    a = _touch(tmp_path / "a.wav")
    window.add_paths([a])
    window.add_paths([a])
    assert len(window.queue_model.jobs) == 1
    assert "already in the queue" in window.drop_zone.notes.text()


def test_empty_folder_says_so(make_window, tmp_path):
    window = make_window()
    (tmp_path / "empty").mkdir()
    window.add_paths([tmp_path / "empty"])
    assert window.queue_model.jobs == []
    assert "no audio or video files" in window.drop_zone.notes.text()


def test_drag_reorders_rows(make_window, tmp_path):
    window = make_window()
    paths = [_touch(tmp_path / f"{name}.wav") for name in "abcd"]
    window.add_paths(paths)
    model = window.queue_model
    d = model.jobs[3]
    mime = model.mimeData([model.index(3, 0)])
    assert mime.hasFormat(JOB_MIME)
    model.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())  # drop before row 0
    assert [job.path.stem for job in model.jobs] == ["d", "a", "b", "c"]
    # Drop onto the last row's item: goes before it.
    mime = model.mimeData([model.index(0, 0)])
    model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, model.index(3, 0))
    assert [job.path.stem for job in model.jobs] == ["a", "b", "d", "c"]
    assert d in model.jobs


def test_remove_selected(make_window, tmp_path):
    window = make_window()
    window.add_paths([_touch(tmp_path / "a.wav"), _touch(tmp_path / "b.wav")])
    window.select_job(window.queue_model.jobs[0].id)
    window.remove_action.trigger()
    assert [job.path.name for job in window.queue_model.jobs] == ["b.wav"]


def test_add_files_dialog(make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = make_window()
    a = _touch(tmp_path / "x.ogg")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a_, **k: ([str(a)], ""))
    window.add_files_action.trigger()
    assert [job.path for job in window.queue_model.jobs] == [a]
