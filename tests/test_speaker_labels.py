"""Speakers for words and segments (issue 12): every word takes the speaker whose turn it
overlaps most, and no transcript row holds two speakers."""
from __future__ import annotations

from engine.diarize import SpeakerTurn
from engine.segments import Segment, Word
from engine.speaker_labels import (
    SpeakerSegment,
    segments_from_words,
    speaker_at,
    split_by_speaker,
    word_speakers,
)

TURNS = [SpeakerTurn(0.0, 4.0, 0), SpeakerTurn(4.2, 8.0, 1), SpeakerTurn(9.0, 12.0, 0)]


def _words(*spans: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(a, b, text) for a, b, text in spans)


def test_a_word_takes_the_speaker_it_overlaps_most():
    assert speaker_at(3.5, 4.1, TURNS) == 0  # 0.5 s in turn 0, none in turn 1
    assert speaker_at(3.9, 4.6, TURNS) == 1  # 0.1 s in turn 0, 0.4 s in turn 1


def test_a_word_outside_every_turn_takes_the_nearest():
    assert speaker_at(8.2, 8.4, TURNS) == 1  # 0.2 s after turn 1, 0.6 s before turn 2
    assert speaker_at(8.7, 8.9, TURNS) == 0
    assert speaker_at(20.0, 20.5, TURNS) == 0  # after the last turn
    assert speaker_at(4.1, 4.1, TURNS) == 0  # zero length, in the gap, nearer turn 0


def test_overlapping_turns_of_two_speakers():
    turns = [SpeakerTurn(0.0, 5.0, 0), SpeakerTurn(4.0, 6.0, 1), SpeakerTurn(1.0, 2.0, 2)]
    assert speaker_at(1.2, 1.8, turns) in (0, 2)  # a tie: either, but one of those two
    assert speaker_at(4.5, 5.9, turns) == 1
    assert word_speakers(list(_words((0.1, 0.5, "a"), (5.5, 5.8, "b"))), turns) == [0, 1]


def test_no_turns_means_no_speaker():
    assert word_speakers(list(_words((1.0, 1.5, " hi"))), []) == [None]


def test_a_turn_change_splits_a_segment_at_the_new_speakers_first_word():
    words = _words((3.0, 3.4, " Right."), (3.5, 3.9, " And"), (4.3, 4.6, " I"), (4.6, 5.0, " agree."))
    segment = Segment(3.0, 5.0, "Right. And I agree.", words)
    rows = split_by_speaker([segment], TURNS)
    assert [(r.segment.text, r.speaker) for r in rows] == [("Right. And", 0), ("I agree.", 1)]
    assert rows[0].segment.start == 3.0 and rows[0].segment.end == 3.9
    assert rows[1].segment.start == 4.3 and rows[1].segment.end == 5.0
    assert segment.words == words  # the input is unchanged


def test_a_segment_of_one_speaker_is_kept_whole():
    words = _words((5.0, 5.5, " Fine,"), (5.6, 6.0, " thanks."))
    segment = Segment(5.0, 6.0, "Fine, thanks.", words)
    assert split_by_speaker([segment], TURNS) == [SpeakerSegment(segment, 1)]


def test_a_segment_without_words_takes_the_speaker_it_overlaps_most():
    segment = Segment(7.0, 10.5, "Something long.")
    assert split_by_speaker([segment], TURNS) == [SpeakerSegment(segment, 0)]  # 1.5 s vs 1.0 s


def test_rows_from_labelled_words_never_mix_speakers():
    words = list(_words((0.0, 0.3, " So"), (0.3, 0.6, " how"), (0.7, 1.0, " yes"), (1.0, 1.3, " okay."),
                        (1.4, 1.7, " Then"), (3.0, 3.2, " later")))
    speakers = [0, 0, 1, 1, 1, 1]
    rows = segments_from_words(words, speakers)
    assert [(r.segment.text, r.speaker) for r in rows] == [
        ("So how", 0), ("yes okay.", 1), ("Then", 1), ("later", 1)  # sentence end, then a 1.3-s pause
    ]


