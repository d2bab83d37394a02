"""The transcript as MAXQDA imports it (`<stem>.maxqda.txt`): timestamps MAXQDA links to the
recording, and speakers where its focus-group import looks for them."""
from __future__ import annotations

from engine.export import paragraphs, turns
from engine.transcript import Transcript


def _maxqda_time(seconds: float) -> str:
    """`#00:12:03-4#`: MAXQDA's (and f4transkript's) timestamp, tenths after the dash."""
    tenths = max(0, round(seconds * 10))
    hours, rest = divmod(tenths, 36_000)
    minutes, rest = divmod(rest, 600)
    secs, tenth = divmod(rest, 10)
    return f"#{hours:02d}:{minutes:02d}:{secs:02d}-{tenth}#"


def format_maxqda(transcript: Transcript) -> str:
    """A transcript MAXQDA imports with its media links and speakers.

    `#00:00:00-0#` opens the file and each paragraph ends with the time it ends: MAXQDA links
    the text between two timestamps to that stretch of the recording (the f4 convention).
    With speakers, each paragraph is a turn starting `Name: `, which MAXQDA's focus-group
    import reads as the speaker; without, the TXT export's paragraphs. A '#' in the text
    would read as half a timestamp, so it becomes the full-width '＃', which looks the same.
    """
    segments, speech = transcript.segments, transcript.speech
    if transcript.speaker_numbers:
        parts = [
            (turn.end, f"{transcript.info.speaker_name(turn.speaker)}: {turn.text}" if turn.speaker is not None else turn.text)
            for turn in turns(segments)
        ]
    else:
        parts = [(end, text) for _, end, text in paragraphs(segments, speech)]
    if not parts:
        return ""
    lines = [f"{text.replace('#', '＃')} {_maxqda_time(end)}" for end, text in parts]
    return _maxqda_time(0.0) + "\n" + "\n".join(lines) + "\n"  # a line is a paragraph in MAXQDA
