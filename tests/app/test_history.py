"""The queue survives a restart through the engine's job store."""
from __future__ import annotations

from app.jobs import JobStatus


def test_queued_jobs_come_back_after_a_restart(make_window, tmp_path):
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    window = make_window()
    job = window.add_paths([recording])[0]
    assert window.history.store is not None
    window.close()

    again = make_window()
    jobs = again.queue_model.jobs
    assert [(j.id, j.path, j.status) for j in jobs] == [(job.id, recording, JobStatus.QUEUED)]
    assert "still queued from last time" in again.statusBar().currentMessage()


def test_removed_jobs_are_forgotten(make_window, tmp_path):
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    window = make_window()
    job = window.add_paths([recording])[0]
    window.controller.remove([job.id])
    assert window.history.store.get_job(job.id) is None
    window.close()
    assert make_window().queue_model.jobs == []


def test_queue_works_without_a_job_store(make_window, qtbot, tmp_path, monkeypatch):
    """An unwritable data folder: no history, but transcription and the UI work."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the data folder should be")
    monkeypatch.setenv("SESSIONSCRIBE_DATA_DIR", str(blocked / "data"))
    window = make_window(segments=2, step_s=0.01)
    assert window.history.store is None
    assert "history unavailable" in window.statusBar().currentMessage()
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=5000)
    assert job.status == JobStatus.DONE
