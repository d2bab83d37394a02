"""Checks for the synthetic-recording helpers in tests/support/audio.py."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

import support.audio as sa
from support.audio import SAMPLE_RATE, long_session, session, speak, write_audio, write_long_mp3

SCRIPT = Path(sa.__file__)


def _decode(path: Path) -> tuple[np.ndarray, int, int]:
    """Decode the first audio stream to (channels, samples) float32; returns rate, channels."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        rate, channels = s.rate, s.channels
        planes = []
        for frame in c.decode(s):
            a = frame.to_ndarray()
            if not frame.format.is_planar:
                a = a.reshape(-1, channels).T
            if a.dtype.kind == "i":
                a = a.astype(np.float32) / (2 ** (8 * a.dtype.itemsize - 1))
            planes.append(a.astype(np.float32))
    return np.concatenate(planes, axis=1), rate, channels


def _rms_envelope(x: np.ndarray, hop: int = SAMPLE_RATE // 100) -> np.ndarray:
    n = x.size // hop
    return np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1))


def _tone(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


# --------------------------------------------------------------------------- speech / session


def test_session_places_speech_where_the_layout_says(speech_available):
    s1, s2 = "Hello there, how are you feeling today?", "I have been sleeping better."
    audio, spans = session([10.0, s1, 3.0, s2])
    assert audio.dtype == np.float32 and audio.ndim == 1
    (a0, a1), (b0, b1) = spans
    assert a0 == pytest.approx(10.0, abs=1e-9)
    assert a1 - a0 == pytest.approx(speak(s1).size / SAMPLE_RATE)
    assert b0 == pytest.approx(a1 + 3.0, abs=1 / SAMPLE_RATE)
    assert audio.size / SAMPLE_RATE == pytest.approx(b1, abs=1 / SAMPLE_RATE)

    env = _rms_envelope(audio)  # 10 ms frames
    active = np.flatnonzero(env > 10 ** (-40 / 20))
    assert abs(active[0] / 100 - 10.0) <= 0.03  # speech starts at 10 s, not before
    assert abs((active[-1] + 1) / 100 - b1) <= 0.03
    assert env[: 995].max() == 0.0  # the 10 s lead-in is silent
    assert env[round(a1 * 100) + 2 : round(b0 * 100) - 2].max() < 1e-3  # and so is the gap
    for lo, hi in spans:  # each sentence carries real speech energy
        assert env[round(lo * 100) : round(hi * 100)].mean() > 0.02


def test_speak_is_cached_trimmed_and_safe_to_modify(speech_available):
    a = speak("Okay.")
    assert a.dtype == np.float32 and a.size > 0.2 * SAMPLE_RATE
    assert abs(a[0]) > sa._VOICED_THRESHOLD and abs(a[-1]) > sa._VOICED_THRESHOLD
    a[:] = 0  # callers get a copy; the cache is unaffected
    assert np.abs(speak("Okay.")).max() > 0.1
    assert not np.array_equal(speak("Okay.", "en+f3"), speak("Okay."))  # voice is in the key


def test_missing_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sa.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="espeak-ng"):
        speak("A sentence nobody has cached yet, surely.")
    assert not sa.have_espeak()


def test_session_options(speech_available):
    audio, spans = session(
        [0.5, ("Right, that makes sense.", "en+f3"), 0.5], sample_rate=8000, noise_dbfs=-60
    )
    assert audio.size == pytest.approx((1.0 + spans[0][1] - spans[0][0]) * 8000, abs=2)
    floor = audio[: 3000]  # the lead-in: noise floor, not digital silence
    assert 20 * np.log10(np.sqrt((floor**2).mean())) == pytest.approx(-60, abs=1.5)
    with pytest.raises(TypeError):
        session([1.0, None])


# --------------------------------------------------------------------------- Silero VAD


def _overlaps(span: tuple[float, float], speech: list[dict], rate: int = SAMPLE_RATE) -> bool:
    return any(t["start"] / rate < span[1] and t["end"] / rate > span[0] for t in speech)


