"""Two-voice dialogues with ground truth per utterance, for accuracy tests and bench/accuracy.py.

A therapist (espeak-ng en-us) and a client (the female variant en+f3, faster, 4 dB further from
the microphone) take turns built from a pool of natural sentences. Every turn is one utterance
of the ground truth: its words, its speaker, and where its voiced samples start and end.

    plan = plan_dialogue(seconds=75, seed=3, turn_s=(3, 15), silences=1, silence_s=(10, 20))
    audio = render(plan, peak_dbfs=-3.0, snr_db=30.0)      # 16 kHz mono float32
    click(audio, at_s=..., peak_dbfs=-1.0)                  # one loud 40-ms click, in place

Synthesis goes through tests/support/audio.py (`speak`, cached per sentence), so this file
imports like the other support modules: numpy, PyAV and the espeak-ng binary, nothing else.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


def _audio_module():
    """tests/support/audio.py, whether this file was imported as `support.dialogue` (pytest)
    or loaded by path (bench/common.py: load_support)."""
    if __package__:
        from . import audio  # noqa: PLC0415

        return audio
    key = "_sessionscribe_support_audio"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name("audio.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


audio_support = _audio_module()
SAMPLE_RATE = audio_support.SAMPLE_RATE

# Bump when the plan or rendering changes, so cached recordings (bench/out/) are remade.
GENERATOR_VERSION = 2


@dataclass(frozen=True)
class Voice:
    name: str  # the speaker label in the ground truth
    espeak: str  # espeak-ng voice
    rate_wpm: int
    gain_db: float  # relative level (the client sits further from the microphone)


THERAPIST = Voice("therapist", "en-us", 150, 0.0)
CLIENT = Voice("client", "en-us+f2", 160, -4.0)
VOICES = (THERAPIST, CLIENT)
# Inside one turn, sentences follow each other with a breath of 0.2-0.45 s: shorter than any
# pause between turns (>= 0.3 s is rare at the low end), so a turn reads as one utterance.
BREATH_S = (0.2, 0.45)

_THERAPIST_LINES = (
    "How have things been since we last met?",
    "Can you tell me a little more about that?",
    "What was going through your mind when that happened?",
    "It sounds like that was really difficult for you.",
    "How did your body feel in that moment?",
    "Let's pause there for a second.",
    "What would you say to a friend who was in the same situation?",
    "That is a really important observation.",
    "On a scale from one to ten, how anxious were you?",
    "Did you get a chance to try the breathing exercise this week?",
    "I'm noticing that you paused before answering.",
    "We have about ten minutes left today.",
    "What do you think made this week different from the last one?",
    "When you say you felt stuck, what does stuck look like for you?",
    "I wonder if part of you was trying to protect yourself.",
    "It makes sense that you would feel tired after all of that.",
    "Where do you notice the worry first, in your head or in your body?",
    "Let's try to slow down and look at that evening step by step.",
    "What happened right before you started to feel that way?",
    "You mentioned your sister a few times today.",
    "How do you usually respond when your manager criticizes your work?",
    "That sounds like a lot to carry on your own.",
    "I'd like to come back to something you said earlier.",
    "What would it mean if you let yourself rest for a day?",
    "How did you sleep after the conversation with your mother?",
    "Is there anyone you feel comfortable talking to about this?",
    "What would a good week look like for you right now?",
    "It seems like you are being quite hard on yourself.",
    "Can we write that thought down and look at the evidence for it?",
    "What did you do to take care of yourself afterwards?",
    "I hear a lot of sadness in what you are describing.",
    "You handled a very hard situation better than you are giving yourself credit for.",
    "Let's think about one small step you could take before next session.",
    "How long have you been feeling this way?",
    "What are you most afraid would happen if you said no?",
    "When was the last time you felt calm and settled?",
    "It is completely normal to have mixed feelings about this.",
    "Would it help to practise what you want to say to him?",
    "What does your inner critic usually say in those moments?",
    "Let's take a breath together before we go on.",
    "I notice your voice changed when you talked about your father.",
    "How are you feeling right now, sitting here with me?",
    "Is that something you would like to work on together?",
    "What helped you get through the last time this happened?",
    "So the plan is to walk for twenty minutes after lunch.",
    "That is a big change from where you were a month ago.",
    "Tell me about the moment you decided to leave the party.",
    "How did it feel to finally say that out loud?",
    "What would you like to get out of our session today?",
    "I want to make sure I understand you correctly.",
    "It sounds like you felt invisible in that meeting.",
    "Do you think that belief is completely true?",
    "What might be another way of looking at what he said?",
    "Let's check in on the goals we set at the start.",
    "You seem lighter today than last week.",
    "When the panic comes, what do you usually do first?",
    "Have you noticed any patterns in when the headaches start?",
    "That must have been frightening.",
    "Can you remember what you were thinking just before you called her?",
    "Your feelings about this are valid, even if they are confusing.",
    "How much has the drinking changed over the last few months?",
    "What would your life look like if the anxiety was a little quieter?",
    "Let's spend the last few minutes planning for the holidays.",
    "I'm curious what you noticed when you were walking by the river.",
    "What would you tell your younger self about that time?",
    "You said you wanted to be more patient with your children.",
    "How did your partner react when you told him?",
    "It is okay to take this slowly.",
    "Which part of the day is hardest for you?",
    "What do you need most from the people around you right now?",
    "Shall we look at the sleep diary you kept?",
    "It sounds like you were holding your breath all afternoon.",
    "Let's name the feeling before we try to change it.",
    "How confident do you feel about trying that this week?",
    "What got in the way of doing the exercise?",
    "Thank you for sharing something so personal with me.",
    "We can stop whenever you need a break.",
    "I'd like to try a short grounding exercise with you.",
    "What are five things you can see in this room?",
    "Has anything changed with your appetite?",
    "Do you feel safe at home at the moment?",
    "What was the best part of your week?",
    "When you imagine the interview, what is the first thing you picture?",
    "It seems like the argument was about more than the dishes.",
    "How would you know that things were getting better?",
    "That is a really honest answer.",
    "Let's put that on the list for next time.",
    "How did it go with the new medication?",
    "Can you describe the feeling in three words?",
    "I noticed you smiled when you mentioned the garden.",
)

_CLIENT_LINES = (
    "I have been sleeping better, mostly.",
    "Honestly, it has been a rough couple of weeks at work.",
    "I don't know, I guess I just felt like nobody was listening to me.",
    "My sister called on Sunday and we ended up arguing again about our mother.",
    "I tried the breathing exercise twice, and the second time it actually helped.",
    "It was probably a seven, maybe an eight.",
    "I kept thinking that I was going to mess everything up.",
    "Sometimes I wake up at three in the morning and my heart is racing.",
    "I think I'm starting to notice the pattern before it takes over.",
    "No, not really.",
    "I went for a walk by the river on Thursday, which I haven't done in months.",
    "It feels strange to say it out loud.",
    "I'd like to talk about what happened with my manager on Friday.",
    "Right, that makes sense.",
    "Part of me knows it isn't my fault, but it still feels that way.",
    "He said my report was fine, but the way he said it made me feel small.",
    "I stayed in bed until noon on Saturday and then felt guilty all day.",
    "My chest gets tight and I can't think straight.",
    "I didn't want to go to the party, but I went anyway.",
    "When I got home I just sat in the car for a while.",
    "I think I was afraid that if I said no they would stop inviting me.",
    "It's hard to explain, it's like a fog that doesn't lift.",
    "My mother always said that crying was a sign of weakness.",
    "I started cooking again, which is something I used to love.",
    "The kids were fighting all weekend and I lost my temper.",
    "I felt embarrassed afterwards, more than angry.",
    "I wrote down the thoughts like you suggested.",
    "Most of them were about failing at work.",
    "I guess I expect people to leave eventually.",
    "We had a good talk on Tuesday evening, for the first time in weeks.",
    "I still can't stop checking my phone at night.",
    "It was easier than I expected, to be honest.",
    "I don't really have anyone I can call when it gets bad.",
    "My friend offered to come with me to the appointment.",
    "I've been drinking a bit more than I want to.",
    "Usually two glasses of wine, sometimes more on the weekend.",
    "I think it started after my father got sick.",
    "Everyone expects me to be the strong one in the family.",
    "I felt calm for about an hour after the session last week.",
    "The headaches usually come in the afternoon.",
    "I kept replaying the conversation in my head all night.",
    "I told him I needed some space, and he didn't take it well.",
    "I'm not sure I even know what I want anymore.",
    "When I was little we moved house almost every year.",
    "I never really felt like I belonged anywhere.",
    "The garden is the only place where my mind goes quiet.",
    "I managed to go to the gym three times this week.",
    "It felt good, but I was exhausted afterwards.",
    "I'm worried that I'm going to lose my job.",
    "My partner thinks I should take some time off.",
    "I keep telling myself that other people have it worse.",
    "I snapped at my colleague and then spent the whole day apologizing.",
    "I think I'm scared of what happens if I stop being busy.",
    "My appetite has been pretty bad, I mostly skip lunch.",
    "I could feel my hands shaking before the meeting.",
    "I went to bed early and actually slept through the night.",
    "It's the silence in the evening that gets to me.",
    "I called my brother for the first time in two years.",
    "He sounded happy to hear from me, which surprised me.",
    "I keep comparing myself to my friends from university.",
    "They all seem to have their lives figured out.",
    "I know that's probably not true, but it feels true.",
    "I'd like to be able to say what I need without feeling guilty.",
    "The new medication makes me a bit sleepy in the morning.",
    "Other than that I think it's helping.",
    "I didn't do the exercise, I just couldn't find the time.",
    "Work has been chaotic since the reorganization.",
    "I'm afraid of being a burden to the people I love.",
    "On Monday I had a panic attack on the train.",
    "I got off two stops early and walked the rest of the way.",
    "I think I handled it better than last time.",
    "My daughter asked me why I was always tired.",
    "That question really stayed with me.",
    "I want to be more present with my family.",
    "I'm not sleeping much, maybe four or five hours.",
    "Some days I feel fine and some days I can barely get up.",
    "I noticed that the bad days often follow a phone call with my mother.",
    "I felt proud of myself for the first time in a while.",
    "I'm nervous about the holidays, everyone will be together.",
    "I don't want to fall back into old habits.",
    "Yeah, I think that's exactly it.",
    "It's funny, I never thought of it that way.",
    "I suppose I've always been the one who keeps the peace.",
    "When someone is upset, I feel like it's my job to fix it.",
    "I didn't say anything, I just nodded and went back to my desk.",
    "I cried in the car on the way home, but it felt like a relief.",
    "I've been reading before bed instead of looking at my phone.",
    "The first few nights were hard, but it's getting easier.",
    "I'm still angry about how the whole thing ended.",
    "Maybe I need to forgive myself before I can forgive him.",
    "I made a list of things that usually calm me down.",
    "Music helps, and so does taking a hot shower.",
    "I feel like I'm always waiting for something bad to happen.",
    "I don't know where that feeling comes from.",
    "My neighbour invited me for coffee and I actually went.",
    "We talked for almost an hour about her garden.",
    "I think the job interview went well, but I'm trying not to get my hopes up.",
)

LINES = {THERAPIST.name: _THERAPIST_LINES, CLIENT.name: _CLIENT_LINES}


@dataclass(frozen=True)
class Utterance:
    """One turn of the ground truth: who said what, and when (seconds of voiced audio)."""

    text: str
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class _Piece:
    sentence: str
    voice: Voice
    start: int  # sample offset


@dataclass(frozen=True)
class Plan:
    """Where every sentence goes; `render` turns it into audio."""

    total: int  # samples at SAMPLE_RATE
    pieces: tuple[_Piece, ...]
    utterances: tuple[Utterance, ...]

    @property
    def seconds(self) -> float:
        return self.total / SAMPLE_RATE


def _sentence(voice: Voice, text: str) -> np.ndarray:
    return audio_support._speech(text, voice.espeak, voice.rate_wpm, SAMPLE_RATE)  # cached, read-only


def _synth_all() -> None:
    """Synthesize the whole pool once, in parallel (espeak-ng runs outside the GIL)."""
    jobs = [(voice, text) for voice in VOICES for text in LINES[voice.name]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: _sentence(*job), jobs))


def plan_dialogue(
    seconds: float,
    seed: int = 0,
    *,
    turn_s: tuple[float, float] = (3.0, 25.0),
    pause_s: tuple[float, float] = (0.3, 3.0),
    silences: int = 0,
    silence_s: tuple[float, float] = (10.0, 40.0),
    lead_s: float = 1.0,
) -> Plan:
    """Turns of `turn_s` seconds (target; whole sentences) until `seconds` is filled, pauses of
    `pause_s` between them, and `silences` long silences of `silence_s` in random gaps.

    Speakers mostly alternate (85 %); sentences are drawn without replacement per speaker until
    the pool runs out, so a 30-minute session repeats few of them.
    """
    _synth_all()
    rng = np.random.default_rng(seed)
    decks = {voice.name: [] for voice in VOICES}
    turns: list[tuple[Voice, list[str]]] = []
    spoken = 0.0
    budget = seconds - lead_s - (silences * sum(silence_s) / 2)
    speaker = int(rng.integers(2))
    while True:
        voice = VOICES[speaker]
        # Skewed towards short turns (mean a third of the way up the range), as in conversation.
        target = turn_s[0] + (turn_s[1] - turn_s[0]) * rng.random() ** 2
        sentences: list[str] = []
        length = 0.0
        while length < target:
            deck = decks[voice.name]
            if not deck:
                deck.extend(rng.permutation(len(LINES[voice.name])).tolist())
            text = LINES[voice.name][deck.pop()]
            size = _sentence(voice, text).size / SAMPLE_RATE
            if sentences and length + size > turn_s[1]:
                break
            sentences.append(text)
            length += size + sum(BREATH_S) / 2
        pause = sum(pause_s) / 2
        if spoken + length + pause > budget and turns:
            break
        turns.append((voice, sentences))
        spoken += length + pause
        if rng.random() < 0.85:
            speaker = 1 - speaker

    long_gaps = set()
    if len(turns) > 1 and silences:
        picks = rng.choice(np.arange(1, len(turns)), size=min(silences, len(turns) - 1), replace=False)
        long_gaps = set(picks.tolist())
    gaps = [rng.uniform(*silence_s) if index in long_gaps else rng.uniform(*pause_s)
            for index in range(1, len(turns))]
    return layout_dialogue(turns, gaps, lead_s=lead_s, seconds=seconds, seed=seed)


def layout_dialogue(
    turns: Sequence[tuple[Voice, Sequence[str]]],
    gaps: Sequence[float],
    *,
    lead_s: float = 1.0,
    seconds: float = 0.0,
    seed: int = 0,
) -> Plan:
    """A plan from explicit turns (voice, sentences) and the gaps between them (seconds,
    one fewer than turns). Sentences inside a turn are a breath apart."""
    if len(gaps) != max(0, len(turns) - 1):
        raise ValueError(f"{len(turns)} turns need {len(turns) - 1} gaps, got {len(gaps)}")
    rng = np.random.default_rng(seed + 101)
    pieces: list[_Piece] = []
    utterances: list[Utterance] = []
    pos = round(lead_s * SAMPLE_RATE)
    for index, (voice, sentences) in enumerate(turns):
        if index:
            pos += round(gaps[index - 1] * SAMPLE_RATE)
        start = pos
        for k, text in enumerate(sentences):
            if k:
                pos += round(rng.uniform(*BREATH_S) * SAMPLE_RATE)
            pieces.append(_Piece(text, voice, pos))
            pos += _sentence(voice, text).size
        utterances.append(Utterance(" ".join(sentences), start / SAMPLE_RATE, pos / SAMPLE_RATE, voice.name))
    total = max(pos + round(lead_s * SAMPLE_RATE), round(seconds * SAMPLE_RATE))
    return Plan(total, tuple(pieces), tuple(utterances))


def _noise(n: int, seed: int) -> np.ndarray:
    """White noise of unit RMS, from a fixed bank read cyclically (cheap for long sessions)."""
    bank = np.random.default_rng(seed + 7919).standard_normal(11 * SAMPLE_RATE + 1237).astype(np.float32)
    reps = -(-n // bank.size)
    return np.tile(bank, reps)[:n]


def render(plan: Plan, peak_dbfs: float = -3.0, snr_db: float | None = 22.0, seed: int = 0,
           change: Callable[[np.ndarray], np.ndarray] | None = None, changed: str = "client",
           change_from_s: float | None = None) -> np.ndarray:
    """The dialogue as 16 kHz mono float32: speech, noise at `snr_db` below the speech's RMS
    (measured over the utterances), then the whole scaled so its peak is `peak_dbfs`.

    `change`: a voice heard differently part-way (another microphone, a phone, the room's
    echo; see `telephone`, `room`): the `changed` speaker's sentences from `change_from_s`
    (None: half-way) pass through it, at the loudness they had, as calls and phones level
    their audio."""
    out = np.zeros(plan.total, np.float32)
    change_from = plan.total // 2 if change_from_s is None else round(change_from_s * SAMPLE_RATE)
    for piece in plan.pieces:
        clip = _sentence(piece.voice, piece.sentence) * np.float32(10 ** (piece.voice.gain_db / 20))
        if change is not None and piece.voice.name == changed and piece.start >= change_from:
            heard = change(clip).astype(np.float64)
            clip = heard * np.sqrt(np.mean(np.square(clip, dtype=np.float64)) / max(1e-12, np.mean(heard ** 2)))
        out[piece.start : piece.start + clip.size] += clip.astype(np.float32)
    if snr_db is not None:
        voiced = np.concatenate([
            out[round(u.start * SAMPLE_RATE) : round(u.end * SAMPLE_RATE)] for u in plan.utterances
        ])
        speech_rms = float(np.sqrt(np.mean(voiced.astype(np.float64) ** 2)))
        out += _noise(out.size, seed) * np.float32(speech_rms * 10 ** (-snr_db / 20))
    peak = float(np.max(np.abs(out)))
    out *= np.float32(10 ** (peak_dbfs / 20) / peak)
    return out


def two_microphones(therapist: np.ndarray, client: np.ndarray, bleed_db: float | tuple[float, float],
                    noise_rms: float, rng: np.random.Generator, peak_dbfs: float = -3.0) -> np.ndarray:
    """(2, n) float32: each person's own microphone (therapist left, client right) hearing the
    other `bleed_db` down (or (left, right): how far down the left microphone hears the client
    and the right one the therapist), independent noise of `noise_rms` on each, then the whole
    scaled so its peak is `peak_dbfs`."""
    left_db, right_db = bleed_db if isinstance(bleed_db, tuple) else (bleed_db, bleed_db)
    stereo = np.stack([therapist + np.float32(10 ** (left_db / 20)) * client,
                       client + np.float32(10 ** (right_db / 20)) * therapist])
    stereo += np.float32(noise_rms) * rng.standard_normal(stereo.shape).astype(np.float32)
    return stereo * np.float32(10 ** (peak_dbfs / 20) / np.max(np.abs(stereo)))


def telephone(clip: np.ndarray) -> np.ndarray:
    """A telephone line's band, 300-3400 Hz (4th-order Butterworth)."""
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(4, [300, 3400], btype="band", fs=SAMPLE_RATE, output="sos"), clip)


