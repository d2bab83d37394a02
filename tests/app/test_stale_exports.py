"""Edits must not leave the exports beside the recording silently stale: the view names the
stale files and "Update exports" rewrites them (atomically, same permissions), never a file
SessionScribe did not write."""
from __future__ import annotations

import json
import os
import stat

from PySide6.QtCore import Qt

from app.jobs import JobStatus


def _finished(make_window, qtbot, tmp_path):
    window = make_window(segments=6, step_s=0.005)
    recording = tmp_path / "client session.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
    assert job.status == JobStatus.DONE and job.outputs
    window.select_job(job.id)
    return window, job


def _edit(view, row: int, text: str) -> None:
    assert view.model.setData(view.model.index(row, 1), text, Qt.ItemDataRole.EditRole)


def test_edit_names_the_stale_exports_and_update_rewrites_them(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    assert view.stale_bar.isHidden()  # nothing edited yet
    txt = job.outputs["txt"]
    os.chmod(txt, 0o640)
    before = json.loads(job.outputs["json"].read_text(encoding="utf-8"))
    _edit(view, 1, "The client said: mostly better.")
    assert not view.stale_bar.isHidden()
    label = view.stale_label.text()
    for path in job.outputs.values():
        assert path.name in label
    assert "The client said" not in txt.read_text(encoding="utf-8")  # nothing written yet
    view.update_exports_button.click()
    assert view.stale_bar.isHidden()
    for path in job.outputs.values():  # (subtitles split the line into cues)
        assert "The client said" in path.read_text(encoding="utf-8"), path.name
    assert stat.S_IMODE(os.stat(txt).st_mode) == 0o640  # permissions kept
    after = json.loads(job.outputs["json"].read_text(encoding="utf-8"))
    assert after["metadata"]["source"] == before["metadata"]["source"] and after["metadata"]["edited"] is True
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically
    # A second edit makes them stale again.
    _edit(view, 2, "Second correction.")
    assert not view.stale_bar.isHidden()


def test_update_never_replaces_a_file_changed_outside(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    messages = []
    view.message.connect(messages.append)
    _edit(view, 0, "Corrected first line.")
    txt = job.outputs["txt"]
    txt.write_text("My own notes about the session.\n", encoding="utf-8")  # the clinician's file now
    view.update_exports_button.click()
    assert txt.read_text(encoding="utf-8") == "My own notes about the session.\n"
    assert "Corrected" in job.outputs["srt"].read_text(encoding="utf-8")
    assert messages and txt.name in messages[-1] and "\n" not in messages[-1]
    assert "not replaced" in messages[-1]


def test_exports_from_another_job_are_not_stale(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    _edit(view, 0, "Corrected first line.")
    assert not view.stale_bar.isHidden()
    view.set_job(None)
    assert view.stale_bar.isHidden()


def test_exports_older_than_stored_edits_are_stale_after_a_restart(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    assert job.transcript.speech  # voiced regions travel with the transcript (TXT paragraphs, cues)
    for path in job.outputs.values():
        os.utime(path, (1_000_000_000, 1_000_000_000))  # written long before the edit
    _edit(window.transcript, 3, "Corrected before the restart.")
    again = make_window()
    assert again.open_session(job.id)  # from History: ended sessions are not in today's queue
    stored = again.transcript.job
    view = again.transcript
    assert view.job is stored and stored.edited
    assert stored.transcript.speech == job.transcript.speech  # read back from the store
    assert not view.stale_bar.isHidden() and job.outputs["txt"].name in view.stale_label.text()
    view.update_exports_button.click()
    assert "Corrected before the restart." in job.outputs["txt"].read_text(encoding="utf-8")
    assert view.stale_bar.isHidden()


def test_export_over_an_own_output_brings_it_up_to_date(make_window, qtbot, tmp_path):
    window, job = _finished(make_window, qtbot, tmp_path)
    view = window.transcript
    _edit(view, 0, "Corrected first line.")
    assert view.export_format("srt", job.outputs["srt"]) == job.outputs["srt"]
    assert job.outputs["srt"].name not in view.stale_label.text()
    view.update_exports_button.click()  # the exported file is still ours: no "changed outside"
    assert job.outputs["srt"].name not in view.stale_label.text() and view.stale_bar.isHidden()


def test_an_edit_made_while_the_job_ran_makes_its_exports_stale(make_window, qtbot, tmp_path):
    window = make_window(segments=6, step_s=0.05)
    recording = tmp_path / "client session.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    view = window.transcript
    qtbot.waitUntil(lambda: view.job is job and view.model.rowCount() >= 2, timeout=10000)
    assert not job.status.finished
    _edit(view, 0, "Corrected while it ran.")
    qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
    assert job.status == JobStatus.DONE
    # The engine wrote its own words: the edit is in none of the files yet.
    assert "Corrected while it ran." not in job.outputs["txt"].read_text(encoding="utf-8")
    assert not view.stale_bar.isHidden()
    view.update_exports_button.click()
    assert "Corrected while it ran." in job.outputs["txt"].read_text(encoding="utf-8")
    assert view.stale_bar.isHidden()


def test_update_exports_rewrites_a_stale_docx(make_window, qtbot, tmp_path, settings_path):
    import docx

    from app.settings import AppSettings, SettingsStore
    from engine import TranscribeOptions

    store = SettingsStore(settings_path)
    store.save(AppSettings(options=TranscribeOptions(formats=("txt", "docx"))))
    window = make_window(segments=6, step_s=0.005, settings_store=store)
    recording = tmp_path / "client session.wav"
    recording.write_bytes(b"x")
    job = window.add_paths([recording])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status.finished, timeout=10000)
    assert job.status == JobStatus.DONE and set(job.outputs) == {"txt", "docx"}
    window.select_job(job.id)
    view = window.transcript
    _edit(view, 1, "The client said: mostly better.")
    assert job.outputs["docx"].name in view.stale_label.text()
    view.update_exports_button.click()
    assert view.stale_bar.isHidden()
    paragraphs = [p.text for p in docx.Document(str(job.outputs["docx"])).paragraphs]
    assert any("The client said: mostly better." in text for text in paragraphs), paragraphs
    assert "Note: corrected by hand after transcription" in paragraphs
