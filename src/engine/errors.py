"""Errors the user sees: each carries one human line that names the file."""
from __future__ import annotations


class SessionScribeError(Exception):
    """Base for failures that are explained to the user in one line (never a traceback)."""


class InputError(SessionScribeError):
    """The recording cannot be read (missing, empty, not audio, no audio track...)."""


class ModelError(SessionScribeError):
    """The model cannot be found, downloaded or loaded."""


class ExportError(SessionScribeError):
    """An output file could not be written."""


class Cancelled(Exception):
    """The user asked to stop; not an error."""
