"""Start the Qt application and the main window."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _setup_logging() -> None:
    # The engine's private log file (0600, no transcript text); the app never prints tracebacks.
    try:
        from engine import setup_logging

        setup_logging()
        engine_logger = logging.getLogger("sessionscribe")
        app_logger = logging.getLogger("app")
        for handler in engine_logger.handlers:
            if handler not in app_logger.handlers:
                app_logger.addHandler(handler)
        app_logger.setLevel(logging.INFO)
    except Exception as error:  # noqa: BLE001 - logging is a help, not a requirement
        from engine import SessionScribeError

        if isinstance(error, SessionScribeError):  # e.g. a log folder others can write: say why
            print(f"sessionscribe: {error}; running without a log file", file=sys.stderr)


def run_gui(paths: list[Path], overrides: dict[str, Any] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from app.resources import app_icon
    from app.window import MainWindow
    from engine import APP_NAME, prepare_process

    prepare_process()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName("sessionscribe")
    app.setWindowIcon(app_icon())
    _setup_logging()
    from app.file_dialogs import protect_qt_settings

    protect_qt_settings()  # before any dialog: Qt's own settings never reach ~/.config

    def hook(kind, value, tb) -> None:
        # A bug in a slot must not kill the window or show a traceback: log it, say one line.
        log.error("unexpected error", exc_info=(kind, value, tb))
        for widget in app.topLevelWidgets():
            if isinstance(widget, MainWindow):
                widget.show_message(f"Something went wrong ({kind.__name__}); details are in the log")

    sys.excepthook = hook
    window = MainWindow()
    if overrides:
        window.settings.overrides = dict(overrides)
        window.settings_panel.load(window.settings.options)
    if os.environ.get("SESSIONSCRIBE_BENCH") == "1":  # bench/app_timing.py only
        from app.bench_hook import BenchHook

        window.bench_hook = BenchHook(window, app)
    window.show()
    # The engine's slow imports run on its thread now, ahead of any job queued below, so no
    # job's progress drawing competes with them for the GIL.
    window.adapter.preload(window.settings.effective_options())
    if paths:
        window.add_paths(paths)
        window.controller.start()
    return app.exec()
