"""A voice that changes half-way (issue 12): the client moves away into the room's echo, or a
telehealth client goes on from a laptop to a phone. Who said what, and every word, side by side
with faster-whisper.

    .venv/bin/python bench/voice_change.py [--model base] [--words-only | --speakers-only] [--docs]

bench/speakers.py's generated dialogues (tests/support/dialogue.py: two espeak-ng voices, noise
22 dB under the speech), 3 and 6 minutes, seeds 700-703. From half-way on, the client's
sentences pass through a change (dialogue.render's `change`, at the loudness they had):
`telephone` (300-3400 Hz), `room` (0.6-s reverberation, 70 % of the sound), or both
(`room` 0.4 s, 50 %, then the band). Measured:
- speakers: the CAM++ stage as a job runs it (engine.diarize), counted and with 2 given:
  speakers found, share of speech time on the right speaker;
- words (3 sessions, to keep it short): SessionScribe's CLI against faster-whisper sequential
  and batched (bench/accuracy.py's runners, the same model, compute type and threads), WER and
  the share of each speaker's words missed, the changed client's apart.
Prints markdown; `--docs` writes it into docs/BENCHMARKS.md between its markers (Whisper
base's words, `--model base --words-only`, into a block of their own after it).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench import accuracy as A  # noqa: E402
from bench import common as C  # noqa: E402
from bench import speakers as S  # noqa: E402

BEGIN = "<!-- bench:voice-change:begin -->"
END = "<!-- bench:voice-change:end -->"
# Whisper base's words (--model base --words-only) have a block of their own, after that one.
BASE_BEGIN = "<!-- bench:voice-change-base:begin -->"
BASE_END = "<!-- bench:voice-change-base:end -->"
SESSIONS = [(seconds, seed) for seconds in (180.0, 360.0) for seed in range(700, 704)]
WORD_SESSIONS = [(180.0, 701), (360.0, 700), (360.0, 701)]
CHANGED = "client (changed)"


def changes(dialogue) -> dict:
    return {
        "none": None,
        "telephone": dialogue.telephone,
        "room": dialogue.room,
        "room + telephone": lambda clip: dialogue.telephone(dialogue.room(clip, 0.4, 0.5)),
    }


def session(seconds: float, seed: int, change):
    dialogue = C.load_support("dialogue")
    plan = dialogue.plan_dialogue(seconds, seed, turn_s=(3.0, 25.0), pause_s=(0.3, 3.0), silences=1,
                                  silence_s=(10.0, 20.0))
    return dialogue.render(plan, peak_dbfs=-3.0, snr_db=22.0, seed=seed, change=change), plan


def truth(plan) -> list:
    """The ground truth with the changed client's utterances (half-way on) under a name of
    their own, so their words are counted apart."""
    half = plan.total / 2 / S.SR
    return [dataclasses.replace(u, speaker=CHANGED) if u.speaker == "client" and u.start >= half else u
            for u in plan.utterances]


def part_speakers(log) -> list[dict]:
    from engine.diarize import CamPlusPlusDiarizer, find_speech

    diarizer = CamPlusPlusDiarizer(device="cpu", threads=1)
    rows = []
    for name, change in changes(C.load_support("dialogue")).items():
        for seconds, seed in SESSIONS:
            audio, plan = session(seconds, seed, change)
            run = diarizer.start(len(audio) / S.SR)
            run.add(audio, 0.0, find_speech(audio))  # embedded once, clustered twice
            counted = S.time_scores(plan.utterances, run.finish(), plan.seconds)
            given = S.time_scores(plan.utterances, run.finish(num_speakers=2), plan.seconds)
            rows.append({"change": name, "seconds": seconds, "seed": seed, "found": counted["found"],
                         "right": counted["right"], "right_given": given["right"]})
            log(f"  {name}, {seconds / 60:.0f} min seed {seed}: {counted['found']} found, "
                f"{counted['right']:.1%} right counted, {given['right']:.1%} with 2 given")
    return rows


def part_words(model: Path, log) -> list[dict]:
    setup = A.plan_setup(model)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, change in changes(C.load_support("dialogue")).items():
            if change is None:
                continue
            for seconds, seed in WORD_SESSIONS:
                audio, plan = session(seconds, seed, change)
                path = S.write_wav(Path(folder) / f"change-{seconds:.0f}-{seed}.wav", audio)
                row = {"change": name, "seconds": seconds, "seed": seed}
                for system in A.SYSTEMS:
                    scored = A.score_run(truth(plan), A.run_system(system, path, setup))
                    row[system] = {"wer": scored["wer"], "missed": scored["missed_by_speaker"],
                                   "dropped": len(scored["dropped"])}
                rows.append(row)
                log(f"  {name}, {seconds / 60:.0f} min seed {seed}: " + ", ".join(
                    f"{A.LABELS[s]} WER {row[s]['wer']:.1%}, changed client missed {row[s]['missed'][CHANGED]:.1%}"
                    for s in A.SYSTEMS))
    return rows


def markdown(speakers: list[dict], words: list[dict], model_name: str, info: dict, heading: bool = True) -> str:
    out = ["### A voice that changes half-way (issue 12)", "",
           "`bench/voice_change.py`: " + " ".join(__doc__.split("\n\n")[2].split("Measured:")[0].split()),
           ""] if heading else []
    out += [f"Machine: {info.get('cpu', '?')}, load {info.get('load', '?')}.", ""]
    if speakers:
        rows = []
        for name in dict.fromkeys(r["change"] for r in speakers):
            rs = [r for r in speakers if r["change"] == name]
            span = lambda key: f"{min(r[key] for r in rs):.1%}-{max(r[key] for r in rs):.1%}"  # noqa: E731
            rows.append([name, f"{sum(r['found'] == 2 for r in rs)} of {len(rs)}", span("right"), span("right_given")])
        out += ["Speakers (CAM++, engine.diarize), 8 sessions a row:", "",
                C.md_table(["client's second half", "2 speakers found (counted)", "speech time right, counted",
                            "speech time right, 2 given"], rows), ""]
    if words:
        out += [f"Words ({model_name}), WER and the changed client's words missed, SessionScribe / "
                "fw sequential / fw batched:", "",
                C.md_table(["client's second half", "session", "WER %", "changed client missed %",
                            "client before missed %", "turns dropped"],
                           [[r["change"], f"{r['seconds'] / 60:.0f} min, seed {r['seed']}",
                             " / ".join(f"{r[s]['wer'] * 100:.1f}" for s in A.SYSTEMS),
                             " / ".join(f"{r[s]['missed'][CHANGED] * 100:.1f}" for s in A.SYSTEMS),
                             " / ".join(f"{r[s]['missed']['client'] * 100:.1f}" for s in A.SYSTEMS),
                             " / ".join(str(r[s]["dropped"]) for s in A.SYSTEMS)] for r in words]), ""]
    return "\n".join(out).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("tiny.en", "base"), default="tiny.en")
    parser.add_argument("--speakers-only", action="store_true")
    parser.add_argument("--words-only", action="store_true")
    parser.add_argument("--docs", action="store_true", help="write the tables into docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    model = C.ensure_base_model() if args.model == "base" else C.load_support("real_model").real_model_dir()
    speakers = [] if args.words_only else part_speakers(print)
    words = [] if args.speakers_only else part_words(model, print)
    info = C.machine_info()
    own_block = args.model == "base" and args.words_only
    text = markdown(speakers, words, args.model, {"cpu": info.get("cpu"), "load": C._loadavg()}, heading=not own_block)
    print(text)
    if args.docs:
        C.update_docs(text, *((BASE_BEGIN, BASE_END) if own_block else (BEGIN, END)), after=END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
