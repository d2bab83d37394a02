"""Errors the user sees: each carries one human line that names the file.

The line is for the user; the log gets only `kind` (never the line: it names a recording).
"""
from __future__ import annotations


class SessionScribeError(Exception):
    """Base for failures that are explained to the user in one line (never a traceback).

    `kind`: what went wrong, in words that name no file (e.g. "empty", "RuntimeError");
    the class name when not given. This, not the message, is what gets logged.
    """

    def __init__(self, message: str = "", *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind or type(self).__name__


class InputError(SessionScribeError):
    """The recording cannot be read (missing, empty, not audio, no audio track...)."""


class ModelError(SessionScribeError):
    """The model cannot be found, downloaded or loaded."""


class ExportError(SessionScribeError):
    """An output file could not be written."""


class SettingError(SessionScribeError):
    """A setting cannot work (e.g. an unknown language code); names no file."""


class Cancelled(Exception):
    """The user asked to stop; not an error."""
