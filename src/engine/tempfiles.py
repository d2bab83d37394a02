"""Private scratch space for anything that must touch disk.

Decoded audio stays in memory; when something has to be written (a tool that only reads
files, say), it goes into a folder only the user can open, removed when the block ends,
even after an exception.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from engine.logs import get_logger

log = get_logger("tempfiles")


@contextmanager
def private_tempdir() -> Iterator[Path]:
    """A fresh 0700 folder `sessionscribe-*` in the system temp folder, removed on exit."""
    path = Path(tempfile.mkdtemp(prefix="sessionscribe-", dir=tempfile.gettempdir()))
    try:
        if os.name == "posix":
            os.chmod(path, 0o700)  # mkdtemp already does; say it where it is relied on
        yield path
    finally:
        _remove(path)


def _remove(path: Path) -> None:
    def retry_writable(function, failed_path, _exc) -> None:
        # Something read-only inside: make it and its folder writable, then try once more.
        try:
            for target in (os.path.dirname(failed_path), failed_path):
                if os.path.lexists(target) and not os.path.islink(target):
                    os.chmod(target, 0o700)
            function(failed_path)
        except OSError:
            pass

    try:
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry_writable)
        else:
            shutil.rmtree(path, onerror=retry_writable)
    except OSError as exc:
        log.warning("could not remove temporary folder %s: %s", path, exc)
    if path.exists():
        log.warning("temporary folder %s could not be removed completely", path)
