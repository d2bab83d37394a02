"""Folders for private files (job store, log, exports): create ours private, never retune others'.

A folder SessionScribe creates gets 0700 (and so do missing parents it creates on the way). A
folder that already exists keeps its mode (its setgid/sticky bits and sharing are its owner's
choice); but if another user owns it or can write into it (group/other write bits), files in it
could be swapped or read, so it is refused with one line that says why.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.errors import SessionScribeError

# The name our folders (data, config, log) and documents carry; defined once.
APP_NAME = "SessionScribe"

PRIVATE_DIR_MODE = 0o700


def make_dirs(path: Path, mode: int = PRIVATE_DIR_MODE) -> list[Path]:
    """Create `path` and any missing parents, each with exactly `mode`; returns those created."""
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.exists() and not current.is_symlink() and current != current.parent:
        missing.append(current)
        current = current.parent
    created: list[Path] = []
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:  # made meanwhile by someone else: theirs, left as it is
            continue
        if os.name == "posix":
            os.chmod(folder, mode)  # mkdir's mode passes through the umask
        created.append(folder)
    return created


def unsafe_reason(path: Path) -> str | None:
    """Why an existing folder is not fit for private files, or None when it is."""
    if os.name != "posix":
        return None
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder"
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return "it belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "other users can write into it"
    return None


def private_dir(path: Path, what: str, error: type[SessionScribeError] = SessionScribeError) -> Path:
    """`path` as a folder fit for private files: created 0700 if missing, else checked.

    Raises `error("<what> folder <path>: refused, <reason>; ...")` for an existing folder
    other users can write into or own. `what` says which folder ("data", "log").
    """
    path = Path(path)
    if not path.exists():
        try:
            make_dirs(path)
        except OSError as problem:
            raise error(
                f"{what} folder {path}: could not be created ({(problem.strerror or '').lower()})",
                kind="folder-create",
            ) from None
        return path
    reason = unsafe_reason(path)
    if reason is not None:
        raise error(
            f"{what} folder {path}: refused, {reason}; choose a folder only you can write",
            kind="folder-unsafe",
        )
    return path