def test_silero_detects_espeak_speech(speech_available):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio, spans = session(
        [10.0, "Hello there, how are you feeling today?", 3.0, "I have been sleeping better.",
         4.0, ("Yeah.", "en+f3"), 2.0, ("No, not really.", "en+f3"), 1.0]
    )
    speech = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=160))
    missed = [s for s in spans if not _overlaps(s, speech)]
    assert not missed, f"Silero missed {missed}; found {speech}"
    # Nothing is detected in the 10 s lead-in.
    assert speech[0]["start"] / SAMPLE_RATE > 9.0


def test_silero_detects_the_long_session_utterances(speech_available):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio, spans = long_session(2.0, seed=3)
    speech = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=160))
    found = sum(_overlaps(s, speech) for s in spans)
    assert found == len(spans), f"{len(spans) - found} of {len(spans)} utterances missed"


# --------------------------------------------------------------------------- long sessions


def test_long_session_shape_and_pauses(speech_available):
    audio, spans = long_session(10.0, seed=1)
    assert audio.dtype == np.float32 and audio.size == 10 * 60 * SAMPLE_RATE
    starts = np.array([s for s, _ in spans])
    ends = np.array([e for _, e in spans])
    assert len(spans) > 60 and np.all(ends > starts) and ends[-1] <= 600.0
    gaps = starts[1:] - ends[:-1]
    assert gaps.min() >= 0.3 - 1e-6 and gaps.max() <= 40.0 + 1e-6
    assert 0.6 < np.mean(gaps <= 1.5) < 0.95  # mostly conversational pauses
    assert np.any(gaps >= 3.0)  # some reflective ones
    # Most of the ~30-sentence pool shows up (distinct clips have distinct lengths).
    assert len({round(e - s, 4) for s, e in spans}) >= 20
    # Between utterances: a ~-60 dBFS noise floor, never digital silence.
    i = int(np.argmax(gaps))
    quiet = audio[round((ends[i] + 0.1) * SAMPLE_RATE) : round((starts[i + 1] - 0.1) * SAMPLE_RATE)]
    assert 20 * np.log10(np.sqrt((quiet**2).mean())) == pytest.approx(-60, abs=1.5)
    # Deterministic per seed, different across seeds.
    again, spans_again = long_session(10.0, seed=1)
    assert spans_again == spans and np.array_equal(again, audio)
    assert long_session(10.0, seed=2)[1] != spans


def test_write_long_mp3_stitches_segments_seamlessly(speech_available, tmp_path, monkeypatch):
    # Short segments so a 1-minute file exercises several junctions.
    monkeypatch.setattr(sa, "_SEGMENT_SECONDS", 15.0)
    one = tmp_path / "one.mp3"
    spans = write_long_mp3(one, 1.0, seed=5, workers=1)
    two = tmp_path / "two.mp3"
    assert write_long_mp3(two, 1.0, seed=5, workers=3) == spans
    # The result doesn't depend on how many threads encoded it.
    assert hashlib.sha256(one.read_bytes()).digest() == hashlib.sha256(two.read_bytes()).digest()

    ref, ref_spans = long_session(1.0, seed=5)
    assert ref_spans == spans
    decoded, rate, channels = _decode(one)
    assert (rate, channels) == (44100, 2)
    assert decoded.shape[1] == 60 * 44100  # gapless: exact length, no drift at junctions
    src = sa._resample(ref, SAMPLE_RATE, 44100)
    err = decoded[0] - src
    # Coding noise only (~-50 dB re full scale); a misaligned or glitched junction would be
    # at speech level in that second.
    per_second = np.sqrt((err.reshape(60, 44100) ** 2).mean(axis=1))
    assert per_second.max() < 0.01, per_second.round(4)
    assert np.sqrt((decoded[1] ** 2).mean()) < np.sqrt((decoded[0] ** 2).mean())  # gain step


