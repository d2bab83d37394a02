"""Persisted settings: the transcription options plus a few app preferences, as JSON.

Stored in the platform's config folder (platformdirs), or in $SESSIONSCRIBE_CONFIG_DIR when
set (tests, portable installs). Command-line overrides (`sessionscribe gui --model ...`) apply
to this run only and are never written back.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import APP_NAME
from engine import CHANNEL_SETTINGS, DEFAULT_FORMATS, EXPORT_FORMATS, TranscribeOptions

log = logging.getLogger(__name__)

FILE_NAME = "settings.json"


def config_dir() -> Path:
    override = os.environ.get("SESSIONSCRIBE_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


@dataclass
class AppSettings:
    options: TranscribeOptions = field(default_factory=TranscribeOptions)
    # App-only preferences (not part of a transcription).
    window_geometry: str | None = None  # base64 of QWidget.saveGeometry()
    # Delete stored sessions not changed for this many days (at start-up and after each
    # job). None: keep them until the user deletes them (the default: nothing is ever
    # deleted unless asked).
    retention_days: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # this run only, never saved

    def effective_options(self) -> TranscribeOptions:
        """What a job started now runs with: saved settings plus command-line overrides."""
        return self.options.with_changes(**self.overrides) if self.overrides else self.options


class SettingsStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / FILE_NAME

    def load(self) -> AppSettings:
        """Never fails: a missing or damaged file gives the defaults (and is left for the
        user to inspect; it is replaced on the next save)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return AppSettings()
        except (OSError, ValueError) as error:
            # The kind only: messages can quote folders or hotwords the clinician typed.
            log.warning("settings unreadable (%s); using defaults", type(error).__name__)
            return AppSettings()
        settings = AppSettings()
        try:
            options = TranscribeOptions.from_dict(data.get("options", {}))
            formats = tuple(f for f in options.formats if f in EXPORT_FORMATS)
            settings.options = options.with_changes(formats=formats or DEFAULT_FORMATS)
            if options.channels not in CHANNEL_SETTINGS:
                # A hand-edited (or newer version's) value: Settings could not show it, and
                # the engine knows only these three. "auto" is what a fresh install runs.
                settings.options = settings.options.with_changes(channels="auto")
        except (TypeError, ValueError) as error:
            log.warning("saved options unusable (%s); using defaults", type(error).__name__)
        geometry = data.get("window_geometry")
        settings.window_geometry = geometry if isinstance(geometry, str) else None
        days = data.get("retention_days")
        # Only a whole number of days >= 1: a damaged value must never turn into "delete all".
        if isinstance(days, int) and not isinstance(days, bool) and days >= 1:
            settings.retention_days = days
        return settings

    def save(self, settings: AppSettings) -> None:
        data = {
            "version": 1,
            "options": settings.options.to_dict(),
            "window_geometry": settings.window_geometry,
            "retention_days": settings.retention_days,
        }
        # A folder we create is private (it holds folder paths, and Qt's settings: see
        # app.file_dialogs); one that already exists keeps its mode.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Write-then-rename so a crash mid-save never leaves half a file.
        fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
