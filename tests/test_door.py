"""The engine's one door: what front ends may import, and what the engine may not."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "src" / "app"
ENGINE = ROOT / "src" / "engine"

# Changing this list changes what the app may rely on: do it on purpose, with the app.
DOOR = [
    "APP_NAME", "CHANNEL_SETTINGS", "COMPUTE_TYPES", "DEFAULT_FORMATS", "DEVICES", "EXPORT_FORMATS", "EXPORT_SUFFIXES", "Engine", "JobOutcome", "JobStatus",
    "JobStore", "MODEL_FOLDER", "ModelAdvice", "RunReport", "Segment", "SessionScribeError", "Stage",
    "SystemSampler", "TranscribeOptions", "Transcript", "TranscriptInfo", "Word", "build_parser",
    "check_device", "cli_main", "disable_core_dumps", "download", "events", "exit_now",
    "expand_inputs", "export_transcript", "file_fingerprint", "is_model_dir", "list_models",
    "mode_limit", "plan_output_stems", "prepare_process", "probe", "render", "resolved",
    "setup_logging",
    # the model manager (issue 13)
    "AutoChoice", "Cancelled", "DOWNLOAD_MB", "ModelEntry", "ModelError", "auto_choice", "catalog",
    "delete_model", "discard_partial_download", "import_model", "missing_model", "models_dir",
    # who said what, told apart again in a finished job (issue 12)
    "recount_speakers", "said_by", "merged", "merged_names", "sentences",
]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) for every import statement in a file, however deeply nested."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def test_the_door_lists_exactly_the_pinned_names_and_each_one_resolves():
    assert engine.__all__ == sorted(DOOR)
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    assert callable(engine.export_transcript) and callable(engine.render)  # functions, not modules


def test_the_app_imports_the_engine_only_through_its_door():
    strays = []
    for path in sorted(APP.rglob("*.py")):
        for module, names, line in _imports(path):
            if module.startswith("engine.") or (module == "engine" and not names):
                strays.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            elif module == "engine":
                strays.extend(
                    f"{path.relative_to(ROOT)}:{line} imports engine.{name} (not in the door)"
                    for name in names
                    if name not in DOOR
                )
    assert strays == []


def test_the_engine_imports_no_qt():
    qt = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "app")
    strays = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(ENGINE.rglob("*.py"))
        for module, _names, line in _imports(path)
        if module.split(".")[0] in qt
    ]
    assert strays == []


def test_opening_the_door_loads_nothing_heavy():
    """The window opens before torch, CTranslate2 or faster-whisper are imported."""
    code = (
        "import sys; from engine import TranscribeOptions, Transcript, Stage, events, JobStatus; "
        "print(sorted(m for m in ('torch', 'ctranslate2', 'faster_whisper', 'av', 'onnxruntime') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_qt_the_command_line_works_and_the_window_says_what_is_missing(tmp_path):
    """The engine-only install (no [gui] extra): PySide6 cannot be imported."""
    block = "import sys; sys.modules['PySide6'] = None; from app.launcher import main; "
    env = {"PYTHONPATH": str(ROOT / "src"), "DISPLAY": ":0", "HOME": str(tmp_path)}
    cli = subprocess.run(
        [sys.executable, "-c", block + "sys.exit(main(['languages']))"], capture_output=True, text=True, env=env
    )
    assert cli.returncode == 0 and "en" in cli.stdout.split(), cli.stderr
    window = subprocess.run([sys.executable, "-c", block + "sys.exit(main([]))"], capture_output=True, text=True, env=env)
    assert window.returncode == 1
    assert window.stderr.strip().splitlines() == [
        'sessionscribe: the window is not installed here (install the [gui] extra: pip install "sessionscribe[gui]"); '
        "the command line works: sessionscribe transcribe FILE"
    ]
