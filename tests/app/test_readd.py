"""Adding a recording the history already has: resume its row, or show it; never a silent redo."""
from __future__ import annotations

from pathlib import Path

from app.jobs import JobStatus


def _touch(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _finished(qtbot, window, job_id: str) -> None:
    qtbot.waitUntil(lambda: window.queue_model.job(job_id).status.finished, timeout=10000)


def test_readding_a_cancelled_recording_continues_in_its_row(make_window, qtbot, tmp_path):
    """It used to start over in a new row; only Retry resumed."""
    window = make_window(segments=1000, step_s=0.02)
    recording = _touch(tmp_path / "session.wav")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: len(job.segments) >= 2, timeout=5000)
    window.controller.cancel_running()
    _finished(qtbot, window, job.id)
    assert job.status == JobStatus.CANCELLED
    window.test.factory.engine.segments = 3

    assert window.add_paths([recording]) == []  # no new row
    assert [j.id for j in window.queue_model.jobs] == [job.id]
    assert "queued again in its earlier row" in window.statusBar().currentMessage()
    _finished(qtbot, window, job.id)
    assert job.status == JobStatus.DONE
    assert window.history.store.get_job(job.id).status == "done"
    assert len(window.history.store.list_jobs()) == 1


def test_readding_a_finished_recording_shows_it_instead_of_redoing_it(make_window, qtbot, tmp_path):
    window = make_window(segments=2, step_s=0.01)
    recording = _touch(tmp_path / "session.wav")
    other = _touch(tmp_path / "other.wav")
    job, _other = window.add_paths([recording, other])
    window.controller.start()
    _finished(qtbot, window, _other.id)
    calls = len(window.test.factory.engine.calls)
    window.select_job(_other.id)

    assert window.add_paths([recording]) == []
    assert len(window.queue_model.jobs) == 2 and job.status == JobStatus.DONE
    assert [j.id for j in window.selected_jobs()] == [job.id]  # its transcript is shown
    assert window.tabs.currentWidget() is window.transcript
    assert "already transcribed" in window.statusBar().currentMessage()
    assert len(window.test.factory.engine.calls) == calls
    assert window.retry_action.isEnabled()  # ...and Retry runs it again if wanted


def test_a_new_recording_saved_over_a_finished_one_gets_a_new_row(make_window, qtbot, tmp_path):
    from engine.store import file_fingerprint

    window = make_window(segments=2, step_s=0.01)
    recording = _touch(tmp_path / "session.wav", b"week 1")
    job = window.add_paths([recording])[0]
    window.controller.start()
    _finished(qtbot, window, job.id)
    window.history.store.set_fingerprint(job.id, file_fingerprint(recording), "k")  # as the engine does

    window.add_paths([recording])  # same content: shown, not redone
    qtbot.waitUntil(lambda: "already transcribed" in window.statusBar().currentMessage(), timeout=5000)
    assert len(window.queue_model.jobs) == 1

    recording.write_bytes(b"week 2, recorded over the same file name")
    window.add_paths([recording])
    qtbot.waitUntil(lambda: len(window.queue_model.jobs) == 2, timeout=5000)
    new = window.queue_model.jobs[1]
    assert new.id != job.id and new.path == recording
    _finished(qtbot, window, new.id)
    assert new.status == JobStatus.DONE


def test_a_stored_cancelled_recording_resumes_with_the_real_engine(
    make_window, qtbot, tmp_path, settings_path, tiny_model, speech_available
):
    """After a restart, adding the recording again reuses its committed windows."""
    from app.settings import AppSettings, SettingsStore
    from engine.options import TranscribeOptions
    from support.audio import session, write_audio

    audio, _ = session([1.0, "Hello there, how are you feeling today?", 1.0])
    recording = write_audio(tmp_path / "in" / "client.ogg", audio)
    store = SettingsStore(settings_path)
    store.save(AppSettings(options=TranscribeOptions(model=str(tiny_model), device="cpu", output_dir=tmp_path / "out", formats=("txt",))))
    window = make_window(real_engine=True, settings_store=store)
    job = window.add_paths([recording])[0]
    window.controller.start()
    _finished(qtbot, window, job.id)
    assert job.status == JobStatus.DONE and job.report.windows >= 1
    window.history.store.set_status(job.id, "cancelled")  # as if cancelled after its windows
    window.close()

    again = make_window(real_engine=True, settings_store=store)
    assert again.queue_model.job(job.id) is None  # in the history, not today's queue
    assert again.add_paths([recording]) == []  # its stored session, in its own row
    again.controller.start()
    _finished(qtbot, again, job.id)
    resumed = again.queue_model.job(job.id)
    assert resumed.status == JobStatus.DONE
    assert resumed.report.resumed_windows >= 1 and resumed.report.windows == 0
    assert len(again.queue_model.jobs) == 1


def test_a_stored_session_not_listed_is_found_by_its_path(make_window, qtbot, tmp_path):
    """E.g. a CLI run beside the app, or a session older than the rows listed at start-up."""
    window = make_window(segments=2, step_s=0.01)
    recording = _touch(tmp_path / "cli run.wav")
    store = window.history.store
    record = store.create_job(recording, {}, "k", "fp", status="running")
    store.set_status(record.id, "cancelled")
    assert window.queue_model.job(record.id) is None

    assert window.add_paths([recording]) == []
    assert [job.id for job in window.queue_model.jobs] == [record.id]
    window.controller.start()
    _finished(qtbot, window, record.id)
    assert store.get_job(record.id).status == "done" and len(store.list_jobs()) == 1
