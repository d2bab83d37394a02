"""`sessionscribe` entry point: the engine's CLI subcommands, or the desktop window.

The CLI path (`transcribe`, `doctor`, `models`) must work on a machine without a display and
must not pay for Qt, so nothing here imports PySide6 at module level.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

CLI_COMMANDS = frozenset({"transcribe", "batch", "doctor", "models", "history", "languages"})
NO_DISPLAY_EXIT = 1


def no_display_reason() -> str | None:
    """Why the window cannot open here, or None. On Linux without $DISPLAY or
    $WAYLAND_DISPLAY (e.g. over SSH) Qt aborts (exit 134) blaming its xcb plugin's libraries,
    which sends people hunting for packages they already have. An explicit QT_QPA_PLATFORM
    (offscreen, vnc, ...) is the user's choice and is let through."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "sessionscribe: no display to open the window on ($DISPLAY and $WAYLAND_DISPLAY are not set); "
        "use the command line instead: sessionscribe transcribe FILE (see sessionscribe transcribe --help)"
    )


def _mistyped_command(word: str) -> bool:
    """A first word that is not an option, a subcommand or a recording/folder that exists,
    and does not look like a path either: a subcommand typed wrong (`transcrib`), which must
    be a usage error rather than a recording queued in the window."""
    if word.startswith("-") or word == "gui" or word in CLI_COMMANDS:
        return False
    path = Path(word)
    return not path.exists() and os.sep not in word and not path.suffix


def build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionscribe [gui]",
        description="Open the SessionScribe window; recordings given here are queued and started.",
        epilog="Without a window: sessionscribe transcribe|doctor|models ... (see sessionscribe transcribe --help).",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="recordings or folders to queue")
    parser.add_argument("--model", help="model name (e.g. large-v3) or a folder holding a CTranslate2 model")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="FMT",
        help="output format: txt, srt, vtt, json, docx, maxqda or rttm (repeat, or separate with commas)",
    )
    parser.add_argument("--output-dir", type=Path, help="where transcripts are written (default: beside each recording)")
    return parser


def gui_overrides(args: argparse.Namespace) -> dict:
    """Options given on the command line: they apply to this run and are never saved."""
    overrides: dict = {}
    if args.model:
        model = Path(args.model).expanduser()
        overrides["model"] = str(model.resolve()) if model.is_dir() else args.model
    if args.device:
        overrides["device"] = args.device
    if args.formats:
        formats = [f.strip().lower() for item in args.formats for f in item.split(",") if f.strip()]
        overrides["formats"] = tuple(dict.fromkeys(formats))
    if args.output_dir:
        overrides["output_dir"] = args.output_dir.expanduser().resolve()
    return overrides


def console_main() -> int:
    """The `sessionscribe` console script. Headless commands exit without the interpreter's
    slow teardown of torch and friends (see engine.cli.exit_now); the window exits normally."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in CLI_COMMANDS:
        from engine import exit_now

        exit_now(code)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from engine import disable_core_dumps  # light: no torch, no Qt

    disable_core_dumps()  # the window holds transcripts in memory too
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in CLI_COMMANDS:
        from engine import cli_main

        return int(cli_main(argv) or 0)
    if argv and _mistyped_command(argv[0]):
        from engine import build_parser

        build_parser().parse_args(argv)  # exits 2: "invalid choice ... did you mean ...?"
    if argv and argv[0] == "gui":
        argv = argv[1:]
    parser = build_gui_parser()
    args = parser.parse_args(argv)
    from engine import EXPORT_FORMATS

    overrides = gui_overrides(args)
    unknown = [f for f in overrides.get("formats", ()) if f not in EXPORT_FORMATS]
    if unknown:
        parser.error(f"unknown format {', '.join(unknown)} (choose from {', '.join(EXPORT_FORMATS)})")
    reason = no_display_reason()
    if reason:  # before Qt is imported: its abort would blame the wrong thing
        print(reason, file=sys.stderr)
        return NO_DISPLAY_EXIT
    try:
        import PySide6  # noqa: F401 - only to know whether the window can open
    except ImportError:  # the engine-only install (`pip install .`, no [gui] extra)
        print(
            "sessionscribe: the window is not installed here (install the [gui] extra: "
            "pip install \"sessionscribe[gui]\"); the command line works: sessionscribe transcribe FILE",
            file=sys.stderr,
        )
        return NO_DISPLAY_EXIT
    from app.gui import run_gui  # Qt is imported only now

    return run_gui(list(args.paths), overrides)


if __name__ == "__main__":
    sys.exit(main())
