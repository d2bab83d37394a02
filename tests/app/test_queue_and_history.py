"""Today's queue beside the history of sessions (issue 13 item 8): one row per recording while
it waits or runs, "Clear finished", and a History tab that lists every stored session with
date, duration and status, filters, sorts and reopens one with a click."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.history_view import COL_DATE, COL_DURATION, COL_NAME, COL_STATUS, date_text
from app.jobs import JobStatus


def _touch(path: Path) -> Path:
    path.write_bytes(b"x")
    return path


def _finish(window, qtbot, paths: list[Path]):
    jobs = window.add_paths(paths)
    window.controller.start()
    qtbot.waitUntil(lambda: all(job.status.finished for job in jobs), timeout=20000)
    return jobs


def test_a_running_recording_added_again_gives_no_second_row(make_window, qtbot, tmp_path):
    window = make_window(segments=200, step_s=0.02)
    recording = _touch(tmp_path / "long session.wav")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status == JobStatus.RUNNING, timeout=5000)
    assert window.add_paths([recording]) == []
    assert [j.id for j in window.queue_model.jobs] == [job.id]
    assert "long session.wav: already in the queue" in window.drop_zone.notes.text()
    window.controller.cancel_running()
    qtbot.waitUntil(lambda: job.status.finished, timeout=5000)


def test_clear_finished_leaves_waiting_rows_and_keeps_the_sessions(make_window, qtbot, tmp_path):
    window = make_window(segments=2, step_s=0.005)
    done, failed = _finish(window, qtbot, [_touch(tmp_path / "a.wav"), _touch(tmp_path / "broken.wav")])
    assert (done.status, failed.status) == (JobStatus.DONE, JobStatus.FAILED)
    window.controller.pause()
    waiting = window.add_paths([_touch(tmp_path / "c.wav")])[0]
    assert window.clear_finished_button.isEnabled()

    window.clear_finished_button.click()
    assert [job.id for job in window.queue_model.jobs] == [waiting.id]
    assert "Cleared 2 finished recordings" in window.statusBar().currentMessage()
    assert not window.clear_finished_button.isEnabled() and not window.clear_finished_action.isEnabled()
    # Only the queue forgot them: the sessions and the transcript are still in the history.
    assert window.history.store.segments(done.id)
    window.show_history()
    listed = {row.job_id: row.status for row in window.history_view.shown_rows()}
    assert listed == {done.id: "Done", failed.id: "Failed", waiting.id: "Queued"}


def test_history_lists_filters_sorts_and_reopens_with_one_click(make_window, qtbot, tmp_path):
    window = make_window(segments=3, step_s=0.005, duration_s=754.0)
    first, second, third = _finish(
        window, qtbot,
        [_touch(tmp_path / "Client B intake.wav"), _touch(tmp_path / "broken file.wav"), _touch(tmp_path / "client A follow-up.wav")],
    )
    window.clear_finished()
    assert window.queue_model.jobs == []
    view = window.history_view
    window.history_action.trigger()  # Ctrl+H: the History tab
    assert window.left_tabs.currentWidget() is view
    assert view.count.text() == "3 sessions"

    # Date, recording, duration and status, newest first.
    model = view.table.model()
    rows = [[model.index(row, column).data() for column in range(4)] for row in range(model.rowCount())]
    assert [row[COL_NAME] for row in rows] == ["client A follow-up.wav", "broken file.wav", "Client B intake.wav"]
    assert all(row[COL_DATE].startswith("Today ") for row in rows)
    assert rows[0][COL_DURATION] == "12:34" and rows[0][COL_STATUS] == "Done"
    assert rows[1][COL_STATUS] == "Failed"

    # Filter by name (any case), then by status.
    view.filter_box.setText("CLIENT")
    assert [row.name for row in view.shown_rows()] == ["client A follow-up.wav", "Client B intake.wav"]
    assert view.count.text() == "2 of 3 sessions"
    view.filter_box.clear()
    view.status_box.setCurrentText("Failed")
    assert [row.job_id for row in view.shown_rows()] == [second.id]
    view.status_box.setCurrentText("All statuses")

    # Sort by a column header: names A to Z, case aside.
    view.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    assert [row.name for row in view.shown_rows()] == ["broken file.wav", "client A follow-up.wav", "Client B intake.wav"]

    # One click opens the transcript (not queued again).
    window.tabs.setCurrentWidget(window.settings_panel)
    row = [r.job_id for r in view.shown_rows()].index(first.id)
    index = view.table.model().index(row, COL_NAME)
    view.table.clicked.emit(index)
    assert window.tabs.currentWidget() is window.transcript
    assert window.transcript.job.id == first.id and window.transcript.model.rowCount() == 3
    assert "Client B intake.wav: 3 segments" in window.transcript.title.text()
    assert window.queue_model.jobs == []
    assert window.export_action.isEnabled()  # the reopened transcript can be exported


def test_a_restart_starts_with_an_empty_queue_and_the_sessions_in_history(make_window, qtbot, tmp_path):
    window = make_window(segments=2, step_s=0.005)
    (job,) = _finish(window, qtbot, [_touch(tmp_path / "a.wav")])
    window.controller.pause()
    waiting = window.add_paths([_touch(tmp_path / "b.wav")])[0]
    window.close()
    again = make_window()
    assert [j.id for j in again.queue_model.jobs] == [waiting.id]  # work left over comes back
    again.show_history()
    assert {row.job_id for row in again.history_view.shown_rows()} == {job.id, waiting.id}


def test_date_text_reads_today_yesterday_and_dates():
    now = time.mktime((2026, 11, 26, 15, 0, 0, 0, 0, -1))
    assert date_text(now - 3600, now) == "Today 14:00"
    assert date_text(now - 86400, now) == "Yesterday 15:00"
    assert date_text(now - 10 * 86400, now) == "2026-11-16 15:00"


# -- honest numbers (item 6): a resumed run and a session reopened after a restart --------------
def test_a_resumed_run_says_so_and_a_reopened_one_keeps_its_time(make_window):
    from app.queue_model import QueueModel
    from app.jobs import Job
    from engine.report import RunReport

    resumed = Job(path=Path("s.wav"), status=JobStatus.DONE)
    resumed.started_at, resumed.finished_at = 100.0, 160.0
    resumed.report = RunReport(device="cpu", audio_s=2400.0, wall_s=60.0, windows=1, resumed_windows=3)
    assert QueueModel.progress_text(resumed) == "Finished in 1:00 · 10× real-time speed · resumed"

    window = make_window()
    window.report.set_job(resumed)
    assert window.report.fields["resumed"].text() == "3 of 4 part(s) came from an earlier run (not transcribed again)"
    assert "10.0 min at" in window.report.cost_line.text()  # the API would have done 10 min, not 40

    # After a restart a finished session has no clock of its own: its report has the time.
    reopened = Job(path=Path("t.wav"), status=JobStatus.DONE, from_history=True)
    reopened.report = RunReport(device="cpu", audio_s=600.0, wall_s=75.0, windows=2)
    assert QueueModel.progress_text(reopened) == "Finished in 1:15 · 8× real-time speed"
    reopened.report = None
    assert QueueModel.progress_text(reopened) == "Done"


def test_a_resumed_job_starts_past_its_finished_part_and_times_only_the_new_work():
    from app.jobs import StageState

    state = StageState(started_at=0.0, total=100.0)
    # The engine reports the windows an earlier run finished: 75 % at once, at t = 1 s.
    state.done, state.base_fraction, state.base_at = 75.0, 0.75, 1.0
    assert state.fraction == 0.75
    assert state.remaining_s(1.6) is None  # no speed in reused work (it was "0:00" before)
    state.done = 80.0  # new work: 5 % in 10 s
    assert state.remaining_s(11.0) == pytest.approx(10.0 * 0.20 / 0.05)


def test_reused_progress_events_set_the_rows_base(make_window, qtbot, tmp_path):
    from engine.events import JobStarted, Stage, StageProgress, StageStarted

    window = make_window(segments=400, step_s=0.05)
    job = window.add_paths([_touch(tmp_path / "a.wav")])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status == JobStatus.RUNNING, timeout=5000)
    controller = window.controller
    controller._on_event(JobStarted(job.id, job.path, 100.0))
    controller._on_event(StageStarted(job.id, Stage.TRANSCRIBE))
    controller._on_event(StageProgress(job.id, Stage.TRANSCRIBE, 60.0, 100.0, reused=True))
    state = job.stages[Stage.TRANSCRIBE]
    assert state.fraction == 0.6 and state.base_fraction == 0.6 and state.base_at is not None
    window.controller.cancel_running()
    qtbot.waitUntil(lambda: job.status.finished, timeout=5000)


def test_a_session_is_deleted_from_the_history_tab_after_asking(make_window, qtbot, tmp_path):
    window = make_window(segments=2, step_s=0.005)
    kept, gone, queued = _finish(window, qtbot, [_touch(tmp_path / n) for n in ("kept.wav", "gone.wav", "today.wav")])
    # Two leave today's queue (History keeps them); one stays in the queue.
    for job in (kept, gone):
        window.queue_model.remove_job(job.id)
    window.show_history()
    view = window.history_view
    assert not view.delete_button.isEnabled()  # nothing selected yet

    def select(job_id: str) -> None:
        row = [r.job_id for r in view.shown_rows()].index(job_id)
        view.table.selectRow(row)
        view.table.clicked.emit(view.proxy.index(row, COL_NAME))  # opens it, as a click does

    select(gone.id)
    assert window.transcript.job is not None and window.transcript.job.id == gone.id
    asked: list[list[str]] = []
    window.confirm_remove = lambda jobs: asked.append([j.name for j in jobs]) or False
    view.delete_button.click()
    assert asked == [["gone.wav"]]
    assert window.history.store.segments(gone.id)  # "No" keeps it

    window.confirm_remove = lambda jobs: True
    view.delete_button.click()
    listed = [r.job_id for r in view.shown_rows()]
    assert gone.id not in listed and kept.id in listed and queued.id in listed
    assert window.history.store.get_job(gone.id) is None and not window.history.store.segments(gone.id)
    assert window.transcript.job is None  # its transcript is no longer on screen
    assert "Deleted gone.wav from the history" in window.statusBar().currentMessage()
    assert window.history.store.segments(kept.id)  # the others are untouched

    # A session still in today's queue leaves the queue too.
    select(queued.id)
    view.delete_button.click()
    assert window.queue_model.job(queued.id) is None
    assert window.history.store.get_job(queued.id) is None
    assert [r.job_id for r in view.shown_rows()] == [kept.id]
