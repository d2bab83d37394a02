"""Stage 1 — decode: any FFmpeg-readable recording to 16 kHz mono float32, as a stream.

PyAV (FFmpeg inside its wheel) decodes and resamples. We ask the resampler for float32
directly (faster-whisper goes through int16 and back) and yield fixed-size blocks, so memory
stays flat however long the recording is.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import av
import numpy as np

from engine.errors import InputError
from engine.inputs import is_link_loop

log = logging.getLogger("sessionscribe.decode")

SAMPLE_RATE = 16000
BLOCK_SAMPLES = SAMPLE_RATE * 30  # blocks handed downstream: 30 s, ~2 MB


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float | None
    sample_rate: int
    channels: int
    codec: str


@dataclass
class DecodeReport:
    """Filled in while decoding: what went wrong without stopping us."""

    samples: int = 0
    packets: int = 0
    damaged_packets: int = 0
    stopped_early_at_s: float | None = None  # decoding ended on an error at this time
    gaps: int = 0  # places where damaged audio was replaced by silence
    gap_s: float = 0.0  # how much, in seconds: the audio lost there
    first_gap_at_s: float | None = None  # where the first one is, in the recording


def check_readable(path: Path) -> None:
    """Raise InputError with a human reason when `path` can't possibly be a recording."""
    name = path.name
    if path.is_symlink() and is_link_loop(path):
        raise InputError(f"{name}: the link loops back on itself (no recording at its end)", kind="link-loop")
    if path.is_symlink() and not path.exists():
        raise InputError(f"{name}: the link points to a file that no longer exists")
    if not path.exists():
        raise InputError(f"{name}: file not found")
    if path.is_dir():
        raise InputError(f"{name}: is a folder, not a recording")
    if not os.access(path, os.R_OK):
        raise InputError(f"{name}: permission denied")
    if path.stat().st_size == 0:
        raise InputError(f"{name}: the file is empty")


def _open_options() -> dict:
    """Tags that are not UTF-8 must not make a recording unreadable: PyAV < 19 raised on them
    unless told to ignore them; PyAV 19 dropped that argument (and no longer raises), so
    passing it failed every job on Python 3.12+, where pip picks PyAV 19 ("unexpected error
    (TypeError)", seen on a lent GPU machine, 2026-11-27)."""
    try:
        major = int(av.__version__.split(".")[0])
    except (AttributeError, ValueError):
        major = 0
    return {"metadata_errors": "ignore"} if major < 19 else {}


def _open(path: Path) -> av.container.InputContainer:
    check_readable(path)
    try:
        return av.open(str(path), mode="r", **_open_options())
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{path.name}: not a recording that can be read ({_short(error)})") from None


