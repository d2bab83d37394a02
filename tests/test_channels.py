"""Channel layouts (issue 12): one speaker per channel must be told from both voices on both
channels, a silent channel and mono stored as stereo, on generated two-voice sessions and on
faster-whisper's real two-speaker file; and decoding must keep the channels apart."""
from __future__ import annotations

import numpy as np
import pytest

from engine.channel_audio import decode_channels, stream_channels
from engine.channels import ChannelLayout, LayoutMeter, classify
from support import dialogue as D
from support.recordings import real_recording

SR = D.SAMPLE_RATE
T, C = D.THERAPIST, D.CLIENT
TURNS = (
    (T, ("How have things been since we last met?",)),
    (C, ("I have been sleeping better, mostly.", "I started cooking again.")),
    (T, ("That is a big change from where you were a month ago.",)),
    (C, ("Part of me knows it isn't my fault, but it still feels that way.",)),
    (T, ("What would a good week look like for you right now?",)),
)
GAPS = (0.6, -0.4, 0.9, 0.5)  # one turn starts 0.4 s before the other ends


def _voice(plan: D.Plan, name: str) -> np.ndarray:
    out = np.zeros(plan.total, np.float32)
    for piece in plan.pieces:
        if piece.voice.name == name:
            clip = D._sentence(piece.voice, piece.sentence)
            out[piece.start : piece.start + clip.size] += clip
    return out


@pytest.fixture(scope="module")
def voices(speech_available) -> tuple[np.ndarray, np.ndarray]:
    plan = D.layout_dialogue(TURNS, GAPS, seed=2)
    return _voice(plan, "therapist"), _voice(plan, "client")


def _noise(n: int, dbfs: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32) * np.float32(10 ** (dbfs / 20))


def two_mic(therapist, client, bleed_db=-25.0, right_gain_db=0.0) -> np.ndarray:
    bleed = np.float32(10 ** (bleed_db / 20))
    left = therapist + bleed * client + _noise(therapist.size, -65, 1)
    right = (client + bleed * therapist) * np.float32(10 ** (right_gain_db / 20)) + _noise(client.size, -65, 2)
    return np.stack([left, right]) * np.float32(0.5)


def shared(therapist, client) -> np.ndarray:
    """Both voices on both channels, as a handheld recorder hears them: the right channel a
    little quieter and 0.5 ms later, each microphone with its own noise."""
    mix = therapist + np.float32(0.8) * client
    delayed = np.concatenate([np.zeros(8, np.float32), mix[:-8]]) * np.float32(0.7)
    return np.stack([mix + _noise(mix.size, -60, 3), delayed + _noise(mix.size, -60, 4)]) * np.float32(0.5)


def test_one_speaker_per_channel_with_bleed_is_separate(voices):
    verdict = classify(two_mic(*voices))
    assert verdict.layout is ChannelLayout.SEPARATE, verdict


def test_separate_even_when_one_microphone_is_set_much_lower(voices):
    verdict = classify(two_mic(*voices, right_gain_db=-15.0))
    assert verdict.layout is ChannelLayout.SEPARATE, verdict


def test_both_voices_on_both_channels_is_shared(voices):
    verdict = classify(shared(*voices))
    assert verdict.layout is ChannelLayout.SHARED, verdict


def test_a_silent_channel_is_found(voices):
    therapist, client = voices
    speech = therapist + client
    for silent in (np.zeros_like(speech), _noise(speech.size, -80, 5)):
        verdict = classify(np.stack([silent, speech * np.float32(0.5)]))
        assert verdict.layout is ChannelLayout.ONE_SILENT, verdict
        assert verdict.active == (1,)


def test_the_same_signal_on_both_channels_is_mono(voices):
    speech = (voices[0] + voices[1]) * np.float32(0.5)
    assert classify(np.stack([speech, speech])).layout is ChannelLayout.MONO
    assert classify(speech).layout is ChannelLayout.MONO  # one channel


def test_block_by_block_gives_the_same_verdict_and_levels(voices):
    audio = two_mic(*voices)
    whole = LayoutMeter(2)
    whole.add(audio)
    pieces = LayoutMeter(2)
    for start in range(0, audio.shape[1], 7777):  # blocks that split frames
        pieces.add(audio[:, start : start + 7777])
    assert pieces.verdict() == whole.verdict()
    np.testing.assert_allclose(pieces.levels().rms, whole.levels().rms, rtol=1e-5, atol=1e-7)


