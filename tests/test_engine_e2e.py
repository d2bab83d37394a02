"""A recording in, a readable transcript out: the engine as a clinician uses it."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from engine import events as ev
from engine.options import TranscribeOptions
from engine.pipeline import Engine
from support.audio import session, write_audio
from support.recordings import real_recording

UTTERANCES = [
    10.0,
    "Hello there, how are you feeling today?",
    3.0,
    "I have been sleeping better, thank you.",
    1.0,
    "That is good to hear.",
    6.0,
    "Yes, it really is. Shall we talk about the week?",
    4.0,
    "Of course. Monday was hard.",
]


def _session_50s():
    audio, spans = session(UTTERANCES)
    tail = 50.0 - audio.shape[0] / 16000
    assert tail > 0, "layout longer than 50 s"
    return np.concatenate([audio, np.zeros(int(tail * 16000), np.float32)]), spans


def _srt_times(text: str) -> list[tuple[float, float]]:
    def seconds(stamp: str) -> float:
        hours, minutes, rest = stamp.split(":")
        secs, millis = rest.split(",")
        return int(hours) * 3600 + int(minutes) * 60 + int(secs) + int(millis) / 1000

    cues = []
    for line in text.splitlines():
        if "-->" in line:
            start, end = (part.strip() for part in line.split("-->"))
            cues.append((seconds(start), seconds(end)))
    return cues


def _ffmpeg_cue_count(path: Path) -> int:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )
    return len(json.loads(result.stdout).get("packets", []))


@pytest.fixture(scope="module")
def session_50s(speech_available, tmp_path_factory):
    folder = tmp_path_factory.mktemp("session")
    audio, spans = _session_50s()
    path = write_audio(folder / "session.mp3", audio, out_rate=44100, channels=2)
    return path, spans


def test_50s_session_opening_with_silence_gives_readable_subtitles(session_50s, real_model, tmp_path):
    """Cue times come from the model's word timings (a real model: the fixture model's word
    times mean nothing)."""
    path, spans = session_50s
    events: list = []
    outcome = Engine(events.append).transcribe(
        path, TranscribeOptions(model=str(real_model), output_dir=tmp_path)
    )
    assert outcome.status == "done", outcome.reason
    assert set(outcome.outputs) == {"txt", "srt", "vtt", "json"}
    for output in outcome.outputs.values():
        assert output.exists() and output.stat().st_size > 0

    srt = (tmp_path / "session.srt").read_text()
    cues = _srt_times(srt)
    assert cues, srt
    if shutil.which("ffprobe"):
        assert _ffmpeg_cue_count(tmp_path / "session.srt") == len(cues)
        assert _ffmpeg_cue_count(tmp_path / "session.vtt") == len(cues)

    # Every utterance is shown from its start to its end (a little slack for word times; an
    # utterance of two sentences with a pause between may take two cues).
    for start, end in spans:
        assert any(c0 <= start + 0.25 < c1 for c0, c1 in cues), (start, end, cues)
        assert any(c0 < end <= c1 + 0.25 for c0, c1 in cues), (start, end, cues)
        inside = [(c0, c1) for c0, c1 in cues if c0 < end and start < c1]
        assert all(b0 - a1 <= 1.0 for (_, a1), (b0, _) in zip(inside, inside[1:])), (start, end, inside)
    # No cue sits in silence, none spans a pause longer than 2.5 s.
    for c0, c1 in cues:
        assert any(c0 < end and start < c1 for start, end in spans), (c0, c1)
        inside = [(max(s, c0), min(e, c1)) for s, e in spans if s < c1 and c0 < e]
        gaps = [b[0] - a[1] for a, b in zip(inside, inside[1:])]
        assert all(gap <= 2.5 for gap in gaps), (c0, c1, gaps)
    # The 10 s of opening silence is skipped, not transcribed, and the clock is not moved.
    assert abs(cues[0][0] - spans[0][0]) <= 1.0
    assert 9.5 <= outcome.report.leading_silence_s <= 10.05
    assert outcome.report.trailing_silence_s >= 50.0 - spans[-1][1] - 0.5

    data = json.loads((tmp_path / "session.json").read_text())
    assert "sleeping better" in " ".join(seg["text"].lower() for seg in data["segments"])
    assert all(seg["words"] for seg in data["segments"])
    assert data["metadata"]["language"] == "en"
    assert (tmp_path / "session.txt").read_text().strip().lower().startswith("hello there")

    stages_seen = {e.stage for e in events if isinstance(e, ev.StageFinished)}
    assert stages_seen == set(ev.Stage)
    assert any(isinstance(e, ev.SegmentReady) for e in events)
    assert isinstance(events[-1], ev.JobDone)


def test_word_timestamps_give_words_in_json(session_50s, tiny_model, tmp_path):
    path, _ = session_50s
    outcome = Engine().transcribe(
        path, TranscribeOptions(model=str(tiny_model), output_dir=tmp_path, word_timestamps=True)
    )
    assert outcome.status == "done", outcome.reason
    data = json.loads((tmp_path / "session.json").read_text())
    for segment in data["segments"]:
        assert segment["words"], segment
        for word in segment["words"]:
            assert segment["start"] - 0.01 <= word["start"] <= word["end"] <= segment["end"] + 0.01


def test_windows_keep_the_clock(speech_available, real_model, tmp_path):
    """A recording cut into several windows reports times in the original recording."""
    layout = []
    for index in range(6):
        layout += [17.0, f"This is sentence number {index + 1} of the session."]
    audio, spans = session(layout + [5.0])
    path = write_audio(tmp_path / "long.wav", audio)
    outcome = Engine(window_s=40.0).transcribe(path, TranscribeOptions(model=str(real_model), formats=("json",)))
    assert outcome.status == "done", outcome.reason
    assert outcome.report.windows >= 3
    starts = [segment.start for segment in outcome.segments]
    assert len(outcome.segments) == len(spans)
    for (start, _end), got in zip(spans, starts):
        assert abs(got - start) < 0.6


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("séance ünïcødé 会话.wav", {}),
        ("eight-channel.wav", {"out_rate": 192000, "channels": 8, "bit_depth": 24}),
        ("video.mp4", {"video": True}),
        ("voice.ogg", {}),
        ("phone.m4a", {}),
        ("dictaphone.flac", {"out_rate": 44100, "channels": 2}),
    ],
)
def test_formats_and_names_transcribe(speech_available, real_model, tmp_path, name, kwargs):
    audio, spans = session([2.0, "Good morning, let us begin.", 2.0])
    path = write_audio(tmp_path / name, audio, **kwargs)
    outcome = Engine().transcribe(path, TranscribeOptions(model=str(real_model), formats=("srt", "txt")))
    assert outcome.status == "done", outcome.reason
    srt = outcome.outputs["srt"]
    assert srt.name == Path(name).stem + ".srt"
    cues = _srt_times(srt.read_text())
    assert len(cues) == 1 and abs(cues[0][0] - spans[0][0]) < 0.5
    assert "good morning" in outcome.outputs["txt"].read_text().lower()


def test_real_recording_jfk(real_model, tmp_path):
    path = real_recording("jfk.flac")
    outcome = Engine().transcribe(path, TranscribeOptions(model=str(real_model), output_dir=tmp_path))
    assert outcome.status == "done", outcome.reason
    assert outcome.segments[0].start < 1.0 and outcome.segments[-1].end > 9.5
    assert abs(outcome.report.audio_s - 11.0) < 0.05


def test_silence_and_a_click_are_empty_transcripts_not_errors(tiny_model, tmp_path):
    silent = write_audio(tmp_path / "silence.wav", np.zeros(16000 * 20, np.float32))
    click_audio = np.zeros(16000 * 10, np.float32)
    click_audio[80000:80800] = np.hanning(800) * 0.9  # 50 ms click
    click = write_audio(tmp_path / "click.wav", click_audio)
    for path in (silent, click):
        events: list = []
        outcome = Engine(events.append).transcribe(path, TranscribeOptions(model=str(tiny_model)))
        assert outcome.status == "done", outcome.reason
        assert outcome.segments == []
        assert outcome.outputs["txt"].read_text().strip() == ""
        notes = [e.message for e in events if isinstance(e, ev.JobNote)]
        assert any("no speech" in note and path.name in note for note in notes)


def test_file_cut_short_is_transcribed_as_far_as_it_goes(speech_available, tiny_model, tmp_path):
    audio, spans = session([1.0, "The first part survives.", 20.0, "The second part is lost."])
    whole = write_audio(tmp_path / "whole.mp3", audio)
    cut = tmp_path / "cut.mp3"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    events: list = []
    outcome = Engine(events.append).transcribe(cut, TranscribeOptions(model=str(tiny_model)))
    assert outcome.status == "done", outcome.reason
    assert len(outcome.segments) == 1
    warnings = [e.message for e in events if isinstance(e, ev.JobNote) and e.level == "warning"]
    assert any("cut.mp3" in w and "cut short" in w for w in warnings), warnings


def test_model_not_downloaded_offline_fails_at_once_with_a_way_out(tmp_path, speech_available):
    audio, _ = session([1.0, "Hello."])
    path = write_audio(tmp_path / "a.wav", audio)
    outcome = Engine().transcribe(path, TranscribeOptions(model="large-v3"))
    assert outcome.status == "failed"
    # Offline, downloading is no way out: the way out is a model folder (issue 13 item 1).
    assert "large-v3" in outcome.reason and "no connection to the model hub" in outcome.reason
    assert "--model DIR" in outcome.reason and "models download" not in outcome.reason


def test_a_broken_gpu_falls_back_to_the_cpu_with_a_notice(speech_available, tiny_model, tmp_path):
    """The device check says CUDA works, but loading on CUDA fails (as a missing cuDNN would):
    the job must still finish, on the CPU, and say why."""
    from engine.health import DeviceHealth

    audio, _ = session([1.0, "The GPU is not what it seems."])
    path = write_audio(tmp_path / "a.wav", audio)
    events: list = []
    engine = Engine(events.append)
    engine._health = DeviceHealth(cuda_usable=True, ctranslate2_devices=1, fixes=["install cuDNN 9"])
    outcome = engine.transcribe(path, TranscribeOptions(model=str(tiny_model), formats=("txt",)))
    assert outcome.status == "done", outcome.reason
    assert outcome.report.device == "cpu" and outcome.report.compute_type == "int8"
    notices = [e for e in events if isinstance(e, ev.DeviceNotice)]
    assert notices and "running on the CPU" in notices[0].message and "cuDNN" in notices[0].fix
    # Later jobs go straight to the CPU instead of failing on the GPU again.
    assert engine.plan(TranscribeOptions()).device == "cpu"


def test_a_gpu_that_cannot_be_used_is_said_once_with_its_fix(tiny_model):
    """As on a lent H100 with CUDA 13 only: CTranslate2 sees the card, cuBLAS 12 is missing.
    "auto" runs on the CPU, and says why once, not once per recording."""
    from engine.health import DeviceHealth

    events: list = []
    engine = Engine(events.append)
    engine._health = DeviceHealth(
        ctranslate2_devices=1,
        gpus=[{"index": 0, "name": "NVIDIA H100 80GB HBM3", "total_bytes": 80 << 30, "free_bytes": 79 << 30}],
        problems=["libcublas.so.12 is missing, so CTranslate2 can't run on the GPU"],
        fixes=["install cuBLAS 12 (pip install nvidia-cublas-cu12, or install the CUDA 12 toolkit)"],
    )
    for _ in range(2):
        runtime, _options = engine.pick(TranscribeOptions(model=str(tiny_model)))
        assert runtime.device == "cpu"
    notices = [e for e in events if isinstance(e, ev.DeviceNotice)]
    assert len(notices) == 1, notices
    assert "H100" in notices[0].message and "libcublas.so.12" in notices[0].message
    assert "running on the CPU" in notices[0].message and "nvidia-cublas-cu12" in notices[0].fix
    # The CPU asked for by name: nothing to explain.
    told: list = []
    asked = Engine(told.append)
    asked._health = engine._health
    asked.pick(TranscribeOptions(model=str(tiny_model), device="cpu"))
    assert not [e for e in told if isinstance(e, ev.DeviceNotice)]


def test_each_clip_finds_its_own_language_unless_one_is_given(session_50s, tiny_model, tmp_path, monkeypatch):
    """A session that changes language is written in each of its languages: with no language
    given, each clip's is found (multilingual.mp3's German half came out translated into
    English by Whisper base when the first clip's language held for the whole recording). A
    given language, or an English-only model, holds for every clip."""
    import faster_whisper

    from support.tiny_model import build_tiny_model

    asked: list[bool | None] = []
    batched = faster_whisper.BatchedInferencePipeline.transcribe

    def spying(self, *args, **kwargs):
        asked.append(kwargs.get("multilingual"))
        return batched(self, *args, **kwargs)

    monkeypatch.setattr(faster_whisper.BatchedInferencePipeline, "transcribe", spying)
    path, _ = session_50s
    english_only = build_tiny_model(tmp_path / "tiny.en", multilingual=False)
    for model, language, per_clip in ((tiny_model, None, True), (tiny_model, "de", False), (english_only, None, False)):
        asked.clear()
        options = TranscribeOptions(model=str(model), language=language, formats=("json",),
                                    output_dir=tmp_path / f"{model.name}-{language}")
        outcome = Engine().transcribe(path, options)
        assert outcome.status == "done", outcome.reason
        assert asked and set(asked) == {per_clip}


def test_short_windows_share_batches(speech_available, tiny_model, tmp_path, monkeypatch):
    """A window holding fewer clips than a batch waits for the next one: six 20-s windows
    of one clip each go to the model in two batched calls (the first window alone, so the
    first words come at once), not six."""
    from engine.transcribe import Transcriber

    layout = []
    for index in range(6):
        layout += [15.0, f"Part {index + 1} of the session."]
    audio, _ = session(layout + [3.0])
    path = write_audio(tmp_path / "parts.wav", audio)
    calls: list[int] = []
    batched = Transcriber.transcribe_windows

    def counting(self, windows, *args, **kwargs):
        calls.append(sum(len(window.clips) for window in windows))
        return batched(self, windows, *args, **kwargs)

    monkeypatch.setattr(Transcriber, "transcribe_windows", counting)
    outcome = Engine(window_s=20.0).transcribe(
        path, TranscribeOptions(model=str(tiny_model), formats=("json",), batch_size=8)
    )
    assert outcome.status == "done", outcome.reason
    assert outcome.report.windows >= 5
    assert calls == [1, outcome.report.clips - 1]
