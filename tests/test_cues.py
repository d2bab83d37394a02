"""Subtitles a person can read: pauses respected, lines short, nothing lost."""
from __future__ import annotations

import random
from dataclasses import replace

import pytest

from engine.cues import build_cues, text_width, wrap_lines
from engine.segments import Cue, Segment, Word

TOL = 0.05


def words_from(text: str, start: float, *, pause_after: dict[str, float] | None = None):
    """Words with plausible timings (~3 words/s); `pause_after` inserts silence after a word."""
    words = []
    t = start
    for token in text.split():
        duration = 0.12 + 0.045 * len(token)
        words.append(Word(round(t, 3), round(t + duration, 3), " " + token))
        t += duration + 0.07
        if pause_after and token in pause_after:
            t += pause_after[token]
    return tuple(words)


def segment_with_words(words) -> Segment:
    return Segment(words[0].start, words[-1].end, "".join(w.text for w in words), words)


def check_shape(cues: list[Cue]) -> None:
    for cue in cues:
        assert cue.end > cue.start
        assert 1 <= len(cue.lines) <= 2
        for line in cue.lines:
            assert line == line.strip() and line
            assert text_width(line) <= 42 or " " not in line
    for previous, cue in zip(cues, cues[1:]):
        assert previous.start < cue.start
    # One voice's cues (or any without a known speaker) never overlap; two speakers may.
    for index, cue in enumerate(cues):
        same = [c for c in cues[index + 1 :] if cue.speaker is None or c.speaker is None or c.speaker == cue.speaker]
        if same:
            assert cue.end <= same[0].start + 1e-9, (cue, same[0])


def cue_words(cues: list[Cue]) -> list[str]:
    return " ".join(cue.text.replace("\n", " ") for cue in cues).split()


MONOLOGUE = (
    "I keep coming back to what happened at the weekend, because it felt like the same "
    "argument we always have. She says I never listen, and I say I do, and then we both go "
    "quiet for hours. Honestly I don't know how to break that pattern. Maybe it starts with "
    "me noticing when I get defensive? I think my shoulders tense up before I even speak. "
    "Last time I tried to just breathe and wait, and it was a little better, not perfect. "
    "We talked about her mother too, which is always a difficult subject for both of us!"
)


def test_words_never_cross_a_long_pause():
    words = words_from(
        "So that was the first thing. And then after a long silence I said something else.",
        12.0,
        pause_after={"thing.": 4.0},
    )
    before = next(w for w in words if w.text == " thing.")
    after = next(w for w in words if w.text == " And")
    assert after.start - before.end > 3.9
    cues = build_cues([segment_with_words(words)])
    check_shape(cues)
    assert len(cues) >= 2
    for cue in cues:
        assert not (cue.start < after.start - TOL and cue.end > before.end + TOL), cue
    assert cue_words(cues) == [w.text.strip() for w in words]


def test_pause_inside_a_sentence_still_splits_the_cue():
    # No punctuation and a short cue: only the pause can split it.
    words = words_from("well I was um going to say", 0.0, pause_after={"um": 3.0})
    cues = build_cues([segment_with_words(words)])
    assert [cue.text for cue in cues] == ["well I was um", "going to say"]


def test_long_monologue_with_words_respects_7s_and_two_lines_of_42():
    words = words_from(MONOLOGUE, 3.0)
    # Whisper's batched mode: one segment per 30-s clip.
    segments = []
    for clip_start in range(0, 120, 30):
        clip = tuple(w for w in words if clip_start <= w.start < clip_start + 30)
        if clip:
            segments.append(
                Segment(clip_start, clip_start + 30, "".join(w.text for w in clip), clip)
            )
    assert len(segments) >= 2
    cues = build_cues(segments)
    check_shape(cues)
    assert len(cues) >= 8
    for cue in cues:
        assert cue.end - cue.start <= 7.0 + 1e-9, cue
        assert all(len(line) <= 42 for line in cue.lines)
    assert cue_words(cues) == MONOLOGUE.split()
    # Cues follow the words: each starts at a word start and ends at a word end.
    starts = {w.start for w in words}
    ends = {w.end for w in words}
    for cue in cues:
        assert min(abs(cue.start - s) for s in starts) < 1e-6
        assert min(abs(cue.end - e) for e in ends) < 1e-6 or cue.end - cue.start >= 0.5


def test_sentence_end_is_preferred_once_a_cue_is_half_full():
    words = words_from(
        "I have been thinking about this for a long time now. Yesterday I finally told him.",
        0.0,
    )
    cues = build_cues([segment_with_words(words)])
    assert cues[0].text.replace("\n", " ").endswith("for a long time now.")


def test_without_words_cues_stay_in_voiced_time():
    speech = [(0.0, 5.0), (9.0, 12.0), (13.0, 20.0)]
    segment = Segment(0.0, 30.0, MONOLOGUE)
    cues = build_cues([segment], speech)
    check_shape(cues)

    def voiced(t: float) -> bool:
        return any(a - TOL <= t <= b + TOL for a, b in speech)

    for cue in cues:
        assert voiced(cue.start) and voiced(cue.end), cue
        # never across the 4-s gap between 5 s and 9 s
        assert not (cue.start < 5.0 - TOL and cue.end > 9.0 + TOL), cue
        # never in the silence after 20 s
        assert cue.end <= 20.0 + TOL
    for a, b in speech:
        covered = sum(max(0.0, min(b, c.end) - max(a, c.start)) for c in cues)
        assert covered >= 0.9 * (b - a), (a, b, covered)
    assert cue_words(cues) == MONOLOGUE.split()


