"""SessionScribe engine: from a recording to a readable transcript.

Headless by design: nothing in this package imports Qt. The CLI, the desktop app, the
tests and the benchmarks all drive the same `Engine`, which reports progress as typed
events (see `engine.events`).
"""
import os as _os

# No telemetry, ever. onnxruntime (Silero VAD) ships Microsoft's 1DS telemetry, which writes a
# session file to TMPDIR at import and may report usage; huggingface_hub reports downloads.
# Both must be switched off before those libraries load, which always happens after this.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
