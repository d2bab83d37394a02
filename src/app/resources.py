"""Where the app finds its icon: the source checkout's resources/, or an installed copy."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_NAME = "sessionscribe.svg"


def icon_path() -> Path | None:
    candidates = (
        Path(__file__).resolve().parents[2] / "resources" / ICON_NAME,  # source checkout
        Path(sys.prefix) / "share" / "icons" / "hicolor" / "scalable" / "apps" / ICON_NAME,
        Path(sys.prefix) / "share" / "sessionscribe" / ICON_NAME,
    )
    return next((path for path in candidates if path.is_file()), None)


def app_icon() -> QIcon:
    """The SVG icon, or the desktop theme's 'sessionscribe' icon (from the .desktop install)."""
    path = icon_path()
    if path is not None:
        return QIcon(str(path))
    return QIcon.fromTheme("sessionscribe")
