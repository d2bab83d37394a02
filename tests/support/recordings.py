"""Real recordings nobody on this project made, read from ../shared/data/real/ when present."""
from __future__ import annotations

from pathlib import Path

import pytest

REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"


def real_recording(name: str) -> Path:
    """The recording's path, or skip the test when the shared data folder is absent."""
    path = REAL_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path
