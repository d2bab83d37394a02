"""Two-microphone recordings through the real pipeline (issue 12), on bench/speakers.py's
generated session (therapist left, client right, -25 dB bleed, one gap in five overlapping).

    .venv/bin/python bench/two_mic.py [--seconds 180] [--bleed -25,-15,-10] [--real] [--alone] [--model base]

Runs `Engine.transcribe` on the stereo WAV with --channels auto (layout measured, each
channel transcribed as its speaker) and with --channels mix (mixed to mono, diarized), and
scores words per true speaker: recognised, and attributed to the right speaker. Beside them,
in the same run: faster-whisper used alone on each channel (the way its own test transcribes
stereo_diarization.wav), sequential and batched, each channel's words given to its speaker.
`--bleed`: how far down each microphone hears the other speaker (-25 dB by default; several
levels give one session each; LEFT/RIGHT gives each microphone its own). `--real`: the session
cut from real voices (tests/support/real_two_mic.py; needs ../shared/data/real/). `--alone`:
faster-whisper on each voice alone too (the same session with no bleed), what the model hears
of each voice at best. Prints JSON, then a markdown table.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench import common as C  # noqa: E402
from bench import speakers as S  # noqa: E402


def run(path: Path, model: Path, channels: str, out: Path) -> dict:
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine
    from engine.store import JobStore

    options = TranscribeOptions(model=str(model), device="cpu", output_dir=out, formats=("json",),
                                channels=channels, speakers=2)
    with JobStore(out / "jobs.sqlite3") as store:
        started = time.perf_counter()
        outcome = Engine(store=store).transcribe(path, options)
        wall = time.perf_counter() - started
    assert outcome.status == "done", outcome.reason
    words = [w for s in outcome.transcript.segments for w in (s.words or ())]
    return {"wall_s": round(wall, 1), "words": words, "report": outcome.report}


def faster_whisper_per_channel(stereo, model: Path, batched: bool) -> tuple[list, list[int], float]:
    """faster-whisper alone, each channel transcribed on its own (English, word times; the
    batched pipeline at batch 8): its words, each channel's index as the speaker, wall time."""
    import numpy as np
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from engine.segments import Word

    whisper = WhisperModel(str(model), device="cpu", compute_type="int8")
    pipeline = BatchedInferencePipeline(whisper) if batched else whisper
    options = {"batch_size": 8} if batched else {}
    words, speakers = [], []
    started = time.perf_counter()
    for channel, audio in enumerate(stereo):
        segments, _info = pipeline.transcribe(np.ascontiguousarray(audio), language="en", word_timestamps=True, **options)
        for segment in segments:
            for word in segment.words or ():
                words.append(Word(word.start, word.end, word.word))
                speakers.append(channel)
    return words, speakers, time.perf_counter() - started


def one_session(stereo, utterances, model: Path) -> dict:
    """Every system on one two-mic session (therapist left, client right) and its truth."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = S.write_wav(Path(folder) / "two-mic.wav", stereo)
        for channels in ("auto", "mix"):
            out = Path(folder) / channels
            out.mkdir()
            got = run(path, model, channels, out)
            words = got["words"]
            mapping = {0: "therapist", 1: "client"} if channels == "auto" else None
            scores = S.word_scores(utterances, words, [w.speaker for w in words], mapping)
            report = got["report"]
            results[channels] = {
                "wall_s": got["wall_s"], "scores": scores, "layout": report.channel_layout,
                "route": report.channel_route, "note": report.channels_note, "stages": report.stages,
                "clips": report.clips, "speakers": report.speakers, "redecoded_clips": report.redecoded_clips,
                "redecoded_regions": report.redecoded_regions, "loops": report.loops, "fill": getattr(report, "clip_fill", None),
            }
            print(channels, json.dumps(results[channels], default=str), flush=True)
    for batched in (False, True):
        words, speakers, wall = faster_whisper_per_channel(stereo, model, batched)
        scores = S.word_scores(utterances, words, speakers, {0: "therapist", 1: "client"})
        name = "faster-whisper batched, per channel" if batched else "faster-whisper sequential, per channel"
        results[name] = {"wall_s": round(wall, 1), "scores": scores}
        print(name, json.dumps(results[name], default=str), flush=True)
    return results


def stereo_alone(args):
    """The same session with microphones that hear nothing of each other."""
    if args.real:
        return C.load_support("real_two_mic").session(-200.0)[0]
    return S.stereo_session(args.seconds, bleed_db=-200.0)[0]


def _depth(bleed_db: float | tuple[float, float]) -> str:
    return f"{-bleed_db[0]:g} / {-bleed_db[1]:g} dB" if isinstance(bleed_db, tuple) else f"{-bleed_db:g} dB"


def table_rows(bleed_db: float | tuple[float, float], results: dict) -> list[str]:
    """Markdown rows: system, recognised / attributed per speaker, WER, wall."""
    names = {"auto": "SessionScribe, channels as speakers", "mix": "SessionScribe, mixed + diarization"}
    rows = []
    for key, result in results.items():
        scores = result["scores"]
        cells = [f"{100 * scores[who]['recognised']:.1f} % / {100 * scores[who]['attributed']:.1f} %"
                 for who in ("therapist", "client")]
        rows.append(f"| {_depth(bleed_db)} | {names.get(key, key)} | {cells[0]} | {cells[1]} | {100 * scores['wer']:.1f} % "
                    f"| {result['wall_s']:.1f} s |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--bleed", default=str(S.BLEED_DB),
                        help="how far down each microphone hears the other speaker, in dB; several: -25,-15,-10;"
                             " LEFT/RIGHT for each microphone its own: -40/-10")
    parser.add_argument("--real", action="store_true",
                        help="the session cut from real voices (tests/support/real_two_mic.py) instead of espeak-ng ones")
    parser.add_argument("--model", choices=("tiny.en", "base"), default="tiny.en")
    parser.add_argument("--alone", action="store_true",
                        help="also faster-whisper on the same session with no bleed: each voice alone on its channel,"
                             " what the model hears of it at best")
    args = parser.parse_args(argv)
    import engine  # noqa: F401

    model = C.ensure_base_model() if args.model == "base" else C.load_support("real_model").real_model_dir()
    levels = [tuple(float(x) for x in item.split("/")) if "/" in item else float(item) for item in args.bleed.split(",")]
    everything, rows = {}, []
    for bleed_db in levels:
        if args.real:
            stereo, utterances = C.load_support("real_two_mic").session(bleed_db)
        else:
            stereo, plan = S.stereo_session(args.seconds, bleed_db=bleed_db)
            utterances = plan.utterances
        results = one_session(stereo, utterances, model)
        alone = stereo_alone(args) if args.alone else None
        if alone is not None:
            words, speakers, wall = faster_whisper_per_channel(alone, model, batched=False)
            results["faster-whisper sequential, each voice alone (no bleed)"] = {
                "wall_s": round(wall, 1), "scores": S.word_scores(utterances, words, speakers, {0: "therapist", 1: "client"})}
        everything[_depth(bleed_db)] = results
        rows += table_rows(bleed_db, results)
    print(json.dumps(everything if len(levels) > 1 else everything[_depth(levels[0])], indent=1, default=str))
    print("| bleed | system | therapist: recognised / attributed | client: recognised / attributed | WER | wall |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