def _short(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return text.splitlines()[0][:120] if text else type(error).__name__


def probe(path: Path) -> AudioInfo:
    """Read the container's header: duration and format of the first audio track."""
    with _open(path) as container:
        return _info(path, container)


def _info(path: Path, container) -> AudioInfo:
    if not container.streams.audio:
        raise InputError(f"{path.name}: has no audio track")
    stream = container.streams.audio[0]
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    return AudioInfo(
        duration_s=duration,
        sample_rate=stream.codec_context.sample_rate or 0,
        channels=stream.codec_context.channels or 0,
        codec=stream.codec_context.name or "unknown",
    )


def stream_audio(
    path: Path, report: DecodeReport | None = None, block_samples: int = BLOCK_SAMPLES
) -> Iterator[np.ndarray]:
    """Yield 16 kHz mono float32 blocks of `block_samples` (the last one shorter).

    A packet FFmpeg can't decode is skipped and counted, and the time lost there (by the
    container's timestamps, see `_frames`) becomes silence, so later audio keeps its place;
    a stream that breaks off ends the iteration with `report.stopped_early_at_s` set, so a
    damaged or cut-short file is transcribed as far as it decodes. A file that yields no audio at all, or mostly
    undecodable data, raises InputError once the stream ends.
    """
    report = report if report is not None else DecodeReport()
    with _open(path) as container:
        _info(path, container)  # raises for a file with no audio track
        stream = container.streams.audio[0]
        converted = _resampled(container, stream, report)
        pending: list[np.ndarray] = []
        pending_samples = 0
        for piece in converted:
            pending.append(piece)
            pending_samples += piece.shape[0]
            while pending_samples >= block_samples:
                block, pending, pending_samples = _take(pending, pending_samples, block_samples)
                report.samples += block.shape[0]
                yield block
        while pending_samples > 0:
            block, pending, pending_samples = _take(
                pending, pending_samples, min(block_samples, pending_samples)
            )
            report.samples += block.shape[0]
            yield block
    if report.samples == 0:
        raise InputError(f"{path.name}: contains no audio data")
    if report.damaged_packets > report.packets:
        # Random bytes can look like a few MP3 frames; a recording is mostly decodable.
        raise InputError(f"{path.name}: not a recording that can be read (mostly undecodable data)")


# Gaps shorter than this are timestamp rounding, not lost audio.
GAP_TOLERANCE_S = 0.015
# Raw streams whose demuxer makes timestamps up by counting frames: a damaged stretch leaves
# no jump in them. MP3/AAC: a packet that fails to decode is timed by its size at the
# stream's byte rate; FLAC: every frame header carries its own frame or sample number.
_COUNTED_TIMESTAMPS = frozenset({"mp3", "aac", "ac3", "eac3"})


def _flac_position(packet, block_size: int | None) -> int | None:
    """The first sample of a FLAC frame, from its header (frame number x block size for
    fixed-size streams, the sample number itself for variable ones); None if unreadable."""
    data = bytes(packet)
    if len(data) < 5 or data[0] != 0xFF or data[1] not in (0xF8, 0xF9):
        return None
    first = data[4]
    if first < 0x80:
        number, extra = first, 0
    else:  # UTF-8-like: leading ones say how many continuation bytes follow
        extra = 0
        while extra < 7 and first & (0x80 >> (extra + 1)):
            extra += 1
        if extra == 0 or len(data) < 5 + extra:
            return None
        number = first & (0x3F >> extra)
        for byte in data[5 : 5 + extra]:
            if byte & 0xC0 != 0x80:
                return None
            number = (number << 6) | (byte & 0x3F)
    if data[1] == 0xF9:
        return number
    return number * block_size if block_size else None


class _Timeline:
    """Where decoded audio should be, by the container's timestamps, to find lost stretches."""

    def __init__(self, container, stream, report: DecodeReport) -> None:
        self.report = report
        self.format = container.format.name.split(",")[0]
        self.counted = self.format in _COUNTED_TIMESTAMPS
        self.flac = self.format == "flac"
        self.block_size: int | None = None
        self.next_s: float | None = None  # where the next frame should start
        self.pending_loss_s = 0.0  # undecodable packets of a counted-timestamp stream
        self.healthy_bytes = 0
        self.healthy_s = 0.0
        bit_rate = container.bit_rate or stream.bit_rate or 0
        self.fallback_bytes_per_s = bit_rate / 8 if bit_rate else None
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        self.duration_s = duration

    def damaged(self, packet) -> None:
        """A packet that did not decode: in a counted-timestamp stream, its time is lost."""
        if not self.counted:
            return  # the next frame's timestamp says how much is missing
        rate = self.healthy_bytes / self.healthy_s if self.healthy_s > 1.0 else self.fallback_bytes_per_s
        if rate:
            self.pending_loss_s += packet.size / rate

    def _start(self, packet, frame, first_in_packet: bool) -> float | None:
        """When `frame` starts by the container (None where it does not say)."""
        if self.flac:
            if not first_in_packet or not frame.sample_rate:
                return None
            position = _flac_position(packet, self.block_size)
            if self.block_size is None and frame.samples:
                self.block_size = frame.samples  # fixed-size streams: every frame but the last
            return None if position is None else position / frame.sample_rate
        if self.counted or frame.pts is None or not frame.time_base:
            return None
        return float(frame.pts * frame.time_base)

    def gap_before(self, packet, frame, first_in_packet: bool) -> float:
        """Seconds of audio missing before `frame` (0.0 when none)."""
        start = self._start(packet, frame, first_in_packet)
        gap = 0.0
        if self.counted:
            gap, self.pending_loss_s = self.pending_loss_s, 0.0
        elif start is not None and self.next_s is not None:
            bogus = self.duration_s is not None and start > self.duration_s + 1.0
            gap = 0.0 if bogus else start - self.next_s  # a damaged timestamp is not lost audio
        if gap <= GAP_TOLERANCE_S:
            gap = 0.0
        position = self.next_s if self.next_s is not None else (start or 0.0)
        if gap:
            self.report.gaps += 1
            self.report.gap_s = round(self.report.gap_s + gap, 3)
            if self.report.first_gap_at_s is None:
                self.report.first_gap_at_s = round(position, 3)
        begin = start if start is not None and not gap else position + gap
        seconds = frame.samples / frame.sample_rate if frame.sample_rate else 0.0
        self.next_s = begin + seconds
        if first_in_packet:
            self.healthy_bytes += packet.size
        self.healthy_s += seconds
        return gap


def _frames(container, stream, report: DecodeReport) -> Iterator[av.AudioFrame | float]:
    """Decoded frames, and before any stretch lost to damage its length in seconds (a float);
    damaged packets skipped and counted, a broken stream ends early."""
    packets = container.demux(stream)
    timeline = _Timeline(container, stream, report)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError:
            report.stopped_early_at_s = report.samples / SAMPLE_RATE
            return
        try:
            decoded = packet.decode()  # the final, empty packet flushes the decoder
        except av.error.FFmpegError:
            report.damaged_packets += 1
            timeline.damaged(packet)
            continue
        report.packets += 1
        for index, frame in enumerate(decoded):
            gap = timeline.gap_before(packet, frame, index == 0)
            if gap:
                yield gap
            yield frame


# Silence that fills a lost stretch is written in pieces of at most this many seconds.
_SILENCE_PIECE_S = 10.0


def _silence(like: av.AudioFrame, seconds: float) -> Iterator[av.AudioFrame]:
    """Silent frames in `like`'s format, layout and rate, `seconds` long in all."""
    rate = like.sample_rate
    left = int(round(seconds * rate))
    while left > 0:
        count = min(left, int(_SILENCE_PIECE_S * rate))
        frame = av.AudioFrame(format=like.format.name, layout=like.layout.name, samples=count)
        frame.sample_rate = rate
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        left -= count
        yield frame


def _resampled(container, stream, report: DecodeReport) -> Iterator[np.ndarray]:
    """16 kHz mono float32 pieces. Frames are grouped (~10 s) before resampling: calling
    the resampler per 1152-sample MP3 frame costs more in Python than the decoding itself.
    A stream whose format changes midway (chained Ogg, joined MP3s) gets a new resampler."""
    group = max(stream.codec_context.sample_rate or SAMPLE_RATE, 8000) * 10
    fifo = av.AudioFifo()
    resampler = None
    last: av.AudioFrame | None = None
    for item in _frames(container, stream, report):
        if isinstance(item, float):  # a lost stretch: silence in the format around it
            frames = _silence(last, item) if last is not None else ()
        else:
            frames = (item,)
        for frame in frames:
            last = frame
            frame.pts = None  # the FIFO must not insist on contiguous timestamps
            try:
                fifo.write(frame)
            except ValueError:  # the format changed: finish what we have, start over
                yield from _finish(resampler, fifo)
                fifo, resampler = av.AudioFifo(), None
                fifo.write(frame)
            if resampler is None:
                resampler = _mono_16k_resampler(frame)
            if fifo.samples >= group:
                yield from _convert(resampler, fifo.read())
    if resampler is not None:
        yield from _finish(resampler, fifo)


def _finish(resampler: av.AudioResampler, fifo: av.AudioFifo) -> Iterator[np.ndarray]:
    """What the FIFO still holds, then what the resampler keeps back (its filter's tail)."""
    if fifo.samples:
        yield from _convert(resampler, fifo.read())
    yield from _convert(resampler, None)


def _mono_16k_resampler(frame: av.AudioFrame) -> av.AudioResampler:
    """A resampler to 16 kHz mono float32 that mixes down to mono *before* resampling.

    FFmpeg's one-step conversion resamples every channel and then mixes them: for 44.1 kHz
    stereo that is 0.5 s of CPU per 20 minutes, against 0.3 s when mixing first (the samples
    are the same to float rounding; both steps are linear).
    """
    options = {"ochl": "mono", "osr": str(frame.sample_rate)} if frame.layout.nb_channels > 1 else None
    try:
        return av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE, options=options)
    except TypeError:
        # PyAV before 17 has no `options` (12-16 all raised here, so every job failed with
        # "the decoder failed (TypeError)": seen with 13.1 on a lent GPU machine, 2026-11-27).
        # FFmpeg's one-step conversion: the same sound for a little more CPU (the same samples
        # on a stereo MP3; 3 dB louder on a 16-bit stereo FLAC, a level Whisper hears alike).
        return av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)


