"""SessionScribe engine: from a recording to a readable transcript.

Headless by design: nothing in this package imports Qt. The CLI, the desktop app, the
tests and the benchmarks all drive the same `Engine`, which reports progress as typed
events (see `engine.events`).
"""