def test_many_words_against_many_turns_is_quick():
    """A 3-h session: ~30,000 words against ~2,000 turns in well under a second."""
    import time

    turns = [SpeakerTurn(i * 5.4, i * 5.4 + 5.0, i % 2) for i in range(2000)]
    words = [Word(i * 0.36, i * 0.36 + 0.3, " w") for i in range(30000)]
    started = time.perf_counter()
    speakers = word_speakers(words, turns)
    assert time.perf_counter() - started < 3.0
    assert speakers[0] == 0 and speakers[16] == 1  # 5.76 s: inside the second turn


def test_merged_numbers_and_names_leave_no_gap():
    from engine.speaker_labels import merged, merged_names

    # Speaker 2 (number 1) is Speaker 4 (3): 1 -> 3 -> moved down to 2; 2 -> 1; 3 -> 2.
    assert [merged(n, 1, 3) for n in (0, 1, 2, 3, None)] == [0, 2, 1, 2, None]
    assert [merged(n, 3, 0) for n in (0, 1, 2, 3)] == [0, 1, 2, 0]
    assert merged_names(("A", "B", "C", "D"), 1, 3) == ("A", "C", "D")  # target keeps its name
    assert merged_names(("A", "B"), 1, 2) == ("A", "B")  # target unnamed: takes source's
    assert merged_names(("A", "", "C"), 2, 1) == ("A", "C")
    assert merged_names((), 2, 1) == ()


def test_rows_split_at_a_turn_change_are_rejoined_as_the_transcriber_made_them():
    from engine.speaker_labels import label_segments, rejoined

    words = _words((0.0, 0.5, " Hello"), (0.6, 1.0, " there."), (2.0, 2.5, " I"), (2.6, 3.9, " went"),
                   (4.3, 4.8, " home"), (4.9, 5.5, " early."), (9.2, 9.6, " Good."))
    rows = [row.segment for row in segments_from_words(words, [None] * len(words))]
    assert [r.text for r in rows] == ["Hello there.", "I went home early.", "Good."]
    labelled = label_segments(rows, TURNS)  # turn 1 begins at 4.2 s, inside the second row
    assert [r.text for r in labelled] == ["Hello there.", "I went", "home early.", "Good."]
    again = rejoined(labelled)
    assert [(r.start, r.end, r.text) for r in again] == [(r.start, r.end, r.text) for r in rows]
    assert [w.text for r in again for w in r.words] == [w.text for w in words]
    # A row whose text was edited by hand (no word timings) stays itself, between the others.
    edited = Segment(2.0, 3.9, "I went", None, 0)
    kept = rejoined([labelled[0], edited, labelled[2], labelled[3]])
    assert [r.text for r in kept] == ["Hello there.", "I went", "home early.", "Good."]
    assert kept[1] is edited


def test_a_speakers_sentences_are_one_row_per_turn_until_a_pause_or_20_s():
    from engine.speaker_labels import turn_rows

    def row(a, b, text, speaker, words=True):
        return Segment(a, b, text, _words((a, b, " " + text)) if words else None, speaker)

    rows = [
        row(0.0, 2.0, "How are you?", 0), row(2.4, 4.0, "Take your time.", 0),  # one turn
        row(4.5, 6.0, "Better.", 1), row(6.3, 7.0, "Thanks.", 1),
        row(9.0, 10.0, "Right.", 1),  # after a 2-s pause: a row of its own
        row(10.2, 11.0, "I edited this.", 1, words=False),  # edited by hand: left alone
        row(11.2, 12.0, "Okay.", None), row(12.1, 13.0, "Fine.", None),  # no speakers: as they were
    ]
    joined = turn_rows(rows)
    assert [(s.start, s.end, s.text, s.speaker) for s in joined] == [
        (0.0, 4.0, "How are you? Take your time.", 0),
        (4.5, 7.0, "Better. Thanks.", 1),
        (9.0, 10.0, "Right.", 1),
        (10.2, 11.0, "I edited this.", 1),
        (11.2, 12.0, "Okay.", None),
        (12.1, 13.0, "Fine.", None),
    ]
    assert [w.text for w in joined[0].words] == [" How are you?", " Take your time."]
    long_turn = [row(float(k), k + 0.8, "Yes.", 0) for k in range(30)]  # 30 s of one voice
    assert [(s.start, s.end) for s in turn_rows(long_turn)] == [(0.0, 19.8), (20.0, 29.8)]
