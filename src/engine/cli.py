"""`sessionscribe transcribe | batch | doctor | models | history`: the headless command line (imports no Qt).

Exit codes: 0 every input succeeded, 1 any input failed (the others still done), 2 usage.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Sequence, TextIO

from engine.options import CHANNEL_SETTINGS, COMPUTE_TYPES, DEFAULT_FORMATS, DEVICES, EXPORT_FORMATS, TranscribeOptions
from engine.privacy import disable_core_dumps, printable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors; keep that
        message += _suggestion(message)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"sessionscribe: {message}\n")


def _suggestion(message: str) -> str:
    """'; did you mean transcribe?' for a mistyped choice (Python 3.11's argparse lists the
    choices but does not point at the close one)."""
    match = re.search(r"invalid choice: '?([^'\s]*)'? \(choose from (.*)\)", message)
    if not match:
        return ""
    choices = [choice.strip(" '") for choice in match.group(2).split(",")]
    close = difflib.get_close_matches(match.group(1), choices, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [fmt for fmt in formats if fmt not in EXPORT_FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(unknown) or '(none)'}; choose from {','.join(EXPORT_FORMATS)}"
        )
    return formats


def _language(text: str) -> str:
    from engine.languages import unknown_language

    code = text.strip().lower()
    if problem := unknown_language(code):
        raise argparse.ArgumentTypeError(problem)
    return code


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


def _speakers(text: str) -> int | None | bool:
    """--speakers: "auto" (None: found), "off" (False: no speaker stage) or a count."""
    text = text.strip().lower()
    if text == "auto":
        return None
    if text == "off":
        return False
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected 'auto', 'off' or a number of speakers") from None
    if not 1 <= value <= 8:
        raise argparse.ArgumentTypeError("the number of speakers must be 1 to 8")
    return value


def _speaker_names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError('expected names separated by commas, e.g. "Therapist,Client"')
    return names


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1 worker")
    return value


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """How recordings are transcribed and where their files go (`transcribe` and `batch`)."""
    parser.add_argument("--model", default="auto", metavar="NAME|DIR",
                        help="a model name (see `sessionscribe models list`) or a folder holding a CTranslate2 "
                        "Whisper model. Default: auto = large-v3-turbo on a GPU, small on the CPU; when that is "
                        "not downloaded, the best model that is")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="where the model runs. Default: auto = the GPU when CUDA works (see "
                        "`sessionscribe doctor`), else the CPU")
    parser.add_argument("--compute-type", default="auto", choices=COMPUTE_TYPES,
                        help="number format of the model's weights. Default: auto = float16 on a GPU, int8 on the CPU")
    parser.add_argument("--batch-size", default=None, type=_batch_size, metavar="auto|N",
                        help="clips transcribed at once (on the CPU: by each of its parallel workers). Default: auto = "
                        "from free GPU memory; on the CPU 1, each clip prompted with the text before it")
    parser.add_argument("--language", default="auto", type=_language, metavar="auto|CODE",
                        help="the language spoken, e.g. en or fr (`sessionscribe languages` lists the codes). "
                        "Default: auto = detected from the start of each recording")
    parser.add_argument("--format", default=",".join(DEFAULT_FORMATS), type=_formats, metavar="txt,srt,vtt,json",
                        help="which files to write, separated by commas: txt, srt, vtt, json, docx (a Word "
                        "document), maxqda (<name>.maxqda.txt, for MAXQDA's import), rttm (who spoke when, for "
                        "diarization scorers). Default: txt,srt,vtt,json")
    parser.add_argument("--output-dir", type=Path, default=None, metavar="DIR",
                        help="where the files go. Default: beside each recording")
    parser.add_argument("--hotwords", default=None, metavar="TEXT",
                        help="names and terms to favour, e.g. \"EMDR, Dr. Okafor, sertraline\". Default: none")
    parser.add_argument("--speakers", default=None, type=_speakers, metavar="auto|N|off",
                        help="who said what: the number of people speaking (2 for a one-to-one session), "
                        "or off. Default: auto = found from the recording")
    parser.add_argument("--speaker-names", default=(), type=_speaker_names, metavar="NAMES",
                        help="names for speakers 1, 2, ... in every file, separated by commas, e.g. "
                        "\"Therapist,Client\" (speaker 1 is the first to speak). Default: Speaker 1, Speaker 2, ...")
    parser.add_argument("--channels", default="auto", choices=CHANNEL_SETTINGS,
                        help="recordings with two or more channels: speakers = each channel is one person's "
                        "microphone (transcribed on its own, words labelled by channel); mix = mix to mono. "
                        "Default: auto = speakers when the channels hold different voices, else mix")
    # Words are always timed now (cues take their times from them) and always in the JSON.
    parser.add_argument("--word-timestamps", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, default=None, metavar="FILE.json",
                        help="also write each recording's run report (timings, device, cost) as JSON, readable by "
                        "you only. Default: none")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sessionscribe", description="Private, fast transcription of session recordings.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "transcribe",
        help="transcribe recordings or folders of them",
        description="Transcribe recordings on this computer. Each one writes <output dir>/<name>.<format>; "
        "a run that was interrupted continues where it stopped when run again.",
        epilog="Exit code: 0 all done, 1 any recording failed (the others are still done), 2 wrong usage.",
    )
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                     help="recordings (audio or video), or folders: searched recursively for them")
    add_job_options(run)
    run.add_argument("--cluster", default=None, metavar="auto|ADDRESS",
                     help="run one task per recording on a Ray cluster (needs the [cluster] extra): auto = "
                     "the cluster this machine belongs to, else a local one started here; or a cluster's "
                     "address (HOST:PORT or ray://HOST:10001). Exports and the job history are written "
                     "here, as without it")
    run.add_argument("--workers", type=_workers, default=None, metavar="N",
                     help="with --cluster: how many workers (each keeps a model loaded). Default: one per GPU, "
                     "or one per 4 CPU cores on a cluster without GPUs")

    from engine.batch import add_batch_command

    add_batch_command(commands, add_job_options)

    commands.add_parser("doctor", help="check the GPU/CUDA set-up and the settings chosen")
    commands.add_parser("languages", help="the language codes --language takes")

    models = commands.add_parser("models", help="list or download models")
    model_commands = models.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    model_commands.add_parser("list", help="every model: its size, and where it is when it is on this computer")
    download = model_commands.add_parser("download", help="fetch a model from the model hub (needs a connection)")
    download.add_argument("name", help="a name from `sessionscribe models list`")
    download.add_argument(
        "--any-repo", action="store_true",
        help="allow an owner/name hub repository that is not one of the listed models",
    )

    history = commands.add_parser("history", help="list or delete stored sessions (transcripts kept for search and resume)")
    history_commands = history.add_subparsers(dest="history_command", required=True, parser_class=_Parser)
    history_commands.add_parser("list", help="every stored session: id, last change, status, duration, recording")
    delete = history_commands.add_parser("delete", help="delete sessions and their stored transcripts (exports stay)")
    delete.add_argument("ids", nargs="+", metavar="ID", help="an id from `history list` (its first characters will do)")
    purge = history_commands.add_parser("purge", help="delete every session not changed for DAYS days")
    purge.add_argument("--older-than", required=True, type=_days, metavar="DAYS", dest="older_than")
    return parser


def _say(text: str) -> None:
    """One line to stderr; names in it are shown with control characters escaped."""
    print(printable(text), file=sys.stderr)


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of days") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("days must be 0 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    disable_core_dumps()  # before any transcript or audio is in memory
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "transcribe":
            return transcribe_command(args)
        if args.command == "batch":
            from engine.batch import batch_command

            return batch_command(args)
        if args.command == "doctor":
            return doctor_command()
        if args.command == "history":
            return history_command(args)
        if args.command == "languages":
            return languages_command()
        return models_command(args)
    except KeyboardInterrupt:
        print("sessionscribe: interrupted", file=sys.stderr)
        return 130


# -- transcribe -------------------------------------------------------------------------------
def transcribe_command(args: argparse.Namespace) -> int:
    from engine.inputs import expand_inputs, plan_output_stems

    if args.workers is not None and args.cluster is None:
        _say("sessionscribe: --workers is for --cluster runs")
        return EXIT_USAGE
    options = start_run(args)
    inputs, notes = expand_inputs(args.paths)
    for note in notes:
        _say(f"note: {note}")
    if not inputs:
        print("sessionscribe: no recordings to transcribe", file=sys.stderr)
        return EXIT_FAILED
    if not check_model_arg(args.model):
        return EXIT_FAILED
    stems = plan_output_stems(inputs, args.output_dir)
    progress = ProgressPrinter(sys.stderr)
    store = _open_store()
    try:
        if args.cluster is not None:
            from engine.cluster import run_on_cluster

            failures, reports = run_on_cluster(args.cluster, inputs, stems, options, store, progress.handle,
                                               workers=args.workers)
        else:
            failures, reports = run_jobs(inputs, stems, options, store, progress.handle)
    finally:
        if store is not None:
            store.close()
    return finish_run(args.report, len(inputs), failures, reports)


def start_run(args: argparse.Namespace) -> TranscribeOptions:
    """The slow imports started, the log file open, the options the arguments ask for."""
    from engine.process import prepare_process, warm_imports

    prepare_process()
    warm_imports()  # the slowest import: start it before anything else
    from engine.logs import setup_logging

    from engine.errors import SessionScribeError

    try:
        setup_logging()
    except SessionScribeError as error:  # e.g. SESSIONSCRIBE_LOG_DIR names a shared folder
        _say(f"note: {error}; running without a log file")
    return TranscribeOptions(
        model=args.model,
        device=args.device,
        compute_type=args.compute_type,
        batch_size=args.batch_size,
        language=None if args.language == "auto" else args.language,
        hotwords=args.hotwords,
        formats=args.format,
        output_dir=args.output_dir,
        speaker_labels=args.speakers is not False,
        speakers=args.speakers if args.speakers is not False else None,
        speaker_names=args.speaker_names,
        channels=args.channels,
    )


def check_model_arg(model: str) -> bool:
    """False (and one line said) when --model names a folder that holds no usable model."""
    model_folder = Path(model).expanduser()
    if model_folder.is_dir():  # a broken model is the model's fault: say so once, up front
        from engine.errors import ModelError
        from engine.models import check_model_dir

        try:
            check_model_dir(model_folder)
        except ModelError as error:
            _say(f"error: {error}")
            return False
    return True


def run_jobs(inputs, stems, options: TranscribeOptions, store, sink) -> tuple[int, list[dict]]:
    """Transcribe `inputs` one after another in this process; returns (failures, report rows)."""
    from engine.pipeline import Engine

    engine = Engine(sink, store=store)
    failures = 0
    reports = []
    try:
        for path in inputs:
            outcome = engine.transcribe(path, options, output_stem=stems[path])
            if outcome.status != "done":
                failures += 1
            reports.append(report_row(path, outcome.report, outcome.reason))
    finally:
        engine.close()
    return failures, [row for row in reports if row is not None]


def report_row(path: Path, report, failed_reason: str | None) -> dict | None:
    """One recording's entry in --report: its run report, or why it failed."""
    if report is not None:
        return {"input": str(path), **report.to_dict()}
    if failed_reason is not None:
        return {"input": str(path), "failed": failed_reason}
    return None


