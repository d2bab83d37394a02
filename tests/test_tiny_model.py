"""The tiny Whisper test model loads in faster-whisper and always says its word."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.tiny_model import MODEL_FILES, STAMP_FILE, WHISPER_LANGUAGES, build_tiny_model

faster_whisper = pytest.importorskip("faster_whisper")

SAMPLE_RATE = 16000
CLIPS = [{"start": 0, "end": 5}, {"start": 6, "end": 12}]


def _audio(seconds: float = 12.0) -> np.ndarray:
    """A 440 Hz tone under seeded noise: the model ignores audio, so anything goes."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(0).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * noise).astype(np.float32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def model(model_dir: Path):
    return faster_whisper.WhisperModel(str(model_dir), device="cpu", compute_type="int8")


@pytest.fixture(scope="module")
def pipeline(model):
    return faster_whisper.BatchedInferencePipeline(model)


def _texts(segments) -> list[str]:
    return [segment.text.strip() for segment in segments]


def test_writes_the_files_faster_whisper_reads(model_dir: Path) -> None:
    for name in MODEL_FILES:
        assert (model_dir / name).is_file(), name
    config = json.loads((model_dir / "config.json").read_text())
    assert config["alignment_heads"] and config["lang_ids"]
    assert json.loads((model_dir / "preprocessor_config.json").read_text())["feature_size"] == 80


def test_language_tokens_match_faster_whisper() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert sorted(WHISPER_LANGUAGES) == sorted(_LANGUAGE_CODES)


def test_tokenizer_layout(model) -> None:
    tok = model.hf_tokenizer
    eot = tok.token_to_id("<|endoftext|>")
    assert eot == 50257  # same ids as real multilingual checkpoints
    assert tok.token_to_id("<|startoftranscript|>") == eot + 1
    notimestamps = tok.token_to_id("<|notimestamps|>")
    assert tok.token_to_id("<|0.00|>") == notimestamps + 1
    assert tok.token_to_id("<|30.00|>") == notimestamps + 1501
    assert tok.get_vocab_size() == 51866
    assert tok.decode(tok.encode("hello", add_special_tokens=False).ids) == "hello"
    assert model.model.is_multilingual
    assert model.model.n_mels == 80


def test_batched_clips_say_the_word(pipeline) -> None:
    segments, info = pipeline.transcribe(
        _audio(), language="en", batch_size=8, clip_timestamps=CLIPS
    )
    segments = list(segments)
    assert _texts(segments) == ["hello", "hello"]
    assert [(s.start, s.end) for s in segments] == [(0.0, 5.0), (6.0, 12.0)]
    assert all(s.no_speech_prob < 0.01 for s in segments)
    assert info.language == "en"


@pytest.mark.parametrize("beam_size", [1, 5])
def test_greedy_and_beam_search_agree(pipeline, beam_size: int) -> None:
    segments, _ = pipeline.transcribe(
        _audio(), language="en", batch_size=8, clip_timestamps=CLIPS, beam_size=beam_size
    )
    assert _texts(segments) == ["hello", "hello"]


def test_detects_english(pipeline) -> None:
    segments, info = pipeline.transcribe(
        _audio(), language=None, batch_size=8, clip_timestamps=CLIPS
    )
    assert _texts(segments) == ["hello", "hello"]
    assert info.language == "en"
    assert info.language_probability > 0.99


def test_word_timestamps(pipeline) -> None:
    segments, _ = pipeline.transcribe(
        _audio(), language="en", batch_size=8, clip_timestamps=CLIPS, word_timestamps=True
    )
    segments = list(segments)
    assert _texts(segments) == ["hello", "hello"]
    for segment in segments:
        assert [w.word.strip() for w in segment.words] == ["hello"]
        assert segment.words[0].start <= segment.words[0].end


@pytest.mark.parametrize(
    "options",
    [
        {"hotwords": "hello there friend"},
        {"initial_prompt": "Earlier in the session we spoke about sleep."},
    ],
    ids=["hotwords", "initial_prompt"],
)
def test_longer_prompts_do_not_change_the_text(pipeline, options: dict) -> None:
    segments, _ = pipeline.transcribe(
        _audio(), language="en", batch_size=8, clip_timestamps=CLIPS, **options
    )
    assert _texts(segments) == ["hello", "hello"]


def test_sequential_transcribe_with_timestamps(model) -> None:
    segments, _ = model.transcribe(_audio(), language="en")
    assert _texts(segments) == ["hello"]


def test_building_twice_reuses_the_folder(tmp_path: Path) -> None:
    out = build_tiny_model(tmp_path / "m")
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()}
    assert build_tiny_model(tmp_path / "m") == out
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()}
    assert after == before


def test_rebuilds_when_incomplete_or_different(tmp_path: Path) -> None:
    out = build_tiny_model(tmp_path / "m")
    (out / STAMP_FILE).unlink()  # e.g. a build that died half way
    build_tiny_model(out)
    assert (out / STAMP_FILE).is_file()

    build_tiny_model(out, word="goodbye")
    model = faster_whisper.WhisperModel(str(out), device="cpu", compute_type="int8")
    segments, _ = faster_whisper.BatchedInferencePipeline(model).transcribe(
        _audio(), language="en", batch_size=8, clip_timestamps=CLIPS
    )
    assert _texts(segments) == ["goodbye", "goodbye"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no build leftovers


def test_english_only_and_multi_word(tmp_path: Path) -> None:
    out = build_tiny_model(tmp_path / "en", word="hello world", multilingual=False)
    model = faster_whisper.WhisperModel(str(out), device="cpu", compute_type="int8")
    assert not model.model.is_multilingual
    segments, info = faster_whisper.BatchedInferencePipeline(model).transcribe(
        _audio(), batch_size=8, clip_timestamps=CLIPS, word_timestamps=True
    )
    segments = list(segments)
    assert info.language == "en"
    assert _texts(segments) == ["hello world", "hello world"]
    assert [w.word.strip() for w in segments[0].words] == ["hello", "world"]


def test_128_mel_bins(tmp_path: Path) -> None:
    out = build_tiny_model(tmp_path / "v3", n_mels=128)  # large-v3 style features
    model = faster_whisper.WhisperModel(str(out), device="cpu", compute_type="int8")
    assert model.model.n_mels == 128 and model.feature_extractor.mel_filters.shape[0] == 128
    segments, _ = faster_whisper.BatchedInferencePipeline(model).transcribe(
        _audio(), language="en", batch_size=8, clip_timestamps=CLIPS
    )
    assert _texts(segments) == ["hello", "hello"]


def test_rejects_words_a_bigram_cannot_spell(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        build_tiny_model(tmp_path / "bad", word="ha ha ha")  # " ha" twice


def test_command_line(tmp_path: Path) -> None:
    script = Path(__file__).parent / "support" / "tiny_model.py"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "cli"), "--word", "hi"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert Path(result.stdout.strip()) == tmp_path / "cli"
    assert json.loads((tmp_path / "cli" / STAMP_FILE).read_text())["word"] == "hi"
