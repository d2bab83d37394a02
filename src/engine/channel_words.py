"""Merging words transcribed from each channel of a two-microphone recording (issue 12).

Each channel is transcribed on its own and labelled by channel; the words are merged by time.
A microphone also hears the other speaker, quietly (bleed, -25 dB in the generated sessions),
and Whisper may transcribe that too: a word with the same text on two channels at overlapping
times is one word, kept on the channel that was louder while it was spoken.

    merged = merge_channel_words([left_words, right_words], levels.rms_over)
    [(w.word.text, w.channel) for w in merged]
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from engine.segments import Word

# rms_over(channel, start_s, end_s) -> linear RMS; engine.channels.ChannelLevels.rms_over.
LevelFunction = Callable[[int, float, float], float]


@dataclass(frozen=True)
class ChannelWord:
    word: Word
    channel: int  # the channel (= speaker) it was heard on: 0 left, 1 right, ...


def merge_channel_words(
    words_by_channel: Sequence[Sequence[Word]], rms_over: LevelFunction
) -> list[ChannelWord]:
    """All channels' words in time order, each labelled with its channel; a word heard on
    two channels (same text, overlapping in time) is kept once, on the channel whose RMS over
    the word's span is higher. Pure: the inputs are not changed."""
    tagged = sorted(
        (ChannelWord(word, channel) for channel, words in enumerate(words_by_channel) for word in words),
        key=lambda w: (w.word.start, w.word.end, w.channel),
    )
    dropped: set[int] = set()
    for i, first in enumerate(tagged):
        if i in dropped:
            continue
        key = _key(first.word.text)
        for j in range(i + 1, len(tagged)):
            other = tagged[j]
            if other.word.start >= first.word.end:
                break  # sorted by start: nothing later overlaps `first`
            if j in dropped or other.channel == first.channel or _key(other.word.text) != key:
                continue
            if _louder(first, other, rms_over) is first:
                dropped.add(j)
            else:
                dropped.add(i)
                break
    return [w for k, w in enumerate(tagged) if k not in dropped]


def _louder(a: ChannelWord, b: ChannelWord, rms_over: LevelFunction) -> ChannelWord:
    """The copy whose channel was louder over the two words' common span."""
    start = min(a.word.start, b.word.start)
    end = max(a.word.end, b.word.end)
    return a if rms_over(a.channel, start, end) >= rms_over(b.channel, start, end) else b


def _key(text: str) -> str:
    """Text for comparing two copies of a word: case, punctuation and spaces ignored."""
    return re.sub(r"[^\w']+", "", text.lower())
