"""The speakers stage's thread (engine.voices_ahead): order, errors, cancel, bounded memory."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.errors import Cancelled, ModelError
from engine.producer import Window
from engine.report import StageClock
from engine.voices_ahead import VoicesAhead


class FakeRun:
    """Stands in for engine.diarize.DiarizationRun: records which windows it embedded."""

    def __init__(self, gate: threading.Event | None = None, fail_at: int | None = None) -> None:
        self.gate = gate
        self.fail_at = fail_at
        self.embedded: list[float] = []

    def embed(self, audio, offset_s, regions, cancel=None):
        while self.gate is not None and not self.gate.wait(0.01):
            if cancel is not None and cancel():
                raise Cancelled()
        if self.fail_at is not None and len(self.embedded) == self.fail_at:
            raise RuntimeError("the speaker model broke")
        self.embedded.append(offset_s)
        return ("voices of", offset_s)


def _window(index: int) -> Window:
    return Window(index, index * 16000, 16000, np.zeros(16000, np.float32), [])


def _ahead(run, cancel=None, shown=None, **kwargs) -> VoicesAhead:
    return VoicesAhead(lambda: run, StageClock(), cancel or threading.Event(),
                       (shown if shown is not None else []).append, **kwargs)


def test_each_window_gets_its_own_voices_in_order():
    run, shown = FakeRun(), []
    ahead = _ahead(run, shown=shown)
    try:
        for i in range(5):
            ahead.embed(_window(i))
        assert [ahead.voices(_window(i)) for i in range(5)] == [("voices of", float(i)) for i in range(5)]
        assert [w.index for w in shown] == [0, 1, 2, 3, 4]  # progress per window, in order
        assert ahead.voices(_window(9)) is None  # never queued
    finally:
        ahead.close()


def test_the_producer_waits_while_two_windows_wait_and_stops_on_cancel():
    """Each queued window holds its audio (19 MB for 300 s): no more than `ahead` at once."""
    gate, cancel = threading.Event(), threading.Event()
    ahead = _ahead(FakeRun(gate), cancel, ahead=2)
    try:
        ahead.embed(_window(0))
        ahead.embed(_window(1))
        outcome: list[str] = []

        def third() -> None:
            try:
                ahead.embed(_window(2))
                outcome.append("queued")
            except Cancelled:
                outcome.append("cancelled")

        blocked = threading.Thread(target=third)
        blocked.start()
        time.sleep(0.3)
        assert blocked.is_alive() and not outcome  # a third window waits for room
        cancel.set()
        blocked.join(5)
        assert outcome == ["cancelled"]
    finally:
        ahead.close()


def test_a_failing_embedding_or_load_fails_where_the_voices_are_asked_for():
    ahead = _ahead(FakeRun(fail_at=1))
    try:
        ahead.embed(_window(0))
        ahead.embed(_window(1))
        assert ahead.voices(_window(0)) == ("voices of", 0.0)
        with pytest.raises(RuntimeError, match="speaker model broke"):
            ahead.voices(_window(1))
    finally:
        ahead.close()

    def missing():
        raise ModelError("the speaker model is not installed", kind="no-speaker-model")

    broken = VoicesAhead(missing, StageClock(), threading.Event(), lambda window: None)
    try:
        broken.embed(_window(0))
        with pytest.raises(ModelError):
            broken.voices(_window(0))
        with pytest.raises(ModelError):
            broken.run()
    finally:
        broken.close()


def test_close_stops_an_embedding_in_progress_and_drops_the_queue():
    gate = threading.Event()
    run = FakeRun(gate)
    ahead = _ahead(run)
    ahead.embed(_window(0))
    ahead.embed(_window(1))
    started = time.perf_counter()
    ahead.close()  # window 0 is embedding (held at the gate), window 1 is queued
    assert time.perf_counter() - started < 2.0
    assert run.embedded == []
    assert not any(t.name.startswith("speakers") for t in threading.enumerate())
