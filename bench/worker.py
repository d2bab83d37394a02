"""One measurement per process: `python bench/worker.py TASK ...` prints one BENCH-RESULT line.

Tasks (each competitor gets its own process wherever memory or threads matter):
  condition      ours (engine.condition) vs the seed's 8000-tap conv1d trim, alternating in-process
  prep-ours      decode -> windows -> condition -> SpeechDetector clips (the engine's producer)
  prep-fw        faster-whisper decode_audio + get_speech_timestamps
  fw-batched     faster-whisper alone: WhisperModel + decode_audio + BatchedInferencePipeline
                 (also records its 30-s chunks, for clip fill)
  fw-sequential  faster-whisper alone: WhisperModel + decode_audio + model.transcribe(vad_filter)
                 (fw-*: --segments-out writes the transcript for bench/accuracy.py)
  engine         our Engine in-process, with CTranslate2 threads/workers forced (the grid)

Times are time.perf_counter() spans inside the process; the parent adds the process's own
wall time and peak RSS from outside.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_STARTED = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit_result, rotations  # noqa: E402  (light imports only)

SEED_TAPS = 8000  # the seed's moving-average "silence trim": 0.5 s at 16 kHz
SEED_THRESHOLD = 1e-6  # power threshold (~ -60 dBFS); its value does not change the cost


# -- table 1: conditioning ------------------------------------------------------------------------
def seed_trim(samples, device):
    """The seed's trim: moving average of the squared signal by an 8000-tap conv1d over the
    whole waveform, threshold, cut the edges. O(n * 8000)."""
    import torch

    x = samples if isinstance(samples, torch.Tensor) else torch.from_numpy(samples)
    x = x.to(device)
    kernel = torch.ones(1, 1, SEED_TAPS, device=device) / SEED_TAPS
    energy = torch.nn.functional.conv1d((x * x)[None, None], kernel, padding=SEED_TAPS // 2)[0, 0]
    loud = torch.nonzero(energy > SEED_THRESHOLD)
    if loud.numel():
        x = x[int(loud[0]) : int(loud[-1]) + 1]
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return x


def task_condition(args) -> dict:
    import numpy as np
    import torch

    from engine.condition import condition
    from engine.decode import SAMPLE_RATE, stream_audio
    device = torch.device(args.device)
    windows = [audio for _, audio in _engine_windows(stream_audio(Path(args.audio)))]
    total = sum(w.shape[0] for w in windows)
    whole = np.concatenate(windows)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    # Warm-up both sides (first-call allocations, cuDNN/oneDNN kernel choice).
    condition(windows[0][: SAMPLE_RATE * 10].copy())
    seed_trim(whole[: SAMPLE_RATE * 2], device)
    sync()

    # The seed's conv is timed on a slice from the middle and scaled linearly when the whole
    # recording would take too long (direct convolution: cost is length x taps).
    probe_len = min(total, SAMPLE_RATE * 2)
    middle = total // 2
    probe = whole[max(0, middle - probe_len // 2) :][:probe_len]
    started = time.perf_counter()
    seed_trim(probe, device)
    probe_s = time.perf_counter() - started
    slice_len = int(probe_len * args.seed_target_s / max(probe_s, 1e-6))
    slice_len = max(probe_len, min(total, slice_len))
    if args.seed_slice_s:
        slice_len = min(total, int(args.seed_slice_s * SAMPLE_RATE))
    start = max(0, min(total - slice_len, middle - slice_len // 2))
    seed_input = np.ascontiguousarray(whole[start : start + slice_len])
    del whole

    ours, seed_raw = [], []
    for _, order in rotations(["ours", "seed"], args.repeat):
        for name in order:
            if name == "ours":
                copies = [w.copy() for w in windows]  # condition() works in place
                sync()
                started = time.perf_counter()
                for window in copies:
                    condition(window)  # numpy on the host, whatever the device
                sync()
                ours.append(time.perf_counter() - started)
                del copies
            else:
                started = time.perf_counter()
                seed_trim(seed_input, device)
                seed_raw.append(time.perf_counter() - started)
    scale = total / slice_len
    return {
        "device": str(device),
        "audio_s": total / SAMPLE_RATE,
        "windows": len(windows),
        "ours_s": ours,
        "seed_s": [t * scale for t in seed_raw],
        "seed_raw_s": seed_raw,
        "seed_slice_s": slice_len / SAMPLE_RATE,
        "seed_scale": scale,
        "torch_threads": torch.get_num_threads(),
    }


# -- table 2: preprocessing -----------------------------------------------------------------------
def _engine_windows(blocks):
    """cut_windows as the engine's producer calls it on the CPU (engine.producer)."""
    from engine.producer import window_length
    from engine.windowing import FIRST_WINDOW_S, cut_windows

    window_s = window_length("cpu")
    return cut_windows(blocks, window_s, first_window_s=min(FIRST_WINDOW_S, window_s))