def finish_run(report_path: Path | None, total: int, failures: int, reports: list[dict]) -> int:
    """Write --report, say how many were transcribed, and return the exit code."""
    report_failed = False
    if report_path is not None:
        from engine.errors import ExportError
        from engine.export import write_atomic

        try:
            # It names the recordings: readable by its owner only.
            write_atomic(report_path, json.dumps({"jobs": reports}, indent=2) + "\n", max_mode=0o600)
        except ExportError as error:  # the transcripts are written; only the report is lost
            _say(f"error: {error}")
            report_failed = True
    done = total - failures
    print(f"{done} of {total} recording(s) transcribed", file=sys.stderr)
    return EXIT_OK if failures == 0 and not report_failed else EXIT_FAILED


def _open_store(path: Path | None = None):
    """The job store makes reruns resume; without one (unwritable data folder) we still run.
    `path`: another store file than the user's own (engine.batch keeps one per slice)."""
    from engine.store import JobStore

    try:
        store = JobStore(path)
        if store.recovered is not None:  # once: the next run finds the new, healthy store
            print(f"warning: {store.recovered.notice()}", file=sys.stderr)
        store.mark_interrupted_on_open()
        return store
    except Exception as error:  # e.g. a read-only home: transcribe anyway, just without resume
        _say(f"note: job store unavailable ({error}); runs will not resume")
        return None


