"""Decoding that keeps the channels apart: 16 kHz float32, one row per channel.

`engine.decode` mixes every recording down to mono before resampling (the cheap path for
transcription). Two-microphone recordings need each channel on its own (issue 12: mixed to
mono, the right channel's sentence of stereo_diarization.wav is lost entirely; alone, it comes
out exactly), so this module decodes to (channels, samples) blocks instead. It reuses
decode.py's opening, damage handling and gap timing, and adds nothing to it.

    for block in stream_channels(path):      # (channels, <= 30 s) float32 blocks
        meter.add(block)                     # engine.channels.LayoutMeter
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import numpy as np

from engine.decode import BLOCK_SAMPLES, SAMPLE_RATE, DecodeReport, _frames, _info, _open
from engine.errors import InputError


def stream_channels(
    path: Path, report: DecodeReport | None = None, block_samples: int = BLOCK_SAMPLES
) -> Iterator[np.ndarray]:
    """Yield (channels, n) float32 blocks at 16 kHz, n = `block_samples` (the last shorter).

    Same errors and report as `engine.decode.stream_audio`; a stretch lost to damage becomes
    silence on every channel so later audio keeps its time. Memory stays flat: at most one
    block plus the resampler's ~10 s group per channel.
    """
    report = report if report is not None else DecodeReport()
    with _open(path) as container:
        _info(path, container)  # raises for a file with no audio track
        stream = container.streams.audio[0]
        pending: list[np.ndarray] = []
        pending_samples = 0
        for piece in _planar_16k(container, stream, report):
            pending.append(piece)
            pending_samples += piece.shape[1]
            while pending_samples >= block_samples:
                joined = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
                block, rest = joined[:, :block_samples], joined[:, block_samples:]
                pending, pending_samples = ([rest] if rest.shape[1] else []), rest.shape[1]
                report.samples += block.shape[1]
                yield np.ascontiguousarray(block)
        if pending_samples:
            block = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
            report.samples += block.shape[1]
            yield np.ascontiguousarray(block)
    if report.samples == 0:
        raise InputError(f"{path.name}: contains no audio data")
    if report.damaged_packets > report.packets:
        raise InputError(f"{path.name}: not a recording that can be read (mostly undecodable data)")


def decode_channels(path: Path, report: DecodeReport | None = None) -> np.ndarray:
    """The whole recording as (channels, samples) float32 at 16 kHz. A 3-h stereo session is
    1.4 GB this way: for long files use `stream_channels` and keep only what is needed."""
    blocks = list(stream_channels(path, report))
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((1, 0), dtype=np.float32)


def _planar_16k(container, stream, report: DecodeReport) -> Iterator[np.ndarray]:
    """(channels, n) pieces. Frames are grouped (~10 s) before resampling, as in decode.py; a
    lost stretch becomes zeros; a change of format midway starts a new resampler, keeping the
    first layout's channel count (a stream that changes it is mixed or padded to that)."""
    group = max(stream.codec_context.sample_rate or SAMPLE_RATE, 8000) * 10
    fifo = av.AudioFifo()
    resampler: av.AudioResampler | None = None
    channels = 0
    for item in _frames(container, stream, report):
        if isinstance(item, float):  # a lost stretch: silence, after what was decoded so far
            if resampler is not None:
                yield from _drain(resampler, fifo, channels)
                fifo, resampler = av.AudioFifo(), None
            if channels:
                yield np.zeros((channels, int(round(item * SAMPLE_RATE))), dtype=np.float32)
            continue
        item.pts = None  # the FIFO must not insist on contiguous timestamps
        try:
            fifo.write(item)
        except ValueError:  # the format changed: finish what we have, start over
            yield from _drain(resampler, fifo, channels)
            fifo, resampler = av.AudioFifo(), None
            fifo.write(item)
        if resampler is None:
            channels = channels or item.layout.nb_channels
            layout = item.layout.name if item.layout.nb_channels == channels else _layout(channels)
            # Packed, not planar: PyAV's to_ndarray of a planar frame with 8 channels crashed
            # the process (SIGSEGV in its plane copy; the eight-channel test file).
            resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
        if fifo.samples >= group:
            yield from _convert(resampler, fifo.read(), channels)
    if resampler is not None:
        yield from _drain(resampler, fifo, channels)


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def _drain(resampler: av.AudioResampler | None, fifo: av.AudioFifo, channels: int) -> Iterator[np.ndarray]:
    if resampler is None:
        return
    if fifo.samples:
        yield from _convert(resampler, fifo.read(), channels)
    yield from _convert(resampler, None, channels)


def _convert(resampler: av.AudioResampler, frame, channels: int) -> Iterator[np.ndarray]:
    for out in resampler.resample(frame):
        packed = out.to_ndarray()  # packed float: (1, n * channels), channels interleaved
        yield np.ascontiguousarray(packed.reshape(-1, channels).T, dtype=np.float32)
