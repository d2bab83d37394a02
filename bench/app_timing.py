"""App timing: launch to visible window, and UI-thread stalls while a job runs.

    .venv/bin/python bench/app_timing.py [FILE] [--model DIR] [--repeat N] [--mode auto|hook|probe]
                                         [--display offscreen|xvfb] [--json OUT]

Launches `sessionscribe gui FILE --model DIR --device cpu --format srt --output-dir OUT`
headless (QT_QPA_PLATFORM=offscreen, or under xvfb-run) and reads, from its stdout:

    window-shown <unix time>                      the main window's first paint
    ui-stall p50=<ms> p99=<ms> max=<ms> n=<ticks>  lateness of a 10 ms GUI-thread timer
    startup-stall max=<ms> n=<ticks>              (hook only) the same before the job starts
    queue-done <unix time>                        the queued job has finished; the app exits

Two ways to get those lines:
- hook: the app prints them itself when SESSIONSCRIBE_BENCH=1 (and quits when the queue is
  done). Used when src/app mentions SESSIONSCRIBE_BENCH.
- probe (until then): this script starts the app in a child process through
  `app.launcher.main`, after wrapping `MainWindow.show` to install the same measurements from
  outside (an event filter for the first paint, a 10 ms precise QTimer, a watcher that sees
  the transcript appear in the output folder and then ends the process).
Launch time is taken by the parent just before it starts the process, so it includes the
interpreter start and every import.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common as C  # noqa: E402

HOOK_ENV = "SESSIONSCRIBE_BENCH"
LAUNCH_ENV = "SESSIONSCRIBE_BENCH_LAUNCH"
TICK_MS = 10.0
_LINE = re.compile(r"^(window-shown|queue-done)\s+([0-9.]+)\s*$")
_STALL = re.compile(r"^(ui-stall|startup-stall)\s+(.*)$")


def app_has_hook() -> bool:
    app_dir = C.ROOT / "src" / "app"
    return any(HOOK_ENV in path.read_text(encoding="utf-8", errors="ignore") for path in app_dir.glob("*.py"))


def parse_output(stdout: str) -> dict:
    found: dict = {}
    for line in stdout.splitlines():
        line = line.strip()
        match = _LINE.match(line)
        if match:
            found.setdefault(match.group(1).replace("-", "_"), float(match.group(2)))
            continue
        match = _STALL.match(line)
        if match:
            prefix = "stall" if match.group(1) == "ui-stall" else "startup_stall"
            for key, value in re.findall(r"(\w+)=([0-9.]+)", match.group(2)):
                found[f"{prefix}_{key}"] = float(value)
    return found


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def run_once(audio: Path, model: Path, mode: str, display: str, timeout: float) -> dict:
    with C.IsolatedDirs("app") as dirs:
        args = ["gui", str(audio), "--model", str(model), "--device", "cpu", "--format", "srt",
                "--output-dir", str(dirs.output)]
        if mode == "hook":
            cmd = [str(C.SESSIONSCRIBE), *args]
        else:
            cmd = [str(C.PYTHON), str(Path(__file__).resolve()), "--probe", "--", *args]
        env = dict(dirs.env)
        env[HOOK_ENV] = "1"
        if display == "xvfb":
            cmd = ["xvfb-run", "-a", *cmd]
            env.pop("QT_QPA_PLATFORM", None)
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        launched = time.time()
        env[LAUNCH_ENV] = repr(launched)
        run = C.run_child(cmd, env=env, timeout=timeout)
        found = parse_output(run.stdout)
        outputs = sorted(p.name for p in dirs.output.iterdir())
    result = {
        "mode": mode,
        "rc": run.rc,
        "timed_out": run.timed_out,
        "wall_s": run.wall_s,
        "peak_rss": run.max_rss_bytes,
        "outputs": outputs,
        "launch_to_window_s": found["window_shown"] - launched if "window_shown" in found else None,
        "launch_to_done_s": found["queue_done"] - launched if "queue_done" in found else None,
        "stall_p50_ms": found.get("stall_p50"),
        "stall_p99_ms": found.get("stall_p99"),
        "stall_max_ms": found.get("stall_max"),
        "stall_ticks": found.get("stall_n"),
        "startup_stall_max_ms": found.get("startup_stall_max"),
    }
    if result["launch_to_window_s"] is None:
        tail = "\n".join((run.stderr or run.stdout).strip().splitlines()[-10:])
        result["error"] = f"no window-shown line (rc {run.rc}{', timed out' if run.timed_out else ''}): {tail}"
    return result


def measure(audio: Path, model: Path, repeat: int = 3, mode: str = "auto", display: str = "offscreen",
            timeout: float = 600, log=print) -> dict:
    if mode == "auto":
        mode = "hook" if app_has_hook() else "probe"
    if display == "xvfb" and not shutil.which("xvfb-run"):
        display = "offscreen"
    runs = []
    for index in range(repeat):
        log(f"  app run {index + 1}/{repeat} ({mode}, {display})")
        runs.append(run_once(audio, model, mode, display, timeout))
    good = [r for r in runs if r["launch_to_window_s"] is not None]

    def stats(key):
        return C.Stats.of(r[key] for r in good if r.get(key) is not None)

    return {
        "mode": mode,
        "display": display,
        "audio_minutes": _minutes(audio),
        "runs": runs,
        "launch_to_window": _dict(stats("launch_to_window_s")),
        "launch_to_done": _dict(stats("launch_to_done_s")),
        "stall_p50": _dict(stats("stall_p50_ms")),
        "stall_p99": _dict(stats("stall_p99_ms")),
        "stall_max": _dict(stats("stall_max_ms")),
        "startup_stall_max": _dict(stats("startup_stall_max_ms")),
        "errors": [r["error"] for r in runs if "error" in r],
    }


def _minutes(audio: Path) -> float | None:
    match = re.search(r"-(\d+(?:\.\d+)?)m-", Path(audio).name)
    return float(match.group(1)) if match else None


def _dict(stats: C.Stats | None) -> dict | None:
    return None if stats is None else stats.__dict__


def _stat(data: dict | None, unit: str, digits: int = 2) -> str:
    return C.fmt_stat(C.Stats(**data) if data else None, unit, digits)


def render(summary: dict) -> tuple[str, str]:
    headers = ["Measure", "median (min–max)"]
    rows = [
        ["launch → window shown", _stat(summary["launch_to_window"], "s")],
        ["UI-thread stall p50 during the job", _stat(summary["stall_p50"], "ms", 1)],
        ["UI-thread stall p99 during the job", _stat(summary["stall_p99"], "ms", 1)],
        ["UI-thread stall max during the job", _stat(summary["stall_max"], "ms", 1)],
        ["launch → job done", _stat(summary["launch_to_done"], "s")],
    ]
    if summary.get("startup_stall_max"):
        rows.insert(4, ["UI-thread stall max before the job (start-up)", _stat(summary["startup_stall_max"], "ms", 1)])
    how = ("the app's own SESSIONSCRIBE_BENCH=1 hook" if summary["mode"] == "hook" else
           "bench/app_timing.py's probe (wraps MainWindow.show from outside; the app has no "
           "SESSIONSCRIBE_BENCH hook yet)")
    minutes = summary.get("audio_minutes")
    notes = (
        f"`sessionscribe gui FILE --model TINY --device cpu --format srt --output-dir OUT` on a "
        f"{minutes:g}-minute recording, " if minutes else "`sessionscribe gui ...`, "
    ) + (
        f"display: {summary['display']}; measured by {how}. Launch is taken by the parent before "
        "the process starts (interpreter start and imports included); the window counts as shown at "
        f"its first paint. Stall: how late a {TICK_MS:.0f} ms precise timer on the GUI thread fires "
        + ("while the job runs (from its first engine event to its end; the stalls between the first "
           "paint and the job's start are the start-up row)." if summary["mode"] == "hook" else
           "from the first paint until the transcript is written.")
    )
    if summary["errors"]:
        notes += " Failed runs: " + "; ".join(e[:200] for e in summary["errors"])
    return C.md_table(headers, rows, "lr") + "\n\n" + notes, C.text_table(headers, rows)


# -- the probe: runs inside the app's process ---------------------------------------------------
def probe_main(argv: list[str]) -> int:
    """Start the app as `sessionscribe` would, with the measurements wrapped around it."""
    out_dir = Path(argv[argv.index("--output-dir") + 1]) if "--output-dir" in argv else None
    import app.window as window_module
    from PySide6.QtCore import QEvent, QObject, Qt, QTimer

    state: dict = {"gaps": [], "shown": None, "last": None, "keep": []}

    def finish(reason: str) -> None:
        gaps = state["gaps"]
        if gaps:
            lateness = [max(0.0, g - TICK_MS) for g in gaps]
            print(f"ui-stall p50={percentile(lateness, 50):.2f} p99={percentile(lateness, 99):.2f} "
                  f"max={max(lateness):.2f} n={len(lateness)}", flush=True)
        print(f"queue-done {time.time():.6f}", flush=True)
        print(f"probe-exit {reason}", flush=True)
        sys.stdout.flush()
        os._exit(0)  # the app would ask before closing with a job running: skip that

    def tick() -> None:
        now = time.perf_counter()
        if state["last"] is not None:
            state["gaps"].append((now - state["last"]) * 1000.0)
        state["last"] = now

    def watch() -> None:
        if out_dir is not None and out_dir.is_dir() and any(
            p.suffix == ".srt" and p.stat().st_size > 0 for p in out_dir.iterdir()
        ):
            finish("output written")

    def mark_shown() -> None:
        if state["shown"] is not None:
            return
        state["shown"] = time.time()
        print(f"window-shown {state['shown']:.6f}", flush=True)
        timer = QTimer()
        timer.setTimerType(Qt.PreciseTimer)
        timer.setInterval(int(TICK_MS))
        timer.timeout.connect(tick)
        timer.start()
        watcher = QTimer()
        watcher.setInterval(100)
        watcher.timeout.connect(watch)
        watcher.start()
        state["keep"] += [timer, watcher]

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Paint and state["shown"] is None:
                QTimer.singleShot(0, mark_shown)  # once the paint has been handled
            return False

    original_show = window_module.MainWindow.show

    def show(self) -> None:
        paint_filter = FirstPaint(self)
        self.installEventFilter(paint_filter)
        state["keep"].append(paint_filter)
        original_show(self)
        QTimer.singleShot(5000, mark_shown)  # a platform that never paints: count the show

    window_module.MainWindow.show = show
    from app.launcher import main as app_main

    return int(app_main(argv) or 0)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--probe":
        rest = argv[1:]
        if rest and rest[0] == "--":
            rest = rest[1:]
        return probe_main(rest)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", nargs="?", type=Path, help="recording (default: the cached 5-minute session)")
    parser.add_argument("--model", type=Path, help="model folder (default: the tiny test model)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mode", choices=("auto", "hook", "probe"), default="auto")
    parser.add_argument("--display", choices=("offscreen", "xvfb"), default="offscreen")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    audio = args.audio or C.ensure_audio(5)
    model = args.model or C.ensure_tiny_model()
    summary = measure(audio, model, args.repeat, args.mode, args.display, args.timeout)
    md, text = render(summary)
    print(text)
    for error in summary["errors"]:
        print("error:", error, file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if not summary["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
