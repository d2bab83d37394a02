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


def _age(store, job_id: str, days: float) -> None:
    import sqlite3
    import time

    conn = sqlite3.connect(str(store.path))
    try:
        with conn:
            conn.execute("UPDATE jobs SET updated_at = ?, created_at = ? WHERE id = ?",
                         (time.time() - days * 86400, time.time() - days * 86400, job_id))
    finally:
        conn.close()


def _stored(tmp_path, name: str, status: str, days: float) -> str:
    from engine.segments import Segment
    from engine.store import JobStore

    with JobStore() as store:
        job = store.create_job(tmp_path / name, {}, "k", f"fp-{name}")
        if status != "queued":
            store.commit_window(job.id, 0, 0.0, 60.0, [Segment(0.0, 1.0, f" words of {name}")], [])
            if status == "done":
                store.finish(job.id, {}, {})
            else:
                store.set_status(job.id, status, f"{name}: stopped")
        _age(store, job.id, days)
        return job.id


def test_retention_is_off_by_default(make_window, tmp_path):
    from app.settings import AppSettings

    assert AppSettings().retention_days is None
    old = _stored(tmp_path, "old.wav", "done", 4000)
    window = make_window()
    window.show_history()
    assert [row.job_id for row in window.history_view.shown_rows()] == [old]
    assert window.history.store.get_job(old) is not None


def test_retention_deletes_ended_sessions_at_start_up_and_after_jobs(make_window, qtbot, settings_path, tmp_path):
    from app.settings import SettingsStore

    settings_store = SettingsStore(settings_path)
    settings = settings_store.load()
    settings.retention_days = 30
    settings_store.save(settings)
    old_done = _stored(tmp_path, "old done.wav", "done", 40)
    old_failed = _stored(tmp_path, "old failed.wav", "failed", 31)
    old_queued = _stored(tmp_path, "old queued.wav", "queued", 60)  # waits for Start: kept
    recent = _stored(tmp_path, "recent.wav", "done", 29)

    window = make_window(segments=2, step_s=0.01)
    store = window.history.store
    assert store.get_job(old_done) is None and store.get_job(old_failed) is None
    assert store.get_job(old_queued) is not None and store.get_job(recent) is not None
    assert {job.id for job in window.queue_model.jobs} == {old_queued}  # today's queue: work left
    window.show_history()
    assert {row.job_id for row in window.history_view.shown_rows()} == {old_queued, recent}
    assert store.search("old done") == [] and store.search("old failed") == []

    # ...and after each job: a session that ages meanwhile goes when the next job ends.
    _age(store, recent, 31)
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=5000)
    assert store.get_job(recent) is None and window.queue_model.job(recent) is None
    assert recent not in {row.job_id for row in window.history_view.shown_rows()}
    assert store.get_job(job.id).status == "done"


def test_retention_setting_is_saved_from_the_settings_tab(make_window, settings_path):
    import json

    window = make_window()
    panel = window.settings_panel
    assert not panel.retention.isChecked() and not panel.retention_days.isEnabled()
    panel.retention.setChecked(True)
    panel.retention_days.setValue(14)
    assert json.loads(settings_path.read_text())["retention_days"] == 14
    window.close()
    again = make_window().settings_panel
    assert again.retention.isChecked() and again.retention_days.value() == 14
    again.retention.setChecked(False)
    assert json.loads(settings_path.read_text())["retention_days"] is None
