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

# numpy's bundled OpenBLAS starts a thread per core when numpy is imported, and those threads
# spin for a while: 0.1 s of CPU in each of our processes (the engine and its decoder), on a
# machine where every core is busy decoding and transcribing. Nothing here does BLAS-sized
# math in numpy (torch and CTranslate2 bring their own), so one thread is all it needs.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The app's door into the engine (issue 11): the app imports these names from `engine` only.
from engine.errors import Cancelled, ModelError  # noqa: E402
from engine.model_library import (  # noqa: E402
    AutoChoice,
    ModelEntry,
    auto_choice,
    catalog,
    delete_model,
    discard_partial_download,
    import_model,
    is_archive,
    missing_model,
    models_dir,
)
from engine.models import DOWNLOAD_MB, MODEL_FOLDER, ModelAdvice, download, is_model_dir  # noqa: E402

__all__ = [
    "AutoChoice",
    "Cancelled",
    "DOWNLOAD_MB",
    "MODEL_FOLDER",
    "ModelAdvice",
    "ModelEntry",
    "ModelError",
    "auto_choice",
    "catalog",
    "delete_model",
    "discard_partial_download",
    "download",
    "import_model",
    "is_archive",
    "is_model_dir",
    "missing_model",
    "models_dir",
]
