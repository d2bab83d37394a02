"""Silence a two-microphone channel where it only hears the other speaker (bleed).

Each microphone hears the other speaker ~25 dB down, and Silero calls that speech: on the
3-min generated two-mic session every channel's clips covered both speakers' turns, so each
channel was transcribed for the whole session (14 clips against 7 mixed to mono, 40 s of
transcription against 13 s), and a third of each channel's words were the other speaker's,
for the merge (engine.channel_words) to throw away. Where a channel is BLEED_DB below
another (each against its own speech level; the threshold from how far down this recording's
bleed is, engine.channel_words.bleed_thresholds) for a while, nobody is speaking into it: those
stretches are zeroed before speech detection, so they are neither transcribed nor merged.
Figures after: docs/BENCHMARKS.md (speakers section).
"""
from __future__ import annotations

import numpy as np

from engine.channel_words import BLEED_DB
from engine.channels import FRAME

# Only stretches this long are silenced (a stop or a breath inside a word is not bleed)...
MIN_GATE_S = 0.5
# ...and this much is kept on each side of what was heard, so word edges keep their context.
KEEP_PAD_S = 0.25
# A channel's floor: the level its quietest tenth of frames stays under (noise, and the other
# speaker's bleed, which is 20-30 dB down); its own speaker is this much above it.
FLOOR_PERCENTILE = 10.0
ACTIVE_DB = 10.0
# ...and a stretch is silenced only where at least this share of its frames is bleed (78-80 %
# of the other speaker's frames are, on the bench session; a pause has none).
MIN_BLEED_SHARE = 0.25
_FRAME_S = FRAME / 16000


def bleed_frames(rms: np.ndarray, channel: int, loud_dbfs: tuple[float, ...] | None,
                 bleed_db: float = BLEED_DB) -> np.ndarray:
    """Per 30-ms frame of `rms` (channels, frames): True where `channel` hears only bleed
    (`bleed_db` or more below another channel; engine.channel_words.bleed_thresholds)."""
    db = 20.0 * np.log10(np.maximum(rms.astype(np.float64), 1e-5))
    if loud_dbfs is not None and len(loud_dbfs) == rms.shape[0]:
        db = db - np.asarray(loud_dbfs, dtype=np.float64)[:, None]
    others = np.delete(db, channel, axis=0)
    if not others.size:
        return np.zeros(rms.shape[1], dtype=bool)
    bleed = db[channel] < others.max(axis=0) - bleed_db
    # What is kept is this channel's own speaker: frames neither bleed nor at the channel's
    # floor. Keeping every frame that is not bleed kept almost everything: between syllables
    # the talking microphone drops to the noise too, so 20-22 % of the other speaker's frames
    # were "not bleed", and with KEEP_PAD_S around each only 5 % of the other's turns were
    # silenced on the 3-min bench session; each channel then held 2-4-s stretches of bleed
    # that Silero called speech and Whisper (rightly) left without words, so every clip was
    # decoded again as missed speech (13 of 13 clips, 25 stretches; 57 s against 10 s mixed).
    floor = np.percentile(db[channel], FLOOR_PERCENTILE)
    keep = ~bleed & (db[channel] > floor + ACTIVE_DB)
    pad = int(round(KEEP_PAD_S / _FRAME_S))
    if pad and keep.any():  # widen what is kept by `pad` frames each side
        kernel = np.ones(2 * pad + 1)
        keep = np.convolve(keep.astype(np.float64), kernel, mode="same") > 0
    gated = ~keep
    # Drop gated runs shorter than MIN_GATE_S.
    edges = np.diff(np.concatenate(([0], gated.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    shortest = int(round(MIN_GATE_S / _FRAME_S))
    for start, end in zip(starts, ends):
        # Only where the other speaker is heard: a pause, or this speaker's own quiet
        # trailing-off, is no one else's speech and stays as it is.
        if end - start < shortest or bleed[start:end].mean() < MIN_BLEED_SHARE:
            gated[start:end] = False
    return gated


def gate(audio: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """`audio` (one channel) with the samples of gated frames set to zero (a copy)."""
    out = audio.copy()
    limit = min(frames.size, out.size // FRAME + 1)
    mask = np.repeat(frames[:limit], FRAME)[: out.size]
    out[: mask.size][mask] = 0.0
    return out
