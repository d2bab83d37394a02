"""What to transcribe, and where each transcript goes.

Files named explicitly are always kept (the decoder explains if one cannot be read, and a
missing one is reported per file); folders are searched recursively for audio and video.
Output names never collide within a run, even on case-insensitive file systems.
"""
from __future__ import annotations

import errno
import os
import unicodedata
from pathlib import Path
from typing import Sequence

from engine.options import EXPORT_FORMATS, EXPORT_SUFFIXES

AUDIO_EXTENSIONS = frozenset(
    {
        ".wav", ".wave", ".mp3", ".m4a", ".m4b", ".aac", ".flac", ".ogg", ".oga", ".opus",
        ".wma", ".aiff", ".aif", ".aifc", ".caf", ".amr", ".awb", ".ac3", ".eac3", ".dts",
        ".mka", ".mp2", ".mpga", ".ape", ".wv", ".tta", ".au", ".snd", ".spx", ".alac",
        ".voc", ".w64", ".rf64", ".gsm", ".dss", ".m4r", ".3ga", ".qcp",
    }
)
VIDEO_EXTENSIONS = frozenset(
    {
        ".webm", ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".avi", ".wmv", ".asf", ".3gp",
        ".3g2", ".mpg", ".mpeg", ".mpe", ".m2v", ".vob", ".ts", ".mts", ".m2ts", ".m2t",
        ".flv", ".f4v", ".ogv", ".divx", ".dv", ".mxf", ".rm", ".rmvb", ".nut",
    }
)
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

# Files operating systems leave in folders: never worth a note.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "icon\r", "ehthumbs.db"})


def is_media_file(path: Path | str) -> bool:
    """True when the name ends in an audio or video extension FFmpeg reads (any case)."""
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


def _is_hidden(entry: os.DirEntry) -> bool:
    if entry.name.startswith("."):
        return True
    attributes = getattr(_stat_or_none(entry), "st_file_attributes", 0) or 0
    return bool(attributes & 0x2)  # FILE_ATTRIBUTE_HIDDEN (Windows)


def _stat_or_none(entry: os.DirEntry):
    try:
        return entry.stat(follow_symlinks=False)
    except OSError:
        return None


def resolved(path: Path) -> Path:
    """`path.resolve()` that never raises: a symbolic link loop (RuntimeError before Python
    3.13, OSError after) leaves the path made absolute, not resolved."""
    try:
        return Path(path).resolve(strict=False)
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def is_link_loop(path: Path) -> bool:
    """True for a symbolic link that leads back to itself (no file at its end)."""
    try:
        os.stat(path)
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def _identity(path: Path) -> tuple:
    """Same file, however it was spelled: device and inode where it exists."""
    try:
        info = path.stat()
        if info.st_ino:
            return ("inode", info.st_dev, info.st_ino)
    except OSError:
        pass
    return ("path", os.path.normcase(str(resolved(path))))


def _sort_key(entry: os.DirEntry) -> tuple[str, str]:
    name = unicodedata.normalize("NFC", entry.name)
    return (name.casefold(), name)


