"""A two-microphone session from real voices, with its ground truth (issue 12).

The generated two-mic session's client is an espeak-ng voice that tiny.en and Whisper base
mishear: faster-whisper on that voice alone, no bleed and no other speaker, recognises 90.3-92.7
% of its words (bench/two_mic.py). This one is cut from recordings of real people in
../shared/data/real/ (skipped where absent):

- left microphone ("therapist"): J. F. Kennedy (jfk.flac) in three turns, then the left speaker
  of faster-whisper's stereo_diarization.wav;
- right microphone ("client"): the reader of multilingual.mp3 (its English part, the MIT licence)
  in three turns, and the right speaker of stereo_diarization.wav.

Eight turns, 47 s of speech, each turn at the same speech level, pauses of 0.3-1.0 s and one
turn starting 0.4 s before the other ends; each microphone hears the other person `bleed_db` down
(support.dialogue.two_microphones, as bench/speakers.stereo_session), independent noise
`snr_db` under the speech.

    stereo, utterances = real_two_mic.session(bleed_db=-25.0)   # (2, n) float32, 16 kHz
"""
from __future__ import annotations

import numpy as np

from support.dialogue import Utterance, two_microphones
from support.recordings import real_recording

RATE = 16000

# (recording, channel of it (None: mixed), start s, end s, the words said), cut at pauses of the
# recordings: Kennedy's sentence in three, the licence at its commas and full stops.
PIECES = {
    "kennedy 1": ("jfk.flac", None, 0.0, 2.45, "And so my fellow Americans,"),
    "kennedy 2": ("jfk.flac", None, 2.45, 7.54, "ask not what your country can do for you,"),
    "kennedy 3": ("jfk.flac", None, 7.54, 10.9, "ask what you can do for your country."),
    "wizard": ("stereo_diarization.wav", 0, 0.0, 4.75,
               "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."),
    "licence 1": ("multilingual.mp3", None, 0.0, 8.85,
                  "Permission is hereby granted, free of charge, to any person obtaining a copy of this software "
                  "and associated documentation files to deal in the software without restriction,"),
    "licence 2": ("multilingual.mp3", None, 8.85, 14.7,
                  "including without limitation the rights to use, copy, modify, merge, publish, distribute,"),
    "licence 3": ("multilingual.mp3", None, 14.7, 28.95,
                  "sublicense, and or sell copies of the software, and to permit persons to whom the software is "
                  "furnished to do so, subject to the following conditions: the above copyright notice and this "
                  "permission notice shall be included in all copies or substantial portions of the software."),
    "horizon": ("stereo_diarization.wav", 1, 0.0, 2.6, "The horizon seems extremely distant."),
}
# (piece, who, pause before it in seconds: negative starts it inside the turn before)
TURNS = (
    ("kennedy 1", "therapist", 0.5), ("licence 1", "client", 0.6), ("kennedy 2", "therapist", 0.3),
    ("horizon", "client", -0.4), ("kennedy 3", "therapist", 0.8), ("licence 2", "client", 0.5),
    ("wizard", "therapist", 1.0), ("licence 3", "client", 0.4),
)


def _piece(name: str, cache: dict) -> np.ndarray:
    from engine.channel_audio import decode_channels

    recording, channel, start, end, _text = PIECES[name]
    if recording not in cache:
        cache[recording] = decode_channels(real_recording(recording))
    channels = cache[recording]
    audio = channels.mean(axis=0) if channel is None else channels[channel]
    piece = np.asarray(audio[int(start * RATE) : int(end * RATE)], dtype=np.float32)
    loud = np.abs(piece) > 0.1 * np.abs(piece).max()  # speech level: the voiced part's RMS
    return piece * np.float32(0.1 / np.sqrt(np.mean(piece[loud] ** 2)))


def session(bleed_db: float | tuple[float, float] = -25.0, snr_db: float = 30.0,
            seed: int = 3) -> tuple[np.ndarray, list[Utterance]]:
    """(2, n) float32, therapist left and client right, and each turn's words and times.
    `bleed_db` (left, right): how far down the left microphone hears the client and the right
    one the therapist."""
    cache: dict = {}
    pieces = [(_piece(name, cache), who, pause, PIECES[name][4]) for name, who, pause in TURNS]
    total = int((sum(p.size for p, *_ in pieces) / RATE + sum(max(0.0, pause) for *_, pause, _t in pieces) + 1.0) * RATE)
    voices = {"therapist": np.zeros(total, np.float32), "client": np.zeros(total, np.float32)}
    utterances, at = [], 0
    for audio, who, pause, text in pieces:
        start = max(0, at + int(pause * RATE))
        voices[who][start : start + audio.size] += audio
        utterances.append(Utterance(text, start / RATE, (start + audio.size) / RATE, who))
        at = start + audio.size
    therapist, client = (voices[who][: at + RATE // 2] for who in ("therapist", "client"))
    noise = 0.1 * 10 ** (-snr_db / 20)  # every turn's speech is at 0.1 RMS (_piece)
    return two_microphones(therapist, client, bleed_db, noise, np.random.default_rng(seed)), utterances
