"""Measurements for bench/app_timing.py, switched on by SESSIONSCRIBE_BENCH=1 (never otherwise).

Prints to stdout:
    window-shown <unix time>                      first paint of the main window
    ui-stall p50=<ms> p99=<ms> max=<ms> n=<ticks>  lateness of a 10 ms timer on the UI thread,
                                                  from the job's first engine event to its end
    startup-stall max=<ms> n=<ticks>              the same before the job started (engine
                                                  imports and preload), reported apart
    queue-done <unix time>                        every queued recording has finished
and then quits the app (the job is finished, so closing does not ask).
"""
from __future__ import annotations

import os
import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer

ENV = "SESSIONSCRIBE_BENCH"
TICK_MS = 10.0


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(pct / 100.0 * (len(ordered) - 1))))
    return ordered[rank]


class BenchHook(QObject):
    def __init__(self, window, app) -> None:
        super().__init__(window)
        self.window, self.app = window, app
        self.shown: float | None = None
        self.gaps: list[float] = []  # while a job runs
        self.startup_gaps: list[float] = []  # from the first paint to the job's start
        self._job_running = False
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(int(TICK_MS))
        self._timer.timeout.connect(self._tick)
        window.installEventFilter(self)
        window.controller.job_finished.connect(self._job_finished)
        window.adapter.event.connect(self._engine_event)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and self.shown is None:
            QTimer.singleShot(0, self._mark_shown)  # once this paint has been handled
        return False

    def _mark_shown(self) -> None:
        if self.shown is None:
            self.shown = time.time()
            print(f"window-shown {self.shown:.6f}", flush=True)
            self._timer.start()

    def _engine_event(self, event) -> None:
        if not self._job_running and getattr(event, "job_id", None) is not None:
            self._job_running = True  # the engine has begun a job: its stalls count from here

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap = (now - self._last) * 1000.0
            (self.gaps if self._job_running else self.startup_gaps).append(gap)
        self._last = now

    def _job_finished(self, _job_id: str) -> None:
        if self.window.controller.running_job() is not None or self.window.queue_model.next_queued() is not None:
            return
        self._timer.stop()
        late = [max(0.0, gap - TICK_MS) for gap in self.gaps]
        print(
            f"ui-stall p50={_percentile(late, 50):.2f} p99={_percentile(late, 99):.2f} "
            f"max={max(late, default=0.0):.2f} n={len(late)}",
            flush=True,
        )
        startup = [max(0.0, gap - TICK_MS) for gap in self.startup_gaps]
        print(f"startup-stall max={max(startup, default=0.0):.2f} n={len(startup)}", flush=True)
        print(f"queue-done {time.time():.6f}", flush=True)
        QTimer.singleShot(0, self.window.close)