class ProgressPrinter:
    """A bar per stage on a terminal, plain lines otherwise. Never prints transcript text."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last_line = 0.0
        self._names: dict[str, str] = {}
        self._printed: dict[tuple, str] = {}  # (job, stage) -> the last percentage printed
        self._lock = threading.Lock()

    def handle(self, event) -> None:
        from engine import events as ev

        with self._lock:
            if isinstance(event, ev.JobStarted):
                self._names[event.job_id] = printable(event.path.name)
                self._line(f"{event.path.name}: started" + (f" ({event.duration_s / 60:.1f} min)" if event.duration_s else ""))
            elif isinstance(event, ev.StageProgress):
                self._progress(event)
            elif isinstance(event, ev.StageFinished):
                name = self._names.get(event.job_id, '')
                if event.skipped:
                    self._line(f"{name}: {event.stage.value} off")
                else:
                    took = "from an earlier run" if event.reused else f"{event.seconds:.2f} s"
                    self._line(f"{name}: {event.stage.value} done ({took})")
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
                    f"(RTF {report.rtf:.3f}, {report.device}/{report.compute_type}, batch {report.batch_size}"
                    + (f" x {report.num_workers} workers" if report.num_workers > 1 else "") + f") -> {outputs}"
                )
                if report.resumed_windows:  # else "transcribe done (0.00 s)" looks like magic
                    self._line(f"resumed: {report.resume_text()}")
                if report.channels_note:
                    self._line(f"channels: {report.channels_note}")
                if report.speakers >= 2 and report.channel_route != "speakers":
                    self._line(f"speakers: {report.speakers}, told apart by voice (if more or fewer spoke, "
                               "run the same command with --speakers N: the words are kept, only the "
                               "speakers are told apart again)")
                self._line(f"speech: {report.check_text()}")
                self._line(f"cost: {report.cost_text()}")

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(printable(text) + "\n")
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
        percent = f"{event.fraction * 100:.0f}%"
        key = (event.job_id, event.stage)
        if self._printed.get(key) == percent:  # the same line again says nothing new
            return
        if now - self._last_line >= 2.0 or event.fraction >= 1.0:  # plain lines: not a flood
            self._last_line = now
            self._printed[key] = percent
            self.stream.write(f"{name}: {event.stage.value} {percent}\n")
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
    runtime = _doctor_model(runtime)
    print(
        f"Chosen settings: device {runtime.device}, model {runtime.model}, compute type "
        f"{runtime.compute_type}, batch size {runtime.batch_size} per worker, {runtime.num_workers} "
        f"worker(s) of {runtime.cpu_threads} CPU thread(s) each, VAD threads {runtime.vad_workers}"
    )
    if not health.cuda_usable:
        print("Transcription will run on the CPU.")
    return EXIT_OK


def _doctor_model(runtime):
    """Say whether the model jobs would use is on this computer, and the fix if it is not;
    returns the runtime with the model a job would really run (see Engine._present_model)."""
    from dataclasses import replace

    from engine.models import CLI_ADVICE, choose_present

    name, folder = choose_present(runtime.model, runtime.device)
    if folder is None:
        print(f"Model: {runtime.model} is not downloaded and no other model is on this computer: jobs will fail.")
        print(f"Fix: {CLI_ADVICE.for_missing(runtime.model)}")
    elif name != runtime.model:
        print(f"Model: {runtime.model} (the best for this computer) is not downloaded; jobs use {name} ({folder}).")
        print(f"Fix: {CLI_ADVICE.for_missing(runtime.model)}")
    else:
        print(f"Model: {name} ({folder})")
    return replace(runtime, model=name)


def languages_command() -> int:
    from engine.languages import LANGUAGES

    for code, name in sorted(LANGUAGES.items()):
        print(f"{code:<4} {name}")
    return EXIT_OK


# -- history ----------------------------------------------------------------------------------
def history_command(args: argparse.Namespace) -> int:
    """List, delete or purge stored sessions. The recording's name is shown: this is the
    clinician's own terminal (it never goes to the log)."""
    from engine.logs import setup_logging
    from engine.store import JobStore, StoreError

    setup_logging()  # deletions are logged by job id; nothing of the store reaches stderr
    try:
        store = JobStore()
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if store.recovered is not None:
            print(f"warning: {store.recovered.notice()}", file=sys.stderr)
        if args.history_command == "list":
            return _history_list(store)
        if args.history_command == "delete":
            return _history_delete(store, args.ids)
        return _history_purge(store, args.older_than)
    finally:
        store.close()


