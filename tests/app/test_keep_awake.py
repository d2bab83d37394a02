"""The machine is kept from sleeping while the queue runs and let go when it is done; where no
sleep inhibitor exists (this container, CI) that fails soft with a note in the status bar."""
from __future__ import annotations

import pytest

from app import keep_awake
from app.jobs import JobStatus


class FakeMode:
    def __init__(self, active: bool) -> None:
        self.active = active
        self.entered = self.exited = 0

    def __enter__(self):
        self.entered += 1
        return self

    def __exit__(self, *_exc):
        self.exited += 1
        return False


def _run_two(window, qtbot, tmp_path):
    jobs = []
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(b"x")
    jobs = window.add_paths([tmp_path / "a.wav", tmp_path / "b.wav"])
    window.controller.start()
    return jobs


def test_kept_awake_while_the_queue_runs_and_let_go_when_done(make_window, qtbot, tmp_path, monkeypatch):
    modes = []
    monkeypatch.setattr(keep_awake, "enter_mode", lambda: modes.append(FakeMode(True)) or modes[-1].__enter__())
    window = make_window(segments=4, step_s=0.01)
    assert window.keep_awake_label.isHidden()
    jobs = _run_two(window, qtbot, tmp_path)
    qtbot.waitUntil(lambda: modes and modes[0].entered == 1)
    assert "awake" in window.keep_awake_label.text() and not window.keep_awake_label.isHidden()
    qtbot.waitUntil(lambda: all(job.status == JobStatus.DONE for job in jobs), timeout=10000)
    assert len(modes) == 1 and modes[0].exited == 1  # one hold for the whole queue
    assert "may sleep again" in window.keep_awake_label.text() and not window.keep_awake_label.isHidden()
    window._keep_awake_hide.timeout.emit()  # (after 15 s)
    assert window.keep_awake_label.isHidden()


def test_no_inhibitor_fails_soft_with_a_note(make_window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(keep_awake, "enter_mode", lambda: FakeMode(False).__enter__())
    window = make_window(segments=4, step_s=0.05)
    jobs = _run_two(window, qtbot, tmp_path)
    qtbot.waitUntil(lambda: "could not keep this computer awake" in window.keep_awake_label.text())
    qtbot.waitUntil(lambda: all(job.status == JobStatus.DONE for job in jobs), timeout=10000)
    # The job's own note is not replaced by the keep-awake one.
    assert "awake" not in window.statusBar().currentMessage()


@pytest.mark.parametrize("error", [ImportError("No module named 'wakepy'"), RuntimeError("D-Bus said no")])
def test_an_inhibitor_that_breaks_does_not_stop_the_queue(make_window, qtbot, tmp_path, monkeypatch, error):
    def broken():
        raise error

    monkeypatch.setattr(keep_awake, "enter_mode", broken)
    window = make_window(segments=4, step_s=0.05)
    jobs = _run_two(window, qtbot, tmp_path)
    qtbot.waitUntil(lambda: "could not keep this computer awake" in window.keep_awake_label.text())
    assert str(error) not in window.keep_awake_label.text() + window.keep_awake_label.toolTip()
    qtbot.waitUntil(lambda: all(job.status == JobStatus.DONE for job in jobs), timeout=10000)
    assert window.keep_awake_label.isHidden()  # nothing was held: no "may sleep again"


def test_real_wakepy_never_raises_here():
    """Here (no session bus, no inhibitor) wakepy must answer 'not active', not raise."""
    holder = keep_awake.KeepAwake(enter=keep_awake.wakepy_mode)
    note = holder.hold()
    assert note and "\n" not in note
    holder.release()
    assert not holder.held
