"""Score SessionScribe's speakers against a reference of your own (issue 12: "checked on sessions
that are not in the repo").

    ./sessionscribe transcribe session.wav --speakers auto --format rttm,txt
    .venv/bin/python bench/score_speakers.py reference.rttm session.rttm [--collar 0.25]

The reference is an RTTM file (one `SPEAKER` line per stretch of speech, the form every
diarization corpus and scorer uses) or the ground truth tests/support/dialogue.py saves
(`save_truth`: JSON with `utterances`). The hypothesis is SessionScribe's RTTM export
(engine.rttm_export: the speech it heard, each stretch with its speaker) or, for a transcript
exported before RTTM was, its JSON export (the words and their speakers, stretched over the
pauses between a speaker's words as the RTTM is, but without the speech heard around the
words, so its missed speech comes out higher).

The scoring is pyannote.metrics' diarization error rate, with its optimal one-to-one mapping
of speaker names: missed speech, false alarm and confusion, each as a share of the reference's
speech time, and "speech time right" = 1 - (missed + confusion), the issue's measure (>= 95 %).
Also the speakers found against the reference's count. No collar by default (the issue's
measure has none); `--collar 0.25` is the usual in published results.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


@dataclass(frozen=True)
class Score:
    reference_speakers: int
    speakers_found: int
    speech_s: float  # the reference's speech time
    right: float  # share of it on the right speaker
    missed: float
    false_alarm: float
    confusion: float
    der: float

    def line(self, name: str = "") -> str:
        return (f"{name + ': ' if name else ''}speakers {self.speakers_found} found of {self.reference_speakers}; "
                f"speech time right {self.right:.1%} (missed {self.missed:.1%}, confusion {self.confusion:.1%}); "
                f"false alarm {self.false_alarm:.1%}; DER {self.der:.1%} of {self.speech_s:.1f} s of speech")


def _annotation(stretches, uri: str = "session"):
    from pyannote.core import Annotation, Segment  # noqa: PLC0415 (bench dependency)

    annotation = Annotation(uri=uri)
    for index, (start, end, label) in enumerate(stretches):
        if end > start:
            annotation[Segment(start, end), index] = str(label)
    return annotation


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of every SPEAKER line; one recording per file."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            out.append((start, start + duration, fields[7]))
    return out


def read_stretches(path: Path) -> list[tuple[float, float, str]]:
    """A reference or hypothesis: RTTM; dialogue ground truth (JSON with `utterances`); or a
    SessionScribe JSON export (`segments`, each word with its speaker)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        return read_rttm(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if "utterances" in data:
        return [(float(u["start"]), float(u["end"]), str(u["speaker"])) for u in data["utterances"]]
    from engine.rttm_export import speaker_stretches  # noqa: PLC0415
    from engine.segments import Segment  # noqa: PLC0415
    from engine.transcript import Transcript  # noqa: PLC0415

    transcript = Transcript.of([Segment.from_dict(s) for s in data["segments"]])
    return [(s.start, s.end, "unknown" if s.speaker is None else f"speaker{s.speaker}")
            for s in speaker_stretches(transcript)]


def score(reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]],
          collar: float = 0.0) -> Score:
    with warnings.catch_warnings():  # pyannote.metrics warns that it guesses the scored extent
        warnings.simplefilter("ignore")
        from pyannote.metrics.diarization import DiarizationErrorRate  # noqa: PLC0415

        detail = DiarizationErrorRate(collar=collar, skip_overlap=False)(
            _annotation(reference), _annotation(hypothesis), detailed=True)
    total = detail["total"] or 1.0
    missed, confusion = detail["missed detection"] / total, detail["confusion"] / total
    return Score(
        reference_speakers=len({label for _, _, label in reference}),
        speakers_found=len({label for _, _, label in hypothesis}),
        speech_s=detail["total"],
        right=1.0 - missed - confusion,
        missed=missed,
        false_alarm=detail["false alarm"] / total,
        confusion=confusion,
        der=detail["diarization error rate"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="RTTM, or dialogue ground truth (JSON)")
    parser.add_argument("hypothesis", type=Path, help="SessionScribe's RTTM export (or its JSON export)")
    parser.add_argument("--collar", type=float, default=0.0, help="seconds forgiven around each reference boundary")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = score(read_stretches(args.reference), read_stretches(args.hypothesis), args.collar)
    print(json.dumps(asdict(result)) if args.json else result.line(args.hypothesis.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