def room(clip: np.ndarray, rt60_s: float = 0.6, wet: float = 0.7) -> np.ndarray:
    """A reverberant room heard from afar: `wet` of the sound from an exponentially decaying
    noise tail (`rt60_s` to fall 60 dB), the rest direct."""
    from scipy.signal import fftconvolve

    n = round(rt60_s * SAMPLE_RATE)
    tail = np.random.default_rng(1).standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    tail[0] = 0.0
    echo = fftconvolve(clip, tail)[: clip.size]
    return (1 - wet) * clip + wet * echo * (np.max(np.abs(clip)) / max(1e-12, float(np.max(np.abs(echo)))))


def click(audio: np.ndarray, at_s: float, peak_dbfs: float = -1.0, length_s: float = 0.04,
          seed: int = 0) -> np.ndarray:
    """Add one loud click in place: a `length_s` noise burst peaking at `peak_dbfs`."""
    n = round(length_s * SAMPLE_RATE)
    start = round(at_s * SAMPLE_RATE)
    burst = np.random.default_rng(seed + 31).standard_normal(n).astype(np.float32)
    ramp = round(0.002 * SAMPLE_RATE)  # 2-ms edges: a click, not a DC step
    burst[:ramp] *= np.linspace(0, 1, ramp, dtype=np.float32)
    burst[-ramp:] *= np.linspace(1, 0, ramp, dtype=np.float32)
    burst *= np.float32(10 ** (peak_dbfs / 20) / np.max(np.abs(burst)))
    audio[start : start + n] = burst
    return audio


def quiet_gap(plan: Plan, after_s: float, length_s: float = 0.04) -> float:
    """The middle of the first pause after `after_s` long enough to hold `length_s` with 0.2 s
    to spare on each side: where a click lands without covering a word."""
    for before, after in zip(plan.utterances, plan.utterances[1:]):
        if before.end >= after_s and after.start - before.end >= length_s + 0.4:
            return (before.end + after.start) / 2 - length_s / 2
    raise ValueError(f"no pause after {after_s} s")


def busiest_30s(utterances: Sequence[Utterance]) -> int:
    """Most utterances starting inside any 30-s stretch (batched decoding's clip length)."""
    starts = [u.start for u in utterances]
    return max((sum(1 for t in starts if s <= t < s + 30.0) for s in starts), default=0)


def save_truth(path: Path, plan: Plan, **meta) -> Path:
    data = {"generator": GENERATOR_VERSION, "duration_s": plan.seconds, **meta,
            "utterances": [asdict(u) for u in plan.utterances]}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def load_truth(path: Path) -> tuple[dict, list[Utterance]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data, [Utterance(**u) for u in data["utterances"]]
