"""No speech left behind: the transcribe stage checks its words against the voiced regions,
decodes again what the batch lost, catches repetition loops, and counts what stays missing."""
from __future__ import annotations

import pytest

from engine.options import TranscribeOptions
from engine.pipeline import Engine
from engine.segments import Word
from engine.transcribe import (
    Transcriber,
    _collapse_repeats,
    _drop_squeezed_repeats,
    _loops,
    _new_words,
    _prompt,
    _prompt_text,
    _segments,
    _uncovered,
)
from support.audio import session, write_audio


def _words(text: str, start: float = 0.0, step: float = 0.4) -> list[Word]:
    return [
        Word(round(start + i * step, 3), round(start + i * step + 0.3, 3), " " + token)
        for i, token in enumerate(text.split())
    ]


def test_voiced_stretches_without_words_are_found():
    words = _words("I have been sleeping better", start=1.0)  # 1.0 .. 2.9 s
    assert _uncovered([(1.0, 3.0)], words) == []
    # A second turn (5-8 s) with no words is missed; a 0.5-s blip is too short to count.
    assert _uncovered([(1.0, 3.0), (5.0, 8.0), (10.0, 10.5)], words) == [(5.0, 8.0)]
    # Words cover their surroundings by 0.4 s only: the end of a long turn can be missed.
    assert _uncovered([(1.0, 6.0)], words) == [(3.3, 6.0)]
    # A word stretched over a whole turn (the batch kept 3 words of 12) covers only its ends.
    stretched = [Word(10.0, 10.3, " I"), Word(10.3, 10.5, " hear"), Word(10.5, 24.3, " a")]
    assert _uncovered([(10.0, 24.3)], stretched) == [(11.65, 23.15)]


def test_a_looping_decode_is_caught_and_collapsed():
    loop = _words("When the right will lose my job " * 7)
    assert _loops(loop)
    collapsed = _collapse_repeats(loop)
    assert " ".join(w.text.strip() for w in collapsed) == "When the right will lose my job"
    # People do repeat themselves a little: that is speech, not a loop.
    assert not _loops(_words("no no no I know I know I know what you mean"))
    assert not _loops(_words("How have things been since we last met"))


def test_each_clip_is_prompted_with_the_end_of_the_text_before_it():
    """Decoding one clip at a time, the text before a clip prompts it (as sequential
    decoding's condition_on_previous_text does): its last PROMPT_CHARS from a word's start,
    after the user's own prompt, which is never dropped; a looping decode prompts nothing."""
    from engine.transcribe import PROMPT_CHARS

    before = " ".join(f"word{i}" for i in range(60))  # 479 characters
    prompt = _prompt(None, before)
    assert before.endswith(prompt) and len(prompt) <= PROMPT_CHARS
    assert prompt.split()[0] in before.split()  # no word cut in half
    assert _prompt("Dr. Okonkwo, EMDR.", before) == "Dr. Okonkwo, EMDR. " + prompt
    assert _prompt(None, "") is None and _prompt("EMDR", "") == "EMDR"
    assert _prompt_text(_words("I have been sleeping better")) == "I have been sleeping better"
    assert _prompt_text(_words(" ".join(["when the right will lose my job"] * 7))) == ""


def test_segments_end_at_pauses_and_sentence_ends():
    words = _words("Hello there. How are you") + _words("I am fine", start=5.0)
    rows = _segments(words)
    assert [row.text for row in rows] == ["Hello there.", "How are you", "I am fine"]
    assert rows[2].start == 5.0 and all(row.words for row in rows)


def test_a_sentence_crammed_in_twice_is_kept_once():
    said = _words("How long have you been feeling this way?", start=10.0)
    crammed = [Word(w.start, w.start + 0.04, w.text)
               for w in _words("Have you been feeling this way?", start=12.9, step=0.05)]
    assert _drop_squeezed_repeats(said + crammed) == said
    # Fast words that are not a repeat stay: they may be real.
    quick = [Word(13.0 + i * 0.05, 13.04 + i * 0.05, t) for i, t in enumerate([" I", " said", " no"])]
    assert _drop_squeezed_repeats(said + quick) == said + quick


