"""`sessionscribe transcribe | doctor | models` as a user runs them, in a subprocess."""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from support.audio import session, write_audio

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env_extra: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def good_recording(speech_available, tmp_path_factory) -> Path:
    audio, _ = session([1.0, "We can start whenever you are ready.", 1.0])
    return write_audio(tmp_path_factory.mktemp("good") / "good.ogg", audio)


def malformed_set(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    files["empty"] = folder / "empty.wav"
    files["empty"].write_bytes(b"")
    files["text"] = folder / "notes.wav"
    files["text"].write_text("Session notes, not audio.\n" * 50)
    files["header_only"] = folder / "header-only.wav"
    with wave.open(str(files["header_only"]), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
    files["random"] = folder / "noise.mp3"
    files["random"].write_bytes(np.random.default_rng(1).bytes(200_000))
    files["dangling"] = folder / "moved.m4a"
    files["dangling"].symlink_to(folder / "gone.m4a")
    video = folder / "silent-film.mp4"
    import av

    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    files["no_audio"] = video
    files["missing"] = folder / "never-recorded.wav"
    return files


def test_malformed_inputs_each_get_one_line_and_the_rest_goes_on(good_recording, tiny_model, tmp_path):
    files = malformed_set(tmp_path / "bad")
    out = tmp_path / "out"
    result = run_cli("transcribe", *map(str, files.values()), str(good_recording),
                     "--model", str(tiny_model), "--output-dir", str(out))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == len(files), result.stderr
    for path in files.values():
        assert sum(path.name in line for line in error_lines) == 1, (path.name, error_lines)
    reasons = "\n".join(error_lines)
    assert "empty" in reasons and "no audio track" in reasons and "not found" in reasons
    assert "no longer exists" in reasons
    # The good recording was still transcribed.
    assert (out / "good.srt").exists() and (out / "good.txt").read_text().strip() == "hello"


def test_speakers_turned_off_read_as_off_not_as_a_stage_that_took_no_time(good_recording, tiny_model, tmp_path):
    result = run_cli("transcribe", str(good_recording), "--model", str(tiny_model), "--format", "txt",
                     "--output-dir", str(tmp_path / "out"), "--speakers", "off")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert f"{good_recording.name}: speakers off" in lines, result.stderr
    assert not any("speakers done" in line for line in lines), result.stderr


def test_exit_codes_outputs_beside_input_and_report(good_recording, tiny_model, tmp_path):
    source = tmp_path / "in" / "good.ogg"
    source.parent.mkdir()
    source.write_bytes(good_recording.read_bytes())
    report = tmp_path / "report.json"
    result = run_cli("transcribe", str(source), "--model", str(tiny_model), "--format", "srt,json",
                     "--report", str(report))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in source.parent.iterdir()) == ["good.json", "good.ogg", "good.srt"]
    # Every progress line names the recording (decode's came before the job had its name).
    progress = [line for line in result.stderr.splitlines() if " done (" in line or line.endswith("%")]
    assert progress and all(line.startswith("good.ogg: ") for line in progress), result.stderr
    data = json.loads(report.read_text())["jobs"][0]
    from engine.hardware import CPU_BATCH_SIZE

    assert data["device"] == "cpu" and data["compute_type"] == "int8" and data["batch_size"] == CPU_BATCH_SIZE
    assert set(data["stages"]) == {"decode", "condition", "speech", "transcribe", "speakers", "export"}
    assert data["rtf"] > 0 and data["cost"]["api_dollars"] > 0
    # Running again overwrites its own outputs and still exits 0.
    again = run_cli("transcribe", str(source), "--model", str(tiny_model), "--format", "srt,json")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in source.parent.iterdir()) == ["good.json", "good.ogg", "good.srt"]