def _convert(resampler: av.AudioResampler, frame) -> Iterator[np.ndarray]:
    for out in resampler.resample(frame):
        yield out.to_ndarray().reshape(-1)


def _take(
    pending: list[np.ndarray], pending_samples: int, count: int
) -> tuple[np.ndarray, list[np.ndarray], int]:
    joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
    block = np.ascontiguousarray(joined[:count], dtype=np.float32)
    rest = joined[count:]
    return block, ([rest] if rest.size else []), pending_samples - count


# -- decoding in a child process --------------------------------------------------------------
# PyAV holds the GIL while it decodes (two decoding threads take 1.8x as long as one), so in
# the engine's process decoding would queue behind every other Python thread (torch's import,
# the VAD and transcription threads' Python parts). A child process decodes with its own GIL
# and streams the float32 blocks through a pipe: memory only, never the disk. The recording's
# path goes to the child on its stdin, not its command line, which other users can list.
_HEADER = struct.Struct("<q")
_END, _ERROR = -1, -2


def _start_decoder() -> subprocess.Popen:
    """The child runs isolated from the working folder: `-m` would put it first on sys.path,
    so an `engine/` or `numpy/` folder where the user stands would be imported instead of
    ours (code run on every job). `-P` (Python 3.11+) leaves it off, and the child starts in
    the engine's own folder anyway (older Pythons put that folder there instead, which holds
    nothing but the engine)."""
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    isolate = ["-P"] if sys.version_info >= (3, 11) else []
    return subprocess.Popen(
        [sys.executable, *isolate, "-m", "engine.decode"],
        cwd=package_root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        # Nobody reads it (a full pipe would stall the child), and an FFmpeg message may
        # quote the recording's name.
        stderr=subprocess.DEVNULL,
        env=env,
        bufsize=1 << 20,
    )


