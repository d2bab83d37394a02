"""Never lose a session: a killed run resumes, and gives exactly the same transcript."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.options import TranscribeOptions
from engine.pipeline import Engine
from engine.store import JobStore
from support.audio import session, write_audio

ROOT = Path(__file__).resolve().parent.parent

RUNNER = """
import sys, time
from pathlib import Path
from engine.pipeline import Engine
from engine.options import TranscribeOptions
from engine.store import JobStore
from engine import events as ev
source, model, out, slow = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def sink(event):
    # Slow the run down after each window so the test can kill it in the middle.
    if isinstance(event, ev.StageProgress) and event.stage is ev.Stage.TRANSCRIBE and slow:
        time.sleep(slow)
engine = Engine(sink, store=JobStore(), window_s=20.0)
# Batches of 2: windows are transcribed (and committed) two at a time after the first.
outcome = engine.transcribe(Path(source), TranscribeOptions(model=model, output_dir=Path(out), batch_size=2))
print(outcome.status, outcome.report.resumed_windows if outcome.report else -1)
"""


def run_engine(source: Path, model: Path, out: Path, slow: float = 0.0) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(source), str(model), str(out), str(slow)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def recording(speech_available, tmp_path_factory) -> Path:
    layout = []
    for index in range(8):
        layout += [9.0, f"Part {index + 1}: we talked about the week and how it went."]
    audio, _ = session(layout + [3.0])
    return write_audio(tmp_path_factory.mktemp("rec") / "session.mp3", audio, out_rate=44100, channels=2)


def test_killed_run_resumes_and_matches_an_uninterrupted_one(recording, tiny_model, tmp_path):
    reference = tmp_path / "reference"
    with JobStore(tmp_path / "ref.sqlite3") as store:  # a separate store: no resume here
        outcome = Engine(store=store, window_s=20.0).transcribe(
            recording, TranscribeOptions(model=str(tiny_model), output_dir=reference, batch_size=2)
        )
    assert outcome.status == "done" and outcome.report.windows >= 5

    out = tmp_path / "resumed"
    process = run_engine(recording, tiny_model, out, slow=0.4)
    store = JobStore()
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and process.poll() is None:
        jobs = store.list_jobs()
        committed = jobs[0].committed_windows if jobs else 0
        if committed >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert store.integrity_ok()
    job = store.list_jobs()[0]
    assert job.status == "running" and job.committed_windows >= 3
    store.close()

    again = run_engine(recording, tiny_model, out)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    status, resumed = stdout.split()
    assert status == "done" and int(resumed) >= 3
    for fmt in ("srt", "vtt", "txt", "json"):
        assert (out / f"session.{fmt}").read_bytes() == (reference / f"session.{fmt}").read_bytes(), fmt


def test_changed_recording_starts_afresh(recording, tiny_model, tmp_path):
    copy = tmp_path / "session.mp3"
    copy.write_bytes(recording.read_bytes())
    with JobStore() as store:
        engine = Engine(store=store, window_s=20.0)
        first = engine.transcribe(copy, TranscribeOptions(model=str(tiny_model), formats=("txt",)))
        assert first.status == "done" and first.report.resumed_windows == 0
        again = engine.transcribe(copy, TranscribeOptions(model=str(tiny_model), formats=("txt",)))
        assert again.report.resumed_windows == again.report.windows + again.report.resumed_windows > 0
        audio, _ = session([2.0, "A different recording now."])
        write_audio(copy, audio, out_rate=44100, channels=2)
        changed = engine.transcribe(copy, TranscribeOptions(model=str(tiny_model), formats=("txt",)))
        assert changed.status == "done" and changed.report.resumed_windows == 0
        assert len(changed.segments) == 1


def test_a_copy_under_another_name_is_its_own_session_a_moved_file_keeps_its_job(speech_available, tiny_model, tmp_path):
    """Copies of one recording under different names used to fold into one history row
    (the first name's); the copy's transcript was then listed under the wrong session."""
    audio, _ = session([1.0, "We talked about the week.", 1.0])
    original = write_audio(tmp_path / "in" / "Client A week 3.ogg", audio)
    copy = tmp_path / "in" / "Client B week 3.ogg"
    copy.write_bytes(original.read_bytes())
    options = TranscribeOptions(model=str(tiny_model), formats=("txt",))
    with JobStore() as store:
        engine = Engine(store=store)
        first = engine.transcribe(original, options)
        second = engine.transcribe(copy, options)
        assert first.status == second.status == "done"
        assert first.job_id != second.job_id
        assert sorted(job.input_name for job in store.list_jobs()) == [original.name, copy.name]
        # the same recording again: same job, nothing recomputed
        again = engine.transcribe(original, options)
        assert again.job_id == first.job_id and again.report.windows == 0
        # moved to another folder, same name and content: still the same session
        moved = tmp_path / "archive" / original.name
        moved.parent.mkdir()
        original.rename(moved)
        assert engine.transcribe(moved, options).job_id == first.job_id
        assert len(store.list_jobs()) == 2
        engine.close()


def test_a_resumed_job_reports_the_finished_part_as_reused_progress(recording, tiny_model, tmp_path):
    """Issue 13 item 6: a resumed job's row sat at 0 % (ETA 0:00) while the engine read the
    finished windows back from the store; now their progress arrives, marked as reused."""
    from engine.events import Stage, StageProgress

    copy = tmp_path / "session.mp3"
    copy.write_bytes(recording.read_bytes())
    events: list = []
    with JobStore() as store:
        engine = Engine(events.append, store=store, window_s=20.0)
        options = TranscribeOptions(model=str(tiny_model), formats=("txt",))
        assert engine.transcribe(copy, options).status == "done"
        fresh = [e for e in events if isinstance(e, StageProgress) and e.stage == Stage.TRANSCRIBE]
        assert fresh and not any(e.reused for e in fresh)
        events.clear()
        again = engine.transcribe(copy, options)
    reused = [e for e in events if isinstance(e, StageProgress) and e.stage == Stage.TRANSCRIBE and e.reused]
    assert len(reused) == again.report.resumed_windows > 1
    assert [e.done for e in reused] == sorted(e.done for e in reused)
    assert reused[-1].fraction > 0.95  # every window came from the store
