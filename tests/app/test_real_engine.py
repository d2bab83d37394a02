"""One real run: the actual engine (tiny deterministic model) driven through the window."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from app.jobs import JobStatus
from app.settings import AppSettings, SettingsStore
from engine.events import Stage
from engine.options import EXPORT_FORMATS, TranscribeOptions


def test_real_engine_run_fills_the_transcript(make_window, qtbot, tmp_path, settings_path, tiny_model, speech_available):
    from support.audio import session, write_audio

    audio, _spans = session(
        [1.0, "Hello there, how are you feeling today?", 2.0, "I have been sleeping better, thank you.",
         1.5, "That is good to hear."]
    )
    recording = write_audio(tmp_path / "in" / "client session.mp3", audio)
    out = tmp_path / "out"
    store = SettingsStore(settings_path)
    # Every format, DOCX, MAXQDA and RTTM too: the window's Export must equal each engine file.
    store.save(AppSettings(options=TranscribeOptions(model=str(tiny_model), device="cpu", output_dir=out,
                                                     formats=EXPORT_FORMATS)))

    window = make_window(real_engine=True, settings_store=store)
    segments_seen = []
    window.controller.segment_added.connect(lambda job_id, seg: segments_seen.append(seg))
    event_ids = set()
    window.controller.adapter.event.connect(lambda event: event_ids.add(getattr(event, "job_id", None)))
    job = window.add_paths([recording])[0]
    ui_thread = threading.get_ident()
    window.start_action.trigger()
    qtbot.waitUntil(lambda: job.status.finished, timeout=180_000)

    assert job.status == JobStatus.DONE, job.reason
    assert segments_seen, "no segment arrived live"
    view = window.transcript
    assert view.job is job and view.model.rowCount() == len(job.segments) > 0
    assert "hello" in view.model.index(0, 1).data().lower()
    assert job.duration_s and 5 < job.duration_s < 15
    assert all(job.stages[s].finished_at is not None for s in Stage)
    assert set(job.outputs) == {"txt", "srt", "vtt", "json", "docx", "maxqda", "rttm"}
    assert job.outputs["maxqda"].name == "client session.maxqda.txt"
    for path in job.outputs.values():
        assert Path(path).parent == out and Path(path).stat().st_size > 0
    assert json.loads(job.outputs["json"].read_text(encoding="utf-8"))["segments"]
    # The report is real: stage times, real-time factor, thread counts, cost line.
    window.report.set_job(job)
    assert window.report.details.isVisibleTo(window.report)
    assert job.report.stages["transcribe"] > 0 and job.report.rtf > 0
    # This CPU's cores decode side by side: as many workers as cores (up to 4), one or more
    # threads each.
    from engine.hardware import CPU_MAX_WORKERS, usable_cores

    workers = min(CPU_MAX_WORKERS, usable_cores())
    assert f"{workers} transcription worker" in window.report.fields["threads"].text()
    assert "CPU thread" in window.report.fields["threads"].text()
    assert "speech API" in window.report.cost_line.text()
    # Every event of the job came under the queue row's id (none re-keyed).
    assert event_ids - {None} == {job.id}
    # The window's Export of an unedited transcript is the engine's file, byte for byte.
    for fmt_name, engine_file in job.outputs.items():
        exported = view.export_format(fmt_name, tmp_path / f"gui.{fmt_name}")
        assert exported.read_bytes() == Path(engine_file).read_bytes(), fmt_name
    # Re-export after an edit goes through the engine's writer.
    view.model.setData(view.model.index(0, 1), "Hello, edited.")
    written = view.export_format("txt", tmp_path / "edited.txt")
    assert written and "Hello, edited." in written.read_text(encoding="utf-8")
    # The edit is also saved in the job store, so the transcript history shows it.
    assert window.history.store.segments(job.id)[0].text == "Hello, edited."
    assert threading.get_ident() == ui_thread

    # After a restart the finished job is in the History with its report; its transcript
    # loads when it is opened from there.
    window.close()
    again = make_window(real_engine=True, settings_store=store)
    assert again.queue_model.job(job.id) is None  # today's queue starts empty
    again.show_history()
    assert [row.job_id for row in again.history_view.shown_rows()] == [job.id]
    again.history_view.open_row(0)
    restored = again.transcript.job
    assert restored is not None and restored.id == job.id and restored.status == JobStatus.DONE
    assert restored.report is not None and restored.report.audio_s == job.report.audio_s
    assert again.transcript.model.rowCount() == len(job.segments)
    assert again.transcript.model.index(0, 1).data() == "Hello, edited."
    assert "(edited)" in again.transcript.title.text()


def test_retry_with_another_two_microphone_setting_transcribes_afresh(make_window, qtbot, tmp_path, settings_path,
                                                                       tiny_model, speech_available):
    """The stored words of one Settings choice are never reused for another: "Retry" after
    choosing "Mix channels to mono" transcribes the recording again, while a Retry with
    nothing changed, or another number of speakers, takes every part from the store."""
    from support.audio import session, write_audio

    audio, _spans = session([1.0, "We can start whenever you are ready.", 1.5, "Thank you for coming.", 1.0])
    recording = write_audio(tmp_path / "in" / "two mics.ogg", audio)
    store = SettingsStore(settings_path)
    store.save(AppSettings(options=TranscribeOptions(model=str(tiny_model), device="cpu",
                                                     output_dir=tmp_path / "out", formats=("txt",))))
    window = make_window(real_engine=True, settings_store=store)
    job = window.add_paths([recording])[0]

    def run() -> None:
        window.start_action.trigger()
        qtbot.waitUntil(lambda: job.status.finished, timeout=180_000)
        assert job.status == JobStatus.DONE, job.reason

    run()
    assert job.options.channels == "auto" and job.report.resumed_windows == 0
    window.select_job(job.id)
    window.retry_action.trigger()
    run()
    assert job.report.resumed_windows > 0 and job.report.windows == 0  # nothing changed: all reused

    panel = window.settings_panel
    # Another number of speakers: the words and voices are the same, so all is reused and only
    # the speakers are told apart again.
    panel.speakers.setCurrentIndex(panel.speakers.findText("3"))
    window.select_job(job.id)
    window.retry_action.trigger()
    run()
    assert job.options.speakers == 3
    assert job.report.resumed_windows > 0 and job.report.windows == 0

    panel.channels.setCurrentIndex(panel.channels.findText("Mix channels to mono"))
    window.select_job(job.id)
    window.retry_action.trigger()
    run()
    assert job.options.channels == "mix"
    assert job.report.resumed_windows == 0 and job.report.windows > 0  # transcribed again
    window.report.set_job(job)
    assert window.report.fields["resumed"].text() == "no: this run transcribed the whole recording"
