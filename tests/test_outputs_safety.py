"""Exports never destroy or expose what the clinician has (issue 10 items 1, 5, 6, 15, 17)."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from support.audio import write_audio
from test_safety import run_cli

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def _tone(seconds: float = 1.5, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _recording(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, _tone())


@pytest.fixture
def run_job(tiny_model):
    """Transcribe one recording with the real engine and a job store, like the CLI and app."""
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine
    from engine.store import JobStore

    def run(path: Path, **options):
        events: list = []
        store = JobStore()
        try:
            engine = Engine(events.append, store=store)
            outcome = engine.transcribe(path, TranscribeOptions(model=str(tiny_model), **{"formats": ("txt", "srt"), **options}))
            engine.close()
        finally:
            store.close()
        return outcome, events

    return run


def _notes(events) -> list[str]:
    from engine.events import JobNote

    return [event.message for event in events if isinstance(event, JobNote)]


# -- item 1: never overwrite a file SessionScribe did not write for this recording ----------------
def test_the_clinicians_own_notes_beside_the_recording_are_kept(tmp_path, run_job):
    recording = _recording(tmp_path / "Session 12.wav")
    notes = tmp_path / "Session 12.txt"
    notes.write_text("my own notes\n")
    outcome, events = run_job(recording)
    assert outcome.status == "done", outcome.reason
    assert notes.read_text() == "my own notes\n"
    assert outcome.outputs["txt"] == tmp_path / "Session 12 (transcript).txt"
    assert outcome.outputs["srt"] == tmp_path / "Session 12 (transcript).srt"
    assert any("Session 12.txt is not a transcript of this recording" in note for note in _notes(events)), _notes(events)

    # A rerun replaces its own outputs (no "(transcript 2)"), and still keeps the notes.
    again, events = run_job(recording)
    assert again.outputs == outcome.outputs
    assert notes.read_text() == "my own notes\n"
    assert sorted(p.name for p in tmp_path.glob("Session 12*")) == [
        "Session 12 (transcript).srt", "Session 12 (transcript).txt", "Session 12.txt", "Session 12.wav",
    ]


def test_a_later_recording_of_the_same_name_keeps_the_earlier_transcript(tmp_path, run_job):
    first = _recording(tmp_path / "a.ogg")
    done, _ = run_job(first)
    assert done.outputs["txt"] == tmp_path / "a.txt"
    (tmp_path / "a.txt").write_text("transcript of a.ogg\n")  # recognisable content
    second = write_audio(tmp_path / "a.wav", _tone(2.5))
    later, events = run_job(second)
    assert later.status == "done", later.reason
    assert (tmp_path / "a.txt").read_text() == "transcript of a.ogg\n"
    assert later.outputs["txt"] == tmp_path / "a (transcript).txt"
    # ...and the first recording's rerun still writes over its own a.txt.
    rerun, _ = run_job(first)
    assert rerun.outputs["txt"] == tmp_path / "a.txt"


def test_cli_keeps_a_file_it_did_not_write_and_says_so(tmp_path, tiny_model):
    recording = _recording(tmp_path / "Session 12.wav")
    notes = tmp_path / "Session 12.srt"
    notes.write_text("not ours\n")
    result = run_cli("transcribe", str(recording), "--model", str(tiny_model), "--format", "srt")
    assert result.returncode == 0, result.stderr
    assert notes.read_text() == "not ours\n"
    assert (tmp_path / "Session 12 (transcript).srt").exists()
    assert "warning: Session 12.wav: Session 12.srt is not a transcript of this recording" in result.stderr


# -- item 5: temp files a killed export left behind ------------------------------------------------
def test_stale_temp_files_of_our_own_are_removed_on_the_next_write(tmp_path):
    from engine.export import write_outputs
    from engine.transcript import Transcript

    old = time.time() - 3600
    stale = tmp_path / ".s.txt.k3j_9zq1.tmp"
    fresh = tmp_path / ".s.txt.ab12cd34.tmp"  # another run writing right now
    other_name = tmp_path / ".other.txt.k3j_9zq1.tmp"
    not_ours = tmp_path / ".s.txt.backup.tmp"
    for path in (stale, fresh, other_name, not_ours):
        path.write_text("full transcript text")
    for path in (stale, other_name, not_ours):
        os.utime(path, (old, old))
    write_outputs(Transcript.of([]), tmp_path / "s", ["txt"])
    assert not stale.exists()
    assert fresh.exists() and other_name.exists() and not_ours.exists()


# -- item 6: exports are never more readable than the recording ----------------------------------
@posix_only
def test_exports_of_a_private_recording_are_private(tmp_path, run_job):
    recording = _recording(tmp_path / "in" / "private.wav")
    recording.chmod(0o600)
    out = tmp_path / "new" / "out"
    old_umask = os.umask(0o022)
    try:
        outcome, _ = run_job(recording, output_dir=out, formats=("txt", "srt", "vtt", "json"))
    finally:
        os.umask(old_umask)
    assert outcome.status == "done", outcome.reason
    assert set(outcome.outputs) == {"txt", "srt", "vtt", "json"}
    for path in outcome.outputs.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700


@posix_only
def test_rewriting_an_export_never_widens_it_past_the_recording(tmp_path):
    from engine.export import write_atomic

    target = tmp_path / "s.txt"
    target.write_text("old")
    target.chmod(0o644)
    write_atomic(target, "new", max_mode=0o640)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


# -- item 15: names too long for an output fail before transcribing, or work -----------------------
def test_long_names_whose_temp_name_would_not_fit_are_exported(tmp_path, run_job):
    recording = _recording(tmp_path / ("n" * 241 + ".wav"))  # "<stem>.json" is 246 bytes
    outcome, _ = run_job(recording, formats=("txt", "json"))
    assert outcome.status == "done", outcome.reason
    assert all(path.exists() for path in outcome.outputs.values())


def test_a_name_too_long_for_its_outputs_fails_before_transcribing(tmp_path, run_job):
    from engine.events import Stage, StageStarted

    recording = _recording(tmp_path / ("n" * 251 + ".wav"))  # a 255-byte name: "<stem>.json" is 256
    outcome, events = run_job(recording, formats=("txt", "json"))
    assert outcome.status == "failed"
    assert outcome.reason.startswith(recording.name + ": the name is too long"), outcome.reason
    assert not any(isinstance(e, StageStarted) and e.stage == Stage.TRANSCRIBE for e in events)


# -- item 17: the CLI stores absolute output paths --------------------------------------------------
def test_cli_stores_absolute_output_paths(tmp_path, tiny_model, private_home):
    _recording(tmp_path / "work" / "rec.wav")
    result = run_cli("transcribe", "rec.wav", "--output-dir", "out", "--model", str(tiny_model),
                     "--format", "txt", cwd=tmp_path / "work")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(private_home / "data" / "jobs.sqlite3") as db:
        (outputs,) = db.execute("SELECT outputs_json FROM jobs").fetchone()
    assert json.loads(outputs) == {"txt": str(tmp_path / "work" / "out" / "rec.txt")}
