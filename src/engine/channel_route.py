"""Which way a multichannel recording goes through the stages (issue 12).

A recording with two or more channels is measured first (engine.channels.LayoutMeter over
its first LAYOUT_S seconds, decoded with the channels kept apart), then decoded again from
the start along one of three routes:

- "speakers": one speaker per channel (layout SEPARATE, or `--channels speakers`). Blocks
  stay (channels, n); the producer cuts every channel at the same samples, finds each
  channel's speech on its own, and the job run transcribes each channel's clips (in the
  same batches) and merges the words by time (engine.channel_words). No diarization.
- "one": only one channel carries sound (ONE_SILENT): that channel, as mono blocks.
- "mix": MONO or SHARED (both voices on both channels), or `--channels mix`: the ordinary
  mono decode (FFmpeg's downmix), byte for byte what a run without this module gives.

Why measure, then decode again, rather than keep the measured blocks: holding 10 min of
stereo would be 77 MB; decoding it twice costs ~1 s of a background thread (the decode runs
while the model loads). The route is a pure function of the file's first LAYOUT_S seconds
and the setting, so a resumed job takes the same route and its stored windows still fit.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.channel_words import bleed_thresholds
from engine.channels import MONO_SPREAD_DB, ChannelLayout, ChannelVerdict, LayoutMeter
from engine.errors import Cancelled
from engine.decode import SAMPLE_RATE, DecodeReport

log = logging.getLogger("sessionscribe.pipeline")

# How much of the recording decides the layout. A session's first minutes can be one
# speaker alone (the therapist's introduction), and one voice on its own microphone looks
# like SHARED (its channel difference does not swing); 10 min almost always holds both.
# Cost, measured on this machine: see docs/BENCHMARKS.md (speakers section).
LAYOUT_S = 600.0
# ...except for copies: every channel carrying the same signal at the same level (a mono
# recording stored as stereo, as many recorders and exports write) is decided after the first
# EARLY_S. No one-speaker-per-channel session looks like that, even with one voice talking
# (its own microphone is 20-30 dB over the other's). Measuring all 10 min of the accuracy
# bench's 44.1-kHz stereo MP3 took ~3 s of its 23-s job on this 2-core machine, in the way
# of the first window.
EARLY_S = 60.0


@dataclass
class ChannelRoute:
    """The decision for one job; filled in by `routed_blocks` before its first block."""

    setting: str = "auto"
    channels: int = 1
    verdict: ChannelVerdict | None = None
    route: str = "mix"  # "mix" | "speakers" | "one"
    used: tuple[int, ...] = ()  # channels transcribed ("speakers": the active ones; "one": that one)
    measured_s: float = 0.0  # seconds of audio the layout was measured on
    measure_wall_s: float = 0.0  # wall time of that first pass (decode + meter)
    loud_dbfs: tuple[float, ...] = field(default_factory=tuple)
    bleed_db: tuple[float, ...] = ()  # per channel: this far below another is bleed (bleed_thresholds)

    @property
    def separate(self) -> bool:
        return self.route == "speakers"

    def text(self) -> str:
        """One line for the run report (no recording names, no transcript text)."""
        if self.verdict is None:
            return "mono"
        layout = self.verdict.layout.value
        what = {
            "speakers": "each channel transcribed as one speaker",
            "one": f"only channel {self.used[0] + 1 if self.used else '?'} transcribed",
            "mix": "mixed to mono",
        }[self.route]
        forced = " (--channels " + self.setting + ")" if self.setting != "auto" else ""
        return (f"{self.channels} channels, layout {layout} (spread {self.verdict.spread_db:.1f} dB, "
                f"correlation {self.verdict.correlation:.2f}, first {self.measured_s:.0f} s): {what}{forced}")


def decide(setting: str, verdict: ChannelVerdict) -> tuple[str, tuple[int, ...]]:
    """(route, channels used) for a setting and a measured layout."""
    if setting == "mix":
        return "mix", ()
    if verdict.layout == ChannelLayout.ONE_SILENT:
        return "one", verdict.active[:1]
    if setting == "speakers" and len(verdict.active) >= 2:
        return "speakers", tuple(verdict.active)
    if verdict.layout == ChannelLayout.SEPARATE:
        return "speakers", tuple(verdict.active)
    return "mix", ()


def copies(verdict: ChannelVerdict) -> bool:
    """Whether the channels are one signal: MONO layout, every channel at the same level."""
    levels = [verdict.loud_dbfs[c] for c in verdict.active]
    return (verdict.layout == ChannelLayout.MONO and len(levels) >= 2
            and max(levels) - min(levels) <= MONO_SPREAD_DB)


def measure(stream, route: ChannelRoute, limit_s: float = LAYOUT_S, early_s: float = EARLY_S) -> None:
    """Feed the first `limit_s` seconds of (channels, n) blocks to a LayoutMeter and decide
    (after `early_s` already, when the channels are copies of one another)."""
    started = time.perf_counter()
    meter: LayoutMeter | None = None
    seen = 0
    limit = int(limit_s * SAMPLE_RATE)
    early = int(early_s * SAMPLE_RATE)
    try:
        for block in stream:
            block = np.atleast_2d(block)
            if meter is None:
                meter = LayoutMeter(block.shape[0])
            take = block[:, : limit - seen]
            meter.add(take)
            seen += take.shape[1]
            if seen >= limit:
                break
            if seen >= early:
                early = limit  # checked once
                if copies(meter.verdict()):
                    break
    finally:
        stream.close()
    if meter is None:  # no audio: the ordinary decode says so
        return
    verdict = meter.verdict()
    route.channels = verdict.channels
    route.verdict = verdict
    route.loud_dbfs = verdict.loud_dbfs
    route.bleed_db = bleed_thresholds(verdict.bleed_depth_db)
    route.route, route.used = decide(route.setting, verdict)
    route.measured_s = seen / SAMPLE_RATE
    route.measure_wall_s = time.perf_counter() - started


def routed_stream(path: Path, report: DecodeReport, route: ChannelRoute, in_child: bool = True) -> Iterator[np.ndarray]:
    """The recording's blocks along its route: measured first (a decode of its own, with a
    report of its own), then decoded from the start as the route wants."""
    from engine import decode as decode_stage
    from engine.channel_audio import stream_channels

    def channels_stream(rep: DecodeReport):
        if in_child:
            return decode_stage.stream_audio_in_child(path, rep, channels=True)
        return stream_channels(path, rep)

    try:
        measure(channels_stream(DecodeReport()), route)
    except Cancelled:
        raise
    except Exception as error:  # e.g. a stream whose layout changes midway: mixing still works
        log.warning("channel layout not measured (%s); mixing to mono", type(error).__name__)
        route.route, route.used, route.verdict = "mix", (), None
    if route.route == "mix":
        stream = decode_stage.stream_audio_in_child(path, report) if in_child else decode_stage.stream_audio(path, report)
        yield from stream
        return
    if route.route == "one":
        channel = route.used[0]
        for block in channels_stream(report):
            yield np.ascontiguousarray(block[channel])
        return
    yield from channels_stream(report)