def test_without_words_or_speech_a_clip_is_spread_in_short_cues():
    cues = build_cues([Segment(60.0, 90.0, MONOLOGUE)])
    check_shape(cues)
    assert cues[0].start == pytest.approx(60.0)
    assert cues[-1].end == pytest.approx(90.0)
    assert all(cue.end - cue.start <= 7.0 + 1e-9 for cue in cues)
    assert cue_words(cues) == MONOLOGUE.split()


def test_short_voiced_blip_in_a_gap_does_not_pull_cues_into_silence():
    speech = [(0.0, 2.0), (10.0, 11.0)]
    cues = build_cues([Segment(0.0, 30.0, "Hello there. Yes.")], speech)
    check_shape(cues)
    for cue in cues:
        assert (cue.start >= -TOL and cue.end <= 2.0 + TOL) or (
            cue.start >= 10.0 - TOL and cue.end <= 11.0 + TOL
        ), cue


def test_segments_without_text_make_no_cues():
    assert build_cues([Segment(0, 5, ""), Segment(5, 10, "   \n ")]) == []
    assert build_cues([]) == []


def test_cues_never_overlap_even_when_segments_do():
    segments = [Segment(0.0, 4.0, "first part of it"), Segment(3.0, 6.0, "second part")]
    cues = build_cues(segments)
    check_shape(cues)
    assert cue_words(cues) == "first part of it second part".split()


def test_overlong_word_gets_its_own_line_uncut():
    url = "https://example.org/a/very/long/path/that/goes/on/and/on"
    assert len(url) > 42
    lines = wrap_lines(f"go to {url} now")
    assert url in lines
    assert all(len(line) <= 42 for line in lines if line != url)
    cues = build_cues([Segment(0, 4, f"go to {url} now please")])
    assert url in cue_words(cues)
    check_shape(cues)


def test_wrap_is_balanced_and_breaks_only_at_spaces():
    text = "This is a fairly long sentence that needs to be wrapped onto two lines."
    lines = wrap_lines(text)
    assert len(lines) == 2
    assert " ".join(lines) == text
    assert abs(len(lines[0]) - len(lines[1])) <= 10
    assert wrap_lines("short one") == ["short one"]
    assert wrap_lines("   ") == []


def test_text_without_spaces_splits_by_characters():
    text = "我们今天讨论一下你上周提到的那个问题，你觉得怎么样？我觉得还可以。" * 4
    cues = build_cues([Segment(0.0, 20.0, text)])
    check_shape(cues)
    assert "".join(cue.text.replace("\n", "") for cue in cues) == text
    for cue in cues:
        assert all(text_width(line) <= 42 for line in cue.lines)


def test_random_word_streams_keep_every_rule():
    rng = random.Random(7)
    vocabulary = MONOLOGUE.split()
    for _ in range(30):
        t = rng.uniform(0, 100)
        words = []
        for _ in range(rng.randint(1, 120)):
            token = rng.choice(vocabulary)
            duration = rng.uniform(0.05, 0.9)
            words.append(Word(round(t, 3), round(t + duration, 3), " " + token))
            t += duration + rng.choice([0.0, 0.05, 0.2, 0.6, 2.4, 2.6, 5.0])
        cues = build_cues([segment_with_words(tuple(words))])
        check_shape(cues)
        assert cue_words(cues) == [w.text.strip() for w in words]
        for cue in cues:
            assert cue.end - cue.start <= 7.0 + 1e-9
            inside = [w for w in words if cue.start - 1e-6 <= w.start and w.end <= cue.end + 1e-6]
            for first, second in zip(inside, inside[1:]):
                assert second.start - first.end <= 2.5 + 1e-6


def test_a_turn_change_starts_a_new_cue():
    """With word timings a cue ends where a sentence ends and a pause follows (0.5 s), or at
    any pause of 1.2 s: one cue holding the end of one turn and the start of the next showed
    the next speaker's words up to 2.5 s early."""
    from engine.segments import Word

    def words(text: str, start: float, step: float = 0.3) -> list[Word]:
        return [Word(start + i * step, start + i * step + 0.25, " " + t) for i, t in enumerate(text.split())]

    said = (
        words("I'm fine.", 0.0)  # ends 0.55; a sentence end and 0.75 s of pause follow
        + words("Good to hear.", 1.3)  # ends 2.15; then 0.35 s only
        + words("So tell me", 2.5)  # ends 3.35; no sentence end, then 1.65 s
        + words("about the week", 5.0)
    )
    cues = build_cues([Segment(0.0, 6.0, "x", tuple(said))])
    assert [cue.text for cue in cues] == ["I'm fine.", "Good to hear. So tell me", "about the week"]
    assert cues[1].start == 1.3 and cues[2].start == 5.0


def test_two_voices_at_once_get_cues_that_overlap_not_one_cut_to_a_blink():
    """stereo_diarization.wav: both sentences start together; cut at the other voice's cue,
    the first one lasted 96 ms. Each keeps its own time; one voice's cues still never overlap."""
    left = [Word(0.0 + 0.35 * i, 0.3 + 0.35 * i, " " + t, 0.9, 0) for i, t in enumerate("he began a confused complaint".split())]
    right = [Word(0.1 + 0.4 * i, 0.4 + 0.4 * i, " " + t, 0.9, 1) for i, t in enumerate("the horizon seems distant".split())]
    segments = [replace(segment_with_words(left), speaker=0), replace(segment_with_words(right), speaker=1)]
    cues = build_cues(segments)
    check_shape(cues)
    assert [c.speaker for c in cues] == [0, 1]
    assert cues[0].end == pytest.approx(left[-1].end) and cues[1].end == pytest.approx(right[-1].end)
    assert cues[0].end > cues[1].start  # said together, shown together
