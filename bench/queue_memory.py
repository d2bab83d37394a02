"""A queue of 50 short recordings: does memory stay flat from job to job?

Runs the engine in this process exactly as the app's worker thread does (one Engine, one
job store, jobs one after another) and samples RSS after each job. Goal (issue: "Never lose a
session"): RSS after the 50th job within 10 % of RSS after the 10th.

    .venv/bin/python bench/queue_memory.py [--jobs 50] [--model DIR]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import psutil  # noqa: E402

SENTENCES = [
    "How have you been sleeping since we last met?",
    "Better on most nights, but Sunday was difficult.",
    "What made Sunday different from the other days?",
    "I think it was the phone call with my sister.",
    "Let us stay with that for a moment.",
    "It brought back a lot of old arguments.",
]


def make_recordings(folder: Path, count: int) -> list[Path]:
    from support.audio import session, write_audio

    paths = []
    for index in range(count):
        layout: list = [0.5 + index % 3]
        for turn in range(3 + index % 4):
            layout += [SENTENCES[(index + turn) % len(SENTENCES)], 0.4 + (turn % 3) * 1.1]
        audio, _ = session(layout)
        suffix = (".wav", ".mp3", ".m4a", ".ogg", ".flac")[index % 5]
        paths.append(write_audio(folder / f"visit-{index:02d}{suffix}", audio))
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the tiny test model)")
    args = parser.parse_args()

    from engine.options import TranscribeOptions
    from engine.pipeline import Engine
    from engine.store import JobStore
    from support.tiny_model import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="sessionscribe-queue-"))
    os.environ.setdefault("SESSIONSCRIBE_DATA_DIR", str(work / "data"))
    model = args.model or build_tiny_model(ROOT / "bench" / "out" / "models" / "tiny")
    recordings = make_recordings(work / "in", args.jobs)
    process = psutil.Process()
    rss: list[int] = []
    started = time.perf_counter()
    with JobStore() as store:
        engine = Engine(store=store)
        options = TranscribeOptions(model=str(model), output_dir=work / "out")
        for number, path in enumerate(recordings, 1):
            outcome = engine.transcribe(path, options)
            if outcome.status != "done":
                print(f"job {number} {outcome.status}: {outcome.reason}", file=sys.stderr)
                return 1
            gc.collect()
            rss.append(process.memory_info().rss)
            if number % 10 == 0:
                print(f"after job {number}: RSS {rss[-1] / 2**20:.0f} MB", flush=True)
        engine.close()
    tenth, last = rss[min(9, len(rss) - 1)], rss[-1]
    ratio = last / tenth
    verdict = "met" if ratio <= 1.10 else "not met"
    print(
        f"| queue of {len(rss)} short recordings | RSS after job 10: {tenth / 2**20:.0f} MB | "
        f"after job {len(rss)}: {last / 2**20:.0f} MB | ratio {ratio:.3f} | goal <= 1.10: {verdict} | "
        f"{time.perf_counter() - started:.0f} s |"
    )
    return 0 if ratio <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
