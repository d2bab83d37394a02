"""Tell a finished job's speakers apart again, with another count (issue 12).

Counting voices is the speaker stage's weakest step (docs/BENCHMARKS.md, "Voices the tuning
never saw"): two alike voices can come out as one (2 of 6 generated sessions of two synthetic
women's voices). Giving the count fixes it (89.8-97.5 % of those sessions' speech time right,
against 59.3-97.5 % counted). A finished job keeps
each window's voices (engine.store: the speech windows and their speaker embeddings), so the
clinician can say how many spoke after the fact, instead of transcribing the session again:
clustering only, no model and no audio, 0.7-0.8 s for a 3-h session's 7,000 windows and
1,100 segments here, store included.

    segments = recount(store, job_id, 2)   # None: the job kept no voices to count

The words, their timings and the text stay; the rows are rebuilt as the transcriber made them
(a sentence an earlier count split at a turn change is one row again), labelled again, and
split where the new turns change inside them. A segment whose text the clinician edited (it
has no word timings left) keeps its text and its edited mark, and takes the speaker that
overlaps it most. Speaker names stay with the numbers, as after a swap. Changes made by hand
to who said what give way to the new count.
"""
from __future__ import annotations

import logging

from engine.diarize import turns_from_voices
from engine.segments import Segment
from engine.speaker_labels import TurnIndex, label_segments, rejoined, turn_rows
from engine.store import JobStore

log = logging.getLogger("sessionscribe.speakers")


def recount(store: JobStore, job_id: str, num_speakers: int | None) -> list[Segment] | None:
    """The job's segments, told apart into `num_speakers` speakers (None: counted), stored
    and returned in the store's order. None when the job kept no voices: it ran with
    speakers off, its channels were the speakers, or nothing in it was speech."""
    if num_speakers is not None and num_speakers < 1:
        raise ValueError("num_speakers must be at least 1 (or None to count them)")
    records = store.windows(job_id)
    if not records or any(record.voices is None for record in records):
        return None
    turns = turns_from_voices([record.voices for record in records], num_speakers)
    if not turns:
        return None
    index = TurnIndex(turns)  # once for the job, not once a segment
    store.relabel_speakers(job_id, {record.index: turn_rows(label_segments(rejoined(record.segments), index))
                                    for record in records})
    log.info("speakers told apart again: %d found", len({turn.speaker for turn in turns}))
    return store.segments(job_id)
