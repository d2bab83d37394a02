"""`transcribe --cluster`: the same transcripts from Ray workers, one writer, lost workers retried.

The worker's half (engine.remote) runs without Ray; the rest starts a local Ray
(`num_cpus=2`) and is skipped where Ray is not installed (pip install -e '.[cluster]').
"""
from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import pytest

from engine import events as ev
from engine.options import TranscribeOptions
from engine.remote import RAM_DIR, AudioSource, TranscribeWorker
from support.audio import session, write_audio
from test_cli import run_cli

LINES = [
    ["We can start whenever you are ready.", 1.0, "How was your week since we last met?"],
    ["I slept badly most nights.", 0.8, "Work has been very busy and I feel tired."],
    ["Tell me more about that.", 1.2, "What helped you the last time this happened?"],
    ["My sister called on Sunday.", 0.6, "We talked for an hour and it felt good."],
]


@pytest.fixture(scope="module")
def folder(speech_available, tmp_path_factory) -> Path:
    """Four short sessions with real words (the real model writes them)."""
    root = tmp_path_factory.mktemp("sessions")
    for number, lines in enumerate(LINES):
        audio, _ = session([0.5, *lines, 0.5], seed=number)
        write_audio(root / f"session {number + 1}.ogg", audio)
    return root


@pytest.fixture(scope="module")
def local_exports(folder, real_model, tmp_path_factory) -> dict[str, bytes]:
    """What the plain CLI writes for the folder: the reference, byte for byte."""
    out = tmp_path_factory.mktemp("local")
    data = tmp_path_factory.mktemp("local-data")
    result = run_cli("transcribe", str(folder), "--model", str(real_model), "--output-dir", str(out),
                     env_extra={"SESSIONSCRIBE_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr
    return _files(out)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if not path.name.startswith(".")}


# -- the worker, without Ray ------------------------------------------------------------------
def test_worker_writes_nothing_and_takes_bytes_when_the_path_is_not_shared(folder, tiny_model, tmp_path):
    recording = folder / "session 1.ogg"
    options = TranscribeOptions(model=str(tiny_model), output_dir=tmp_path / "out")
    sent = []
    worker = TranscribeWorker(sent.append)
    by_path = worker.transcribe("job-1", AudioSource.of(recording), options)
    assert by_path.status == "done" and by_path.windows
    assert not (tmp_path / "out").exists()  # no exports anywhere: not where asked,
    assert sorted(path.suffix for path in folder.iterdir()) == [".ogg"] * 4  # nor beside the recording
    assert all(not isinstance(event, ev.SegmentReady) for event in sent)  # no text on the event channel
    assert {event.job_id for event in sent if hasattr(event, "job_id")} == {"job-1"}

    # Another node: the driver's path is not there, so the worker asks for the bytes.
    elsewhere = AudioSource(str(tmp_path / "not-here" / recording.name), recording.name,
                            recording.stat().st_size, recording.stat().st_mtime_ns)
    assert worker.transcribe("job-2", elsewhere, options).status == "need-bytes"
    before = set(os.listdir(RAM_DIR)) if RAM_DIR.is_dir() else set()
    with_bytes = AudioSource(elsewhere.path, elsewhere.name, elsewhere.size, elsewhere.mtime_ns, recording.read_bytes())
    by_bytes = worker.transcribe("job-3", with_bytes, options)
    assert by_bytes.status == "done"
    assert by_bytes.transcript == by_path.transcript and by_bytes.windows == by_path.windows
    assert by_path.transcript.info.source == "session 1.ogg"  # the copy kept the recording's name
    assert by_bytes.fingerprint == by_path.fingerprint
    if RAM_DIR.is_dir():  # the in-memory copy is gone
        assert set(os.listdir(RAM_DIR)) <= before


# -- on a local Ray ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray")
    from engine.cluster import ClusterRun

    run = ClusterRun("auto", workers=2, cpus_per_worker=1, local_cpus=2)
    yield run
    run.close()


def test_cli_cluster_exports_equal_the_plain_cli_byte_for_byte(folder, real_model, local_exports, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "out"
    result = run_cli("transcribe", str(folder), "--model", str(real_model), "--output-dir", str(out),
                     "--cluster", "auto", "--workers", "2", "--report", str(tmp_path / "report.json"),
                     env_extra={"RAY_ADDRESS": ""})
    assert result.returncode == 0, result.stderr
    assert "4 of 4 recording(s) transcribed" in result.stderr
    assert _files(out) == local_exports
    assert sorted(local_exports) == sorted(f"session {n}.{fmt}" for n in range(1, 5) for fmt in ("json", "srt", "txt", "vtt"))
    # The same progress lines as a local run, from the workers' typed events.
    for number in range(1, 5):
        name = f"session {number}.ogg"
        for stage in ("decode", "speech", "transcribe", "export"):
            assert f"{name}: {stage} done" in result.stderr, (name, stage, result.stderr)
    assert "Traceback" not in result.stderr
    # The driver kept the job store: a plain rerun finds every window there and recomputes none.
    again = run_cli("transcribe", str(folder), "--model", str(real_model), "--output-dir", str(out),
                    "--report", str(tmp_path / "again.json"))
    assert again.returncode == 0, again.stderr
    import json

    jobs = json.loads((tmp_path / "again.json").read_text())["jobs"]
    assert all(job["resumed_windows"] >= 1 and job["windows"] == 0 for job in jobs), jobs
    assert _files(out) == local_exports
    history = run_cli("history", "list")
    assert sum(f"session {n}.ogg" in history.stdout for n in range(1, 5)) == 4  # one row each


def test_a_worker_killed_mid_task_is_retried_nothing_lost_or_doubled(ray_cluster, folder, real_model, local_exports, tmp_path):
    from engine.store import JobStore

    out = tmp_path / "out"
    inputs = sorted(folder.iterdir())
    stems = {path: out / path.stem for path in inputs}
    options = TranscribeOptions(model=str(real_model), output_dir=out)
    seen: list = []
    killed: dict[str, int] = {}

    def sink(event) -> None:
        seen.append(event)
        # Kill the process transcribing the first recording to start, as it starts.
        if isinstance(event, ev.JobStarted) and not killed:
            pid = ray_cluster.worker_pid(event.job_id)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed[event.job_id] = pid

    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        failures, reports = ray_cluster.run(inputs, stems, options, store, sink)
        jobs = store.list_jobs()
    finally:
        store.close()
    assert failures == 0 and len(reports) == 4
    [victim] = killed
    notes = [event for event in seen if isinstance(event, ev.JobNote) and "worker was lost" in event.message]
    assert [note.job_id for note in notes] == [victim]
    done = [event for event in seen if isinstance(event, ev.JobDone)]
    assert sorted(event.job_id for event in done) == sorted({event.job_id for event in done})  # once each
    assert len(done) == 4
    assert _files(out) == local_exports  # nothing lost, nothing half-written, nothing doubled
    assert sorted(job.input_name for job in jobs) == [path.name for path in inputs]
    assert all(job.status == "done" for job in jobs)


def test_no_ray_cluster_at_an_address_is_one_line(folder, tiny_model, tmp_path):
    pytest.importorskip("ray")
    result = run_cli("transcribe", str(folder / "session 1.ogg"), "--model", str(tiny_model),
                     "--output-dir", str(tmp_path / "out"), "--cluster", "127.0.0.1:9")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: no Ray cluster answers at 127.0.0.1:9" in result.stderr or \
        "error: could not join the Ray cluster at 127.0.0.1:9" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_progress_printer_output_is_the_same_kind_for_cluster_events(ray_cluster, folder, tiny_model, tmp_path):
    """The terminal shows a job by its recording's name, also when the worker had a copy."""
    from engine.cli import ProgressPrinter

    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    inputs = [folder / "session 2.ogg"]
    failures, _ = ray_cluster.run(inputs, {inputs[0]: tmp_path / "session 2"},
                                  TranscribeOptions(model=str(tiny_model), formats=("txt",)), None, printer.handle)
    assert failures == 0
    text = stream.getvalue()
    assert "session 2.ogg: started" in text and "session 2.ogg: done in" in text
    assert "hello" in (tmp_path / "session 2.txt").read_text()


def test_without_ray_the_cluster_option_says_how_to_get_it(monkeypatch):
    import sys

    from engine.cluster import ClusterError, ClusterRun

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ClusterError, match=r"pip install 'sessionscribe\[cluster\]'"):
        ClusterRun("auto")


def test_ray_usage_statistics_are_off(ray_cluster):
    from ray._common.usage import usage_lib

    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert not usage_lib.usage_stats_enabled()


def test_workers_without_cluster_is_a_usage_error(tmp_path):
    result = run_cli("transcribe", str(tmp_path / "a.wav"), "--workers", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == "sessionscribe: --workers is for --cluster runs"
    assert run_cli("transcribe", str(tmp_path / "a.wav"), "--cluster", "auto", "--workers", "0").returncode == 2
