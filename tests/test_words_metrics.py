"""The scoring behind tests/test_words.py and bench/accuracy.py: normalisation, WER, dropped
utterances and cue start errors. Pure and fast (no model, no audio)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from support.words import (
    Span,
    align,
    json_spans,
    normalise,
    number_words,
    percentile,
    score,
    srt_spans,
)


@dataclass(frozen=True)
class U:  # a ground-truth utterance as the dialogue generator writes it
    text: str
    start: float
    end: float = 0.0


def test_normalise_strips_case_punctuation_and_writes_numbers_out():
    assert normalise("It was probably a 7, maybe an 8.") == "it was probably a seven maybe an eight".split()
    assert normalise("Don't worry, it's OK!") == ["dont", "worry", "its", "okay"]
    assert normalise("I wake up at 3:00 in the morning") == "i wake up at three in the morning".split()
    assert normalise("Ten-minute walks, 20 minutes") == "ten minute walks twenty minutes".split()
    assert normalise("“Mm-hmm.” — right…") == ["mm", "hmm", "right"]
    assert normalise("1,250 people, 100%") == "one thousand two hundred fifty people one hundred percent".split()
    assert number_words(0) == "zero" and number_words(115) == "one hundred fifteen"


def test_alignment_counts_each_kind_of_error():
    a = align("the cat sat on the mat".split(), "the cat sat on a mat today".split())
    assert (a.substitutions, a.deletions, a.insertions) == (1, 0, 1)
    assert a.wer == pytest.approx(2 / 6)
    assert a.matched == [0, 1, 2, 3, None, 5]
    assert align([], []).wer == 0.0
    assert align(["a", "b"], []).deletions == 2 and align(["a", "b"], []).wer == 1.0
    assert align([], ["a"]).insertions == 1


def test_a_lost_turn_is_dropped_and_a_misheard_one_is_not():
    truth = [
        U("how have things been since we last met", 1.0),
        U("I have been sleeping better mostly", 4.0),
        U("that is a big change from a month ago", 8.0),
    ]
    # Turn 2 is gone; turn 3 has two of its nine words wrong: 78 % found, not dropped, but
    # short of the 80 % the tests ask of every turn.
    spans = [
        Span(0.9, 3.5, "How have things been since we last met?"),
        Span(7.6, 10.0, "That is a big change from a monk a go."),
    ]
    result = score(truth, spans)
    assert result.dropped == [1]
    assert result.found[0] == 1.0 and result.found[1] == 0.0
    assert result.found[2] == pytest.approx(7 / 9)
    assert result.missing() == [1, 2]  # tests demand >= 80 % of every turn's words
    s = result.summary()
    assert s["deletions"] + s["substitutions"] == 6 + 2 and s["utterances"] == 3


def test_a_turn_merged_into_its_neighbours_segment_still_counts_as_found():
    truth = [U("ask not what your country can do for you", 0.3), U("ask what you can do for your country", 4.0)]
    result = score(truth, [Span(0.0, 7.0, "Ask not what your country can do for you. Ask what you can do for your country.")])
    assert result.dropped == [] and result.wer == 0.0
    # Both first words are matched, both inside the one segment starting at 0.0 s.
    assert result.cue_errors == [pytest.approx(0.3), pytest.approx(4.0)]


def test_cue_start_error_is_taken_from_the_span_holding_the_first_word():
    truth = [U("hello there", 10.0), U("good morning to you", 20.0), U("never said", 30.0)]
    spans = [Span(9.8, 11.0, "hello there"), Span(21.5, 23.0, "good morning to you")]
    result = score(truth, spans)
    assert result.cue_errors == [pytest.approx(0.2), pytest.approx(1.5), None]  # unmatched: no error
    assert result.cue_error_percentiles(50, 90) == [pytest.approx(0.85), pytest.approx(1.37)]


def test_spans_are_scored_in_time_order():
    truth = [U("one two three", 0.0), U("four five six", 5.0)]
    shuffled = [Span(5.0, 6.0, "four five six"), Span(0.0, 1.0, "one two three")]
    assert score(truth, shuffled).wer == 0.0


def test_percentile_interpolates():
    assert percentile([], 50) is None
    assert percentile([3.0], 90) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(list(range(11)), 90) == pytest.approx(9.0)


def test_srt_and_json_exports_read_back_as_spans():
    srt = "1\n00:00:01,500 --> 00:00:03,000\nHello there,\nhow are you?\n\n2\n01:00:00,000 --> 01:00:02,250\nFine.\n"
    assert srt_spans(srt) == [Span(1.5, 3.0, "Hello there, how are you?"), Span(3600.0, 3602.25, "Fine.")]
    document = {"metadata": {}, "segments": [{"start": 0.5, "end": 1.0, "text": " Hi."}]}
    assert json_spans(document) == [Span(0.5, 1.0, " Hi.")]
