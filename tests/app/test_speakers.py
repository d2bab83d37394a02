"""Speakers in the app (issue 12): a coloured speaker column, rename once and it applies
everywhere (view, search, exports, the store), swap two speakers, reassign one line, tell them
apart again with another count, filter search by speaker, and the speaker settings reaching the
engine."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app import speakers
from app.jobs import JobStatus
from app.transcript_view import MATCH_COLOR, SPEAKER_COLUMN, TEXT_COLUMN, TIME_COLUMN


def _finished(make_window, qtbot, tmp_path, name="couple session.wav", **engine):
    window = make_window(segments=engine.pop("segments", 6), step_s=0.005, speakers=engine.pop("speakers", 2), **engine)
    recording = tmp_path / name
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
    assert job.status == JobStatus.DONE and job.outputs
    window.select_job(job.id)
    return window, job


def _speaker_cells(view) -> list[str]:
    return [view.model.index(row, SPEAKER_COLUMN).data() for row in range(view.model.rowCount())]


def _visible_rows(view) -> list[int]:
    return [row for row in range(view.model.rowCount()) if not view.table.isRowHidden(row)]


def _action(menu, text: str):
    for action in menu.actions():
        if action.menu() is not None:
            found = _action(action.menu(), text)
            if found is not None:
                return found
        if action.text() == text:
            return action
    return None


def _rename(view, row: int, name: str) -> None:
    assert view.model.setData(view.model.index(row, SPEAKER_COLUMN), name, Qt.ItemDataRole.EditRole)


def test_speaker_column_between_time_and_text_with_a_colour_per_speaker(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    header = view.table.horizontalHeader()
    assert not view.table.isColumnHidden(SPEAKER_COLUMN)
    assert [header.logicalIndex(i) for i in range(3)] == [TIME_COLUMN, SPEAKER_COLUMN, TEXT_COLUMN]
    assert _speaker_cells(view) == ["Speaker 1", "Speaker 2"] * 3
    first = view.model.index(0, SPEAKER_COLUMN).data(Qt.ItemDataRole.ForegroundRole)
    second = view.model.index(1, SPEAKER_COLUMN).data(Qt.ItemDataRole.ForegroundRole)
    assert isinstance(first, QColor) and isinstance(second, QColor) and first != second
    assert view.model.index(2, SPEAKER_COLUMN).data(Qt.ItemDataRole.ForegroundRole) == first
    # readable on white and on a search match: no pale colour in the palette (WCAG >= 4.5)
    for colour in speakers.PALETTE:
        assert _contrast(QColor(colour), QColor("white")) >= 4.5, colour
        assert _contrast(QColor(colour), MATCH_COLOR) >= 4.5, colour
    assert not view.speaker_filter.isHidden()
    assert [view.speaker_filter.itemText(i) for i in range(view.speaker_filter.count())] == [
        "All speakers", "Speaker 1", "Speaker 2"
    ]


def test_no_speaker_column_for_an_unlabelled_transcript(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path, speakers=None)
    view = window.transcript
    assert view.model.rowCount() == 6
    assert view.table.isColumnHidden(SPEAKER_COLUMN) and view.speaker_filter.isHidden()
    assert view.speaker_menu(0) is None  # nothing to rename or swap


def test_rename_applies_to_view_search_and_updated_exports(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    assert view.stale_bar.isHidden()
    assert "Therapist" not in job.outputs["txt"].read_text(encoding="utf-8")
    _rename(view, 2, "Therapist")  # row 2 is Speaker 1's: every line of theirs is renamed
    assert _speaker_cells(view) == ["Therapist", "Speaker 2"] * 3
    assert "Therapist" in [view.speaker_filter.itemText(i) for i in range(view.speaker_filter.count())]
    assert "(edited)" in view.title.text()
    assert not view.stale_bar.isHidden()  # the exports still say "Speaker 1"
    view.update_exports_button.click()
    assert view.stale_bar.isHidden()
    txt = job.outputs["txt"].read_text(encoding="utf-8")
    assert "Therapist: I have been sleeping better mostly number 1." in txt
    assert "Speaker 1" not in txt and "Speaker 2:" in txt
    vtt = job.outputs["vtt"].read_text(encoding="utf-8")
    assert "<v Therapist>" in vtt and "<v Speaker 1>" not in vtt
    data = json.loads(job.outputs["json"].read_text(encoding="utf-8"))
    assert data["metadata"]["speakers"] == ["Therapist"]
    # Export (a new file) has it too
    out = view.export_format("srt", tmp_path / "copy.srt")
    assert "Therapist" in out.read_text(encoding="utf-8")


def test_rename_survives_a_restart(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    _rename(window.transcript, 1, "Client")
    _rename(window.transcript, 0, "Therapist")
    job_id = job.id
    window.close()

    again = make_window(segments=6, step_s=0.005, speakers=2)
    stored = again.history.job(job_id)
    again.history.load_segments(stored)
    again.transcript.set_job(stored)
    assert _speaker_cells(again.transcript) == ["Therapist", "Client"] * 3
    assert stored.current_transcript().info.speakers == ("Therapist", "Client")
    # exports written before the rename are still named stale after the restart
    assert not again.transcript.stale_bar.isHidden()


def test_swap_two_speakers_in_one_click_and_it_persists(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    _rename(view, 0, "Therapist")
    _rename(view, 1, "Client")
    first_line = job.segments[0].text
    menu = view.speaker_menu(0)
    swap = _action(menu, "Swap Therapist and Client")
    assert swap is not None
    swap.trigger()
    assert _speaker_cells(view) == ["Client", "Therapist"] * 3
    assert job.segments[0].text == first_line  # who said it changed, not what
    assert {w.speaker for w in job.segments[0].words} == {1}  # the words follow
    assert not view.stale_bar.isHidden()
    view.update_exports_button.click()
    assert f"Client: {first_line.strip()}" in job.outputs["txt"].read_text(encoding="utf-8")
    stored = window.history.store.transcript(job.id)
    assert [stored.speaker_name(s.speaker) for s in stored.segments] == ["Client", "Therapist"] * 3


def test_say_how_many_spoke_and_the_speakers_are_told_apart_again_from_their_voices(make_window, qtbot, tmp_path):
    # The engine counted three where two voices took turns (lines 1, 3, 5 one voice; 2, 4, 6
    # the other): "How many spoke: 2" tells them apart again from the voices the job kept.
    window, job = _finished(make_window, qtbot, tmp_path, speakers=3, voices=2)
    view = window.transcript
    _rename(view, 0, "Therapist")
    _rename(view, 1, "Client")
    assert _speaker_cells(view) == ["Therapist", "Client", "Speaker 3"] * 2
    assert "6 segments, 3 speakers" in view.title.text() and "How many spoke" in view.title.toolTip()
    view.update_exports_button.click()  # the names are in the exports
    assert view.stale_bar.isHidden()
    lines = [s.text for s in job.segments]
    messages: list[str] = []
    view.message.connect(messages.append)
    menu = view.speaker_menu(0)
    assert _action(menu, "3").isChecked()  # as many as the transcript has now
    _action(menu, "2 (one-to-one session)").trigger()
    assert _speaker_cells(view) == ["Therapist", "Client"] * 3
    assert "6 segments, 2 speakers" in view.title.text()
    assert [s.text for s in job.segments] == lines  # who said it changed, not what
    assert messages[-1] == "Told apart again: 2 speakers"
    assert [w.speaker for s in job.segments for w in s.words] == [s.speaker for s in job.segments for _ in s.words]
    assert not view.stale_bar.isHidden()  # the exports are from before
    view.update_exports_button.click()
    assert "Speaker 3" not in job.outputs["txt"].read_text(encoding="utf-8")
    stored = window.history.store.transcript(job.id)
    assert [stored.speaker_name(s.speaker) for s in stored.segments] == ["Therapist", "Client"] * 3
    assert [view.speaker_filter.itemText(i) for i in range(view.speaker_filter.count())] == [
        "All speakers", "Therapist", "Client"]


def test_two_speakers_that_are_one_person_are_joined_and_it_persists(make_window, qtbot, tmp_path):
    # The engine found three where the client's voice changed (lines 2 and 5 Speaker 2, 3 and 6
    # Speaker 3): "Speaker 3 is the same person as: Client" joins them, in the store too.
    window, job = _finished(make_window, qtbot, tmp_path, speakers=3)
    view = window.transcript
    _rename(view, 0, "Therapist")
    _rename(view, 1, "Client")
    lines = [s.text for s in job.segments]
    messages: list[str] = []
    view.message.connect(messages.append)
    assert "same person as" in view.title.toolTip()  # the title says where to find it
    same = _action(view.speaker_menu(2), "Speaker 3 is the same person as").menu()
    assert [a.text() for a in same.actions()] == ["Therapist", "Client"]  # not themself
    _action(same, "Client").trigger()
    assert _speaker_cells(view) == ["Therapist", "Client", "Client"] * 2
    assert [s.text for s in job.segments] == lines
    assert {w.speaker for w in job.segments[2].words} == {1}  # the words follow
    assert "6 segments, 2 speakers" in view.title.text()
    assert messages[-1] == "Speaker 3 and Client are one speaker now"
    assert not view.stale_bar.isHidden()
    view.update_exports_button.click()
    assert "Speaker 3" not in job.outputs["txt"].read_text(encoding="utf-8")
    assert [view.speaker_filter.itemText(i) for i in range(view.speaker_filter.count())] == [
        "All speakers", "Therapist", "Client"]
    stored = window.history.store.transcript(job.id)
    assert [stored.speaker_name(s.speaker) for s in stored.segments] == ["Therapist", "Client", "Client"] * 2
    same = _action(view.speaker_menu(0), "Therapist is the same person as").menu()
    assert [a.text() for a in same.actions()] == ["Client"]  # with two left, one to join


def test_how_many_spoke_says_so_when_the_job_kept_no_voices(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)  # the fake engine kept none
    view = window.transcript
    messages: list[str] = []
    view.message.connect(messages.append)
    _action(view.speaker_menu(0), "3").trigger()
    assert "kept no voices" in messages[-1] and "Transcribe it again" in messages[-1]
    assert _speaker_cells(view) == ["Speaker 1", "Speaker 2"] * 3 and view.stale_bar.isHidden()


def test_how_many_spoke_is_not_offered_where_each_channel_was_a_speaker(make_window, qtbot, tmp_path):
    # A two-microphone recording's speakers are its channels: there are no voices to count.
    window, job = _finished(make_window, qtbot, tmp_path, channel_route="speakers")
    menu = window.transcript.speaker_menu(0)
    assert _action(menu, "How many spoke") is None
    assert _action(menu, "Swap Speaker 1 and Speaker 2") is not None  # the rest stays


def test_reassign_one_line_and_it_persists(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    menu = view.speaker_menu(3)
    said_by = _action(menu, "Speaker 1")
    assert said_by is not None and not said_by.isChecked()  # row 3 is Speaker 2's
    assert _action(menu, "Speaker 2").isChecked()
    said_by.trigger()
    assert _speaker_cells(view) == ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 1", "Speaker 1", "Speaker 2"]
    assert {w.speaker for w in job.segments[3].words} == {0}
    assert not view.stale_bar.isHidden()
    stored = window.history.store.segments(job.id)
    assert [s.speaker for s in stored] == [0, 1, 0, 0, 0, 1]
    assert {w.speaker for w in stored[3].words} == {0}
    # a third voice the engine missed
    _action(view.speaker_menu(5), "Speaker 3 (new speaker)").trigger()
    assert _speaker_cells(view)[5] == "Speaker 3"
    assert window.history.store.segments(job.id)[5].speaker == 2
    assert _action(view.speaker_menu(0), "Swap Speaker 2 and Speaker 3") is not None  # any two of three


def test_filter_shows_and_searches_one_speakers_lines(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path, segments=8)
    view = window.transcript
    _rename(view, 1, "Client")
    assert _visible_rows(view) == list(range(8))
    view.speaker_filter.setCurrentIndex(view.speaker_filter.findText("Client"))
    assert _visible_rows(view) == [1, 3, 5, 7]
    view.search_box.setText("number")  # in every line
    assert view.model.matches == [1, 3, 5, 7]
    assert view.match_label.text() == "4 matches"
    view.speaker_filter.setCurrentIndex(0)  # All speakers
    assert _visible_rows(view) == list(range(8))
    assert len(view.model.matches) == 8
    # a hit from the other speaker (e.g. "Search all sessions") shows everyone again
    view.set_speaker_filter(1)
    assert view.reveal(0, "sleeping")
    assert view.speaker_filter.currentIndex() == 0 and not view.table.isRowHidden(0)


def test_speaker_settings_are_saved_and_reach_the_engine(make_window, qtbot, tmp_path, settings_path):
    window = make_window(segments=4, step_s=0.005, speakers=2)
    panel = window.settings_panel
    panel.speakers.setCurrentIndex(panel.speakers.findData(2))
    panel.speaker_names.setText("Therapist,  Client ")
    panel.speaker_names.editingFinished.emit()
    saved = json.loads(settings_path.read_text(encoding="utf-8"))["options"]
    assert saved["speakers"] == 2 and saved["speaker_labels"] is True
    assert saved["speaker_names"] == ["Therapist", "Client"]

    recording = tmp_path / "session.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
    options = window.test.factory.engine.calls[-1][1]
    assert options.speakers == 2 and options.speaker_labels and options.speaker_names == ("Therapist", "Client")
    window.select_job(job.id)
    assert _speaker_cells(window.transcript)[:2] == ["Therapist", "Client"]
    window.close()

    again = make_window().settings_panel
    assert again.speakers.currentData() == 2 and again.speaker_names.text() == "Therapist, Client"
    again.speakers.setCurrentIndex(again.speakers.findData("off"))
    assert again.settings.options.speaker_labels is False and again.settings.options.speakers is None
    again.speakers.setCurrentIndex(again.speakers.findData("auto"))
    assert again.settings.options.speaker_labels is True and again.settings.options.speakers is None


def _contrast(text: QColor, background: QColor) -> float:
    def luminance(colour: QColor) -> float:
        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())

    return (luminance(background) + 0.05) / (luminance(text) + 0.05)


def test_the_engines_final_split_lines_replace_the_live_ones_in_place(qtbot, tmp_path):
    """Live lines have no speakers; the finished transcript splits them at turn changes. The
    view shows the new rows and the speaker column without losing the selected line."""
    from app.jobs import Job
    from app.transcript_view import TranscriptView
    from engine import Segment, Transcript

    view = TranscriptView()
    qtbot.addWidget(view)
    job = Job(path=tmp_path / "s.wav", status=JobStatus.RUNNING)
    job.segments = [Segment(0, 4, " How are you? Fine, thanks."), Segment(4, 6, " Good.")]
    view.set_job(job)
    assert view.table.isColumnHidden(SPEAKER_COLUMN)
    view.table.selectRow(1)
    final = [Segment(0, 2, " How are you?", speaker=0), Segment(2, 4, " Fine, thanks.", speaker=1),
             Segment(4, 6, " Good.", speaker=0)]
    job.transcript = Transcript.of(final, speakers=("Therapist",))
    job.segments = list(final)
    job.status = JobStatus.DONE
    view.refresh(job.id)
    assert view.model.rowCount() == 3
    assert [view.model.index(r, TEXT_COLUMN).data() for r in range(3)] == ["How are you?", "Fine, thanks.", "Good."]
    assert _speaker_cells(view) == ["Therapist", "Speaker 2", "Therapist"]
    assert not view.table.isColumnHidden(SPEAKER_COLUMN)
    assert view.table.selectionModel().isRowSelected(1)  # not reset under the user


def test_double_click_a_speaker_and_type_a_name(make_window, qtbot, tmp_path):
    from PySide6.QtWidgets import QApplication, QLineEdit

    window, job = _finished(make_window, qtbot, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    view = window.transcript
    rect = view.table.visualRect(view.model.index(1, SPEAKER_COLUMN))
    assert rect.isValid() and rect.left() < view.table.visualRect(view.model.index(1, TEXT_COLUMN)).left()
    # QTest sends only the double-click event; a real one comes after a press and release.
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))  # editing
    editor = QApplication.focusWidget()
    assert editor.text() == "Speaker 2"
    editor.selectAll()
    qtbot.keyClicks(editor, "Client")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next turn of the loop
    qtbot.waitUntil(lambda: _speaker_cells(view) == ["Speaker 1", "Client"] * 3)
    assert job.segments[1].text.strip() != "Client"  # the text column was not edited


def test_two_microphone_setting_reaches_the_next_job_and_survives_a_restart(make_window, qtbot, tmp_path, settings_path):
    from PySide6.QtWidgets import QLabel

    from app.settings_panel import CHANNEL_CHOICES
    from engine import CHANNEL_SETTINGS

    # Settings offers every value the engine takes, and only those.
    assert CHANNEL_SETTINGS == tuple(value for _label, value in CHANNEL_CHOICES)
    window = make_window(segments=2, step_s=0.005, speakers=2)
    panel = window.settings_panel
    row_label = next(label for label in panel.findChildren(QLabel) if label.buddy() is panel.channels)
    assert row_label.text() == "Two-microphone recordings:"
    labels = [panel.channels.itemText(i) for i in range(panel.channels.count())]
    assert labels == ["Detect automatically", "Each channel is one speaker", "Mix channels to mono"]
    assert all(label in panel.channels.toolTip() for label in labels)  # when to choose each
    assert panel.channels.currentText() == "Detect automatically"

    def run(name: str):
        recording = tmp_path / name
        recording.write_bytes(b"x")
        job = window.add_paths([recording])[0]
        window.controller.start()
        qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
        return window.test.factory.engine.calls[-1][1]

    assert run("before.wav").channels == "auto"
    panel.channels.setCurrentIndex(panel.channels.findText("Mix channels to mono"))
    assert json.loads(settings_path.read_text(encoding="utf-8"))["options"]["channels"] == "mix"
    assert run("after.wav").channels == "mix"
    window.close()

    again = make_window().settings_panel
    assert again.channels.currentText() == "Mix channels to mono"
    assert again.settings.effective_options().channels == "mix"
    again.channels.setCurrentIndex(again.channels.findText("Each channel is one speaker"))
    assert again.settings.effective_options().channels == "speakers"


def test_the_progress_tooltip_says_speakers_off_when_they_were_turned_off(make_window, qtbot, tmp_path):
    from app.queue_model import COL_PROGRESS

    window, job = _finished(make_window, qtbot, tmp_path)
    tip = window.queue_model.index(0, COL_PROGRESS).data(Qt.ItemDataRole.ToolTipRole)
    assert "Speakers: done" in tip and "Speakers: off" not in tip
    panel = window.settings_panel
    panel.speakers.setCurrentIndex(panel.speakers.findData("off"))
    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"x")
    second = window.add_paths([memo])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: second.status.finished, timeout=10000)
    tip = window.queue_model.index(1, COL_PROGRESS).data(Qt.ItemDataRole.ToolTipRole)
    assert "Speakers: off" in tip and "Speakers: done" not in tip


def test_a_turn_is_split_into_sentences_and_one_given_to_the_other_speaker(make_window, qtbot, tmp_path):
    """A row is a turn; the speaker model put the client's first sentence at the end of the
    therapist's turn. Split into sentences, that one sentence goes back to the client alone,
    and the store has both changes (a reopened transcript shows them)."""
    texts = ("How have you been? I have been sleeping better.", "That is good to hear.")
    window, job = _finished(make_window, qtbot, tmp_path, segments=2, texts=texts, duration_s=8.0)
    view = window.transcript
    assert _action(view.speaker_menu(1), "Split into sentences") is None  # one sentence: nothing to split
    _action(view.speaker_menu(0), "Split into sentences").trigger()
    assert [view.model.index(row, TEXT_COLUMN).data() for row in range(3)] == [
        "How have you been?", "I have been sleeping better.", "That is good to hear."]
    assert _speaker_cells(view) == ["Speaker 1", "Speaker 1", "Speaker 2"]
    assert "Split into 2 sentences" in window.statusBar().currentMessage()
    _action(view.speaker_menu(1), "Speaker 2").trigger()
    assert _speaker_cells(view) == ["Speaker 1", "Speaker 2", "Speaker 2"]
    assert [w.speaker for w in job.segments[1].words] == [1, 1, 1, 1, 1]
    assert not view.stale_bar.isHidden()  # the exports written before say otherwise
    stored = window.history.store.segments(job.id)
    assert [(s.text, s.speaker) for s in stored] == [
        ("How have you been?", 0), ("I have been sleeping better.", 1), (" That is good to hear.", 1)]
    from engine import render

    assert render(job.current_transcript(), "txt").endswith(
        "Speaker 2: I have been sleeping better. That is good to hear.\n")  # every export follows
