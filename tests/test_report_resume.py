"""Honest numbers for a resumed run (issue 13 item 6): speed and cost count only the audio the
run transcribed itself, and every front end says the rest came from an earlier run."""
from __future__ import annotations

import io
from pathlib import Path

from engine.events import JobDone, JobStarted
from engine.report import RunReport


def _resumed() -> RunReport:
    # 40 min recording, 4 windows: 3 from the job store, 1 transcribed in 60 s.
    return RunReport(device="cpu", audio_s=2400.0, wall_s=60.0, windows=1, resumed_windows=3)


def test_a_resumed_run_is_timed_on_what_it_transcribed():
    report = _resumed()
    assert report.run_audio_s == 600.0
    assert report.rtf == 0.1  # 10x real time, not the 40x the whole recording would claim
    assert report.cost(api_dollars_per_minute=0.006).api_dollars == 600.0 / 60.0 * 0.006
    assert report.resume_text() == "3 of 4 part(s) came from an earlier run (not transcribed again)"
    assert report.to_dict()["rtf"] == 0.1


def test_a_run_that_did_everything_is_unchanged_and_says_nothing_of_resuming():
    report = RunReport(device="cpu", audio_s=2400.0, wall_s=60.0, windows=4)
    assert report.run_audio_s == 2400.0 and report.rtf == 60.0 / 2400.0
    assert report.resume_text() == "" and "earlier run" not in report.cost_text()


def test_a_run_that_reused_everything_claims_no_speed():
    report = RunReport(device="cpu", audio_s=2400.0, wall_s=0.4, windows=0, resumed_windows=4)
    assert report.rtf == 0.0 and report.cost().api_dollars == 0.0


def test_the_cli_says_a_run_resumed():
    from engine.cli import ProgressPrinter

    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    printer.handle(JobStarted("j", Path("s.wav"), 2400.0))
    printer.handle(JobDone("j", {}, _resumed()))
    text = stream.getvalue()
    assert "s.wav: done in 60.0 s (RTF 0.100" in text
    assert "resumed: 3 of 4 part(s) came from an earlier run" in text
    assert "for 10.0 min through a speech API" in text


def test_a_stage_whose_work_all_came_from_an_earlier_run_says_so_instead_of_an_impossible_time():
    from engine.cli import ProgressPrinter
    from engine.events import Stage, StageFinished

    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    printer.handle(JobStarted("j", Path("s.wav"), 2400.0))
    printer.handle(StageFinished("j", Stage.TRANSCRIBE, 0.0, reused=True))
    printer.handle(StageFinished("j", Stage.DECODE, 1.25))
    assert stream.getvalue().splitlines()[1:] == [
        "s.wav: transcribe done (from an earlier run)",
        "s.wav: decode done (1.25 s)",
    ]


def test_a_rerun_of_a_finished_job_reports_its_transcription_as_reused(speech_available, tiny_model, tmp_path):
    from engine.events import Stage, StageFinished
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine
    from engine.store import JobStore
    from support.audio import session, write_audio

    audio, _ = session([1.0, "We can start whenever you are ready.", 1.0])
    recording = write_audio(tmp_path / "s.ogg", audio)
    options = TranscribeOptions(model=str(tiny_model), device="cpu", output_dir=tmp_path / "out")
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        Engine(store=store).transcribe(recording, options)
        events: list = []
        Engine(events.append, store=store).transcribe(recording, options)
    finished = {e.stage: e.reused for e in events if isinstance(e, StageFinished)}
    assert finished[Stage.TRANSCRIBE] and finished[Stage.SPEECH] and not finished[Stage.DECODE]


def test_plain_progress_lines_never_repeat_themselves():
    from engine.cli import ProgressPrinter
    from engine.events import Stage, StageProgress

    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    printer.handle(JobStarted("j", Path("s.wav"), 60.0))
    for _ in range(3):  # the speech check's re-decode reports the end of a window again
        printer.handle(StageProgress("j", Stage.TRANSCRIBE, 60.0, 60.0))
    assert stream.getvalue().splitlines()[1:] == ["s.wav: transcribe 100%"]