def test_levels_say_which_channel_was_louder_during_a_turn(voices):
    therapist, client = voices
    plan = D.layout_dialogue(TURNS, GAPS, seed=2)
    meter = LayoutMeter(2)
    meter.add(two_mic(therapist, client))
    levels = meter.levels()
    for utterance in plan.utterances:
        mine = 0 if utterance.speaker == "therapist" else 1
        middle = (utterance.start + utterance.end) / 2
        # a stretch inside the turn, away from the overlap at its edges
        assert levels.rms_over(mine, middle - 0.3, middle + 0.3) > 5 * levels.rms_over(1 - mine, middle - 0.3, middle + 0.3)


def test_real_two_speaker_file_is_separate():
    verdict = classify(decode_channels(real_recording("stereo_diarization.wav")))
    assert verdict.layout is ChannelLayout.SEPARATE, verdict


def test_real_mono_recording_stored_as_stereo_is_mono():
    verdict = classify(decode_channels(real_recording("jfk.flac")))
    assert verdict.layout is ChannelLayout.MONO, verdict


def test_decoding_keeps_each_channel_in_its_place(tmp_path, voices):
    """A 44.1-kHz stereo MP3 of the two-mic session: left stays left, right stays right, at
    16 kHz, with the timing of the original."""
    therapist, client = voices
    audio = two_mic(therapist, client)
    path = _write_stereo(tmp_path / "two-mic.flac", audio)
    decoded = decode_channels(path)
    assert decoded.shape[0] == 2
    assert abs(decoded.shape[1] - audio.shape[1]) < SR * 0.05
    n = min(decoded.shape[1], audio.shape[1])
    for channel in range(2):
        correlation = np.corrcoef(decoded[channel, :n], audio[channel, :n])[0, 1]
        assert correlation > 0.99, (channel, correlation)
    blocks = list(stream_channels(path, block_samples=SR * 2))
    assert all(b.shape[0] == 2 for b in blocks)
    assert all(b.shape[1] == SR * 2 for b in blocks[:-1])
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), decoded)


def _write_stereo(path, audio: np.ndarray):
    """(2, n) float32 at 16 kHz to a 44.1-kHz stereo FLAC (resampled by PyAV)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac", rate=44100, layout="stereo")
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=44100)
        frame = av.AudioFrame.from_ndarray(audio.astype(np.float32), format="fltp", layout="stereo")
        frame.sample_rate = SR
        for out in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _blocks(audio: np.ndarray, consumed: list, seconds: float = 10.0):
    step = int(seconds * SR)
    for start in range(0, audio.shape[1], step):
        consumed.append(start)
        yield audio[:, start : start + step]


def test_a_mono_recording_stored_as_stereo_is_decided_after_a_minute(voices):
    """Copies need no 10 min of decoding to be told (it took ~3 s of a 23-s job here)."""
    from engine.channel_route import EARLY_S, ChannelRoute, measure

    one = np.tile(voices[0] + voices[1], 20)  # ~5 min
    consumed: list = []
    route = ChannelRoute()
    measure(_blocks(np.stack([one, one]), consumed), route)
    assert route.route == "mix" and route.verdict.layout is ChannelLayout.MONO
    assert route.measured_s == EARLY_S and len(consumed) == 6


def test_one_voice_alone_on_its_microphone_at_first_is_measured_on(voices):
    """A session that opens with one speaker on two microphones is not cut short: the other
    speaker's channel holds only bleed, so the channels are not copies."""
    from engine.channel_route import EARLY_S, ChannelRoute, measure

    therapist, client = voices
    alone = np.tile(two_mic(therapist, np.zeros_like(client)), 6)  # the therapist alone, > 1 min
    audio = np.concatenate([alone, np.tile(two_mic(therapist, client), 4)], axis=1)
    consumed: list = []
    route = ChannelRoute()
    measure(_blocks(audio, consumed), route)
    assert route.measured_s > EARLY_S and route.verdict.layout is ChannelLayout.SEPARATE
