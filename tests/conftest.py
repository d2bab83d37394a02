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