def test_same_stem_inputs_do_not_overwrite_each_other(good_recording, tiny_model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    audio, _ = session([1.0, "Another one."])
    write_audio(folder / "a.ogg", audio)
    write_audio(folder / "a.m4a", audio)
    (folder / "readme.txt").write_text("not audio")
    out = tmp_path / "out"
    result = run_cli("transcribe", str(folder), "--model", str(tiny_model), "--format", "txt",
                     "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.m4a.txt", "a.ogg.txt"]
    assert "readme.txt" in result.stderr and "skipped" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["transcribe"],
        ["transcribe", "x.wav", "--format", "odt"],
        ["transcribe", "x.wav", "--batch-size", "zero"],
        ["transcribe", "x.wav", "--device", "tpu"],
        ["bogus"],
    ],
)
def test_wrong_usage_exits_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_headless_commands_import_no_qt(good_recording, tiny_model, tmp_path):
    code = (
        "import sys; from engine.cli import main; rc = main(sys.argv[1:]); "
        "qt = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))); "
        "print('QT:', qt); sys.exit(rc)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    for args in (["doctor"], ["models", "list"],
                 ["transcribe", str(good_recording), "--model", str(tiny_model), "--output-dir", str(tmp_path)]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        assert "QT: []" in result.stdout, (args, result.stdout)


def test_doctor_explains_the_cpu_fallback():
    result = run_cli("doctor")
    assert result.returncode == 0
    assert "CUDA usable by CTranslate2: no" in result.stdout
    assert "Chosen settings: device cpu" in result.stdout and "compute type int8" in result.stdout
    assert "Transcription will run on the CPU." in result.stdout


def test_models_download_without_network_says_how(tmp_path):
    result = run_cli("models", "download", "small", env_extra={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert "small" in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_report_is_one_line_and_exit_1_not_a_traceback(good_recording, tiny_model, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the report's folder should be")
    result = run_cli("transcribe", str(good_recording), "--model", str(tiny_model), "--format", "txt",
                     "--output-dir", str(tmp_path / "out"), "--report", str(blocker / "report.json"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "report.json" in errors[0]
    assert "1 of 1 recording(s) transcribed" in result.stderr
    assert (tmp_path / "out" / "good.txt").read_text().strip() == "hello"


# -- issue 13 item 5: language codes are checked; an English-only model says what it ignores ----
def test_unknown_language_code_is_a_usage_error_saying_where_the_codes_are(tmp_path):
    result = run_cli("transcribe", str(tmp_path / "a.wav"), "--language", "xx")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unknown language code 'xx'" in result.stderr
    assert "sessionscribe languages" in result.stderr


def test_languages_lists_the_codes():
    result = run_cli("languages")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^fr\s+French$", result.stdout, re.M) and re.search(r"^en\s+English$", result.stdout, re.M)


def test_whisper_language_table_matches_faster_whisper():
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from engine.languages import LANGUAGES

    assert set(LANGUAGES) == set(_LANGUAGE_CODES)


def test_english_only_model_asked_for_french_warns(good_recording, real_model, tmp_path):
    result = run_cli("transcribe", str(good_recording), "--model", str(real_model), "--language", "fr",
                     "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("only knows English" in line and "French" in line for line in warnings), result.stderr
    english = run_cli("transcribe", str(good_recording), "--model", str(real_model), "--language", "en",
                      "--output-dir", str(tmp_path / "out2"))
    assert "only knows English" not in english.stderr


def test_engine_refuses_an_unknown_language_from_stored_settings(good_recording, tiny_model, tmp_path):
    """The app's settings file may hold any code: the engine checks it too, before any work."""
    from engine.events import JobFailed
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    events: list = []
    outcome = Engine(events.append).transcribe(
        good_recording, TranscribeOptions(model=str(tiny_model), language="xx", output_dir=tmp_path)
    )
    assert outcome.status == "failed" and "unknown language code 'xx'" in outcome.reason
    assert any(isinstance(event, JobFailed) for event in events)


def test_transcribe_help_explains_every_option_and_its_default():
    result = run_cli("transcribe", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    options = ("--model", "--device", "--compute-type", "--batch-size", "--language", "--format",
               "--output-dir", "--hotwords", "--report")
    for option in options:
        start = text.index(f"{option} ", text.index("options:"))
        described = text[start:]
        following = [text.index(f"{other} ", start + 1) for other in options if text.find(f"{other} ", start + 1) > 0]
        described = text[start:min(following)] if following else described
        assert "Default:" in described, (option, described)
    assert "Exit code" in text
