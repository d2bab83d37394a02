"""Synthetic recordings with known speech positions, for tests and benchmarks.

Speech comes from the espeak-ng binary (subprocess); everything else is numpy + PyAV so
benchmarks can import this file without the test tree or the app installed.

    python tests/support/audio.py OUT.mp3 --minutes 20     # long 44.1 kHz stereo MP3
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from math import gcd, lcm
from pathlib import Path
from typing import Sequence, Tuple, Union

import av
import numpy as np

SAMPLE_RATE = 16000

# Samples quieter than this (-60 dBFS) at a sentence's edges count as espeak's own padding.
_VOICED_THRESHOLD = 1e-3
# Encoder feed size in input samples: small enough that 8 ch x 192 kHz blocks stay a few MB.
_BLOCK = 1 << 15
# Per-channel gain step when fanning mono out to N channels, so channels aren't bit-identical.
_CHANNEL_STEP_DB = -0.5

LayoutItem = Union[float, int, str, Tuple[str, str]]  # seconds | text | (text, voice)


# --------------------------------------------------------------------------- speech synthesis


def have_espeak() -> bool:
    """True if the espeak-ng binary is on PATH (tests use this to skip cleanly)."""
    return shutil.which("espeak-ng") is not None


def _espeak_bin() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng not found on PATH; synthetic test speech needs it "
            "(Debian/Ubuntu: apt-get install espeak-ng)"
        )
    return exe


def _parse_espeak_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode espeak's streamed WAV (its RIFF/data sizes are bogus 0x7fff.... placeholders)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not produce WAV output")
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"fmt ":
            fmt, ch, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
            if (fmt, ch, bits) != (1, 1, 16):
                raise RuntimeError(f"unexpected espeak-ng WAV format {fmt}/{ch}ch/{bits}bit")
        elif cid == b"data":
            # Read to EOF rather than trusting `size`, which is a placeholder when streaming.
            body = data[pos + 8 :]
            body = body[: len(body) // 2 * 2]
            return np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0, rate
        pos += 8 + size + (size & 1)
    raise RuntimeError("espeak-ng WAV output has no data chunk")


def _resample(x: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Resample a whole mono float32 array with libswresample (via PyAV)."""
    if in_rate == out_rate or x.size == 0:
        return x.astype(np.float32, copy=False)
    rs = _MonoResampler(in_rate, out_rate)
    parts = [rs.push(x[i : i + _BLOCK]) for i in range(0, x.size, _BLOCK)]
    parts.append(rs.flush())
    return np.concatenate(parts)


class _MonoResampler:
    """Streaming mono float32 resampler (stateful, so block edges are seamless)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self._rs = av.AudioResampler(format="flt", layout="mono", rate=out_rate)
        self._pts = 0

    def _collect(self, frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, np.float32)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames])

    def push(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(0, np.float32)
        f = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(x, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        f.sample_rate = self.in_rate
        f.time_base = Fraction(1, self.in_rate)
        f.pts = self._pts  # the filter graph wants monotonic timestamps
        self._pts += x.size
        return self._collect(self._rs.resample(f))

    def flush(self) -> np.ndarray:
        return self._collect(self._rs.resample(None))


def _trim(x: np.ndarray) -> np.ndarray:
    """Drop espeak's leading/trailing near-silence so positions refer to voiced samples."""
    idx = np.flatnonzero(np.abs(x) > _VOICED_THRESHOLD)
    if idx.size == 0:
        return x[:0]
    return x[idx[0] : idx[-1] + 1]


