"""Who said what, as the app changes it (issue 12): rename a speaker, swap two, reassign one
segment, cut a turn back into sentences, join two that are one person, take the speakers told
apart again with another count. No Qt here; the transcript view calls these and then saves
through app.history.

Every change goes into the Job the view shows (its `transcript.info.speakers` names and its
`segments`), so `Job.current_transcript()`, and so every export and "Update exports", has it
at once; the change also counts as an edit, so the job's exports written before it are stale.
"""
from __future__ import annotations

import time

from app.jobs import Job
from engine import Segment, Transcript, merged, merged_names, said_by, sentences

# One colour per speaker number (cycled past eight), for the name written in it: dark enough
# to read on white and on the search highlight (contrast >= 4.5), far apart in hue so that
# Speaker 1 and Speaker 2 never look alike.
PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#a84300", "#00695c", "#ad1457", "#4e342e")
MAX_NAME = 60  # characters: a name is a label, not a note
# "How many spoke" (the line menu): the speakers told apart again as this many, or counted.
# Counting is what goes wrong (two alike voices found as one; docs/BENCHMARKS.md), so the
# counts come first; a family session rarely has more than five.
RECOUNT_CHOICES: tuple[tuple[str, int | None], ...] = (
    ("2 (one-to-one session)", 2), ("3", 3), ("4", 4), ("5", 5), ("Count them again", None),
)


def colour(speaker: int) -> str:
    return PALETTE[speaker % len(PALETTE)]


def numbers(job: Job | None) -> list[int]:
    """The speakers heard in the job's transcript as it stands, in order of number."""
    if job is None:
        return []
    return sorted({s.speaker for s in job.segments if s.speaker is not None})


def name(job: Job, speaker: int) -> str:
    return _base(job).info.speaker_name(speaker)


def names(job: Job) -> tuple[str, ...]:
    return _base(job).info.speakers


def editable(job: Job | None) -> bool:
    """Speakers can be changed once the job has finished: before that, its segments are the
    live, unlabelled ones, and the engine's final transcript would replace them."""
    return job is not None and job.status.finished and bool(numbers(job))


def by_channel(job: Job) -> bool:
    """Each of the recording's channels was one speaker (engine.channel_route): the speakers
    come from the microphones, so no voices were kept to tell them apart again."""
    return job.report is not None and job.report.channel_route == "speakers"


def clean_name(text: str) -> str:
    return " ".join(str(text).split())[:MAX_NAME]


def rename(job: Job, speaker: int, new_name: str) -> tuple[str, ...] | None:
    """Name `speaker` (0-based) in every view and export of `job`. Returns all the names to
    store, or None when nothing changed. An empty name goes back to "Speaker N"."""
    new_name = clean_name(new_name)
    current = list(names(job))
    if name(job, speaker) == (new_name or f"Speaker {speaker + 1}"):
        return None
    while len(current) <= speaker:
        current.append("")  # unnamed speakers before it keep "Speaker N"
    current[speaker] = new_name
    while current and not current[-1]:
        current.pop()
    job.transcript = _base(job).with_speaker_names(current)
    _edited(job)
    return tuple(current)


def swap(job: Job, first: int, second: int) -> bool:
    """Whatever `first` said, `second` said, and the other way round (the names stay with
    the numbers: "Therapist" is still speaker 0)."""
    if first == second:
        return False
    other = {first: second, second: first}
    changed = False
    for row, segment in enumerate(job.segments):
        if segment.speaker in other:
            job.segments[row] = said_by(segment, other[segment.speaker])
            changed = True
    if changed:
        _edited(job)
    return changed


def merge(job: Job, source: int, target: int) -> bool:
    """`source` and `target` are one person (a voice heard two ways, e.g. after a change of
    microphone or room): whatever `source` said, `target` said. The speakers after `source`
    move down one, with their names (engine.speaker_labels.merged)."""
    if source == target or source not in numbers(job):
        return False
    job.transcript = _base(job).with_speaker_names(merged_names(names(job), source, target))
    for row, segment in enumerate(job.segments):
        number = merged(segment.speaker, source, target)
        if number != segment.speaker:
            job.segments[row] = said_by(segment, number)
    _edited(job)
    return True


def reassign(job: Job, row: int, speaker: int) -> bool:
    """Segment `row` was said by `speaker`; its words follow it."""
    segment = job.segments[row]
    if segment.speaker == speaker:
        return False
    job.segments[row] = said_by(segment, speaker)
    _edited(job)
    return True


def split(job: Job, row: int) -> int:
    """Row `row` (one speaker's turn) cut back into its sentences (engine.speaker_labels
    .sentences), so a sentence the speaker model gave to the wrong person can be given back
    alone. Returns how many rows it became (1: nothing to split)."""
    pieces = sentences(job.segments[row])
    if len(pieces) > 1:
        job.segments[row : row + 1] = pieces
        _edited(job)
    return len(pieces)


def recounted(job: Job, segments: list[Segment]) -> int:
    """The job's speakers were told apart again (engine.speaker_recount): its segments as
    stored now, rows split at the new turn changes. Returns how many speakers it has."""
    job.segments[:] = segments
    _edited(job)
    return len(numbers(job))


def _base(job: Job) -> Transcript:
    return job.transcript or Transcript.of([], source=job.path.name)


def _edited(job: Job) -> None:
    job.edited = True
    job.edited_at = time.time()  # exports written before now are stale