ID_WIDTH = 12  # enough to tell 32-hex-digit ids apart; `delete` takes any unique prefix


def _history_list(store) -> int:
    jobs = store.list_jobs()
    if not jobs:
        print("No stored sessions.", file=sys.stderr)
        return EXIT_OK
    print(f"{'ID':<{ID_WIDTH}}  {'LAST CHANGE':<16}  {'STATUS':<11}  {'DURATION':>8}  RECORDING")
    for job in jobs:
        changed = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.updated_at))
        print(
            f"{job.id[:ID_WIDTH]:<{ID_WIDTH}}  {changed:<16}  {job.status:<11}  "
            f"{_duration(job.duration_s):>8}  {printable(job.input_name)}"
        )
    return EXIT_OK


def _history_delete(store, ids: Sequence[str]) -> int:
    chosen: dict[str, object] = {}
    for given in ids:
        matches = store.find_jobs(given)
        if not matches:
            print(f"sessionscribe: no stored session has the id {printable(given)} (see `sessionscribe history list`)", file=sys.stderr)
            return EXIT_FAILED
        if len(matches) > 1:
            print(f"sessionscribe: {printable(given)} matches {len(matches)} sessions; give more of the id", file=sys.stderr)
            return EXIT_FAILED
        chosen[matches[0].id] = matches[0]
    for job in chosen.values():
        if store.running_live(job.id):
            print(f"sessionscribe: {printable(job.input_name)} is being transcribed right now; cancel it first", file=sys.stderr)
            return EXIT_FAILED
    deleted = store.delete_jobs(list(chosen))
    print(f"Deleted {deleted} session{'s' if deleted != 1 else ''} and {'their' if deleted != 1 else 'its'} stored transcript (exported files stay on disk).", file=sys.stderr)
    return EXIT_OK


