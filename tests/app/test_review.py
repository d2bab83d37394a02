"""Review workflow: keyboard playback while editing, speed, the playing row highlighted and
kept in view, low-confidence words marked, a segment heard before it is corrected."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QStyleOptionViewItem

from app.jobs import JobStatus
from engine.segments import Segment, Word


def _finished(make_window, qtbot, tmp_path, segments: int = 6):
    window = make_window(segments=segments, step_s=0.005)
    recording = tmp_path / "client session.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
    assert job.status == JobStatus.DONE
    window.select_job(job.id)
    return window, job


def _edit_row(view, qtbot, row: int) -> QLineEdit:
    index = view.model.index(row, 1)
    view.table.setCurrentIndex(index)
    view.table.edit(index)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    assert editor.parent() is view.table.viewport()
    return editor


def _end_edit(qtbot, editor) -> None:
    """Esc, as a user would. Also a key without modifiers: QTest's synthetic Ctrl/Alt clicks
    can leave the application's modifier state "held", and later tests' selections would
    then act as Ctrl+click."""
    qtbot.keyClick(editor, Qt.Key.Key_Escape)


def test_play_pause_and_skip_back_from_the_keyboard_while_editing(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    view, player = window.transcript, window.test.player
    view.play_from(job.segments[3].start)  # 30 s
    editor = _edit_row(view, qtbot, 3)
    editor.setText("half typed")
    qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert player.toggles == 1 and not player.is_playing
    qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert player.toggles == 2 and player.is_playing
    player.position_s = 32.0
    qtbot.keyClick(editor, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert player.position_s == 27.0
    player.position_s = 3.0
    qtbot.keyClick(editor, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert player.position_s == 0.0  # never before the start
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert player.position_s == 5.0
    # The editor kept focus and its text: the shortcuts did not end the edit.
    assert QApplication.focusWidget() is editor and editor.text() == "half typed"
    _end_edit(qtbot, editor)
    assert "Ctrl+Space" in view.play_button.toolTip()
    assert "Alt+Left" in view.back_button.toolTip()


def test_playback_speed(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view, player = window.transcript, window.test.player
    rates = [view.speed_box.itemData(i) for i in range(view.speed_box.count())]
    assert min(rates) == 0.75 and max(rates) == 2.0 and 1.0 in rates
    assert view.speed_box.currentData() == 1.0
    view.speed_box.setCurrentIndex(rates.index(1.5))
    view.play_from(job.segments[1].start)  # a player made after the choice gets it too
    assert player.rate == 1.5
    view.speed_box.setCurrentIndex(rates.index(0.75))
    assert player.rate == 0.75


def test_playing_segment_is_highlighted_and_kept_in_view(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path, segments=60)
    window.show()
    qtbot.waitExposed(window)
    view, player = window.transcript, window.test.player
    view.play_from(job.segments[0].start)
    view.poll_playback()
    assert view.model.playing_row == 0
    assert view.model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert view.model.index(0, 1).data(Qt.ItemDataRole.FontRole).bold()
    player.position_s = job.segments[50].start + 0.1
    view.poll_playback()
    assert view.model.playing_row == 50
    assert view.model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole) is None
    assert view.model.index(50, 1).data(Qt.ItemDataRole.BackgroundRole) is not None
    viewport = view.table.viewport().rect()
    assert viewport.intersects(view.table.visualRect(view.model.index(50, 1)))
    # In the pause after a line, that line stays lit; after the last one, none is.
    player.position_s = (job.segments[50].end + job.segments[51].start) / 2
    view.poll_playback()
    assert view.model.playing_row == 50
    player.position_s = job.segments[-1].end + 1.0
    view.poll_playback()
    assert view.model.playing_row == -1
    # The timer follows playback by itself.
    player.position_s = job.segments[20].start + 0.1
    qtbot.waitUntil(lambda: view.model.playing_row == 20, timeout=2000)
    # Another job: no highlight left behind.
    view.set_job(None)
    assert view.model.playing_row == -1


def test_low_confidence_words_are_marked(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    words = (Word(0.0, 0.4, " I", 0.95), Word(0.4, 0.9, " slept", 0.31), Word(0.9, 1.3, " badly.", 0.88))
    job.segments[0] = Segment(0.0, 1.3, " I slept badly.", words)
    view.set_job(job)
    index = view.model.index(0, 1)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "I slept badly."  # plain text unchanged
    html = view.model.marked_html(0)
    assert html is not None and "slept" in html and "underline" in html
    assert "I" in html.split("slept")[0] and "underline" not in html.split("slept")[1]
    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert "slept" in tip and "31 %" in tip and "low confidence" in tip
    assert view.model.marked_html(1) is None  # no words, nothing marked
    # The delegate draws the marked text (a row tall enough for it) without errors.
    window.show()
    qtbot.waitExposed(window)
    view.table.viewport().repaint()
    delegate = view.table.itemDelegateForColumn(1)
    assert delegate is not None
    qtbot.waitUntil(lambda: view.table.rowHeight(0) >= delegate.sizeHint(QStyleOptionViewItem(), index).height())
    assert view.table.rowHeight(0) >= delegate.sizeHint(QStyleOptionViewItem(), index).height() > 0
    # An edit drops the word timings, and with them the marks.
    assert view.model.setData(index, "I slept well.", Qt.ItemDataRole.EditRole)
    assert view.model.marked_html(0) is None


def test_double_click_to_correct_plays_that_segment_once(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    view, player = window.transcript, window.test.player
    index = view.model.index(2, 1)
    rect = view.table.visualRect(index)
    # QTest sends only the double-click event; a real one comes after a press and release.
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert player.played and player.played[-1] == (job.path, job.segments[2].start)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))  # editing
    # Heard once: playback pauses at the segment's end.
    player.position_s = job.segments[2].end + 0.5
    view.poll_playback()
    assert not player.is_playing
    # Replay the line being corrected from its start.
    editor = QApplication.focusWidget()
    qtbot.keyClick(editor, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert player.played[-1] == (job.path, job.segments[2].start) and player.is_playing
    _end_edit(qtbot, editor)