def task_prep_ours(args) -> dict:
    """The engine's own producer (engine.producer.produce: decode ahead on a thread, windows,
    condition, speech), decoding in this process like faster-whisper's decode_audio."""
    from engine.decode import SAMPLE_RATE, DecodeReport
    from engine.hardware import plan_runtime
    from engine.options import TranscribeOptions
    from engine.producer import produce
    from engine.report import StageClock
    from engine.speech import SpeechDetector

    workers = args.workers or plan_runtime(TranscribeOptions(device="cpu"), False).vad_workers
    started = time.perf_counter()
    detector = SpeechDetector(workers)
    setup_s = time.perf_counter() - started

    clock = StageClock()
    report = DecodeReport()
    started = time.perf_counter()
    clips = [clip for window in produce(Path(args.audio), detector, clock=clock, report=report, in_child=False) for clip in window.clips]
    total_s = time.perf_counter() - started
    detector.close()
    stage = {name: clock.seconds.get(name, 0.0) for name in ("decode", "condition", "speech")}
    return {
        "setup_s": setup_s,
        "process_s": total_s,
        "stages": stage,
        "audio_s": report.samples / SAMPLE_RATE,
        "clips": len(clips),
        "speech_s": sum(sum(e - s for s, e in clip.voiced) for clip in clips),
        "clip_s": sum(clip.duration for clip in clips),
        "workers": workers,
    }


def task_prep_fw(args) -> dict:
    from faster_whisper import decode_audio
    from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

    started = time.perf_counter()
    get_vad_model()  # cached by faster-whisper: loaded before the clock, like ours
    setup_s = time.perf_counter() - started

    started = time.perf_counter()
    audio = decode_audio(args.audio)
    decoded = time.perf_counter()
    chunks = get_speech_timestamps(audio, VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160))
    done = time.perf_counter()
    return {
        "setup_s": setup_s,
        "process_s": done - started,
        "stages": {"decode": decoded - started, "speech": done - decoded},
        "audio_s": audio.shape[0] / 16000,
        "clips": len(chunks),
        "speech_s": sum(c["end"] - c["start"] for c in chunks) / 16000,
    }


# -- table 3: faster-whisper alone ----------------------------------------------------------------
def _fw_model(args):
    from faster_whisper import WhisperModel

    # cpu_threads 0 is faster-whisper's default (4 threads); bench/accuracy.py passes ours.
    return WhisperModel(args.model, device=args.device, compute_type=args.compute_type,
                        cpu_threads=args.threads or 0)


def _record_chunks(chunks: list) -> None:
    """Record the 30-s inputs BatchedInferencePipeline builds from its VAD (for clip fill):
    wraps the collect_chunks it calls, so nothing runs twice."""
    from faster_whisper import transcribe as fw_transcribe

    original = fw_transcribe.collect_chunks

    def collect_chunks(*a, **k):
        audio_chunks, metadata = original(*a, **k)
        chunks.extend(float(m["duration"]) for m in metadata)
        return audio_chunks, metadata

    fw_transcribe.collect_chunks = collect_chunks


