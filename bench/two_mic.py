"""Two-microphone recordings through the real pipeline (issue 12), on bench/speakers.py's
generated session (therapist left, client right, -25 dB bleed, one gap in five overlapping).

    .venv/bin/python bench/two_mic.py [--seconds 180]

Runs `Engine.transcribe` on the stereo WAV with --channels auto (layout measured, each
channel transcribed as its speaker) and with --channels mix (mixed to mono, diarized), and
scores words per true speaker: recognised, and attributed to the right speaker. Prints JSON.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args(argv)
    import engine  # noqa: F401

    model = C.load_support("real_model").real_model_dir()
    stereo, plan = S.stereo_session(args.seconds)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = S.write_wav(Path(folder) / "two-mic.wav", stereo)
        for channels in ("auto", "mix"):
            out = Path(folder) / channels
            out.mkdir()
            got = run(path, model, channels, out)
            words = got["words"]
            mapping = {0: "therapist", 1: "client"} if channels == "auto" else None
            scores = S.word_scores(plan.utterances, words, [w.speaker for w in words], mapping)
            report = got["report"]
            results[channels] = {
                "wall_s": got["wall_s"], "scores": scores, "layout": report.channel_layout,
                "route": report.channel_route, "note": report.channels_note, "stages": report.stages,
                "clips": report.clips, "speakers": report.speakers, "redecoded_clips": report.redecoded_clips,
                "redecoded_regions": report.redecoded_regions, "loops": report.loops, "fill": getattr(report, "clip_fill", None),
            }
            print(channels, json.dumps(results[channels], default=str), flush=True)
    results["seconds"] = plan.seconds
    print(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