def _walk(
    folder: Path, root: Path, found: list[Path], notes: list[str], visited: set[tuple]
) -> None:
    identity = _identity(folder)
    if identity in visited:  # a symbolic link looping back
        return
    visited.add(identity)
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=_sort_key)
    except OSError as error:
        label = _relative(folder, root) or folder.name
        notes.append(f"{label}: skipped, could not open the folder ({_why(error)})")
        return
    for entry in entries:
        if _is_hidden(entry) or entry.name.lower() in _SYSTEM_FILES:
            continue
        path = Path(entry.path)
        if entry.is_symlink() and is_link_loop(path):
            notes.append(f"{_relative(path, root)}: skipped, a link that loops back on itself")
            continue
        try:
            is_folder = entry.is_dir()  # follows links to folders
        except OSError:
            is_folder = False
        if is_folder:
            _walk(path, root, found, notes, visited)
        elif is_media_file(path):
            found.append(path)
        else:
            notes.append(f"{_relative(path, root)}: skipped, not an audio or video file")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _why(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def expand_inputs(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Turn what the user chose into the files to transcribe, plus notes on what was skipped.

    - a file is kept as given, whatever its extension; so is a missing path or a dangling
      link (the engine reports those per file);
    - a folder is searched recursively in sorted order, skipping hidden files and folders,
      keeping audio and video files; every other file gets a note
      ("notes.txt: skipped, not an audio or video file", path relative to that folder);
    - a file reached twice (same file, any spelling) is kept once, at its first place.
    """
    files: list[Path] = []
    notes: list[str] = []
    seen: set[tuple] = set()

    def keep(path: Path) -> None:
        identity = _identity(path)
        if identity not in seen:
            seen.add(identity)
            files.append(path)

    for given in paths:
        given = Path(given)
        if given.is_dir():
            found: list[Path] = []
            _walk(given, given, found, notes, set())
            if not found:
                notes.append(f"{given.name or given}: no audio or video files in this folder")
            for path in found:
                keep(path)
        else:
            keep(given)
    return files, notes


def _key(folder: Path, name: str) -> tuple[str, str]:
    """Collision key: case- and Unicode-normalisation-insensitive (macOS, Windows)."""
    folder_text = os.path.abspath(str(folder))
    return (
        unicodedata.normalize("NFC", folder_text).casefold(),
        unicodedata.normalize("NFC", name).casefold(),
    )


def plan_output_stems(inputs: Sequence[Path], output_dir: Path | None) -> dict[Path, Path]:
    """Map each input to the stem its outputs get (`<stem>.<fmt>` is written later).

    The stem is `<output_dir or the input's folder>/<input's name without extension>`. When
    several inputs of the run would share a stem in one folder (a.ogg and a.m4a), all of
    them keep their extension instead (`a.ogg`, `a.m4a`) so nothing is overwritten; so does
    an input whose own extension is an export format (notes.txt would be overwritten by
    notes.txt). Any clash left after that gets `-2`, `-3`...
    """
    unique: list[Path] = list(dict.fromkeys(Path(path) for path in inputs))
    # Absolute: the job store keeps these, and "Open folder" must work from any folder.
    folders = {
        path: Path(os.path.abspath(output_dir if output_dir is not None else path.parent))
        for path in unique
    }

    groups: dict[tuple[str, str], list[Path]] = {}
    for path in unique:
        groups.setdefault(_key(folders[path], path.stem), []).append(path)

    candidates: dict[Path, str] = {}
    for path in unique:
        extension = path.suffix[1:]
        clash = len(groups[_key(folders[path], path.stem)]) > 1
        own_format = extension.lower() in EXPORT_FORMATS
        keep_extension = (clash or own_format) and extension
        candidates[path] = f"{path.stem}.{extension}" if keep_extension else path.stem

    # Never write over one of the run's inputs, nor over another input's outputs.
    inputs_keys = {_key(path.parent, path.name) for path in unique}

    def outputs(folder: Path, name: str) -> set[tuple[str, str]]:
        return {_key(folder, name + EXPORT_SUFFIXES[fmt]) for fmt in EXPORT_FORMATS}

    def free(folder: Path, name: str) -> bool:
        # Output names, not stems, must differ: `a`'s MAXQDA file (a.maxqda.txt) is the plain
        # text of a recording named `a.maxqda.wav`.
        names = outputs(folder, name)
        return not (names & taken or names & inputs_keys)

    taken: set[tuple[str, str]] = set()
    plan: dict[Path, Path] = {}
    for path in unique:
        folder = folders[path]
        name = candidates[path]
        number = 2
        while not free(folder, name):
            name = f"{candidates[path]}-{number}"
            number += 1
        taken.update(outputs(folder, name))
        plan[path] = folder / name
    return plan
