"""One job, one id: every event of a run carries the id its outcome and the store know."""
from __future__ import annotations

import pytest

from engine import events as ev
from engine.options import TranscribeOptions
from engine.pipeline import Engine
from engine.store import JobStore
from support.audio import session, write_audio


@pytest.fixture(scope="module")
def recording(speech_available, tmp_path_factory):
    audio, _ = session([1.0, "We can start whenever you are ready.", 1.5, "Thank you for coming.", 1.0])
    return write_audio(tmp_path_factory.mktemp("run") / "one id.ogg", audio)


def _run(store, recording, options, job_id=None):
    events: list = []
    outcome = Engine(events.append, store=store).transcribe(recording, options, job_id=job_id)
    return outcome, events


def test_every_event_of_a_job_carries_the_stores_id_from_the_first_decode_on(recording, tiny_model, tmp_path):
    options = TranscribeOptions(model=str(tiny_model), device="cpu", output_dir=tmp_path / "out")
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome, events = _run(store, recording, options)
        assert outcome.status == "done"
        ids = {event.job_id for event in events if hasattr(event, "job_id")}
        assert ids == {outcome.job_id}
        assert store.get_job(outcome.job_id).status == "done"
        # Decoding starts before the model loads: its first event already has the final id,
        # and comes after JobStarted, so a front end can name the recording in every line.
        first_decode = next(i for i, e in enumerate(events) if isinstance(e, ev.StageStarted) and e.stage == ev.Stage.DECODE)
        started = next(i for i, e in enumerate(events) if isinstance(e, ev.JobStarted))
        assert started < first_decode and events[first_decode].job_id == outcome.job_id
        # A rerun of the same command continues the stored job under its own id.
        again, events = _run(store, recording, options)
        assert again.job_id == outcome.job_id
        assert {event.job_id for event in events if hasattr(event, "job_id")} == {outcome.job_id}


def test_a_caller_named_job_keeps_its_id_even_when_the_store_does_not_know_it(recording, tiny_model, tmp_path):
    options = TranscribeOptions(model=str(tiny_model), device="cpu", output_dir=tmp_path / "out")
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome, events = _run(store, recording, options, job_id="queue-row-7")
        assert outcome.job_id == "queue-row-7"
        assert {event.job_id for event in events if hasattr(event, "job_id")} == {"queue-row-7"}
        assert store.get_job("queue-row-7").status == "done"


def test_the_outcome_and_the_store_hold_the_transcript_the_exports_were_rendered_from(recording, tiny_model, tmp_path):
    import datetime

    from engine.export import render_bytes
    from engine.options import EXPORT_FORMATS

    options = TranscribeOptions(model=str(tiny_model), device="cpu", output_dir=tmp_path / "out",
                                formats=EXPORT_FORMATS, speaker_names=("Therapist",))
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome, events = _run(store, recording, options)
        done = next(e for e in events if isinstance(e, ev.JobDone))
        assert done.transcript == outcome.transcript and outcome.transcript.speech
        # The session's date is the recording's: what the DOCX header says, now and later.
        assert outcome.transcript.info.recorded == datetime.date.fromtimestamp(recording.stat().st_mtime).isoformat()
        stored = store.transcript(outcome.job_id)
        assert stored == outcome.transcript
        assert set(outcome.outputs) == set(EXPORT_FORMATS)
        for fmt, path in outcome.outputs.items():
            assert render_bytes(stored, fmt) == path.read_bytes(), fmt
        # A corrected transcript keeps its date and speakers' names.
        store.update_segment_text(outcome.job_id, 0, "Corrected.")
        edited = store.transcript(outcome.job_id)
        assert edited.info.edited and edited.info.recorded == stored.info.recorded
        assert edited.info.speakers == ("Therapist",)
