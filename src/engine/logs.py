"""Private logging: one rotating file only the user can read.

The rule for every log line in SessionScribe (engine, CLI and app alike):

- DO log: job ids and statuses, durations, stage names and timings, device and model
  choices, counts (windows, segments, bytes), error kinds and tracebacks of our own code.
- NEVER log: transcript text (segment or word text, search queries, edits, prompts or
  hotwords the clinician typed), audio samples, or anything derived from them; nor the
  names or paths of recordings, which often carry a client's name (the job store, readable
  by its owner only, maps job ids to files). A filter
  cannot reliably recognise transcript text, so this rule is enforced by review, not code:
  `engine.events.SegmentReady` carries text and must never be formatted into a message.

The file is `sessionscribe.log` in `platformdirs.user_log_dir("SessionScribe")` (or the
folder named by `SESSIONSCRIBE_LOG_DIR`), rotated at 1 MB with 3 old files kept. The folder
is 0700 and every log file, rotated ones included, is 0600.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import threading
import traceback
from pathlib import Path

import platformdirs

from engine.folders import APP_NAME, private_dir

ROOT_LOGGER = "sessionscribe"
LOG_DIR_ENV = "SESSIONSCRIBE_LOG_DIR"
LOG_FILE = "sessionscribe.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 3
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"

_setup_lock = threading.Lock()


def default_log_dir() -> Path:
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files are created 0600 whatever the umask."""

    def _open(self):
        file = open(
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=_private_opener,
        )
        _chmod_private(Path(self.baseFilename))
        return file

    def doRollover(self) -> None:
        super().doRollover()
        for number in range(1, self.backupCount + 1):
            _chmod_private(Path(f"{self.baseFilename}.{number}"))


class PrivateFormatter(logging.Formatter):
    """Tracebacks keep their frames and exception classes but not their messages: an
    OSError's message holds the full path of the file, an ExportError's the recording's
    name, and `exc_info=True` is used all over the app."""

    def formatException(self, ei) -> str:
        return "".join(_withheld(ei[1])).rstrip("\n")


def _withheld(error: BaseException | None, seen: set[int] | None = None) -> list[str]:
    if error is None:
        return []
    seen = set() if seen is None else seen
    if id(error) in seen:
        return []
    seen.add(id(error))
    lines: list[str] = []
    if error.__cause__ is not None:
        lines += _withheld(error.__cause__, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif error.__context__ is not None and not error.__suppress_context__:
        lines += _withheld(error.__context__, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    lines.append("Traceback (most recent call last):\n")
    lines += traceback.format_tb(error.__traceback__)
    kind = type(error)
    kind_name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    detail = getattr(error, "kind", None)
    suffix = f" ({detail})" if isinstance(detail, str) and detail != kind.__name__ else ""
    lines.append(f"{kind_name}{suffix}: [message withheld: it may name a recording]\n")
    return lines


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _chmod_private(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        os.chmod(path, 0o600)
    except FileNotFoundError:
        pass


def setup_logging(level: int = logging.INFO) -> Path:
    """Send the "sessionscribe" logger (and "faster_whisper" warnings) to the private file.

    Idempotent: calling it again only updates the level, unless the log folder changed (then
    the old file handler is replaced). Returns the path of the log file.
    """
    folder = default_log_dir()
    with _setup_lock:
        # Created 0700; an existing folder keeps its mode (refused if others can write it).
        private_dir(folder, "log")
        path = (folder / LOG_FILE).absolute()
        for number in range(0, BACKUP_COUNT + 1):
            _chmod_private(path if number == 0 else Path(f"{path}.{number}"))

        logger = logging.getLogger(ROOT_LOGGER)
        whisper_logger = logging.getLogger("faster_whisper")
        handler = _our_handler(logger)
        if handler is not None and Path(handler.baseFilename) != path:
            for owner in (logger, whisper_logger):
                owner.removeHandler(handler)
            handler.close()
            handler = None
        if handler is None:
            handler = PrivateRotatingFileHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
            )
            handler.setFormatter(PrivateFormatter(FORMAT))
            handler._sessionscribe = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        if handler not in whisper_logger.handlers:
            whisper_logger.addHandler(handler)
        logger.setLevel(level)
        whisper_logger.setLevel(logging.WARNING)
        return path


def _our_handler(logger: logging.Logger) -> PrivateRotatingFileHandler | None:
    for handler in logger.handlers:
        if getattr(handler, "_sessionscribe", False):
            return handler  # type: ignore[return-value]
    return None


def get_logger(name: str) -> logging.Logger:
    """A child of the "sessionscribe" logger (`get_logger("store")` -> "sessionscribe.store")."""
    if name == ROOT_LOGGER or name.startswith(ROOT_LOGGER + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{ROOT_LOGGER}.{name}")