def task_fw_batched(args) -> dict:
    imported = time.perf_counter()
    from faster_whisper import BatchedInferencePipeline, decode_audio

    chunks: list[float] = []
    _record_chunks(chunks)
    result = _timed_fw_run(
        args, imported, decode_audio,
        lambda model, audio: BatchedInferencePipeline(model).transcribe(audio, batch_size=args.batch_size),
    )
    result["chunk_s"] = chunks
    result["clip_fill"] = sum(chunks) / (30.0 * len(chunks)) if chunks else None
    return result


def task_fw_sequential(args) -> dict:
    imported = time.perf_counter()
    from faster_whisper import decode_audio

    return _timed_fw_run(args, imported, decode_audio, lambda model, audio: model.transcribe(audio, vad_filter=True))


def _timed_fw_run(args, imported: float, decode_audio, transcribe) -> dict:
    """faster-whisper alone: load, decode_audio, transcribe (segments consumed), each timed."""
    started = time.perf_counter()
    model = _fw_model(args)
    loaded = time.perf_counter()
    audio = decode_audio(args.audio)
    decoded = time.perf_counter()
    segments, info = transcribe(model, audio)
    kept = [(s.start, s.end, s.text) for s in segments]  # consuming the generator does the work
    done = time.perf_counter()
    if args.segments_out:  # the words, for bench/accuracy.py (written after the clock stops)
        Path(args.segments_out).write_text(json.dumps(
            {"segments": [{"start": a, "end": b, "text": t} for a, b, t in kept]}), encoding="utf-8")
    return {
        "import_s": started - imported,
        "load_s": loaded - started,
        "decode_s": decoded - loaded,
        "transcribe_s": done - decoded,
        "process_s": done - started,
        "segments": len(kept),
        "language": info.language,
        "audio_s": audio.shape[0] / 16000,
        "cpu_threads": args.threads or 0,
        "compute_type": args.compute_type,
    }


# -- table 5: our engine with forced threads/workers ----------------------------------------------
def task_engine(args) -> dict:
    import tempfile

    from engine.hardware import plan_runtime
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    with tempfile.TemporaryDirectory() as out:
        options = TranscribeOptions(model=args.model, device=args.device, formats=("srt",),
                                    output_dir=Path(out), batch_size=args.batch_size,
                                    cpu_threads=args.threads or None, num_workers=args.workers or None)
        runtime = plan_runtime(options, False)
        planned = {"cpu_threads": runtime.cpu_threads, "num_workers": runtime.num_workers,
                   "vad_workers": runtime.vad_workers}
        engine = Engine(store=None)
        started = time.perf_counter()
        outcome = engine.transcribe(Path(args.audio), options)
        done = time.perf_counter()
        engine.close()
    if outcome.status != "done":
        raise SystemExit(f"engine run {outcome.status}: {outcome.reason}")
    report = outcome.report.to_dict()
    return {"process_s": done - started, "report": report, "planned": planned}


TASKS = {
    "condition": task_condition,
    "prep-ours": task_prep_ours,
    "prep-fw": task_prep_fw,
    "fw-batched": task_fw_batched,
    "fw-sequential": task_fw_sequential,
    "engine": task_engine,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--audio", required=True)
    parser.add_argument("--model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0,
                        help="engine: CTranslate2 threads; fw-*: WhisperModel cpu_threads (0: its default)")
    parser.add_argument("--segments-out", help="fw-*: write the transcript's segments here as JSON")
    parser.add_argument("--seed-target-s", type=float, default=1.5,
                        help="condition: time one run of the seed's trim should take (sets the slice)")
    parser.add_argument("--seed-slice-s", type=float, default=0.0,
                        help="condition: fixed slice length for the seed's trim (0: from --seed-target-s)")
    args = parser.parse_args(argv)
    result = TASKS[args.task](args)
    result["task"] = args.task
    result["since_start_s"] = time.perf_counter() - _STARTED
    emit_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
