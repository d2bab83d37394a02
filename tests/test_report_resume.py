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
