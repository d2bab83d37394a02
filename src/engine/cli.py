"""`sessionscribe transcribe | doctor | models`: the headless command line (imports no Qt).

Exit codes: 0 every input succeeded, 1 any input failed (the others still done), 2 usage.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Sequence, TextIO

from engine.options import COMPUTE_TYPES, DEVICES, EXPORT_FORMATS, TranscribeOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors; keep that
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"sessionscribe: {message}\n")


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [fmt for fmt in formats if fmt not in EXPORT_FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(unknown) or '(none)'}; choose from {','.join(EXPORT_FORMATS)}"
        )
    return formats


def _batch_size(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected 'auto' or a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("batch size must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sessionscribe", description="Private, fast transcription of session recordings.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("transcribe", help="transcribe recordings or folders of them")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    run.add_argument("--model", default="auto", help="model name or folder (default: large-v3-turbo on CUDA, small on CPU)")
    run.add_argument("--device", default="auto", choices=DEVICES)
    run.add_argument("--compute-type", default="auto", choices=COMPUTE_TYPES)
    run.add_argument("--batch-size", default=None, type=_batch_size, metavar="auto|N")
    run.add_argument("--language", default="auto", metavar="auto|CODE")
    run.add_argument("--format", default=",".join(EXPORT_FORMATS), type=_formats, metavar="txt,srt,vtt,json")
    run.add_argument("--output-dir", type=Path, default=None)
    run.add_argument("--hotwords", default=None, metavar="TEXT")
    # Words are always timed now (cues take their times from them) and always in the JSON.
    run.add_argument("--word-timestamps", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--report", type=Path, default=None, metavar="FILE.json")

    commands.add_parser("doctor", help="check the GPU/CUDA set-up and the settings chosen")

    models = commands.add_parser("models", help="list or download models")
    model_commands = models.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    model_commands.add_parser("list")
    download = model_commands.add_parser("download")
    download.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "transcribe":
            return transcribe_command(args)
        if args.command == "doctor":
            return doctor_command()
        return models_command(args)
    except KeyboardInterrupt:
        print("sessionscribe: interrupted", file=sys.stderr)
        return 130


# -- transcribe -------------------------------------------------------------------------------
def transcribe_command(args: argparse.Namespace) -> int:
    from engine.condition import warm_imports

    warm_imports()  # the slowest import: start it before anything else
    from engine.inputs import expand_inputs, plan_output_stems
    from engine.logs import setup_logging

    setup_logging()
    options = TranscribeOptions(
        model=args.model,
        device=args.device,
        compute_type=args.compute_type,
        batch_size=args.batch_size,
        language=None if args.language == "auto" else args.language,
        hotwords=args.hotwords,
        formats=args.format,
        output_dir=args.output_dir,
    )
    inputs, notes = expand_inputs(args.paths)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not inputs:
        print("sessionscribe: no recordings to transcribe", file=sys.stderr)
        return EXIT_FAILED
    stems = plan_output_stems(inputs, args.output_dir)
    progress = ProgressPrinter(sys.stderr)

    from engine.pipeline import Engine

    store = _open_store()
    engine = Engine(progress.handle, store=store)
    failures = 0
    reports = []
    try:
        for path in inputs:
            outcome = engine.transcribe(path, options, output_stem=stems[path])
            if outcome.status != "done":
                failures += 1
            if outcome.report is not None:
                reports.append({"input": str(path), **outcome.report.to_dict()})
            elif outcome.status == "failed":
                reports.append({"input": str(path), "failed": outcome.reason})
    finally:
        engine.close()
        if store is not None:
            store.close()
    report_failed = False
    if args.report is not None:
        from engine.errors import ExportError
        from engine.export import write_atomic

        try:
            write_atomic(args.report, json.dumps({"jobs": reports}, indent=2) + "\n")
        except ExportError as error:  # the transcripts are written; only the report is lost
            print(f"error: {error}", file=sys.stderr)
            report_failed = True
    done = len(inputs) - failures
    print(f"{done} of {len(inputs)} recording(s) transcribed", file=sys.stderr)
    return EXIT_OK if failures == 0 and not report_failed else EXIT_FAILED


def _open_store():
    """The job store makes reruns resume; without one (unwritable data folder) we still run."""
    from engine.store import JobStore

    try:
        store = JobStore()
        store.mark_interrupted_on_open()
        return store
    except Exception as error:  # e.g. a read-only home: transcribe anyway, just without resume
        print(f"note: job store unavailable ({error}); runs will not resume", file=sys.stderr)
        return None


class ProgressPrinter:
    """A bar per stage on a terminal, plain lines otherwise. Never prints transcript text."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last_line = 0.0
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def handle(self, event) -> None:
        from engine import events as ev

        with self._lock:
            if isinstance(event, ev.JobStarted):
                self._names[event.job_id] = event.path.name
                self._line(f"{event.path.name}: started" + (f" ({event.duration_s / 60:.1f} min)" if event.duration_s else ""))
            elif isinstance(event, ev.StageProgress):
                self._progress(event)
            elif isinstance(event, ev.StageFinished):
                self._line(f"{self._names.get(event.job_id, '')}: {event.stage.value} done ({event.seconds:.2f} s)")
            elif isinstance(event, ev.JobNote):
                self._line(f"{event.level}: {event.message}")
            elif isinstance(event, ev.JobFailed):
                self._line(f"error: {event.reason}")
            elif isinstance(event, ev.JobCancelled):
                self._line(f"{self._names.get(event.job_id, '')}: cancelled")
            elif isinstance(event, ev.DeviceNotice):
                self._line(f"warning: {event.message}" + (f" (fix: {event.fix})" if event.fix else ""))
            elif isinstance(event, ev.ModelDownloadProgress):
                self._download(event)
            elif isinstance(event, ev.JobDone):
                report = event.report
                outputs = ", ".join(str(path) for path in event.outputs.values())
                self._line(
                    f"{self._names.get(event.job_id, '')}: done in {report.wall_s:.1f} s "
                    f"(RTF {report.rtf:.3f}, {report.device}/{report.compute_type}, batch {report.batch_size}) -> {outputs}"
                )
                self._line(f"speech: {report.check_text()}")
                self._line(f"cost: {report.cost_text()}")

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def _progress(self, event) -> None:
        name = self._names.get(event.job_id, "")
        if self.tty:
            filled = int(event.fraction * 30)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r\x1b[2K{name}: {event.stage.value:<10} [{bar}] {event.fraction * 100:5.1f}%")
            self.stream.flush()
            return
        now = time.monotonic()
        if now - self._last_line >= 2.0 or event.fraction >= 1.0:  # plain lines: not a flood
            self._last_line = now
            self.stream.write(f"{name}: {event.stage.value} {event.fraction * 100:.0f}%\n")
            self.stream.flush()

    def _download(self, event) -> None:
        total = f"{event.total_bytes / 2**20:.0f} MiB" if event.total_bytes else "?"
        text = f"downloading {event.model}: {event.done_bytes / 2**20:.0f} MiB of {total}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
        else:
            now = time.monotonic()
            if now - self._last_line >= 2.0:
                self._last_line = now
                self._line(text)


# -- doctor -----------------------------------------------------------------------------------
def doctor_command() -> int:
    from engine.hardware import plan_runtime, usable_cores
    from engine.health import check_device

    health = check_device()
    for line in health.lines():
        print(line)
    for fix in health.fixes:
        print(f"Fix: {fix}")
    runtime = plan_runtime(TranscribeOptions(), health.cuda_usable, health.free_vram_bytes)
    print(f"CPU cores used: {usable_cores()}")
    print(
        f"Chosen settings: device {runtime.device}, model {runtime.model}, compute type "
        f"{runtime.compute_type}, batch size {runtime.batch_size}, CPU threads {runtime.cpu_threads}, "
        f"workers {runtime.num_workers}, VAD threads {runtime.vad_workers}"
    )
    if not health.cuda_usable:
        print("Transcription will run on the CPU.")
    return EXIT_OK


# -- models -----------------------------------------------------------------------------------
def models_command(args: argparse.Namespace) -> int:
    from engine.errors import Cancelled, ModelError
    from engine.models import MODEL_NAMES, download, list_models

    if args.models_command == "list":
        for info in list_models():
            where = str(info.path) if info.path else "not downloaded"
            print(f"{info.name:<16} {where}")
        return EXIT_OK
    if args.name not in MODEL_NAMES and "/" not in args.name:
        print(f"sessionscribe: unknown model {args.name}; choose from {', '.join(MODEL_NAMES)}", file=sys.stderr)
        return EXIT_USAGE
    printer = ProgressPrinter(sys.stderr)
    from engine.events import ModelDownloadProgress

    try:
        folder = download(args.name, lambda done, total: printer.handle(ModelDownloadProgress(args.name, done, total)))
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Cancelled:
        return EXIT_FAILED
    print(f"\n{args.name}: ready in {folder}", file=sys.stderr)
    return EXIT_OK


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: unloading torch, CTranslate2 and onnxruntime
    takes ~0.7 s after the work is done. Everything that matters is already safe by then:
    exports are written atomically and fsynced, the job store is closed; logs and standard
    streams are flushed here."""
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
