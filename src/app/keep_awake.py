"""Keeps the computer from going to sleep while the queue transcribes (wakepy's "keep
running" mode: the screen may still lock and turn off), and lets it sleep when the queue is
done. No Qt here: the window turns the returned notes into status-bar text.

Fails soft: where no inhibitor answers (no session bus, a minimal desktop, a container) or
wakepy is missing, transcription goes on and the note says the computer may sleep.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

log = logging.getLogger(__name__)

HOLDING = "Keeping this computer awake while recordings are transcribed"
UNAVAILABLE = "Transcribing: could not keep this computer awake (no sleep inhibitor here); it may sleep during long jobs"
RELEASED = "Queue finished: this computer may sleep again"


def wakepy_mode() -> Any:
    """Enter wakepy's keep.running mode; the returned mode's `active` says whether it holds."""
    from wakepy import keep

    # on_fail="pass": no inhibitor is a normal answer here, not an error or a warning.
    return keep.running(on_fail="pass").__enter__()


enter_mode: Callable[[], Any] = wakepy_mode  # replaced in tests: they never touch the real bus


class KeepAwake:
    def __init__(self, enter: Callable[[], Any] | None = None) -> None:
        self._enter = enter
        self._mode: Any = None
        self.asked = False  # a hold was asked for and not yet released

    @property
    def held(self) -> bool:
        return self._mode is not None

    def hold(self) -> str | None:
        """Ask for the machine to stay awake; the status-bar note (None if already asked)."""
        if self.asked:
            return None
        self.asked = True
        try:
            mode = (self._enter or enter_mode)()
        except Exception as error:  # noqa: BLE001 - never stops a transcription
            log.info("keep-awake unavailable (%s)", type(error).__name__)
            return UNAVAILABLE
        if not getattr(mode, "active", False):
            self._exit(mode)
            log.info("keep-awake unavailable (no inhibitor)")
            return UNAVAILABLE
        self._mode = mode
        log.info("keep-awake on")
        return HOLDING

    def release(self) -> str | None:
        """Let the machine sleep again; the note (None when nothing was held)."""
        self.asked = False
        mode, self._mode = self._mode, None
        if mode is None:
            return None
        self._exit(mode)
        log.info("keep-awake off")
        return RELEASED

    @staticmethod
    def _exit(mode: Any) -> None:
        try:
            mode.__exit__(None, None, None)
        except Exception as error:  # noqa: BLE001
            log.info("keep-awake release failed (%s)", type(error).__name__)