@functools.lru_cache(maxsize=512)
def _speech(text: str, voice: str, rate_wpm: int, sample_rate: int) -> np.ndarray:
    """Cached, trimmed, read-only synthesis (shared by every caller, hence read-only)."""
    proc = subprocess.run(
        # --stdin so text starting with '-' can't be taken for an option.
        [_espeak_bin(), "-v", voice, "-s", str(int(rate_wpm)), "--stdin", "--stdout"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {msg or proc.returncode}")
    raw, rate = _parse_espeak_wav(proc.stdout)
    out = _trim(_resample(raw, rate, sample_rate)).copy()
    out.flags.writeable = False
    return out


def speak(
    text: str, voice: str = "en-us", rate_wpm: int = 150, *, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """espeak-ng speech as mono float32 (16 kHz by default), leading/trailing silence trimmed.

    Synthesis is cached in-process by arguments; the returned array is a fresh copy.
    Raises RuntimeError naming espeak-ng if the binary is missing or fails.
    """
    return _speech(text, voice, rate_wpm, sample_rate).copy()


def silence(seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Digital silence (zeros) of the given length."""
    return np.zeros(max(0, round(seconds * sample_rate)), np.float32)


def _noise(n: int, dbfs: float, seed: int) -> np.ndarray:
    """White noise with the given RMS level in dBFS."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n, dtype=np.float32) * np.float32(10 ** (dbfs / 20))


def session(
    layout: Sequence[LayoutItem],
    sample_rate: int = SAMPLE_RATE,
    *,
    voice: str = "en-us",
    rate_wpm: int = 150,
    noise_dbfs: float | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Build a recording from a layout and return (audio, [(start_s, end_s) per sentence]).

    Layout items: a number = seconds of silence; a str = sentence spoken with `voice`;
    a (text, voice) tuple = sentence in another voice. Spans cover the voiced samples only.
    `noise_dbfs` (e.g. -60) adds a noise floor so the silence isn't digital zero.
    """
    pieces: list[np.ndarray | int] = []
    for item in layout:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            pieces.append(max(0, round(float(item) * sample_rate)))
        elif isinstance(item, str):
            pieces.append(_speech(item, voice, rate_wpm, sample_rate))
        elif isinstance(item, tuple) and len(item) == 2:
            pieces.append(_speech(item[0], item[1], rate_wpm, sample_rate))
        else:
            raise TypeError(f"layout item must be seconds, text or (text, voice): {item!r}")

    total = sum(p if isinstance(p, int) else p.size for p in pieces)
    out = np.zeros(total, np.float32)  # preallocate; silence is already in place
    spans: list[tuple[float, float]] = []
    pos = 0
    for p in pieces:
        if isinstance(p, int):
            pos += p
            continue
        out[pos : pos + p.size] = p
        spans.append((pos / sample_rate, (pos + p.size) / sample_rate))
        pos += p.size
    if noise_dbfs is not None:
        out += _noise(total, noise_dbfs, seed)
    return out, spans


# --------------------------------------------------------------------------- long sessions

# (voice, sentences): a therapist (male US voice) and a client (female variant), so the
# transcriber sees two speakers, short back-channel replies and long run-on answers.
_THERAPIST = (
    "en-us",
    (
        "How have things been since we last met?",
        "Can you tell me a little more about that?",
        "What was going through your mind when that happened?",
        "It sounds like that was really difficult for you.",
        "Mm-hmm, I see.",
        "How did your body feel in that moment?",
        "Let's pause there for a second.",
        "What would you say to a friend who was in the same situation?",
        "That's a really important observation.",
        "On a scale from one to ten, how anxious were you?",
        "Did you get a chance to try the breathing exercise this week?",
        "I'm noticing that you paused before answering.",
        "We have about ten minutes left today.",
        "Okay.",
    ),
)
_CLIENT = (
    "en+f3",
    (
        "I have been sleeping better, mostly.",
        "Honestly, it's been a rough couple of weeks at work.",
        "I don't know, I guess I just felt like nobody was listening to me.",
        "Yeah.",
        "My sister called on Sunday and we ended up arguing again about our mother.",
        "I tried the breathing exercise twice, and the second time it actually helped.",
        "It was probably a seven, maybe an eight.",
        "I kept thinking that I was going to mess everything up.",
        "Sometimes I wake up at three in the morning and my heart is racing.",
        "I think I'm starting to notice the pattern before it takes over.",
        "No, not really.",
        "I went for a walk by the river on Thursday, which I haven't done in months.",
        "It feels strange to say it out loud.",
        "I'd like to talk about what happened with my manager on Friday.",
        "Right, that makes sense.",
        "Part of me knows it isn't my fault, but it still feels that way.",
    ),
)
_SPEAKERS = (_THERAPIST, _CLIENT)
_SPEAKER_GAIN_DB = (0.0, -4.0)  # client sits further from the microphone
NOISE_DBFS = -60.0
# The noise floor is a fixed random bank read cyclically, so any sample range can be
# regenerated independently (streaming and whole-array builds give identical audio).
_NOISE_BANK_SAMPLES = 7 * SAMPLE_RATE + 1237


@dataclass(frozen=True)
class _Plan:
    total: int  # samples at SAMPLE_RATE
    starts: np.ndarray  # int64 sample offsets of each utterance
    clips: list[np.ndarray]  # trimmed speech (shared, read-only), gain already applied
    noise: np.ndarray  # noise bank

    def spans(self) -> list[tuple[float, float]]:
        return [
            (int(s) / SAMPLE_RATE, (int(s) + c.size) / SAMPLE_RATE)
            for s, c in zip(self.starts, self.clips)
        ]

    def render(self, out: np.ndarray, start: int) -> None:
        """Fill `out` with samples [start, start + len(out)) of the session."""
        n = out.size
        bank = self.noise
        # Noise: cyclic read of the bank starting at `start`.
        off = start % bank.size
        filled = 0
        while filled < n:
            k = min(n - filled, bank.size - off)
            out[filled : filled + k] = bank[off : off + k]
            filled += k
            off = 0
        # Speech: only utterances overlapping the window (starts are sorted).
        end = start + n
        lo = max(0, int(np.searchsorted(self.starts, start, side="right")) - 1)
        for i in range(lo, len(self.clips)):
            s = int(self.starts[i])
            if s >= end:
                break
            c = self.clips[i]
            a, b = max(s, start), min(s + c.size, end)
            if a < b:
                out[a - start : b - start] += c[a - s : b - s]


def _pause(rng: np.random.Generator) -> float:
    """Gap between utterances: mostly conversational, sometimes reflective, rarely long."""
    u = rng.random()
    if u < 0.03:
        return float(rng.uniform(20.0, 40.0))
    if u < 0.18:
        return float(rng.uniform(3.0, 8.0))
    return float(rng.uniform(0.3, 1.5))


def _synth_pool() -> list[list[np.ndarray]]:
    """Synthesize every pool sentence once, in parallel (espeak runs outside the GIL)."""
    jobs = [(voice, text) for voice, texts in _SPEAKERS for text in texts]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as ex:
        clips = list(ex.map(lambda j: _speech(j[1], j[0], 150, SAMPLE_RATE), jobs))
    out: list[list[np.ndarray]] = []
    i = 0
    for _, texts in _SPEAKERS:
        out.append(clips[i : i + len(texts)])
        i += len(texts)
    return out


@functools.lru_cache(maxsize=8)
def _plan(minutes: float, seed: int) -> _Plan:
    pool = _synth_pool()
    # Scaled copies per speaker, made once; utterances reference these, never copy them.
    scaled = [
        [(c * np.float32(10 ** (g / 20))) for c in clips]
        for clips, g in zip(pool, _SPEAKER_GAIN_DB)
    ]
    rng = np.random.default_rng(seed)
    total = round(minutes * 60 * SAMPLE_RATE)
    starts: list[int] = []
    clips: list[np.ndarray] = []
    pos = round(rng.uniform(0.5, 2.0) * SAMPLE_RATE)  # recordings rarely start mid-word
    speaker, last = 0, -1
    while True:
        if rng.random() < 0.85:  # mostly turn-taking, sometimes the same person goes on
            speaker = 1 - speaker
        choices = len(scaled[speaker])
        k = int(rng.integers(choices))
        if k == last and choices > 1:
            k = (k + 1) % choices  # avoid the same sentence twice in a row
        last = k
        clip = scaled[speaker][k]
        if pos + clip.size > total:
            break
        starts.append(pos)
        clips.append(clip)
        pos += clip.size + round(_pause(rng) * SAMPLE_RATE)
    noise = _noise(_NOISE_BANK_SAMPLES, NOISE_DBFS, seed + 1)
    return _Plan(total, np.asarray(starts, np.int64), clips, noise)


def long_session(minutes: float, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Therapy-session-like 16 kHz mono audio and the (start_s, end_s) of every utterance.

    Two voices alternate over ~30 sentences, with pauses mostly 0.3-1.5 s, sometimes 3-8 s,
    occasionally 20-40 s, over a -60 dBFS noise floor. Deterministic for a given seed.
    """
    plan = _plan(float(minutes), int(seed))
    out = np.empty(plan.total, np.float32)
    plan.render(out, 0)
    return out, plan.spans()


# --------------------------------------------------------------------------- encoding

_EXT_CODEC = {
    ".flac": "flac",
    ".mp3": "libmp3lame",
    ".m4a": "aac",
    ".mp4": "aac",
    ".mov": "aac",
    ".mkv": "aac",
    ".ogg": "libopus",
    ".opus": "libopus",
}
_WAV_CODEC = {16: "pcm_s16le", 24: "pcm_s24le", 32: "pcm_s32le"}
_VIDEO_EXTS = {".mp4", ".mov", ".mkv"}
_VIDEO_FPS = 5  # a still black picture; low fps keeps 3-hour files quick to write
_VIDEO_SIZE = 64


def _pick_format(codec: av.Codec, bit_depth: int) -> str:
    """Choose the codec's sample format: integers for lossless at the bit depth, else float."""
    have = [f.name for f in codec.audio_formats or ()]
    if not have:
        raise ValueError(f"codec {codec.name} lists no sample formats")
    if codec.name.startswith("pcm_f") or codec.name in ("libmp3lame", "aac", "libopus", "opus"):
        prefs = ["fltp", "flt", "s16p", "s16", "s32p", "s32"]
    elif bit_depth <= 16:
        prefs = ["s16", "s16p", "s32", "s32p", "fltp", "flt"]
    else:
        prefs = ["s32", "s32p", "fltp", "flt", "s16", "s16p"]
    return next((p for p in prefs if p in have), have[0])


def _layout_for(channels: int) -> av.AudioLayout:
    names = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
    if channels not in names:
        raise ValueError(f"channels must be 1..8, got {channels}")
    return av.AudioLayout(names[channels])


def _make_frame(
    x: np.ndarray, gains: np.ndarray, fmt: str, layout: str, rate: int, pts: int
) -> av.AudioFrame:
    """Fan mono float32 out to len(gains) channels and pack it as an AudioFrame in `fmt`."""
    data = x[None, :] * gains[:, None] if gains.size > 1 else x[None, :]
    base = fmt.rstrip("p")
    if base == "s16":
        data = np.clip(data * 32768.0, -32768, 32767).astype(np.int16)
    elif base == "s32":
        # float64 so +1.0 * 2**31 doesn't wrap before clipping
        data = np.clip(data.astype(np.float64) * 2**31, -(2**31), 2**31 - 1).astype(np.int32)
    if not fmt.endswith("p"):
        data = data.T.reshape(1, -1)  # packed formats want interleaved samples
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout=layout)
    frame.sample_rate = rate
    frame.time_base = Fraction(1, rate)
    frame.pts = pts
    return frame


def _channel_gains(channels: int) -> np.ndarray:
    return (10 ** (_CHANNEL_STEP_DB * np.arange(channels) / 20)).astype(np.float32)


class _AudioWriter:
    """Incremental encoder: push mono float32 blocks at `in_rate`; handles resampling,
    channel fan-out, sample-format conversion and an optional still video track."""

    def __init__(
        self,
        path: Path,
        in_rate: int,
        *,
        out_rate: int | None,
        channels: int,
        codec: str | None,
        bit_depth: int,
        video: bool,
    ) -> None:
        ext = path.suffix.lower()
        if ext == ".wav":
            if codec is None and bit_depth not in _WAV_CODEC:
                raise ValueError(f"WAV bit_depth must be 16, 24 or 32, got {bit_depth}")
            codec = codec or _WAV_CODEC[bit_depth]
        elif ext in _EXT_CODEC:
            codec = codec or _EXT_CODEC[ext]
        elif codec is None:
            raise ValueError(f"unsupported extension {ext!r}; use .wav {' '.join(_EXT_CODEC)}")
        if video and ext not in _VIDEO_EXTS:
            raise ValueError(f"video=True needs one of {sorted(_VIDEO_EXTS)}, not {ext!r}")

        if out_rate is None:
            # Opus is 48 kHz-native (and Ogg Opus always decodes at 48 kHz).
            out_rate = 48000 if codec in ("libopus", "opus") else in_rate
        cdesc = av.Codec(codec, "w")
        if cdesc.audio_rates and out_rate not in cdesc.audio_rates:
            raise ValueError(f"{codec} can't encode {out_rate} Hz; supported: {cdesc.audio_rates}")

        self.in_rate, self.out_rate, self.channels = in_rate, out_rate, channels
        self._fmt = _pick_format(cdesc, bit_depth)
        self._layout = _layout_for(channels)
        self._gains = _channel_gains(channels)
        self._rs = _MonoResampler(in_rate, out_rate) if out_rate != in_rate else None
        self._written = 0  # output samples per channel so far

        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), "w")
        self._astream = self._container.add_stream(codec, rate=out_rate)
        cc = self._astream.codec_context
        cc.layout = self._layout
        cc.format = self._fmt
        cc.sample_rate = out_rate
        cc.time_base = Fraction(1, out_rate)

        self._vstream = None
        self._vframes = 0
        if video:
            vcodec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
            opts = {"preset": "ultrafast", "tune": "stillimage"} if vcodec == "libx264" else {}
            vs = self._container.add_stream(vcodec, rate=_VIDEO_FPS, options=opts)
            vs.width = vs.height = _VIDEO_SIZE
            vs.pix_fmt = "yuv420p"
            self._vstream = vs
            # Black in limited-range YUV: Y=16, U=V=128 (planes stacked for from_ndarray).
            h = _VIDEO_SIZE
            self._black = np.concatenate(
                [np.full((h, h), 16, np.uint8), np.full((h // 2, h), 128, np.uint8)]
            )

    def push(self, mono: np.ndarray) -> None:
        x = np.asarray(mono, dtype=np.float32)
        if self._rs is not None:
            x = self._rs.push(x)
        self._encode(x)

    def _encode(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        frame = _make_frame(
            x, self._gains, self._fmt, self._layout.name, self.out_rate, self._written
        )
        self._written += x.size
        self._container.mux(self._astream.encode(frame))
        self._video_until(self._written / self.out_rate)

    def _video_until(self, seconds: float) -> None:
        """Emit still frames up to `seconds` so packets stay interleaved (bounded mux buffer)."""
        if self._vstream is None:
            return
        while self._vframes / _VIDEO_FPS < seconds:
            vf = av.VideoFrame.from_ndarray(self._black, format="yuv420p")
            vf.pts = self._vframes
            vf.time_base = Fraction(1, _VIDEO_FPS)
            self._vframes += 1
            self._container.mux(self._vstream.encode(vf))

    def close(self) -> None:
        if self._rs is not None:
            self._encode(self._rs.flush())
        self._container.mux(self._astream.encode(None))
        if self._vstream is not None:
            self._video_until(max(self._written / self.out_rate, 1 / _VIDEO_FPS))
            self._container.mux(self._vstream.encode(None))
        self._container.close()

    def abort(self) -> None:
        self._container.close()


def write_audio(
    path: Path,
    audio: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    out_rate: int | None = None,
    channels: int = 1,
    codec: str | None = None,
    bit_depth: int = 16,
    video: bool = False,
) -> Path:
    """Encode mono `audio` to `path`, choosing the codec by extension.

    .wav: pcm_s16le/s24le/s32le by bit_depth (codec="pcm_f32le" for float); .flac; .mp3
    (libmp3lame); .m4a/.mp4 (AAC); .ogg/.opus (libopus, 48 kHz unless out_rate says otherwise).
    video=True (.mp4/.mov/.mkv) adds a tiny black H.264 (or MPEG-4) track. out_rate resamples;
    channels>1 duplicates the signal with -0.5 dB per channel steps. Encoded in blocks.
    """
    path = Path(path)
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono 1-D, got shape {audio.shape}")
    w = _AudioWriter(
        path, sample_rate, out_rate=out_rate, channels=channels, codec=codec,
        bit_depth=bit_depth, video=video,
    )
    try:
        for i in range(0, audio.size, _BLOCK):
            w.push(audio[i : i + _BLOCK])
    except BaseException:
        w.abort()
        raise
    w.close()
    return path


# Long MP3s are encoded as independent segments on worker threads (PyAV releases the GIL
# while encoding): PyAV's bundled LAME manages only ~20-40x realtime on one core, so a
# 180-minute file would otherwise take 5-10 minutes. Segments are stitched losslessly at
# the packet level: every encoder shares one MP3 frame grid, gets pre-roll before its cut
# (and post-roll after it) so the kept frames see the real signal on both sides, and the
# bit reservoir is off so no kept frame borrows bits from a dropped one. Cuts are placed
# in pauses, so even the residual junction error (at the coding-noise level) is in silence.
_LONG_MP3_OPTIONS = {"reservoir": "0", "compression_level": "7"}  # -q 7: ~2x faster than -q 3
_LONG_MP3_BIT_RATE = 128000
_SEGMENT_SECONDS = 120.0  # small enough to spread over workers, big enough to amortise roll
_ROLL_FRAMES = 4  # pre/post-roll per segment, in MP3 frames (rounded up to the grid)
_CUT_MARGIN_S = 0.15  # keep cuts at least this far from any utterance


def _mp3_context(cc: av.CodecContext, out_rate: int, channels: int) -> None:
    cc.sample_rate = out_rate
    cc.layout = _layout_for(channels)
    cc.format = "fltp"
    cc.bit_rate = _LONG_MP3_BIT_RATE
    cc.time_base = Fraction(1, out_rate)


def _segment_cuts(plan: _Plan, grid_in: int) -> list[int]:
    """Input-sample cut points (multiples of grid_in, inside pauses), starting with 0."""
    seg = max(grid_in, round(_SEGMENT_SECONDS * SAMPLE_RATE / grid_in) * grid_in)
    margin = round(_CUT_MARGIN_S * SAMPLE_RATE)
    ends = plan.starts + np.fromiter((c.size for c in plan.clips), np.int64, len(plan.clips))
    cuts = [0]
    target = seg
    while target < plan.total - seg // 4:
        g = target
        while g < plan.total - seg // 4:  # walk the grid until a point lands in a pause
            i = int(np.searchsorted(plan.starts, g + margin))  # first utterance after g+margin
            if i == 0 or ends[i - 1] <= g - margin:
                break
            g += grid_in
        else:
            break
        cuts.append(g)
        target = g + seg
    return cuts


def _encode_segment(
    plan: _Plan,
    cc: av.CodecContext,
    in_lo: int,
    in_hi: int,
    keep: tuple[int | None, int | None],
    out_rate: int,
    gains: np.ndarray,
) -> list[av.Packet]:
    """Encode input samples [in_lo, in_hi); return the packets for output samples in `keep`
    (None = open end)."""
    rs = _MonoResampler(SAMPLE_RATE, out_rate) if out_rate != SAMPLE_RATE else None
    layout = cc.layout.name
    pts = in_lo * out_rate // SAMPLE_RATE  # exact: in_lo is on the shared grid
    packets: list[av.Packet] = []
    buf = np.empty(10 * SAMPLE_RATE, np.float32)

    def feed(x: np.ndarray) -> None:
        nonlocal pts
        if x.size:
            packets.extend(cc.encode(_make_frame(x, gains, "fltp", layout, out_rate, pts)))
            pts += x.size

    for start in range(in_lo, in_hi, buf.size):
        block = buf[: min(buf.size, in_hi - start)]
        plan.render(block, start)
        feed(rs.push(block) if rs is not None else block)
    if rs is not None:
        feed(rs.flush())
    packets.extend(cc.encode(None))
    if not packets:
        return packets
    # Packet pts are shifted back by the encoder's priming delay (LAME: 1105 samples), and a
    # packet with pts p decodes to output samples [p, p + frame). Measure the delay rather
    # than hard-coding it.
    delay = in_lo * out_rate // SAMPLE_RATE - packets[0].pts
    lo = -math.inf if keep[0] is None else keep[0] - delay
    hi = math.inf if keep[1] is None else keep[1] - delay
    return [p for p in packets if lo <= p.pts < hi]


def write_long_mp3(
    path: Path,
    minutes: float,
    seed: int = 0,
    out_rate: int = 44100,
    channels: int = 2,
    *,
    workers: int | None = None,
) -> list[tuple[float, float]]:
    """Encode long_session(minutes, seed) to a CBR 128 kb/s MP3 (44.1 kHz stereo by default).

    Renders and encodes a few seconds at a time on `workers` threads (default: CPU count,
    max 8); memory stays ~100 MB even for 180 minutes. The output does not depend on
    `workers`. Returns the utterance spans, identical to long_session's.
    """
    if channels not in (1, 2):
        raise ValueError(f"MP3 carries 1 or 2 channels, got {channels}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = _plan(float(minutes), int(seed))
    gains = _channel_gains(channels)
    workers = workers or min(8, os.cpu_count() or 1)

    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=out_rate, options=dict(_LONG_MP3_OPTIONS))
        _mp3_context(stream.codec_context, out_rate, channels)
        out.start_encoding()  # opens the encoder so frame_size/initial_padding are known
        frame = stream.codec_context.frame_size
        # The shared grid: whole MP3 frames that are also whole input samples.
        g = gcd(out_rate, SAMPLE_RATE)
        grid_out = lcm(frame, out_rate // g)
        grid_in = grid_out * SAMPLE_RATE // out_rate
        roll = -(-_ROLL_FRAMES * frame // grid_out) * grid_in
        cuts = _segment_cuts(plan, grid_in)
        bounds = cuts + [plan.total]

        def job(k: int) -> list[av.Packet]:
            if k == 0:
                cc = stream.codec_context  # its parameters (delay) go into the file header
            else:
                cc = av.CodecContext.create("libmp3lame", "w")
                _mp3_context(cc, out_rate, channels)
                cc.options = dict(_LONG_MP3_OPTIONS)
                cc.open()
            lo, hi = bounds[k], bounds[k + 1]
            in_lo = max(0, lo - roll)
            in_hi = plan.total if k == len(cuts) - 1 else min(plan.total, hi + roll)
            keep = (
                None if k == 0 else lo * out_rate // SAMPLE_RATE,
                None if k == len(cuts) - 1 else hi * out_rate // SAMPLE_RATE,
            )
            return _encode_segment(plan, cc, in_lo, in_hi, keep, out_rate, gains)

        with ThreadPoolExecutor(max_workers=workers) as ex:
            # map() yields in order, so packets are muxed in sequence; at most ~`workers`
            # segments of packets (a couple of MB each) wait here.
            for packets in ex.map(job, range(len(cuts))):
                for p in packets:
                    p.stream = stream
                    out.mux_one(p)
    return plan.spans()


def _peak_rss_mb() -> float | None:
    try:
        import resource  # POSIX only
    except ImportError:
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS reports bytes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write a synthetic long therapy-session MP3.")
    p.add_argument("out", type=Path)
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=int, default=44100)
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--spans", type=Path, help="also write utterance (start_s, end_s) as JSON")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    spans = write_long_mp3(a.out, a.minutes, a.seed, a.rate, a.channels)
    dt = time.perf_counter() - t0
    if a.spans:
        a.spans.write_text(json.dumps(spans))
    rss = _peak_rss_mb()
    print(
        f"wrote {a.out} ({a.minutes:g} min, {len(spans)} utterances, "
        f"{a.out.stat().st_size / 1e6:.1f} MB) in {dt:.1f} s"
        + (f", peak RSS {rss:.0f} MB" if rss is not None else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