def test_a_crammed_copy_that_runs_on_into_other_words_is_dropped():
    """The 30-min bench session's words at 25:05: the sentence, its copy in 0.3 s, and
    "Have you been" crammed again in front of the next sentence ("That is a big change")."""
    def word(text, start, end):
        return Word(start, end, " " + text)

    said = [word(t, a, b) for t, a, b in (
        ("How", 1505.40, 1505.62), ("long", 1505.62, 1505.94), ("have", 1505.94, 1506.14),
        ("you", 1506.14, 1506.42), ("been", 1506.42, 1506.56), ("feeling", 1506.56, 1506.90),
        ("this", 1506.90, 1507.20), ("way?", 1507.20, 1507.74))]
    copy = [word("Have", 1507.86, 1507.96), word("you", 1507.96, 1508.16)] + [
        word(t, 1508.16, 1508.16) for t in ("been", "feeling", "this", "way?", "Have", "you")]
    after = [word(t, a, b) for t, a, b in (
        ("been", 1508.16, 1508.24), ("a", 1508.24, 1508.24), ("big", 1508.24, 1508.56),
        ("change", 1508.56, 1508.94), ("from", 1508.94, 1509.42), ("where", 1509.42, 1509.66))]
    kept = " ".join(w.text.strip() for w in _drop_squeezed_repeats(said + copy + after))
    # The copy goes; "Have you" before it took 0.1-0.2 s a word (not crammed) and stays.
    assert kept == "How long have you been feeling this way? Have you been a big change from where"


def test_words_decoded_twice_are_kept_once():
    existing = _words("we talked about the week and how it went", start=10.0)
    again = _words("about the week", start=14.0)
    assert _new_words(again, existing) == []
    fresh = _words("my sister called on Sunday", start=14.0)
    assert _new_words(fresh, existing) == fresh


def test_a_stretch_decoded_by_two_retries_keeps_each_word_once():
    """A quiet voice came back from the batched retry and again from the sequential one, with
    a word more and the same words at the same moments (0-0.02 s apart): every word came out
    twice, "I'd I'd like like to to". Only the new word is added now."""
    def word(text, start, end):
        return Word(start, end, " " + text)

    first = [word(t, a, b) for t, a, b in (
        ("I'd", 130.40, 130.60), ("like", 130.60, 130.80), ("to", 130.80, 130.95),
        ("say", 131.43, 131.59), ("what", 131.59, 131.79), ("I", 131.79, 131.95), ("need", 131.95, 132.13))]
    second = [word(t, a, b) for t, a, b in (
        ("Well,", 129.90, 130.30), ("I'd", 130.41, 130.60), ("like", 130.62, 130.80), ("to", 130.80, 130.95),
        ("say", 131.43, 131.61), ("what", 131.61, 131.79), ("I", 131.79, 131.95), ("need", 131.95, 132.15))]
    assert [w.text.strip() for w in _new_words(second, first)] == ["Well,"]
    # Said twice, a word is further apart than SAME_WORD_S: both stay ("no, no" 0.4 s apart).
    again = [word("well,", 9.9, 10.2), word("no,", 10.4, 10.7)]
    assert [w.text.strip() for w in _new_words(again, [word("no,", 10.0, 10.3)])] == ["well,", "no,"]


@pytest.fixture(scope="module")
def three_turns(speech_available, tmp_path_factory):
    layout = [
        1.0, "How have things been since we last met?",
        0.8, ("I have been sleeping better, mostly.", "en+f3"),
        0.8, "That is a big change from where you were a month ago.",
        1.0,
    ]
    audio, spans = session(layout, noise_dbfs=-60)
    path = write_audio(tmp_path_factory.mktemp("turns") / "turns.wav", audio)
    return path, spans


