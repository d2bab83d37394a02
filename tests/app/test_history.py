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


def test_a_damaged_store_is_reported_once_and_the_queue_goes_on(make_window, qtbot, tmp_path):
    """Random bytes over a page of jobs.sqlite3: the app showed an empty history and said
    nothing, and every job failed (DatabaseError)."""
    import random

    from engine.store import JobStore

    with JobStore() as store:
        for n in range(8):
            old = store.create_job(tmp_path / f"old{n}.wav", {}, "k", f"fp{n}")
            store.commit_window(old.id, 0, 0.0, 60.0, [], [])
            store.finish(old.id, {}, {})
        path = store.path
    with open(path, "r+b") as handle:
        handle.seek(3 * 4096)
        handle.write(random.Random(1).randbytes(4096))

    window = make_window(segments=2, step_s=0.01)
    box = window.notice_box
    assert box is not None and box.isVisible()
    assert str(path.parent / "jobs.damaged-") in box.text()
    assert str(path.parent / "jobs.damaged-") in window.statusBar().currentMessage()
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=5000)
    assert job.status == JobStatus.DONE
    assert window.history.store.get_job(job.id).status == "done"
    window.close()

    assert make_window().notice_box is None  # told once
