"""Mid-file damage must not shift later audio (issue 10 item 4): lost stretches become silence
by the container's timestamps (Ogg granules, FLAC frame numbers, MP3 byte rate), with a warning."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support.audio import write_audio

RATE = 16000
SECONDS = 20


def _clicks() -> np.ndarray:
    """A 1 kHz burst at every whole second over a quiet hum: easy to find after decoding."""
    t = np.arange(RATE * SECONDS) / RATE
    audio = (0.01 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    burst = (0.5 * np.sin(2 * np.pi * 1000 * t[:320])).astype(np.float32)
    for second in range(SECONDS):
        audio[second * RATE : second * RATE + 320] = burst
    return audio


def _damaged(folder: Path, ext: str) -> Path:
    """The recording with 3000 random bytes written over the middle of the file."""
    path = write_audio(folder / f"clean.{ext}", _clicks())
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(0).bytes(3000)
    damaged = folder / f"damaged.{ext}"
    damaged.write_bytes(bytes(data))
    return damaged


def _burst_starts(audio: np.ndarray) -> list[float]:
    loud = np.abs(audio) > 0.25
    starts = []
    for index in np.flatnonzero(loud):
        if not loud[max(0, index - 400) : index].any():
            starts.append(index / RATE)
    return starts


@pytest.mark.parametrize("ext", ["ogg", "mp3", "flac"])
def test_damage_in_the_middle_keeps_later_timestamps(tmp_path, ext):
    from engine.decode import DecodeReport, stream_audio_in_child

    report = DecodeReport()
    audio = np.concatenate(list(stream_audio_in_child(_damaged(tmp_path, ext), report)))
    assert abs(audio.shape[0] / RATE - SECONDS) < 0.05, audio.shape[0] / RATE
    late = [start for start in _burst_starts(audio) if start > 13.5]
    assert late, "no bursts after the damage"
    for start in late:
        assert abs(start - round(start)) < 0.03, late  # still on the whole second
    assert 0.3 < report.gap_s < 3.0 and report.gaps >= 1
    assert 5.0 < report.first_gap_at_s < 15.0


def test_undamaged_files_get_no_silence(tmp_path):
    from engine.decode import DecodeReport, stream_audio

    for ext in ("ogg", "mp3", "flac", "m4a", "wav"):
        report = DecodeReport()
        path = write_audio(tmp_path / f"clean.{ext}", _clicks())
        total = sum(block.shape[0] for block in stream_audio(path, report))
        assert report.gaps == 0 and report.gap_s == 0.0, ext
        assert abs(total / RATE - SECONDS) < 0.05, (ext, total / RATE)


def test_the_job_warns_with_the_lost_time(tmp_path, tiny_model):
    from engine.events import JobNote
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    events: list = []
    outcome = Engine(events.append).transcribe(
        _damaged(tmp_path, "ogg"), TranscribeOptions(model=str(tiny_model), formats=("txt",))
    )
    assert outcome.status == "done", outcome.reason
    notes = [event.message for event in events if isinstance(event, JobNote)]
    assert any("damaged.ogg: 1.0 s of damaged audio replaced by silence" in note for note in notes), notes
    assert outcome.report.audio_s == pytest.approx(SECONDS, abs=0.05)
