"""Per-channel transcripts merged into one, labelled by channel (issue 12): a word the other
microphone also heard (bleed) appears once, on its speaker's channel."""
from __future__ import annotations


from engine.channel_audio import decode_channels
from engine.channel_words import bleed_thresholds, merge_channel_words
from engine.channels import LayoutMeter
from engine.segments import Word
from support.recordings import real_recording
from support.words import normalised_text


def levels_from(loud: dict[tuple[int, float, float], float]):
    """rms_over from a table: (channel, start, end) spans with their RMS; 0.001 elsewhere."""

    def rms_over(channel: int, start: float, end: float) -> float:
        for (c, a, b), value in loud.items():
            if c == channel and a <= start and end <= b:
                return value
        return 0.001

    return rms_over


def test_a_bleed_copy_is_kept_once_on_the_louder_channel():
    left = [Word(1.0, 1.4, " Hello", 0.9), Word(1.5, 1.9, " there.", 0.9)]
    right = [Word(1.05, 1.45, " hello", 0.6)]  # the client's microphone heard it too
    rms = levels_from({(0, 0.0, 2.0): 0.3, (1, 0.0, 2.0): 0.02})
    merged = merge_channel_words([left, right], rms)
    assert [(w.word.text, w.channel) for w in merged] == [(" Hello", 0), (" there.", 0)]


def test_the_copy_on_the_quieter_channel_loses_even_if_it_came_first():
    left = [Word(2.00, 2.3, " yes", 0.9)]
    right = [Word(1.95, 2.3, " Yes.", 0.9)]
    rms = levels_from({(1, 1.0, 3.0): 0.4, (0, 1.0, 3.0): 0.03})
    merged = merge_channel_words([left, right], rms)
    assert [(w.word.text, w.channel) for w in merged] == [(" Yes.", 1)]


def test_both_speakers_talking_at_once_keep_their_words():
    left = [Word(1.0, 1.3, " I", 1.0), Word(1.3, 1.8, " think", 1.0)]
    right = [Word(1.1, 1.5, " wait", 1.0), Word(1.5, 1.9, " no", 1.0)]
    rms = levels_from({(0, 0.0, 2.0): 0.3, (1, 0.0, 2.0): 0.25})  # both close and loud
    merged = merge_channel_words([left, right], rms)
    assert [(w.word.text.strip(), w.channel) for w in merged] == [("I", 0), ("wait", 1), ("think", 0), ("no", 1)]


def test_the_same_word_at_different_times_is_two_words():
    left = [Word(1.0, 1.3, " okay", 1.0)]
    right = [Word(3.0, 3.3, " okay", 1.0)]
    rms = levels_from({(0, 0.0, 2.0): 0.3, (1, 2.0, 4.0): 0.3})
    merged = merge_channel_words([left, right], rms)
    assert [(w.word.start, w.channel) for w in merged] == [(1.0, 0), (3.0, 1)]


def test_a_misheard_bleed_copy_is_dropped_and_a_lone_one_moves_to_its_speaker():
    # Left speaker says "walk" then "home"; the right channel heard both 25 dB down, as
    # "work" (misheard: a copy of a word the left channel has) and "home" alone (the left
    # transcript missed it): the first is dropped, the second becomes the left speaker's.
    left = [Word(1.0, 1.4, " walk", 1.0)]
    right = [Word(1.0, 1.4, " work", 0.5), Word(1.5, 1.9, " home", 0.5)]
    rms = levels_from({(0, 0.0, 2.0): 0.3, (1, 0.0, 2.0): 0.3 * 10 ** (-25 / 20)})
    merged = merge_channel_words([left, right], rms)
    assert [(w.word.text.strip(), w.channel) for w in merged] == [("walk", 0), ("home", 0)]


def test_microphones_at_different_gains_are_compared_against_their_own_level():
    # The right microphone is set 20 dB lower: its speaker's words are 20 dB below the left
    # channel's speech, yet they are not bleed.
    right = [Word(1.0, 1.4, " fine", 1.0)]
    rms = levels_from({(1, 0.0, 2.0): 0.03, (0, 0.0, 2.0): 0.3 * 10 ** (-25 / 20) * 0.1})
    merged = merge_channel_words([[], right], rms, loud_dbfs=(-10.0, -30.0))
    assert [(w.word.text, w.channel) for w in merged] == [(" fine", 1)]


def test_each_microphone_has_its_own_bleed_threshold():
    # The right microphone (a room, hearing the remote voice from the speakers) hears the left
    # speaker only 8 dB down: with the fixed 15 dB that copy stayed as the right speaker's word;
    # with the right channel's own threshold (half of the 10 dB it measured) it is bleed.
    left = [Word(1.0, 1.4, " walk", 1.0)]
    right = [Word(1.0, 1.4, " work", 0.5), Word(1.5, 1.9, " home", 0.5)]
    rms = levels_from({(0, 0.0, 2.0): 0.3, (1, 0.0, 2.0): 0.3 * 10 ** (-8 / 20)})
    fixed = merge_channel_words([left, right], rms)
    assert [(w.word.text.strip(), w.channel) for w in fixed] == [("walk", 0), ("work", 1), ("home", 1)]
    own = merge_channel_words([left, right], rms, bleed_db=bleed_thresholds((31.0, 10.0)))
    assert [(w.word.text.strip(), w.channel) for w in own] == [("walk", 0), ("home", 0)]
    assert bleed_thresholds((31.0, 10.0, None)) == (15.0, 5.0, 15.0)
    assert bleed_thresholds((1.0,)) == (3.0,)  # channels forced apart that hardly differ


def test_inputs_are_not_changed():
    left = [Word(1.0, 1.4, " Hello", 0.9)]
    right = [Word(1.0, 1.4, " hello", 0.9)]
    before = (list(left), list(right))
    merge_channel_words([left, right], levels_from({(0, 0.0, 2.0): 0.3}))
    assert (left, right) == before


# -- real speech, real model -----------------------------------------------------------------------
STEREO_DIARIZATION = (
    "He began a confused complaint against the wizard, who had vanished behind the curtain on the left.",
    "The horizon seems extremely distant.",
)


def test_real_two_speaker_file_gives_both_sentences_each_with_its_speaker(real_model):
    """faster-whisper's stereo_diarization.wav: mixed to mono, the right channel's sentence is
    lost; each channel transcribed with the real model and merged gives both, each labelled
    with its own channel."""
    from faster_whisper import WhisperModel

    stereo = decode_channels(real_recording("stereo_diarization.wav"))
    meter = LayoutMeter(2)
    meter.add(stereo)
    model = WhisperModel(str(real_model), device="cpu", compute_type="int8", cpu_threads=2)
    words = []
    for channel in range(2):
        segments, _ = model.transcribe(stereo[channel], language="en", word_timestamps=True, beam_size=5)
        words.append([Word(w.start, w.end, w.word, w.probability) for s in segments for w in s.words])
    merged = merge_channel_words(words, meter.levels().rms_over, meter.verdict().loud_dbfs)
    for channel, sentence in enumerate(STEREO_DIARIZATION):
        said = "".join(w.word.text for w in merged if w.channel == channel)
        assert normalised_text(said) == normalised_text(sentence), (channel, said)
