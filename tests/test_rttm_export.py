"""Who spoke when (engine.rttm_export): the RTTM export a diarization scorer reads, and the
scorer a checker runs on a session of their own (bench/score_speakers.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.export import render, write_outputs
from engine.rttm_export import speaker_stretches
from engine.segments import Segment, Word
from engine.transcript import Transcript

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _segment(speaker, *words):
    """A row of (start, end, text) words, each said by `speaker`."""
    said = tuple(Word(a, b, text, speaker=speaker) for a, b, text in words)
    return Segment(said[0].start, said[-1].end, "".join(w.text for w in said), said, speaker)


# Therapist: two sentences, two rows, 0.5 s apart; the client answers after a 0.8-s pause; the
# therapist again after 6 s of silence. Silero's regions hold the speech a little wider than
# Whisper's word times.
SESSION = Transcript.of(
    [
        _segment(0, (1.0, 1.5, " How"), (1.5, 2.0, " are"), (2.0, 2.6, " you?")),
        _segment(0, (3.1, 3.6, " Take"), (3.6, 4.0, " your"), (4.0, 4.4, " time.")),
        _segment(1, (5.2, 5.8, " Better,"), (5.8, 6.6, " thanks.")),
        _segment(0, (12.6, 13.0, " Good.")),
    ],
    speech=[(0.9, 2.7), (3.0, 4.5), (5.1, 6.8), (12.5, 13.2)],
    source="Client session 3.wav",
    speakers=("Dr Lee", "Client"),
)


def _lines(transcript):
    return [line.split() for line in render(transcript, "rttm").splitlines()]


def test_a_speakers_turn_is_one_stretch_over_its_breaths_and_the_speech_heard():
    """Rows leave the pause between two sentences out; who spoke when does not, and it runs
    over the whole of the speech the pipeline heard, not just the words' times."""
    assert [(s.start, s.end, s.speaker) for s in speaker_stretches(SESSION)] == [
        (0.9, 4.5, 0), (5.1, 6.8, 1), (12.5, 13.2, 0)]
    lines = _lines(SESSION)
    assert lines[0] == ["SPEAKER", "Client_session_3", "1", "0.900", "3.600", "<NA>", "<NA>", "Dr_Lee", "<NA>", "<NA>"]
    assert [line[7] for line in lines] == ["Dr_Lee", "Client", "Dr_Lee"]  # names, one field each


def test_two_speakers_in_one_speech_region_are_cut_halfway_between_their_words():
    turn = Transcript.of(
        [_segment(0, (1.0, 2.0, " Right.")), _segment(1, (2.4, 3.0, " Yes."))], speech=[(0.9, 3.1)])
    assert [(s.start, s.end, s.speaker) for s in speaker_stretches(turn)] == [(0.9, 2.2, 0), (2.2, 3.1, 1)]


def test_speech_without_words_near_is_given_to_no_one_and_words_outside_speech_still_count():
    transcript = Transcript.of(
        [_segment(0, (1.0, 2.0, " Hello.")), _segment(1, (20.0, 20.5, " Hm."))],
        speech=[(0.8, 2.1), (8.0, 12.0)],  # nothing transcribed in 8-12 s; "Hm." outside any region
    )
    assert [(s.start, s.end, s.speaker) for s in speaker_stretches(transcript)] == [(0.8, 2.1, 0), (20.0, 20.5, 1)]


def test_without_speakers_the_speech_is_unknown_and_an_empty_transcript_is_an_empty_file():
    plain = Transcript.of([Segment(1.0, 2.0, " Hello there.")], source="dictation.m4a")
    assert _lines(plain) == [["SPEAKER", "dictation", "1", "1.000", "1.000", "<NA>", "<NA>", "unknown", "<NA>", "<NA>"]]
    assert render(Transcript.of([]), "rttm") == ""


def test_a_renamed_speaker_is_renamed_in_the_rttm_too(tmp_path):
    renamed = SESSION.with_speaker_names(("Therapist", "J. Doe"))
    written = write_outputs(renamed, tmp_path / "Client session 3", ["rttm"], max_mode=0o600)
    assert written["rttm"].name == "Client session 3.rttm"
    assert [line.split()[7] for line in written["rttm"].read_text(encoding="utf-8").splitlines()] == [
        "Therapist", "J._Doe", "Therapist"]


def test_the_scorer_maps_names_and_counts_missed_speech_and_confusion(tmp_path):
    pytest.importorskip("pyannote.metrics")
    from bench.score_speakers import main, read_stretches, score

    reference = tmp_path / "reference.rttm"
    reference.write_text("SPEAKER s 1 0.900 3.600 <NA> <NA> therapist <NA> <NA>\n"
                         "SPEAKER s 1 5.100 1.700 <NA> <NA> client <NA> <NA>\n"
                         "SPEAKER s 1 12.500 0.700 <NA> <NA> therapist <NA> <NA>\n", encoding="utf-8")
    ours = tmp_path / "ours.rttm"
    ours.write_text(render(SESSION, "rttm"), encoding="utf-8")
    perfect = score(read_stretches(reference), read_stretches(ours))
    assert (perfect.reference_speakers, perfect.speakers_found, perfect.right, perfect.der) == (2, 2, 1.0, 0.0)
    # The client's answer given to the therapist: 1.7 s of 6.0 s confused.
    wrong = Transcript.of([*SESSION.segments[:2], _segment(0, (5.2, 5.8, " Better,"), (5.8, 6.6, " thanks.")),
                           SESSION.segments[3]], SESSION.speech, speakers=("Dr Lee", "Client"))
    confused = score(read_stretches(reference), [(s.start, s.end, str(s.speaker)) for s in speaker_stretches(wrong)])
    assert confused.speakers_found == 1
    assert confused.confusion == pytest.approx(1.7 / 6.0) and confused.right == pytest.approx(1 - 1.7 / 6.0)
    # A JSON export has the words but not the speech heard around them: 0.8 s of 6.0 s missed.
    json_export = tmp_path / "ours.json"
    json_export.write_text(render(SESSION, "json"), encoding="utf-8")
    from_words = score(read_stretches(reference), read_stretches(json_export))
    assert from_words.confusion == 0.0 and from_words.missed == pytest.approx(0.8 / 6.0)
    assert main([str(reference), str(ours)]) == 0
