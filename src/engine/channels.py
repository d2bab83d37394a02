"""How a recording's channels carry the voices: mono, shared, one speaker per channel, or
one channel silent (issue 12).

Two-microphone recorders (telephone, telehealth, a lapel microphone each) put one speaker on
each channel; mixed to mono, words are lost where voices overlap (a third of each speaker's
words in the issue's 3-min session), and each channel transcribed alone comes out clean. Most
handheld recorders instead hear both voices on both channels, and then mixing is right.

Everything here works on 30-ms frame energies, O(n) in the samples, fed block by block so a
3-h recording never needs to be in memory at once:

    meter = LayoutMeter(channels=2)
    for block in stream_channels(path):          # engine.channel_audio
        meter.add(block)
    verdict = meter.verdict()                    # ChannelVerdict(layout=..., ...)
    levels = meter.levels()                      # per-channel RMS over any span, for bleed

The frame levels (one float per channel per 30 ms: 1.4 MB per channel for 3 h) are kept, so
the merge of per-channel words (engine.channel_words) can ask which channel was louder while a
word was spoken without the audio.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from engine.decode import SAMPLE_RATE

FRAME_S = 0.03
FRAME = int(SAMPLE_RATE * FRAME_S)  # 480 samples
_FLOOR = 1e-5  # -100 dBFS: digital silence counts as this, so spreads stay finite

# A channel is silent when its loud level (95th percentile of frame levels) is below this...
SILENT_DBFS = -60.0
# ...or this far below the loudest channel's (a 40-dB gap is no microphone hearing the room).
SILENT_BELOW_DB = 40.0
# Frames that count for the layout: the louder channel within this of the recording's loud
# level (99th percentile), so room noise and pauses do not decide anything.
ACTIVE_WITHIN_DB = 30.0
# One speaker per channel: the level difference between the channels swings by at least this
# much (90th minus 10th percentile over active frames). Measured: generated two-microphone
# sessions with -25 dB bleed swing 49-50 dB (also with one microphone 15 dB lower), the
# 3-min bench session 48.5 dB, stereo_diarization.wav (two real speakers, the right one
# stops early) 81 dB; both voices on both channels 0.4 dB (generated), whisper-french.mp3
# (a real stereo recording of one voice) 3.0 dB.
SEPARATE_SPREAD_DB = 12.0
# The same signal on every channel (a mono recording stored as stereo): correlation at zero
# lag this close to 1 and levels this close together. jfk.flac: 0.9996.
MONO_CORRELATION = 0.99
MONO_SPREAD_DB = 1.0


class ChannelLayout(str, Enum):
    MONO = "mono"  # one channel, or the same signal on every channel
    SHARED = "shared"  # both voices on both channels (most handheld recorders): mix to mono
    SEPARATE = "separate"  # one speaker per channel: transcribe each channel, label by channel
    ONE_SILENT = "one-silent"  # only one channel carries sound: transcribe that one


@dataclass(frozen=True)
class ChannelVerdict:
    layout: ChannelLayout
    channels: int
    active: tuple[int, ...]  # channels that carry sound (the others are silent)
    loud_dbfs: tuple[float, ...]  # per channel: 95th percentile of its 30-ms frame levels
    spread_db: float  # swing of the level difference between the two loudest channels
    correlation: float  # their zero-lag correlation over active frames (energy-weighted)
    # Per channel: how far down (dB, against its own speech level) it hears the other of the
    # two loudest channels' speaker; () where not measured. The two can differ: a telehealth
    # recording's room microphone hears the remote voice from the speakers, the remote channel
    # hardly hears the room.
    bleed_depth_db: tuple[float | None, ...] = ()  # None: a channel not among the two


class ChannelLevels:
    """Per-channel RMS of every 30-ms frame, to compare channels over any span."""

    def __init__(self, rms: np.ndarray) -> None:
        self.rms = rms  # (channels, frames) float32, linear

    @property
    def channels(self) -> int:
        return self.rms.shape[0]

    def rms_over(self, channel: int, start_s: float, end_s: float) -> float:
        """RMS of `channel` between two times (at least the one frame that holds `start_s`)."""
        first = max(0, int(start_s / FRAME_S))
        last = max(first + 1, int(np.ceil(end_s / FRAME_S)))
        frames = self.rms[channel, first:last]
        if frames.size == 0:
            return 0.0
        return float(np.sqrt(np.mean(frames.astype(np.float64) ** 2)))


class LayoutMeter:
    """Accumulates 30-ms frame statistics block by block; `verdict()` classifies."""

    def __init__(self, channels: int) -> None:
        self.channel_count = channels
        self._rms: list[np.ndarray] = []  # per block: (channels, frames)
        self._cross: list[np.ndarray] = []  # per block: frame sums of ch0*ch1 (top-2 later)
        self._tail = np.zeros((channels, 0), dtype=np.float32)
        self._pairs: list[tuple[int, int]] = [
            (a, b) for a in range(channels) for b in range(a + 1, channels)
        ]

    def add(self, block: np.ndarray) -> None:
        """Feed the next (channels, n) samples (any n; frames continue across blocks)."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[None, :]
        if block.shape[0] != self.channel_count:
            raise ValueError(f"expected {self.channel_count} channels, got {block.shape[0]}")
        if self._tail.shape[1]:
            block = np.concatenate([self._tail, block], axis=1)
        whole = block.shape[1] // FRAME * FRAME
        self._tail = block[:, whole:].copy()
        if not whole:
            return
        frames = block[:, :whole].reshape(self.channel_count, -1, FRAME).astype(np.float64)
        energy = np.einsum("cfs,cfs->cf", frames, frames)
        self._rms.append(np.sqrt(energy / FRAME).astype(np.float32))
        if self._pairs:
            cross = np.stack([np.einsum("fs,fs->f", frames[a], frames[b]) for a, b in self._pairs])
            self._cross.append(cross.astype(np.float32))

    def levels(self) -> ChannelLevels:
        return ChannelLevels(self._all_rms())

    def _all_rms(self) -> np.ndarray:
        parts = list(self._rms)
        if self._tail.shape[1]:
            tail = self._tail.astype(np.float64)
            parts.append(np.sqrt((tail**2).mean(axis=1, keepdims=True)).astype(np.float32))
        if not parts:
            return np.zeros((self.channel_count, 0), dtype=np.float32)
        return np.concatenate(parts, axis=1)

    def verdict(self) -> ChannelVerdict:
        rms = self._all_rms()
        return classify_levels(rms, self._cross_for, self.channel_count)

    def _cross_for(self, a: int, b: int) -> np.ndarray:
        if not self._cross:
            return np.zeros(0, dtype=np.float32)
        index = self._pairs.index((min(a, b), max(a, b)))
        return np.concatenate([c[index] for c in self._cross])