def stream_audio_in_child(
    path: Path, report: DecodeReport | None = None, block_samples: int = BLOCK_SAMPLES,
    channels: bool = False,
) -> Iterator[np.ndarray]:
    """`stream_audio`, run in a child Python process; same blocks, same errors, same report.
    `channels`: `engine.channel_audio.stream_channels`'s (channels, n) blocks instead of mono."""
    report = report if report is not None else DecodeReport()
    check_readable(path)
    try:
        child = _start_decoder()
    except OSError:  # no separate interpreter to start (e.g. a frozen app): decode here
        if channels:
            from engine.channel_audio import stream_channels

            yield from stream_channels(path, report, block_samples)
        else:
            yield from stream_audio(path, report, block_samples)
        return
    try:
        # Absolute: the child runs in another folder.
        request = {"path": os.path.abspath(path), "block_samples": block_samples, "channels": channels}
        try:
            child.stdin.write(json.dumps(request).encode() + b"\n")
            child.stdin.close()
        except OSError:  # it died first: reading says so, as "stopped unexpectedly"
            pass
        while True:
            count = _read_header(child.stdout)
            if count is None:
                code = child.wait()
                log.warning("decoder process stopped unexpectedly (%s)", _exit_text(code))
                raise InputError(
                    f"{path.name}: the decoder stopped unexpectedly ({_exit_text(code)})",
                    kind="decoder-crash",
                )
            if count >= 0:
                rows = (_read_header(child.stdout) or 0) if channels else 0
                block = np.empty((rows, count) if channels else count, dtype=np.float32)
                if child.stdout.readinto(memoryview(block).cast("B")) != block.nbytes:
                    raise InputError(f"{path.name}: the decoder stopped in the middle of a block")
                yield block
                continue
            message = json.loads(child.stdout.read(_read_header(child.stdout) or 0))
            if count == _ERROR:
                kind = str(message.get("kind") or "InputError")
                if kind.startswith("decoder-failed"):
                    log.warning("decoder process failed: %s", kind)
                raise InputError(message["error"], kind=kind)
            for name, value in message.items():
                setattr(report, name, value)
            return
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()


