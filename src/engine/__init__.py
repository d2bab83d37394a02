"""SessionScribe engine: from a recording to a readable transcript.

Headless by design: nothing in this package imports Qt. The CLI, the desktop app, the
tests and the benchmarks all drive the same `Engine`, which reports progress as typed
events (see `engine.events`) and returns a `Transcript`.

This module is the front ends' only door: `src/app` imports `from engine import X` for the
names in `__all__` and nothing else (tests/test_door.py pins both). Names load lazily, on
first use, so `import engine` stays light: the window opens without torch, CTranslate2 or
faster-whisper, which load on the engine's own thread when the first job runs.
"""
import importlib as _importlib
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

# name -> the module that defines it. Grouped by room (docs/ARCHITECTURE.md).
_DOOR: dict[str, str] = {
    # running jobs
    "Engine": "engine.pipeline",
    "JobOutcome": "engine.job_run",
    "JobStatus": "engine.status",
    "TranscribeOptions": "engine.options",
    "EXPORT_FORMATS": "engine.options",
    "DEFAULT_FORMATS": "engine.options",
    "EXPORT_SUFFIXES": "engine.options",
    "DEVICES": "engine.options",
    "COMPUTE_TYPES": "engine.options",
    "CHANNEL_SETTINGS": "engine.options",
    "events": "engine.events",  # the module: the typed events, by name (events.JobDone)
    "Stage": "engine.events",
    "RunReport": "engine.report",
    "SessionScribeError": "engine.errors",
    # the transcript and its files
    "Transcript": "engine.transcript",
    "TranscriptInfo": "engine.transcript",
    "Segment": "engine.segments",
    "Word": "engine.segments",
    "export_transcript": "engine.export",  # engine.export.export (the module shadows the name)
    "render": "engine.export",
    "mode_limit": "engine.export",
    "JobStore": "engine.store",
    "file_fingerprint": "engine.store",
    "recount_speakers": "engine.speaker_recount",  # engine.speaker_recount.recount
    "said_by": "engine.speaker_labels",
    "merged": "engine.speaker_labels",  # "Speaker 3 is Speaker 2": the numbers after a merge
    "merged_names": "engine.speaker_labels",
    "sentences": "engine.speaker_labels",  # a turn's row cut back into its sentences
    # recordings
    "expand_inputs": "engine.inputs",
    "plan_output_stems": "engine.inputs",
    "resolved": "engine.inputs",
    "probe": "engine.decode",
    # the machine: models, device, load
    "MODEL_FOLDER": "engine.models",
    "ModelAdvice": "engine.models",
    "download": "engine.models",
    "is_model_dir": "engine.models",
    "list_models": "engine.models",
    "DOWNLOAD_MB": "engine.models",
    "Cancelled": "engine.errors",
    "ModelError": "engine.errors",
    # ...the model manager's: what is on disk, import, delete, what "auto" runs
    "AutoChoice": "engine.model_library",
    "ModelEntry": "engine.model_library",
    "auto_choice": "engine.model_library",
    "catalog": "engine.model_library",
    "delete_model": "engine.model_library",
    "discard_partial_download": "engine.model_library",
    "import_model": "engine.model_library",
    "missing_model": "engine.model_library",
    "models_dir": "engine.model_library",
    "check_device": "engine.health",
    "SystemSampler": "engine.monitor",
    # the process
    "APP_NAME": "engine.folders",
    "prepare_process": "engine.process",
    "disable_core_dumps": "engine.privacy",
    "setup_logging": "engine.logs",
    "cli_main": "engine.cli",
    "build_parser": "engine.cli",
    "exit_now": "engine.cli",
}
_RENAMED = {"cli_main": "main", "export_transcript": "export", "recount_speakers": "recount"}
_MODULES = {"events"}  # names that are modules, not attributes of one

__all__ = sorted(_DOOR)


def __getattr__(name: str):
    module = _DOOR.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    loaded = _importlib.import_module(module)
    value = loaded if name in _MODULES else getattr(loaded, _RENAMED.get(name, name))
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
