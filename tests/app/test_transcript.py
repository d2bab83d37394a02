"""Transcript view: search, click to play, edit, export to every format, open the folder."""
from __future__ import annotations

import json
from pathlib import Path

import docx
from PySide6.QtCore import Qt

from app.jobs import JobStatus


def _finished_window(make_window, qtbot, tmp_path, segments: int = 6):
    window = make_window(segments=segments, step_s=0.005)
    recording = tmp_path / "client session.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
    assert job.status == JobStatus.DONE
    window.select_job(job.id)
    return window, job


def test_search_counts_and_highlights_matches(make_window, qtbot, tmp_path):
    window, _job = _finished_window(make_window, qtbot, tmp_path, segments=8)
    view = window.transcript
    view.search_box.setText("pause there")
    assert view.match_label.text() == "2 matches"
    assert view.model.matches == [3, 7]
    assert view.model.index(3, 1).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert view.model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole) is None
    view.step_match(1)
    assert view.match_label.text() == "2 of 2"
    view.search_box.setText("SLEEPING")  # case-insensitive
    assert view.match_label.text() == "2 matches"
    view.search_box.setText("zebra")
    assert view.match_label.text() == "0 matches"
    view.search_box.clear()
    assert view.match_label.text() == ""


def test_click_plays_from_the_segment(make_window, qtbot, tmp_path):
    window, job = _finished_window(make_window, qtbot, tmp_path)
    view = window.transcript
    index = view.model.index(2, 0)
    rect = view.table.visualRect(index)
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.test.player.played == [(job.path, job.segments[2].start)]
    assert view.play_button.isEnabled()


def test_edit_then_export_every_format(make_window, qtbot, tmp_path):
    window, job = _finished_window(make_window, qtbot, tmp_path)
    view = window.transcript
    assert view.model.setData(view.model.index(1, 1), "The client said: mostly better.", Qt.ItemDataRole.EditRole)
    assert job.edited and job.segments[1].text == "The client said: mostly better."
    assert "(edited)" in view.title.text()
    out = tmp_path / "exports"
    out.mkdir()
    for fmt, button in view.export_buttons.items():
        assert button.isEnabled()
        written = view.export_format(fmt, out / f"t.{fmt}")
        assert written == out / f"t.{fmt}"
    txt = (out / "t.txt").read_text(encoding="utf-8")
    assert "The client said: mostly better." in txt
    srt = (out / "t.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n") and "-->" in srt and "," in srt.split("-->")[0]
    vtt = (out / "t.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and "-->" in vtt
    data = json.loads((out / "t.json").read_text(encoding="utf-8"))
    assert data["segments"][1]["text"] == "The client said: mostly better."
    assert len(data["segments"]) == 6
    assert all(s["start"] <= s["end"] for s in data["segments"])
    # The Word document and MAXQDA's text carry the edit too.
    document = docx.Document(str(out / "t.docx"))
    assert any("The client said: mostly better." in p.text for p in document.paragraphs)
    assert "Recording: client session.wav" in [p.text for p in document.paragraphs]
    maxqda = (out / "t.maxqda").read_text(encoding="utf-8-sig")
    assert maxqda.startswith("#00:00:00-0#\n") and "The client said: mostly better." in maxqda
    assert set(view.export_buttons) == {"txt", "srt", "vtt", "json", "docx", "maxqda"}


def test_export_button_asks_where_and_writes(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window, job = _finished_window(make_window, qtbot, tmp_path)
    target = tmp_path / "chosen.srt"
    asked = {}

    def fake_dialog(_parent, _title, suggested, _filter, *_options):
        asked["suggested"] = suggested
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    window.transcript.export_buttons["srt"].click()
    assert target.is_file() and "-->" in target.read_text(encoding="utf-8")
    assert asked["suggested"].endswith("client session.srt")


def test_export_failure_is_one_line(make_window, qtbot, tmp_path):
    window, _job = _finished_window(make_window, qtbot, tmp_path)
    messages = []
    window.transcript.message.connect(messages.append)
    (tmp_path / "a-file").write_text("not a folder")
    assert window.transcript.export_format("txt", tmp_path / "a-file" / "t.txt") is None
    assert messages and "\n" not in messages[-1] and messages[-1].startswith("Export failed")


def test_open_output_folder(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    window, job = _finished_window(make_window, qtbot, tmp_path)
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window.transcript.open_folder_button.click()
    assert opened == [str(Path(next(iter(job.outputs.values()))).parent)]


def test_open_folder_without_a_file_manager_says_so(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    window, job = _finished_window(make_window, qtbot, tmp_path)
    messages = []
    window.transcript.message.connect(messages.append)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # nothing handles file://
    window.transcript.open_folder_button.click()
    folder = Path(next(iter(job.outputs.values()))).parent
    assert messages and "No file manager" in messages[-1] and str(folder) in messages[-1]


def test_time_column_header_is_not_clipped(make_window, qtbot, tmp_path):
    window, _job = _finished_window(make_window, qtbot, tmp_path)
    table = window.transcript.table
    header = table.horizontalHeader()
    text = window.transcript.model.headerData(0, Qt.Orientation.Horizontal)
    # The header's own margins and sort-indicator room are part of the section's width.
    assert header.fontMetrics().horizontalAdvance(text) + 16 <= table.columnWidth(0)
    assert "play" in window.transcript.model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)


def test_file_export_asks_for_any_format_and_writes_it(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window, _job = _finished_window(make_window, qtbot, tmp_path)
    target = tmp_path / "chosen.vtt"
    asked = {}

    def fake_dialog(_parent, _title, suggested, name_filter, *_options):
        asked["filter"] = name_filter
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    window._update_actions()
    assert window.export_action.isEnabled()
    window.export_action.trigger()
    assert target.read_text(encoding="utf-8").startswith("WEBVTT")
    assert all(f"*.{name}" in asked["filter"] for name in ("txt", "srt", "vtt", "json"))
    assert "Word document (*.docx)" in asked["filter"] and "MAXQDA text (*.maxqda.txt)" in asked["filter"]

    # The chosen name's ending says the format: .docx a Word document, .maxqda.txt MAXQDA.
    target = tmp_path / "chosen.docx"
    window.export_action.trigger()
    assert "Recording: client session.wav" in [p.text for p in docx.Document(str(target)).paragraphs]
    target = tmp_path / "chosen.maxqda.txt"
    window.export_action.trigger()
    assert target.read_text(encoding="utf-8-sig").startswith("#00:00:00-0#")
    # Who spoke when (RTTM) is here, for scorers, not among the buttons under the transcript.
    assert "RTTM (who spoke when) (*.rttm)" in asked["filter"] and "rttm" not in window.transcript.export_buttons
    target = tmp_path / "chosen.rttm"
    window.export_action.trigger()
    assert target.read_text(encoding="utf-8").startswith("SPEAKER client_session 1 ")


def test_docx_button_suggests_a_docx_beside_the_recording(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window, _job = _finished_window(make_window, qtbot, tmp_path)
    asked = {}

    def fake_dialog(_parent, _title, suggested, name_filter, *_options):
        asked.update(suggested=suggested, filter=name_filter)
        return suggested, ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    window.transcript.export_buttons["docx"].click()
    assert Path(asked["suggested"]).name == "client session.docx" and asked["filter"] == "Word document (*.docx)"
    assert docx.Document(asked["suggested"]).paragraphs
    window.transcript.export_buttons["maxqda"].click()
    assert Path(asked["suggested"]).name == "client session.maxqda.txt"
