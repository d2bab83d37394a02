"""Merging words transcribed from each channel of a two-microphone recording (issue 12).

Each channel is transcribed on its own and labelled by channel; the words are merged by time.
A microphone also hears the other speaker, quietly (bleed, -25 dB in the generated sessions),
and Whisper transcribes that too: on bench/speakers.py's two-mic session each channel's
transcript held a third of the other speaker's words (1,041 words, 694 said). So:
- a word with the same text on two channels at overlapping times is one word, kept on the
  channel that was louder while it was spoken;
- a word whose own channel was its bleed threshold quieter (BLEED_DB at most; each channel
  measured against its own speech level, bleed_thresholds) than another channel while it was
  spoken is that other speaker's: dropped when the other channel has a word at that time (a
  misheard copy), else moved to that channel.

    merged = merge_channel_words([left_words, right_words], levels.rms_over, verdict.loud_dbfs,
                                 bleed_thresholds(verdict.bleed_depth_db))
    [(w.word.text, w.channel) for w in merged]
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from engine.segments import Word

# rms_over(channel, start_s, end_s) -> linear RMS; engine.channels.ChannelLevels.rms_over.
LevelFunction = Callable[[int, float, float], float]

# Close microphones: a speaker's own channel is about as loud as the other speaker's is on
# theirs (0-6 dB apart, also when both talk at once); bleed is 20-30 dB down. Half-way.
BLEED_DB = 15.0
# Microphones further apart, or in a small room, hear each other less far down: on generated
# sessions with the bleed 15 or 10 dB down, a fixed 15 dB let the other speaker's words
# through (WER 19.3 / 15.5 % against 4.6 % at 20 dB down; bench/two_mic.py --bleed), and so
# it did where one microphone hears the other voice 10 dB down and the other 40 dB (a
# telehealth room microphone and the remote line: WER 11.2 %). So each channel's threshold is
# half its bleed's depth as the recording measures it (bleed_thresholds), at most BLEED_DB,
# at least MIN_BLEED_DB (channels forced to be speakers on a recording whose channels hardly
# differ: no level says bleed there).
MIN_BLEED_DB = 3.0


def bleed_thresholds(depths_db: Sequence[float | None]) -> tuple[float, ...]:
    """Per channel, how far below another channel (against its own speech level) counts as
    bleed: half of how far down it hears the other speaker (ChannelVerdict.bleed_depth_db: 25
    dB down gives 12.5, 10 dB down 5), BLEED_DB where not measured."""
    return tuple(BLEED_DB if depth is None else min(BLEED_DB, max(MIN_BLEED_DB, depth / 2.0)) for depth in depths_db)


def bleed_threshold(bleed_db: Sequence[float], channel: int) -> float:
    """`channel`'s threshold in `bleed_db` (bleed_thresholds' tuple); BLEED_DB for a channel
    it does not reach (nothing measured: a route that was not decided by levels)."""
    return bleed_db[channel] if channel < len(bleed_db) else BLEED_DB


@dataclass(frozen=True)
class ChannelWord:
    word: Word
    channel: int  # the channel (= speaker) it was heard on: 0 left, 1 right, ...


def merge_channel_words(
    words_by_channel: Sequence[Sequence[Word]],
    rms_over: LevelFunction,
    loud_dbfs: Sequence[float] | None = None,
    bleed_db: Sequence[float] | None = (),
) -> list[ChannelWord]:
    """All channels' words in time order, each labelled with its channel (see the module
    docstring for bleed). `loud_dbfs`: each channel's speech level (ChannelVerdict.loud_dbfs),
    so microphones set to different gains compare fairly; None: all equal. `bleed_db`: each
    channel's bleed threshold (bleed_thresholds; BLEED_DB for a channel it does not reach);
    None: only same-text copies are merged. Pure: the inputs are not changed."""
    count = len(words_by_channel)
    offsets = [0.0] * count if loud_dbfs is None else [float(x) for x in loud_dbfs]

    def level(channel: int, start: float, end: float) -> float:
        """dB relative to the channel's own speech level."""
        rms = rms_over(channel, start, end)
        return (20.0 * math.log10(rms) if rms > 0 else -200.0) - offsets[channel]

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
            if _louder(first, other, level) is first:
                dropped.add(j)
            else:
                dropped.add(i)
                break
    kept = [w for k, w in enumerate(tagged) if k not in dropped]
    if bleed_db is None or count < 2:
        return kept
    return _move_bleed(kept, level, count, bleed_db)


def _move_bleed(words: list[ChannelWord], level, count: int, bleed_db: Sequence[float]) -> list[ChannelWord]:
    out: list[ChannelWord] = []
    for index, item in enumerate(words):
        start, end = item.word.start, max(item.word.end, item.word.start + 0.03)
        own = level(item.channel, start, end)
        loudest = max(range(count), key=lambda c: level(c, start, end))
        if loudest == item.channel or level(loudest, start, end) - own < bleed_threshold(bleed_db, item.channel):
            out.append(item)
            continue
        if any(_overlaps(other, item) and other.channel == loudest for other in _near(words, index)):
            continue  # a misheard copy of a word the louder channel has
        out.append(ChannelWord(replace(item.word), loudest))
    return sorted(out, key=lambda w: (w.word.start, w.word.end, w.channel))


def _near(words: list[ChannelWord], index: int, reach: int = 12) -> list[ChannelWord]:
    return words[max(0, index - reach) : index] + words[index + 1 : index + 1 + reach]


def _overlaps(a: ChannelWord, b: ChannelWord) -> bool:
    return a.word.start < b.word.end and b.word.start < a.word.end


def _louder(a: ChannelWord, b: ChannelWord, level) -> ChannelWord:
    """The copy whose channel was louder (against its own speech level) over both words."""
    start = min(a.word.start, b.word.start)
    end = max(a.word.end, b.word.end)
    return a if level(a.channel, start, end) >= level(b.channel, start, end) else b


def _key(text: str) -> str:
    """Text for comparing two copies of a word: case, punctuation and spaces ignored."""
    return re.sub(r"[^\w']+", "", text.lower())