def test_a_turn_the_batch_lost_is_decoded_again(three_turns, real_model, monkeypatch):
    """Batched decoding sometimes skips a turn inside a 30-s clip. Make it do so (drop the
    words of the middle turn from the first batch) and the job must still have them."""
    path, spans = three_turns
    lost_start, lost_end = spans[1]
    first_pass = Transcriber._first_pass

    def losing(self, pieces, clips, *args, **kwargs):
        words, language = first_pass(self, pieces, clips, *args, **kwargs)
        words = [
            [w for w in clip_words if not (lost_start - 0.2 <= w.start <= lost_end)]
            for clip_words in words
        ]
        return words, language

    monkeypatch.setattr(Transcriber, "_first_pass", losing)
    outcome = Engine().transcribe(path, TranscribeOptions(model=str(real_model), formats=("json",)))
    assert outcome.status == "done", outcome.reason
    text = " ".join(segment.text.lower() for segment in outcome.segments)
    assert "sleeping better" in text and "last met" in text and "month ago" in text
    report = outcome.report
    assert report.redecoded_regions == 1 and report.recovered_s > 1.0
    assert report.untranscribed_regions == 0
    # The recovered words sit where the turn was said.
    recovered = [w for s in outcome.segments for w in s.words if "sleeping" in w.text.lower()]
    assert recovered and lost_start - 0.5 <= recovered[0].start <= lost_end


def test_speech_that_never_gives_words_is_reported(three_turns, real_model, monkeypatch):
    """If every decode of a turn comes back empty, the job says so instead of finishing as
    if nothing was there."""
    from engine import events as ev

    path, spans = three_turns
    lost_start, lost_end = spans[1]
    decode, sequential = Transcriber._decode, Transcriber._sequential

    def drop(words):
        return [w for w in words if not (lost_start - 0.2 <= w.start <= lost_end + 0.5)]

    # Every decode there is: the first pass's (batched or chained), the retries' and the
    # sequential ones.
    monkeypatch.setattr(
        Transcriber, "_decode",
        lambda self, *a, **k: (lambda r: ([drop(w) for w in r[0]], r[1]))(decode(self, *a, **k)),
    )
    monkeypatch.setattr(Transcriber, "_sequential", lambda self, *a, **k: drop(sequential(self, *a, **k)))
    events: list = []
    outcome = Engine(events.append).transcribe(
        path, TranscribeOptions(model=str(real_model), formats=("json",))
    )
    assert outcome.status == "done", outcome.reason
    assert outcome.report.untranscribed_regions == 1
    # The turn less the 0.4 s next to the neighbours' words that counts as theirs.
    assert 1.0 < outcome.report.untranscribed_s <= lost_end - lost_start
    notes = [e.message for e in events if isinstance(e, ev.JobNote) and e.level == "warning"]
    assert any("turns.wav" in note and "gave no words" in note for note in notes), notes
    # The run report (CLI line, app's report, --report JSON) names it too.
    assert "1 stretch(es) of speech" in outcome.report.check_text()
    data = outcome.report.to_dict()
    assert data["untranscribed_regions"] == 1 and 0 < data["clip_fill"] <= 1


def test_speech_that_really_repeats_is_not_called_a_loop(real_model, tmp_path):
    """jfk.flac four times with 1-s gaps: repeated speech compresses like a looping decode
    (gzip ratio 5.6 over eight copies) and must not be 'fixed' or flagged as one."""
    import numpy as np

    from engine import events as ev
    from engine.decode import decode_all
    from support.recordings import real_recording

    once = decode_all(real_recording("jfk.flac"))
    gap = np.zeros(16000, np.float32)
    path = write_audio(tmp_path / "jfk4.wav", np.concatenate([once, gap] * 4))
    events: list = []
    outcome = Engine(events.append).transcribe(path, TranscribeOptions(model=str(real_model), formats=("json",)))
    assert outcome.status == "done", outcome.reason
    words = [w for s in outcome.segments for w in s.words if w.text.strip()]
    for copy in range(4):  # every copy is there, at its own time
        inside = [w.text.lower() for w in words if 12.0 * copy - 0.5 <= w.start < 12.0 * copy + 11.0]
        assert any("americans" in t for t in inside) and any("country" in t for t in inside), copy
    assert outcome.report.loops == 0 and outcome.report.doubtful_loops == 0
    assert not [e for e in events if isinstance(e, ev.JobNote)]