def test_cli_writes_a_long_mp3(speech_available, tmp_path):
    out = tmp_path / "bench.mp3"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--minutes", "0.25",
         "--spans", str(tmp_path / "s.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and " s" in proc.stdout
    with av.open(str(out)) as c:
        s = c.streams.audio[0]
        assert (s.rate, s.channels) == (44100, 2)
        assert c.duration / 1e6 == pytest.approx(15.0, abs=0.1)


# --------------------------------------------------------------------------- write_audio

FORMATS = [
    # name, kwargs, expected (codec, rate, channels, video codec or None)
    ("eight.wav", dict(out_rate=192000, channels=8, bit_depth=24), ("pcm_s24le", 192000, 8, None)),
    ("plain.wav", {}, ("pcm_s16le", 16000, 1, None)),
    ("s32.wav", dict(bit_depth=32, channels=2), ("pcm_s32le", 16000, 2, None)),
    ("float.wav", dict(codec="pcm_f32le"), ("pcm_f32le", 16000, 1, None)),
    ("lossless.flac", dict(out_rate=44100, channels=2, bit_depth=24), ("flac", 44100, 2, None)),
    ("voice.ogg", {}, ("opus", 48000, 1, None)),
    ("voice.opus", dict(channels=2), ("opus", 48000, 2, None)),
    ("phone.m4a", dict(out_rate=44100, channels=2), ("aac", 44100, 2, None)),
    ("zoom.mp4", dict(out_rate=48000, channels=2, video=True), ("aac", 48000, 2, "video")),
    ("dictaphone.mp3", dict(out_rate=44100, channels=2), ("mp3", 44100, 2, None)),
    ("narrow.mp3", {}, ("mp3", 16000, 1, None)),
]


@pytest.mark.parametrize("name,kwargs,expected", FORMATS, ids=[f[0] for f in FORMATS])
def test_write_audio_round_trips(tmp_path, name, kwargs, expected):
    codec, rate, channels, video = expected
    tone = _tone(2.0)
    path = write_audio(tmp_path / "sub dir" / name, tone, **kwargs)
    assert path.exists()
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        assert s.codec_context.name.startswith(codec)
        assert (s.rate, s.channels) == (rate, channels)
        assert bool(c.streams.video) == (video is not None)
        if video:
            assert c.streams.video[0].codec_context.name in ("h264", "mpeg4")
    decoded, _, _ = _decode(path)
    # Duration survives (lossy codecs add a little priming/padding at most).
    assert decoded.shape[1] / rate == pytest.approx(2.0, abs=0.06)
    # Still the same 440 Hz tone at the same level, in every channel, each a little quieter.
    mid = decoded[:, rate // 4 : rate * 7 // 4]
    levels = np.sqrt((mid**2).mean(axis=1))
    assert levels[0] == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert np.all(np.diff(levels) < 0)
    spectrum = np.abs(np.fft.rfft(mid[0]))
    assert np.argmax(spectrum) * rate / mid.shape[1] == pytest.approx(440, abs=2)
    if codec.startswith("pcm") or codec == "flac":
        # Lossless: bit-exact up to quantisation and resampling.
        if rate == SAMPLE_RATE:
            assert np.abs(decoded[0] - tone).max() < 1e-4


def test_write_audio_rejects_bad_requests(tmp_path):
    with pytest.raises(ValueError):
        write_audio(tmp_path / "a.xyz", _tone(0.1))
    with pytest.raises(ValueError):
        write_audio(tmp_path / "a.m4a", _tone(0.1), out_rate=192000)
    with pytest.raises(ValueError):
        write_audio(tmp_path / "a.wav", _tone(0.1), bit_depth=12)
    with pytest.raises(ValueError):
        write_audio(tmp_path / "a.wav", np.zeros((10, 2), np.float32))
    with pytest.raises(ValueError):
        write_audio(tmp_path / "a.flac", _tone(0.1), video=True)
