"""Work-around for reference-counting bugs of PySide6 6.12 wheels on Python < 3.12.

Measured here (PySide6 6.12.0, Python 3.11): every call from Python to a void Qt method
(`label.setText(...)`, `painter.drawRect(...)`) hands back `None` without a reference, and
`Signal.emit()` does the same with `True`. Each call lowers the singleton's reference count
by one. From Python 3.12 on these singletons are immortal and nothing happens, but on 3.11
the app aborts ("none_dealloc: deallocating None") after some 10^5 calls: minutes of live
progress and gauge updates, i.e. in the middle of a long transcription.

`protect_singletons()` measures whether the running PySide6 has the bug and, only then, gives
None, True and False a reference reserve so large that they behave as immortal, exactly as
Python 3.12 treats them. It is idempotent and costs nothing when the bug is absent.
"""
from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 40  # far more than any process can lose; still far from Py_ssize_t overflow
_done = False


def _leaks() -> bool:
    from PySide6.QtCore import QObject

    probe = QObject()
    losses = 0
    for _ in range(3):
        before = sys.getrefcount(None)
        probe.setObjectName("probe")  # a void method: returns None
        losses += before - sys.getrefcount(None)
    return losses >= 3


def protect_singletons() -> bool:
    """Apply the reserve if needed; True when it was applied (now or earlier)."""
    global _done
    if _done:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not _leaks():
        return False
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object (a Py_ssize_t).
        ctypes.c_ssize_t.from_address(id(singleton)).value += _RESERVE
    _done = True
    return True
