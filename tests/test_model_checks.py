"""A broken model folder is blamed on the model, before any recording (issue 10 item 19)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from support.audio import write_audio
from test_safety import run_cli


def _broken_copy(tiny_model: Path, folder: Path, **changes) -> Path:
    shutil.copytree(tiny_model, folder)
    for name, content in changes.items():
        (folder / name.replace("__", ".")).write_bytes(content)
    return folder


def _recording(path: Path) -> Path:
    t = np.arange(16000) / 16000
    return write_audio(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))


def _huge_mels(tiny_model: Path) -> bytes:
    config = json.loads((tiny_model / "preprocessor_config.json").read_text())
    config["feature_size"] = 100_000
    return json.dumps(config).encode()


def test_a_model_asking_for_100000_mel_bins_is_refused_up_front(tmp_path, tiny_model):
    from engine.errors import ModelError
    from engine.models import check_model_dir, resolve_model

    broken = _broken_copy(tiny_model, tmp_path / "my-model", preprocessor_config__json=_huge_mels(tiny_model))
    with pytest.raises(ModelError, match=r"my-model: broken model folder .*feature_size = 100000"):
        resolve_model(str(broken))
    check_model_dir(tiny_model)  # the real one passes


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"config__json": b"{not json"}, "config.json is not readable JSON"),
        ({"config__json": b"[1, 2]"}, "config.json does not hold settings"),
        ({"model__bin": b""}, "model.bin is empty"),
    ],
)
def test_broken_model_files_are_named(tmp_path, tiny_model, changes, expected):
    from engine.errors import ModelError
    from engine.models import check_model_dir

    broken = _broken_copy(tiny_model, tmp_path / "m", **changes)
    with pytest.raises(ModelError, match=expected):
        check_model_dir(broken)


def test_cli_blames_the_model_once_before_any_recording(tmp_path, tiny_model):
    broken = _broken_copy(tiny_model, tmp_path / "my-model", preprocessor_config__json=_huge_mels(tiny_model))
    first, second = _recording(tmp_path / "Client A.wav"), _recording(tmp_path / "Client B.wav")
    result = run_cli("transcribe", str(first), str(second), "--model", str(broken), "--format", "txt")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: my-model: broken model folder (preprocessor_config.json asks for feature_size = 100000 (expected 1 to 512))"], result.stderr
    assert "Client" not in result.stderr
    assert not list(tmp_path.glob("*.txt"))


def test_a_model_that_does_not_load_is_blamed_not_the_recording(tmp_path, tiny_model):
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    broken = _broken_copy(tiny_model, tmp_path / "my-model", model__bin=np.random.default_rng(0).bytes(4096))
    outcome = Engine().transcribe(_recording(tmp_path / "Client A.wav"), TranscribeOptions(model=str(broken), device="cpu"))
    assert outcome.status == "failed"
    assert outcome.reason.startswith("my-model: the model could not be loaded"), outcome.reason
