"""Running the queue on the fake engine: live progress and transcript, failures, cancel, close."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from PySide6.QtCore import Qt

from app.jobs import JobStatus
from engine.events import Stage


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def _wait_finished(qtbot, window, job_id: str, timeout_ms: int = 10000) -> None:
    qtbot.waitUntil(lambda: window.queue_model.job(job_id).status.finished, timeout=timeout_ms)


def test_job_runs_to_the_end_and_transcript_fills_live(make_window, qtbot, tmp_path):
    window = make_window(segments=8, step_s=0.05)
    job = window.add_paths([_touch(tmp_path / "session.wav")])[0]
    seen_rows: list[int] = []
    seen_stage: list[tuple] = []

    def watch(*_args):
        seen_rows.append(window.transcript.model.rowCount())
        current = window.queue_model.job(job.id)
        stage = current.current_stage()
        if stage is not None:
            seen_stage.append((stage, current.stages[stage].fraction))

    window.controller.segment_added.connect(watch)
    window.controller.job_updated.connect(watch)
    window.start_action.trigger()
    assert window.start_action.text() == "Pause queue"
    qtbot.waitUntil(lambda: job.status == JobStatus.RUNNING, timeout=3000)
    _wait_finished(qtbot, window, job.id)

    assert job.status == JobStatus.DONE, job.reason
    # The running job was selected automatically and its transcript grew while it ran.
    assert window.transcript.job is job
    assert any(0 < rows < 8 for rows in seen_rows), seen_rows
    assert window.transcript.model.rowCount() == 8
    assert "number 8" in window.transcript.model.index(7, 1).data()
    # Every stage reported, the transcribe stage moved through intermediate values.
    assert all(job.stages[s].finished_at is not None for s in Stage)
    assert any(stage == Stage.TRANSCRIBE and 0 < frac < 1 for stage, frac in seen_stage)
    # Outputs written where the engine said, the report is shown.
    assert set(job.outputs) == {"txt", "srt", "vtt", "json"}
    assert all(Path(p).is_file() for p in job.outputs.values())
    assert window.report.details.isVisibleTo(window.report)
    assert "×" in window.report.fields["rtf"].text()
    assert "$" in window.report.cost_line.text()
    assert "Finished" in window.queue_model.index(0, 3).data()
    # Engine work happened off the UI thread.
    assert threading.get_ident() not in window.test.factory.engine.threads


def test_progress_row_shows_stage_elapsed_and_eta(make_window, qtbot, tmp_path):
    window = make_window(segments=40, step_s=0.05)
    job = window.add_paths([_touch(tmp_path / "long.wav")])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.stages[Stage.TRANSCRIBE].fraction > 0.2, timeout=5000)
    qtbot.wait(300)
    model = window.queue_model
    assert model.index(0, 1).data() == "1:00"  # duration from JobStarted
    assert model.index(0, 3).data().startswith("Transcribe ")
    assert model.index(0, 4).data() not in ("", "—")  # elapsed
    assert model.index(0, 5).data() not in ("", "—")  # ETA from the measured rate
    window.controller.cancel_running()
    _wait_finished(qtbot, window, job.id)


def test_failed_job_shows_reason_and_queue_goes_on(make_window, qtbot, tmp_path):
    window = make_window()
    bad = window.add_paths([_touch(tmp_path / "broken.mp3")])[0]
    good = window.add_paths([_touch(tmp_path / "fine.mp3")])[0]
    window.controller.start()
    _wait_finished(qtbot, window, good.id)
    assert bad.status == JobStatus.FAILED
    assert "broken.mp3" in bad.reason and "\n" not in bad.reason
    assert window.queue_model.index(0, 3).data() == "not a recording that can be read (Invalid data found)"
    assert good.status == JobStatus.DONE
    # Retry puts it back in the queue (and it fails again, with its reason).
    window.select_job(bad.id)
    assert window.retry_action.isEnabled()
    window.retry_action.trigger()
    _wait_finished(qtbot, window, bad.id)
    assert bad.status == JobStatus.FAILED


def test_cancel_stops_quickly_and_the_app_stays_usable(make_window, qtbot, tmp_path):
    window = make_window(segments=1000, step_s=0.05)
    first = window.add_paths([_touch(tmp_path / "first.wav")])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: len(first.segments) >= 2, timeout=5000)
    assert window.cancel_action.isEnabled()
    started = time.monotonic()
    window.cancel_action.trigger()
    assert first.status == JobStatus.CANCELLING
    _wait_finished(qtbot, window, first.id, timeout_ms=3000)
    assert time.monotonic() - started < 2.0
    assert first.status == JobStatus.CANCELLED
    assert window.queue_model.index(0, 3).data() == "Cancelled"
    # The engine is free again: a new recording runs.
    window.test.factory.engine.segments = 3
    second = window.add_paths([_touch(tmp_path / "second.wav")])[0]
    _wait_finished(qtbot, window, second.id)
    assert second.status == JobStatus.DONE


def test_pause_lets_the_current_job_finish_then_stops(make_window, qtbot, tmp_path):
    window = make_window(segments=6, step_s=0.03)
    a, b = window.add_paths([_touch(tmp_path / "a.wav"), _touch(tmp_path / "b.wav")])
    window.controller.start()
    qtbot.waitUntil(lambda: a.status == JobStatus.RUNNING, timeout=3000)
    window.start_action.trigger()  # pause
    assert not window.controller.started
    _wait_finished(qtbot, window, a.id)
    qtbot.wait(200)
    assert a.status == JobStatus.DONE and b.status == JobStatus.QUEUED
    window.start_action.trigger()
    _wait_finished(qtbot, window, b.id)


def test_removing_the_running_job_cancels_it(make_window, qtbot, tmp_path):
    window = make_window(segments=1000, step_s=0.05)
    job = window.add_paths([_touch(tmp_path / "a.wav")])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status == JobStatus.RUNNING, timeout=3000)
    window.controller.remove([job.id])
    qtbot.waitUntil(lambda: not window.queue_model.jobs, timeout=3000)
    assert not window.adapter.is_busy()


@pytest.mark.parametrize("answer", [False, True])
def test_closing_while_running_asks_first(make_window, qtbot, tmp_path, answer):
    window = make_window(segments=1000, step_s=0.05)
    window.show()
    job = window.add_paths([_touch(tmp_path / "a.wav")])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status == JobStatus.RUNNING, timeout=3000)
    asked = []
    window.confirm_quit = lambda: asked.append(True) or answer
    started = time.monotonic()
    window.close()
    assert asked
    if answer:
        assert not window.isVisible()
        assert job.status == JobStatus.CANCELLED
        assert time.monotonic() - started < 5
        assert not window.adapter._thread.isRunning()
    else:
        assert window.isVisible()
        assert job.status == JobStatus.RUNNING
        window.controller.cancel_running()
        _wait_finished(qtbot, window, job.id)


def test_engine_that_cannot_load_fails_the_job_in_one_line(make_window, qtbot, tmp_path):
    def broken_factory(_sink):
        raise ImportError("libctranslate2.so.4: cannot open shared object file\nTraceback...")

    window = make_window(engine_factory=broken_factory)
    job = window.add_paths([_touch(tmp_path / "a.wav")])[0]
    window.controller.start()
    _wait_finished(qtbot, window, job.id)
    assert job.status == JobStatus.FAILED
    assert "\n" not in job.reason and "a.wav" in job.reason


def test_transcript_follows_the_queue_until_the_user_picks_a_row(make_window, qtbot, tmp_path):
    window = make_window(segments=4, step_s=0.02)
    a, b, c = window.add_paths([_touch(tmp_path / f"{name}.wav") for name in "abc"])
    shown: list[str] = []
    window.controller.segment_added.connect(lambda job_id, _s: shown.append(window.transcript.job.id))
    window.controller.start()
    qtbot.waitUntil(lambda: b.status == JobStatus.RUNNING, timeout=5000)
    # The window picked a; it moves on to b by itself.
    assert window.selected_jobs() == [b]
    qtbot.waitUntil(lambda: len(b.segments) >= 1, timeout=5000)
    window.select_job(a.id)  # the user goes back to a: the window stays there
    _wait_finished(qtbot, window, c.id)
    assert window.selected_jobs() == [a] and window.transcript.job is a
    assert shown[0] == a.id and b.id in shown
    # Everything ran: the summary no longer claims the queue is running.
    assert window.queue_summary.text() == "3 recordings: 3 done · nothing waiting"


def test_a_failed_jobs_whole_reason_and_fix_are_shown_where_the_user_looks(make_window, qtbot, tmp_path):
    """Issue 13 item 4: not cut with "…" in the cell, the tooltip or the status bar; the
    transcript pane says why instead of "0 segments"."""
    from app_fakes import LONG_MODEL_REASON

    window = make_window()
    job = window.add_paths([_touch(tmp_path / "nomodel.wav")])[0]
    window.select_job(job.id)
    window.controller.start()
    _wait_finished(qtbot, window, job.id)
    assert job.status == JobStatus.FAILED
    assert job.reason == LONG_MODEL_REASON
    cell = window.queue_model.index(0, 3)
    assert cell.data() == LONG_MODEL_REASON
    tooltip = " ".join(cell.data(Qt.ItemDataRole.ToolTipRole).split())
    assert LONG_MODEL_REASON in tooltip
    assert LONG_MODEL_REASON in window.statusBar().currentMessage()
    assert LONG_MODEL_REASON in " ".join(window.statusBar().toolTip().split())
    title = " ".join(window.transcript.title.text().split())
    assert "0 segments" not in title
    assert "nomodel.wav" in title and LONG_MODEL_REASON in title
    assert window.transcript.title.wordWrap()


def test_cost_box_prices_cpu_time_on_a_cpu_run(make_window, qtbot, tmp_path):
    """Issue 13 item 7: a run without a GPU is not priced as "GPU $/hour"."""
    window = make_window(segments=2, step_s=0.005)
    job = window.add_paths([_touch(tmp_path / "a.wav")])[0]
    window.controller.start()
    _wait_finished(qtbot, window, job.id)
    window.select_job(job.id)
    window.report.set_job(job)
    assert job.report.device == "cpu"
    assert window.report.cost_line.text().startswith("CPU time")
    assert "GPU" not in window.report.cost_line.text()
    assert window.report.gpu_rate.suffix() == " / hour CPU time"