def _history_purge(store, days: float) -> int:
    deleted = store.purge(time.time() - days * 86400)
    print(f"Deleted {len(deleted)} session{'s' if len(deleted) != 1 else ''} not changed in the last {days:g} day{'s' if days != 1 else ''} (exported files stay on disk).", file=sys.stderr)
    return EXIT_OK


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


# -- models -----------------------------------------------------------------------------------
def models_command(args: argparse.Namespace) -> int:
    from engine.errors import Cancelled, ModelError
    from engine.models import MODEL_NAMES, download, list_models

    if args.models_command == "list":
        from engine.models import DOWNLOAD_MB, model_size_text

        print(f"{'MODEL':<16} {'SIZE':>10}  WHERE")
        for info in list_models():
            if info.path:
                size, where = model_size_text(info.path), str(info.path)
            else:
                mb = DOWNLOAD_MB.get(info.name)
                size = (f"~{mb / 1000:.1f} GB" if mb >= 1000 else f"~{mb} MB") if mb else "-"
                where = "not downloaded"
            print(f"{info.name:<16} {size:>10}  {where}")
        from engine.model_library import imported_models

        for entry in imported_models():  # imported in the app: used with --model DIR
            print(f"{printable(entry.name):<16} {model_size_text(entry.folder):>10}  {printable(str(entry.folder))} (imported; --model DIR)")
        print("Sizes with ~ are what a download would fetch. Get one: sessionscribe models download NAME", file=sys.stderr)
        return EXIT_OK
    if args.name not in MODEL_NAMES and ("/" not in args.name or not args.any_repo):
        hint = " (or name an owner/name repository and add --any-repo)" if "/" in args.name else ""
        _say(f"sessionscribe: unknown model {args.name}; choose from {', '.join(MODEL_NAMES)}{hint}")
        return EXIT_USAGE
    printer = ProgressPrinter(sys.stderr)
    from engine.events import ModelDownloadProgress

    try:
        folder = download(
            args.name,
            lambda done, total: printer.handle(ModelDownloadProgress(args.name, done, total)),
            allow_any_repo=args.any_repo,
        )
    except ModelError as error:
        _say(f"error: {error}")
        return EXIT_FAILED
    except Cancelled:
        return EXIT_FAILED
    print(file=sys.stderr)  # ends the progress bar's line
    _say(f"{args.name}: ready in {folder}")
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
