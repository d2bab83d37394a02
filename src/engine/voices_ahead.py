"""The speakers stage's own thread: each window's voices embedded while the model transcribes it.

The producer used to embed a window's speech (engine.diarize) on its own thread before handing
the window on. Then the model waited for torch's import, the speaker model's load and the
first window's embeddings before its first clip (~3 s of a 10-min job with one core idle,
tiny.en on this 2-core CPU), and for each later window's embeddings as well. Now the producer
hands a window on at once and queues its embedding here; the job waits only where it commits a
window, for that window's voices, which are ready by then in the usual case (embedding a window
takes about half as long as transcribing it here).

    ahead = VoicesAhead(lambda: engine.diarizer(device).start(duration_s), clock, cancel, on_embedded)
    ahead.embed(window)                 # the producer's thread; returns at once
    voices = ahead.voices(window)       # the transcribing thread, as the window is committed
    ahead.run().add_voices(voices)      # engine.diarize.DiarizationRun
    ahead.close()
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable

from engine.errors import Cancelled
from engine.events import Stage
from engine.report import StageClock

if TYPE_CHECKING:
    from engine.diarize import DiarizationRun, Voices
    from engine.producer import Window

# Windows queued or being embedded at once: each holds its audio until embedded (~19 MB a
# 300-s CPU window), and the producer waits while this many do.
AHEAD_WINDOWS = 2


class VoicesAhead:
    def __init__(
        self,
        start_run: Callable[[], "DiarizationRun"],
        clock: StageClock,
        cancel: threading.Event,
        on_embedded: Callable[["Window"], None],
        ahead: int = AHEAD_WINDOWS,
    ) -> None:
        self._clock = clock
        self._cancel = cancel
        self._closed = threading.Event()
        self._on_embedded = on_embedded
        self._room = threading.Semaphore(ahead)
        self._pending: dict[int, Future] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speakers")
        # Loading first, on the same thread: torch's import and the model's load overlap the
        # transcription model's load and first clips instead of coming before them.
        self._run: Future = self._pool.submit(self._timed, start_run)

    def run(self) -> "DiarizationRun":
        """The job's diarization run, once the speaker model is loaded (raises its error)."""
        return self._run.result()

    def embed(self, window: "Window") -> None:
        """Queue the embedding of `window`'s speech; waits only while AHEAD_WINDOWS are queued."""
        while not self._room.acquire(timeout=0.1):
            if self._stopped():
                raise Cancelled()
        if self._stopped():  # the room came from a window that stopped on the cancel
            self._room.release()
            raise Cancelled()
        try:
            self._pending[window.index] = self._pool.submit(self._embed, window)
        except BaseException:
            self._room.release()
            raise

    def voices(self, window: "Window") -> "Voices | None":
        """`window`'s voices, waited for (None if it was not queued); raises the embedding's error."""
        future = self._pending.pop(window.index, None)
        return None if future is None else future.result()

    def close(self) -> None:
        """Stop: what is queued is dropped, what is embedding stops at its next batch."""
        self._closed.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _stopped(self) -> bool:
        return self._cancel.is_set() or self._closed.is_set()

    def _timed(self, work: Callable[[], object]):
        with self._clock.timed(Stage.SPEAKERS.value):
            return work()

    def _embed(self, window: "Window") -> "Voices":
        try:
            run = self.run()
            voices = self._timed(lambda: run.embed(window.audio, window.start_s, window.speech, cancel=self._stopped))
            self._on_embedded(window)
            return voices
        finally:
            self._room.release()
