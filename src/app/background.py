"""Run short blocking calls (device check, model listing, probing, downloads) off the UI thread.

Results come back through Qt signals owned by an object that lives on the UI thread, so the
callbacks always run on the UI thread. A failure arrives as one line of text, never a
traceback: the caller decides where that line is shown.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.fmt import REASON_LIMIT, one_line

log = logging.getLogger(__name__)

_POOL: QThreadPool | None = None


def pool() -> QThreadPool:
    """A private pool: a long model download must not starve the device check or probes."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(4)
    return _POOL


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(str)
    progress = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[..., Any], relay: _Relay, with_progress: bool) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay
        self._with_progress = with_progress

    def run(self) -> None:
        try:
            result = self._fn(self._progress) if self._with_progress else self._fn()
        except BaseException as error:  # noqa: BLE001 - every failure becomes one line
            log.debug("background task failed", exc_info=True)
            # The engine's lines carry their fix at the end: not cut at 200 characters.
            self._send(self._relay.failed, one_line(str(error) or type(error).__name__, REASON_LIMIT))
        else:
            self._send(self._relay.done, result)

    def _progress(self, value: Any) -> None:
        self._send(self._relay.progress, value)

    @staticmethod
    def _send(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:
            pass  # the app is shutting down and the receiver is gone: nobody to tell


# Relays must outlive their tasks until the queued signal has been delivered.
_LIVE: set[_Relay] = set()


def run_in_background(
    fn: Callable[..., Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
) -> None:
    """Call `fn()` on a pool thread (or `fn(report)` when `on_progress` is given).

    Callbacks run on the UI thread; the relay is created here, on the caller's thread, so Qt
    queues the signals to it.
    """
    relay = _Relay()
    _LIVE.add(relay)

    def finish() -> None:
        _LIVE.discard(relay)
        relay.deleteLater()

    if on_done is not None:
        relay.done.connect(on_done)
    if on_error is not None:
        relay.failed.connect(on_error)
    if on_progress is not None:
        relay.progress.connect(on_progress)
    relay.done.connect(lambda _result: finish())
    relay.failed.connect(lambda _reason: finish())
    pool().start(_Task(fn, relay, with_progress=on_progress is not None))