def classify(audio: np.ndarray) -> ChannelVerdict:
    """Classify (channels, samples) audio held in memory (see LayoutMeter for streams)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    meter = LayoutMeter(audio.shape[0])
    meter.add(audio)
    return meter.verdict()


def classify_levels(rms: np.ndarray, cross, channels: int) -> ChannelVerdict:
    """The rules, on frame levels (channels, frames) and a `cross(a, b)` giving per-frame sums
    of the product of channels a and b (same frames)."""
    db = 20.0 * np.log10(np.maximum(rms, _FLOOR))
    loud = tuple(float(np.percentile(row, 95)) if row.size else -200.0 for row in db)
    if channels == 1:
        return ChannelVerdict(ChannelLayout.MONO, 1, (0,) if loud[0] > SILENT_DBFS else (), loud, 0.0, 1.0)
    top = max(loud)
    active = tuple(
        c for c in range(channels) if loud[c] > SILENT_DBFS and loud[c] > top - SILENT_BELOW_DB
    )
    if len(active) <= 1:
        layout = ChannelLayout.ONE_SILENT if active else ChannelLayout.MONO
        return ChannelVerdict(layout, channels, active, loud, 0.0, 0.0)
    a, b = sorted(active, key=lambda c: loud[c], reverse=True)[:2]
    louder = np.maximum(db[a], db[b])
    reference = float(np.percentile(louder, 99))
    frames = louder > reference - ACTIVE_WITHIN_DB
    difference = (db[a] - db[b])[frames]
    spread = float(np.percentile(difference, 90) - np.percentile(difference, 10)) if difference.size else 0.0
    # The same difference against each channel's own speech level: while b's speaker talks
    # alone, a is -depth[a] below b (its tenth percentile), and the other way round.
    depth: list[float | None] = [None] * channels
    if difference.size:
        levelled = difference - (loud[a] - loud[b])
        depth[a] = round(max(0.0, -float(np.percentile(levelled, 10))), 2)
        depth[b] = round(max(0.0, float(np.percentile(levelled, 90))), 2)
    cross = cross(a, b)
    energy_a = (rms[a].astype(np.float64) ** 2 * FRAME)[: cross.size][frames[: cross.size]]
    energy_b = (rms[b].astype(np.float64) ** 2 * FRAME)[: cross.size][frames[: cross.size]]
    denominator = float(np.sqrt(energy_a.sum() * energy_b.sum()))
    correlation = float(cross[frames[: cross.size]].sum() / denominator) if denominator > 0 else 0.0
    if spread >= SEPARATE_SPREAD_DB:
        layout = ChannelLayout.SEPARATE
    elif correlation >= MONO_CORRELATION and spread <= MONO_SPREAD_DB:
        layout = ChannelLayout.MONO
    else:
        layout = ChannelLayout.SHARED
    return ChannelVerdict(layout, channels, active, loud, round(spread, 2), round(correlation, 4), tuple(depth))