def _exit_text(code: int) -> str:
    """"exit code 1", or "killed by SIGSEGV" for a child that died on a signal."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _read_header(stream: BinaryIO) -> int | None:
    data = stream.read(_HEADER.size)
    return _HEADER.unpack(data)[0] if len(data) == _HEADER.size else None


def _child_main() -> int:
    """The child's side: read what to decode from stdin, write blocks, then the report."""
    line = sys.stdin.buffer.readline()
    if not line:  # the parent ended before asking for anything
        return 0
    request = json.loads(line)
    path, block_samples = Path(request["path"]), int(request["block_samples"])
    keep_channels = bool(request.get("channels"))  # (channels, n) blocks, engine.channel_audio
    out = sys.stdout.buffer
    report = DecodeReport()

    def message(kind: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        out.write(_HEADER.pack(kind) + _HEADER.pack(len(payload)) + payload)

    try:
        if keep_channels:
            from engine.channel_audio import stream_channels

            # Header: the block's sample count, then its channel count, then the rows.
            for block in stream_channels(path, report, block_samples):
                out.write(_HEADER.pack(block.shape[1]) + _HEADER.pack(block.shape[0]))
                out.write(np.ascontiguousarray(block).data)
        else:
            for block in stream_audio(path, report, block_samples):
                out.write(_HEADER.pack(block.shape[0]))
                out.write(block.data)
        message(_END, asdict(report))
    except InputError as error:
        message(_ERROR, {"error": str(error), "kind": error.kind})
    except BrokenPipeError:  # the engine stopped reading (cancel): nothing left to do
        return 0
    except MemoryError:
        message(_ERROR, {"error": f"{path.name}: ran out of memory while decoding", "kind": "decoder-failed (MemoryError)"})
    except Exception as error:  # a bug or a library failure: its kind, never its message (a path)
        kind = type(error).__name__
        message(_ERROR, {"error": f"{path.name}: the decoder failed ({kind})", "kind": f"decoder-failed ({kind})"})
    out.flush()
    return 0


def decode_all(path: Path) -> np.ndarray:
    """Whole recording in memory; for short files and tests only."""
    blocks = list(stream_audio(path))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


if __name__ == "__main__":
    sys.exit(_child_main())
