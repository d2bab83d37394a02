"""Kill a 45-minute transcription at 60 % of its run time, run the same command again.

Issue "Never lose a session", done means: the SRT of the resumed run is byte-identical to an
uninterrupted run's, and the second run takes at most 0.75 of an uninterrupted run's time.

    .venv/bin/python bench/resume_kill.py [--minutes 45] [--at 0.6] [--model DIR]

Each run is the real CLI (`sessionscribe transcribe`) in its own process with its own job
store; the killed run and the resumed run share one store, as a user's would.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT)]

CLI = [sys.executable, "-m", "engine.cli", "transcribe"]


def run(args: list[str], data_dir: Path, kill_after: float | None = None) -> tuple[float, int]:
    env = dict(os.environ, SESSIONSCRIBE_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT / "src"))
    started = time.perf_counter()
    process = subprocess.Popen(CLI + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is None:
        code = process.wait()
    else:
        try:
            code = process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            code = process.wait()
    return time.perf_counter() - started, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=45)
    parser.add_argument("--at", type=float, default=0.6, help="kill at this fraction of the uninterrupted time")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()

    from bench.common import ensure_audio, ensure_tiny_model

    source = ensure_audio(args.minutes)
    model = args.model or ensure_tiny_model()
    work = Path(tempfile.mkdtemp(prefix="sessionscribe-resume-"))
    common = [str(source), "--model", str(model), "--format", "srt,json"]

    whole_s, code = run(common + ["--output-dir", str(work / "whole")], work / "store-whole")
    if code != 0:
        print(f"uninterrupted run failed with exit code {code}", file=sys.stderr)
        return 1
    killed_s, code = run(common + ["--output-dir", str(work / "resumed")], work / "store", args.at * whole_s)
    killed = code == -signal.SIGKILL
    resumed_s, code = run(common + ["--output-dir", str(work / "resumed")], work / "store")
    if code != 0:
        print(f"resumed run failed with exit code {code}", file=sys.stderr)
        return 1
    srt_name = source.stem + ".srt"
    identical = (work / "whole" / srt_name).read_bytes() == (work / "resumed" / srt_name).read_bytes()
    ratio = resumed_s / whole_s
    met = identical and ratio <= 0.75 and killed
    print(
        f"| {args.minutes}-min session killed at {args.at:.0%} ({killed_s:.1f} s, "
        f"{'SIGKILL' if killed else 'finished before the kill'}) | uninterrupted {whole_s:.1f} s | "
        f"resumed {resumed_s:.1f} s | resumed / uninterrupted {ratio:.2f} (goal <= 0.75) | "
        f"SRT byte-identical: {'yes' if identical else 'NO'} | {'met' if met else 'not met'} |"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
