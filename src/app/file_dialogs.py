"""File dialogs that leave no record of the folders the clinician opened.

Every QFileDialog writes its history and last-visited folder to QSettings("QtProject") when it
closes: ~/.config/QtProject.conf on Linux, 0644, kept forever. Recording folders are often
named after clients. So here:

- Qt's user-scope settings are redirected into a private folder of ours (0700, beside
  settings.json): whatever Qt writes never lands in the shared config folder;
- after each dialog its "FileDialog" group is removed there (history off);
- dialogs are Qt's own, not the platform's: a GTK dialog also records the files chosen in
  ~/.local/share/recently-used.xbel, which no option of ours can turn off;
- the next dialog starts in the last folder used, remembered in memory for this run only.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from app.settings import config_dir

_OPTIONS = QFileDialog.Option.DontUseNativeDialog
_last_folder: Path | None = None  # this run only; never saved
_redirected: str | None = None


def protect_qt_settings() -> Path:
    """Point Qt's user-scope settings at our private folder (idempotent); returns it.

    Call before any dialog opens (run_gui does, and so does every function here).
    """
    global _redirected
    folder = config_dir() / "qt"
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # only folders we create
    folder.mkdir(mode=0o700, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o700)
    if _redirected != str(folder):
        for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
            QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
        _redirected = str(folder)
    return folder


def _forget() -> None:
    """Drop what the dialog just saved (history, last folder, sidebar); remove an empty file."""
    settings = QSettings(QSettings.Scope.UserScope, "QtProject")
    settings.remove("FileDialog")
    settings.sync()
    path = settings.fileName()
    del settings
    try:
        if path and os.path.isfile(path) and os.path.getsize(path) == 0:
            os.unlink(path)
    except OSError:
        pass


def _start(folder: Path | str | None) -> str:
    for candidate in (folder, _last_folder, Path.home()):
        if candidate and Path(candidate).is_dir():
            return str(candidate)
    return str(Path.home())


def open_files(parent: QWidget | None, caption: str, name_filter: str, folder: Path | None = None) -> list[Path]:
    global _last_folder
    protect_qt_settings()
    try:
        files, _ = QFileDialog.getOpenFileNames(parent, caption, _start(folder), name_filter, "", _OPTIONS)
    finally:
        _forget()
    paths = [Path(name) for name in files]
    if paths:
        _last_folder = paths[0].parent
    return paths


def existing_folder(parent: QWidget | None, caption: str, folder: Path | str | None = None) -> Path | None:
    global _last_folder
    protect_qt_settings()
    try:
        chosen = QFileDialog.getExistingDirectory(
            parent, caption, _start(folder), _OPTIONS | QFileDialog.Option.ShowDirsOnly
        )
    finally:
        _forget()
    if not chosen:
        return None
    _last_folder = Path(chosen).parent
    return Path(chosen)


def save_file(parent: QWidget | None, caption: str, suggested: Path, name_filter: str) -> Path | None:
    protect_qt_settings()
    try:
        chosen, _ = QFileDialog.getSaveFileName(parent, caption, str(suggested), name_filter, "", _OPTIONS)
    finally:
        _forget()
    return Path(chosen) if chosen else None
