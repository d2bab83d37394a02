"""Stage 4 — transcribe: clips through faster-whisper's batched pipeline, then a check that
every voiced region came back as words.

Clips from the speech stage (voiced spans joined end to end, <= 30 s) go through
`BatchedInferencePipeline` as `clip_timestamps` over one array holding them back to back, so
faster-whisper skips its own (single-threaded) VAD pass and batches fill the GPU. On the CPU
the clips go one at a time instead, on parallel workers (engine.hardware.CPU_MAX_WORKERS),
each prompted with the end of the text before it (CHAIN_CLIPS). Words always come back with
their times (cues take their times from them; nothing is spread), and are mapped from the
clip's audio back to the recording.

Batched decoding has no seek: on a 25-30 s clip holding several turns, the model sometimes
stops early or skips a turn and nothing notices (tiny.en, 30-min two-voice session: 15 of 138
utterances lost, though the speech stage had found them all). So after each batch:
- a clip whose text loops (one phrase over and over, or gzip compression ratio > 2.4 with
  more words than the speech had time for), or that left 4 s or more of its speech without
  words, is decoded again on its own the way faster-whisper's sequential decoding does it
  (timestamps, seek, temperature fallback); the better result is kept, and repeats that
  survive every retry are collapsed and counted as doubtful;
- shorter voiced stretches without words are decoded again, joined into clips of their own
  and batched, and what that still misses once more sequentially;
- what stays without words is counted (regions, seconds) for the run report and a note.
"""
from __future__ import annotations

import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np

from engine.decode import SAMPLE_RATE
from engine.errors import ModelError
from engine.hardware import Runtime
from engine.options import TranscribeOptions
from engine.segments import Segment, Word
from engine.speaker_labels import segments_from_words
from engine.speech import Clip, Span

T = TypeVar("T")

# A voiced stretch this long with no word within COVER_TOLERANCE_S of it counts as missed.
# Word times from cross-attention are off by up to ~0.3 s at turn edges.
MIN_MISSED_S = 0.8
COVER_TOLERANCE_S = 0.4
# Words shorter than this on average, three or more in a row, were crammed in by the
# alignment (espeak-ng's shortest words take 0.12 s).
SQUEEZED_WORD_S = 0.1
# A retry's word that starts this close to the same word already found is that word decoded
# twice. A bleed voice on a two-mic channel (bench/speakers.py's 3-min session, channel 0)
# came back from the batched and then the sequential retry, 0-0.02 s apart, and every word
# was written twice ("I'd I'd like like to to"). A word said twice takes longer than this.
SAME_WORD_S = 0.3
# Spoken words last well under this (espeak-ng's longest: 0.9 s); a longer one was stretched
# by the alignment over speech the decode skipped.
MAX_WORD_S = 1.5
# A clip that left this much of its speech without words is decoded again whole; less is
# decoded again as stretches of its own (cheaper: they share 30-s clips).
REDECODE_CLIP_S = 4.0
# faster-whisper's own threshold for a looping decode (gzip ratio of the text).
LOOP_COMPRESSION_RATIO = 2.4
# A phrase of 2+ words said this many times in a row is a loop (said once: "When the right will
# lose my job" came back 7 times); single words need more ("no, no, no" is speech).
LOOP_PHRASE_REPEATS = 4
LOOP_WORD_REPEATS = 6
# Conversation runs at 2-3.5 words a second; a looping decode crams in more than that.
LOOP_WORDS_PER_S = 5.0
CLIP_SLOT_S = 60  # where each clip sits in the array handed to the batched pipeline
# Decoding one clip at a time (the CPU's plan, engine.hardware), each clip is prompted with the
# end of the text before it, as sequential decoding's condition_on_previous_text does: in
# chains of CHAIN_CLIPS clips of a window, run side by side on the workers (chains depend on
# the recording only, never on the worker count). tiny.en, bench/accuracy.py sessions, WER /
# inserted words without -> with: 10 min 10.0 % / 19 -> 9.3 % / 13, 30 min 9.4 % / 64 ->
# 8.9 % / 59 (sequential: 9.8 % / 15, 9.1 % / 60); the five 3.5-min sessions as good or
# better. A prompt of 400 characters instead of 150 cost 17 % more time on 30 min for
# 9.2 % / 61.
CHAIN_CLIPS = 4
PROMPT_CHARS = 150
# Temperatures for the second, sequential decode (faster-whisper's defaults).
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class SpeechCheck:
    """How the words were made to cover the speech (one window or a whole job)."""

    clips: int = 0
    clip_audio_s: float = 0.0  # audio the model heard in first-pass clips
    redecoded_clips: int = 0  # clips decoded again on their own (missed speech or a loop)
    redecoded_regions: int = 0  # voiced stretches decoded again as clips of their own
    recovered_s: float = 0.0  # voiced seconds that had no words after the first pass and now do
    loops: int = 0  # clips whose first decode looped
    doubtful_loops: int = 0  # ...and still looped after every retry (repeats collapsed)
    untranscribed_regions: int = 0  # voiced stretches still without words
    untranscribed_s: float = 0.0

    @property
    def clip_fill(self) -> float:
        """Share of the encoder's 30-s inputs that held audio."""
        return self.clip_audio_s / (30.0 * self.clips) if self.clips else 0.0

    def add(self, other: "SpeechCheck") -> None:
        for name in (
            "clips", "clip_audio_s", "redecoded_clips", "redecoded_regions", "recovered_s",
            "loops", "doubtful_loops", "untranscribed_regions", "untranscribed_s",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class WindowAudio:
    """A window's conditioned audio and the clips found in it."""

    audio: np.ndarray
    offset: int  # samples from the start of the recording
    clips: list[Clip]


@dataclass(frozen=True)
class WindowTranscript:
    segments: list[Segment]
    language: str | None
    check: SpeechCheck = field(default_factory=SpeechCheck)


class Transcriber:
    """A loaded model, reused for every job with the same model and runtime."""

    def __init__(self, model_dir: Path, runtime: Runtime) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        try:
            self.model = WhisperModel(
                str(model_dir),
                device=runtime.device,
                compute_type=runtime.compute_type,
                cpu_threads=runtime.cpu_threads,
                num_workers=runtime.num_workers,
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise ModelError(f"{model_dir.name}: the model could not be loaded ({error})") from None
        if runtime.device == "cuda":
            # Log-Mel features in torch on the GPU, next to the model. On the CPU faster-whisper's
            # numpy extractor stays: torch's was 3 ms faster per 15-s clip (45 ms on a 12-min
            # session) but importing torch cost every CPU job 1.7 s and 250 MB of peak RSS.
            from engine.features import TorchFeatureExtractor

            self.model.feature_extractor = TorchFeatureExtractor(
                device=runtime.device, **self.model.feat_kwargs
            )
        # One pipeline per CTranslate2 worker: each carries state from one clip of a call to
        # the next, so parallel calls never share one (engine.hardware.CPU_MAX_WORKERS).
        self.workers = max(1, runtime.num_workers)
        self._pipelines: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(self.workers):
            self._pipelines.put(BatchedInferencePipeline(self.model))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="decode") if self.workers > 1 else None
        self.runtime = runtime
        self.model_dir = model_dir

    def close(self) -> None:
        """Let the parallel workers' threads go (the model goes with the last reference)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def warm_up(self) -> None:
        """Run one real encode + decode step: a broken CUDA/cuDNN install fails here, at load
        time, instead of 20 s into a job."""
        features = np.zeros((1, self.model.model.n_mels, 3000), dtype=np.float32)
        encoded = self.model.encode(features)
        self.model.model.generate(encoded, [[self.model.hf_tokenizer.token_to_id("<|startoftranscript|>")]], max_length=2)

    def transcribe_windows(
        self,
        windows: Sequence["WindowAudio"],
        options: TranscribeOptions,
        language: str | None,
        progress: Callable[[float], None] | None = None,
    ) -> list[WindowTranscript]:
        """Transcribe several windows' clips, batched together (a window often holds fewer
        clips than a batch); one result per window, times in recording seconds."""
        owners = [(w, clip) for w in windows for clip in w.clips]
        if not owners:
            return [WindowTranscript([], language, SpeechCheck()) for _ in windows]
        clips = [clip for _, clip in owners]
        pieces = [clip.audio(w.audio, w.offset) for w, clip in owners]
        sizes = [len(w.clips) for w in windows]
        words, language = self._first_pass(pieces, clips, sizes, options, language, progress)
        # A clip whose decode loops, or that lost a turn or more, is decoded again on its own
        # (timestamps, seek, rising temperatures), all of this call's side by side on the
        # CPU's workers. The words it gives also have better times: after a skipped turn the
        # batch's word alignment pulled the next turn's first word seconds early (cue start
        # p90 2.2 s on the 3.5-min bench session when only the missing stretches were decoded
        # again).
        redo = [index for index, (clip, found) in enumerate(zip(clips, words)) if _redecode(clip, found)]
        again = dict(zip(redo, self._each(lambda k: self._sequential(pieces[k], clips[k], options, language), redo)))
        results = []
        position = 0
        for window in windows:
            count = len(window.clips)
            results.append(
                self._check(
                    window, pieces[position : position + count], words[position : position + count],
                    {k - position: v for k, v in again.items() if position <= k < position + count},
                    options, language,
                )
            )
            position += count
        if progress:
            progress(1.0)
        return results

    def _check(self, window, pieces, words, again, options, language) -> WindowTranscript:
        """Make the words of one window cover its speech (see the module's docstring);
        `again`: the second decodes of its clips that `_redecode` picked, by clip index."""
        clips = window.clips
        check = SpeechCheck(
            clips=len(clips), clip_audio_s=sum(min(clip.duration, 30.0) for clip in clips)
        )
        if not clips:
            return WindowTranscript([], language, check)
        missed_first = sum(_length(_uncovered(c.voiced, w)) for c, w in zip(clips, words))
        for index, second in sorted(again.items()):
            clip = clips[index]
            voiced_s = _length(clip.voiced)
            check.loops += _loops(words[index], voiced_s)
            check.redecoded_clips += 1
            if _better(second, words[index], clip.voiced):
                words[index] = second
            if _loops(words[index], voiced_s):
                check.doubtful_loops += 1
                words[index] = _collapse_repeats(words[index])
        all_words = sorted((w for clip_words in words for w in clip_words), key=lambda w: w.start)

        # Voiced stretches without words: decoded again, joined into clips of their own and
        # batched (what sequential decoding's seek does: carry on where the words stopped).
        missed = _uncovered(tuple(v for clip in clips for v in clip.voiced), all_words)
        if missed:
            check.redecoded_regions += len(missed)
            retry = _gap_clips(missed, clips)
            retry_pieces = [clip.audio(window.audio, window.offset) for clip in retry]
            found, _ = self._batched(retry_pieces, retry, options, language, None)
            for clip, clip_words in zip(retry, found):
                if not _loops(clip_words, _length(clip.voiced)):
                    all_words.extend(_new_words(clip_words, all_words))
            all_words.sort(key=lambda w: w.start)
            # What the batched retry still missed: once more, sequentially (seek, fallback).
            still_missed = [k for k, clip in enumerate(retry) if _uncovered(clip.voiced, all_words)]
            retried = self._each(
                lambda k: self._sequential(retry_pieces[k], retry[k], options, language), still_missed
            )
            for k, second in zip(still_missed, retried):
                check.redecoded_clips += 1
                if not _loops(second, _length(retry[k].voiced)):
                    all_words.extend(_new_words(second, all_words))
            all_words.sort(key=lambda w: w.start)
        all_words = _drop_squeezed_repeats(all_words)
        still = _uncovered(tuple(v for clip in clips for v in clip.voiced), all_words)
        check.untranscribed_regions = len(still)
        check.untranscribed_s = round(_length(still), 3)
        check.recovered_s = round(max(0.0, missed_first - check.untranscribed_s), 3)
        return WindowTranscript(_segments(all_words), language, check)

    # -- decoding ---------------------------------------------------------------------------
    def _each(self, work: Callable[[int], T], indices: Sequence[int]) -> list[T]:
        """`work(index)` for each index, on the parallel workers when there are several;
        results in the order given. All are waited for, even when one fails: none may
        outlive the call."""
        if self._pool is None or len(indices) < 2:
            return [work(index) for index in indices]
        futures = [self._pool.submit(work, index) for index in indices]
        wait(futures)
        return [future.result() for future in futures]

    @property
    def clips_per_call(self) -> int:
        """Clips worth gathering (from several windows) before a call: a batch on the GPU;
        on the CPU enough chains for every worker."""
        return self.runtime.batch_size if self.runtime.batch_size > 1 else self.workers * CHAIN_CLIPS

    def _first_pass(self, pieces, clips, sizes, options, language, progress) -> tuple[list[list[Word]], str | None]:
        """Every clip decoded once: batched, or (one clip at a time) in prompted chains."""
        if self.runtime.batch_size > 1:
            return self._batched(pieces, clips, options, language, progress)
        return self._chained(pieces, clips, sizes, options, language, progress)

    def _chained(self, pieces, clips, sizes, options, language, progress) -> tuple[list[list[Word]], str | None]:
        """Clips one at a time, each prompted with the end of the text before it in its chain
        (CHAIN_CLIPS clips of one window); chains side by side on the workers."""
        chains: list[list[list[int]]] = []
        start = 0
        for size in sizes:
            chains.extend(
                [[index] for index in range(at, min(at + CHAIN_CLIPS, start + size))]
                for at in range(start, start + size, CHAIN_CLIPS)
            )
            start += size
        return self._on_workers(pieces, clips, chains, options, language, progress, prompted=True)

    def _batched(self, pieces, clips, options, language, progress) -> tuple[list[list[Word]], str | None]:
        """Decode clips in batches; words per clip, in recording time. With several workers
        (the CPU), each batch is a call of its own and the workers take them in turn."""
        size = max(1, self.runtime.batch_size)
        if self._pool is None or len(pieces) <= size:
            return self._decode(pieces, clips, options, language, progress)
        batches = [[list(range(at, min(at + size, len(pieces))))] for at in range(0, len(pieces), size)]
        return self._on_workers(pieces, clips, batches, options, language, progress, prompted=False)

    def _on_workers(self, pieces, clips, chains, options, language, progress, prompted: bool) -> tuple[list[list[Word]], str | None]:
        """Chains of calls (a call: clip indices decoded together) side by side on the
        workers, each chain's calls in order. With `prompted`, a call is prompted with the end
        of the text its chain decoded last. Without a language, the first call finds it."""
        words: list[list[Word]] = [[] for _ in clips]
        total_s = sum(clip.duration for clip in clips) or 1.0
        done = [0.0]
        lock = threading.Lock()

        def decode(call: list[int], before: str, language: str | None) -> tuple[str | None, str]:
            """One call: the language, and the text to prompt the chain's next call with."""
            asked = options.with_changes(initial_prompt=_prompt(options.initial_prompt, before)) if prompted else options
            found, language = self._decode([pieces[i] for i in call], [clips[i] for i in call], asked, language, None)
            for index, clip_words in zip(call, found):
                words[index] = clip_words
            if progress:
                with lock:
                    done[0] += sum(clips[i].duration for i in call)
                    progress(done[0] / total_s)
            return language, _prompt_text(found[-1]) if found[-1] else before  # empty: as it was

        first_text = ""
        if language is None:  # the first call finds the language; the rest are told it
            language, first_text = decode(chains[0].pop(0), "", None)

        def run(chain: int) -> None:
            before = first_text if chain == 0 else ""
            for call in chains[chain]:
                _, before = decode(call, before, language)

        self._each(run, range(len(chains)))
        return words, language

    def _decode(self, pieces, clips, options, language, progress) -> tuple[list[list[Word]], str | None]:
        """One call of the batched pipeline over `pieces` (as many batches as they fill), on
        a pipeline no other thread is using."""
        # Each clip gets a slot of its own, 60 s apart, in one array (np.zeros maps its pages
        # lazily: the silence between clips costs no memory, and the model never hears it,
        # since clip_timestamps name only the clips). faster-whisper carries state from one
        # clip of a call to the next (the end of the last speech, which trims the first word
        # "after a pause", and offsets rounded to 10 ms): with clips packed back to back a
        # clip's word times depended on which clips shared its batch, and a resumed job's
        # cues came out a few ms off the uninterrupted run's. 60 s apart, every clip starts
        # after a pause, on a whole second.
        slot = CLIP_SLOT_S * SAMPLE_RATE
        joined = np.zeros(slot * len(pieces), dtype=np.float32)
        for index, piece in enumerate(pieces):
            joined[index * slot : index * slot + piece.shape[0]] = piece[:slot]
        clip_timestamps = [
            {"start": float(index * CLIP_SLOT_S), "end": index * CLIP_SLOT_S + piece.shape[0] / SAMPLE_RATE}
            for index, piece in enumerate(pieces)
        ]
        pipeline = self._pipelines.get()
        try:
            segments_iter, info = pipeline.transcribe(
                joined,
                language=language,
                clip_timestamps=clip_timestamps,
                batch_size=self.runtime.batch_size,
                hotwords=options.hotwords or None,
                initial_prompt=options.initial_prompt or None,
                word_timestamps=True,
                max_new_tokens=options.max_new_tokens,
                vad_filter=False,
                log_progress=False,
                multilingual=self._language_per_clip(options),
            )
            starts = np.arange(len(pieces), dtype=np.float64) * CLIP_SLOT_S
            done_s = np.cumsum([clip.duration for clip in clips])
            total_s = float(done_s[-1]) or 1.0
            words: list[list[Word]] = [[] for _ in clips]
            for raw in segments_iter:
                index = max(0, int(np.searchsorted(starts, raw.start + 0.01, side="right")) - 1)
                clip = clips[index]
                for word in raw.words or ():
                    words[index].append(_word(word, clip, float(starts[index])))
                if progress:
                    progress(float(done_s[index]) / total_s)
        finally:
            self._pipelines.put(pipeline)
        return words, language or info.language

    def _sequential(self, piece: np.ndarray, clip: Clip, options, language) -> list[Word]:
        """One clip through faster-whisper's sequential decoding: timestamp tokens and seek
        carry on past a turn the batched decode skipped; a looping decode is retried at a
        higher temperature."""
        segments_iter, _ = self.model.transcribe(
            piece,
            language=language,
            hotwords=options.hotwords or None,
            initial_prompt=options.initial_prompt or None,
            word_timestamps=True,
            temperature=FALLBACK_TEMPERATURES,
            condition_on_previous_text=False,
            vad_filter=False,
            multilingual=self._language_per_clip(options),
        )
        return [_word(word, clip, 0.0) for segment in segments_iter for word in (segment.words or ())]

    def _language_per_clip(self, options) -> bool:
        """Whether each clip's language is found on its own (faster-whisper's `multilingual`):
        when no language was given and the model knows more than English. A session that
        changes language (a bilingual client, an interpreter) is then written in each of its
        languages; with one language for the whole recording, multilingual.mp3's German half
        came out translated into English by Whisper base."""
        return options.language is None and self.model.model.is_multilingual


# -- words ----------------------------------------------------------------------------------
def _prompt_text(words: Sequence[Word]) -> str:
    """A clip's text to prompt the next clip with: none from a looping decode (a loop in
    the prompt invites the same loop)."""
    return "" if _loops(words) else "".join(w.text for w in words).strip()


def _prompt(initial: str | None, before: str) -> str | None:
    """The user's prompt (names, terms), then the last PROMPT_CHARS of the text before,
    from a word's start."""
    tail = before[-PROMPT_CHARS:]
    if len(before) > PROMPT_CHARS and " " in tail:
        tail = tail.split(" ", 1)[1]
    return " ".join(part for part in ((initial or "").strip(), tail) if part) or None


def _redecode(clip: Clip, words: Sequence[Word]) -> bool:
    """A clip to decode again on its own: its text loops, or REDECODE_CLIP_S or more of its
    speech came back without words."""
    return _loops(words, _length(clip.voiced)) or _length(_uncovered(clip.voiced, words)) >= REDECODE_CLIP_S


def _word(word, clip: Clip, clip_start: float) -> Word:
    """A faster-whisper word (times in the joined audio) in recording seconds; both ends are
    mapped through the span that holds the word's middle, so a word never straddles a pause
    that was cut out."""
    start = float(word.start) - clip_start
    end = max(float(word.end) - clip_start, start)
    begin, finish = clip.to_recording_span(start, end)
    return Word(
        start=round(begin, 3),
        end=round(finish, 3),
        text=word.word,
        probability=round(float(word.probability), 4),
    )


def _uncovered(voiced: Sequence[Span], words: Sequence[Word]) -> list[Span]:
    """Voiced stretches (>= MIN_MISSED_S) with no word within COVER_TOLERANCE_S.

    A word longer than MAX_WORD_S covers only its two ends: when the batch skips a turn, the
    alignment stretches the few words it kept over the whole turn ("I hear a" over 14 s of
    the 30-min bench session, where a 12-word turn was said), and that turn must count as
    missed."""
    covered = sorted(
        interval
        for w in words
        if w.text.strip()
        for interval in (
            [(w.start - COVER_TOLERANCE_S, w.end + COVER_TOLERANCE_S)]
            if w.end - w.start <= MAX_WORD_S
            else [
                (w.start - COVER_TOLERANCE_S, w.start + MAX_WORD_S / 2 + COVER_TOLERANCE_S),
                (w.end - MAX_WORD_S / 2 - COVER_TOLERANCE_S, w.end + COVER_TOLERANCE_S),
            ]
        )
    )
    missed: list[Span] = []
    for start, end in voiced:
        cursor = start
        for low, high in covered:
            if high <= cursor:
                continue
            if low >= end:
                break
            if low > cursor:
                missed.append((cursor, min(low, end)))
            cursor = max(cursor, high)
            if cursor >= end:
                break
        if cursor < end:
            missed.append((cursor, end))
    return [(round(a, 3), round(b, 3)) for a, b in missed if b - a >= MIN_MISSED_S]


def _length(spans: Sequence[Span]) -> float:
    return sum(b - a for a, b in spans)


def _better(candidate: list[Word], current: list[Word], voiced: Sequence[Span]) -> bool:
    """The retry wins when it leaves less speech without words, or ends a loop."""
    if not candidate:
        return False
    voiced_s = _length(voiced)
    if _loops(current, voiced_s) and not _loops(candidate, voiced_s):
        return True
    if _loops(candidate, voiced_s):
        return False
    return _length(_uncovered(voiced, candidate)) < _length(_uncovered(voiced, current)) - 0.1


def _gap_clips(missed: Sequence[Span], clips: Sequence[Clip]) -> list[Clip]:
    """Clips for missed stretches: each with a little context from the clip that held it,
    joined end to end up to 30 s (every clip costs a full 30-s encoder pass: five stretches
    as clips of their own took 2.2 s on the 3.5-min bench session)."""
    spans: list[Span] = []
    for start, end in missed:
        low, high = start, end
        for clip in clips:
            for a, b in clip.spans:
                if a <= start and end <= b:
                    low, high = max(a, start - 0.3), min(b, end + 0.3)
        if spans:  # context never repeats audio the stretch before already holds
            low = max(low, spans[-1][1])
        spans.append((low, high))
    packed: list[Clip] = []
    group: list[int] = []
    for index, (low, high) in enumerate(spans):
        if group and sum(spans[i][1] - spans[i][0] for i in group) + high - low > 30.0:
            packed.append(Clip(tuple(spans[i] for i in group), tuple(missed[i] for i in group)))
            group = []
        group.append(index)
    if group:
        packed.append(Clip(tuple(spans[i] for i in group), tuple(missed[i] for i in group)))
    return packed


def _new_words(found: Sequence[Word], existing: Sequence[Word]) -> list[Word]:
    """Words of a re-decoded stretch that are not already there: a stretch whose words were
    decoded but given times elsewhere must not come out twice, nor a word the first pass or an
    earlier retry already has at the same moment (SAME_WORD_S)."""
    if not found:
        return []
    start, end = found[0].start, found[-1].end
    around = [(w.start, _norm(w.text)) for w in existing if start - 15.0 <= w.start <= end + 15.0]
    nearby = " ".join(text for _, text in around)
    said = [_norm(w.text) for w in found]
    text = " ".join(said)
    if text and f" {text} " in f" {nearby} ":
        return []
    return [
        w for w, norm in zip(found, said)
        if not any(abs(w.start - at) <= SAME_WORD_S and norm == other for at, other in around)
    ]


def _drop_squeezed_repeats(words: list[Word]) -> list[Word]:
    """Drop runs of 3+ words squeezed into far less time than speech takes (< SQUEEZED_WORD_S
    a word on average) that repeat words said within 15 s: at a clip's edge the batched
    decode sometimes writes a sentence twice and the alignment crams the copy into a moment
    ("Have you been feeling this way?" in 0.3 s right after the real one, 30-min session;
    jfk.flac's whole sentence in 1.5 s before the real one)."""
    keep = [True] * len(words)
    index = 0
    while index < len(words):
        end = index
        while end < len(words) and words[end].end - words[end].start < SQUEEZED_WORD_S:
            end += 1
        if end - index >= 3:
            start_s, end_s = words[index].start, words[end - 1].end
            around = " " + " ".join(
                _norm(w.text) for k, w in enumerate(words)
                if (k < index or k >= end) and start_s - 15.0 <= w.start <= end_s + 15.0
            ) + " "
            # The longest pieces of the run (3+ words) said around it go: a crammed copy
            # often runs on into a word or two of its own ("been feeling this way? Have you
            # been a" in 0.08 s, 30-min bench session), so the whole run is rarely a repeat.
            run = [_norm(w.text) for w in words[index:end]]
            at = 0
            while at <= len(run) - 3:
                size = next((n for n in range(len(run) - at, 2, -1)
                             if f" {' '.join(run[at:at + n])} " in around), 0)
                if size:
                    keep[index + at : index + at + size] = [False] * size
                at += size or 1
        index = max(end, index + 1)
    return [w for w, kept in zip(words, keep) if kept]


def _norm(text: str) -> str:
    return re.sub(r"[^\w']+", "", text.lower())


def _loops(words: Sequence[Word], voiced_s: float | None = None) -> bool:
    """A decode that repeats itself: one phrase over and over, or text that compresses like
    a loop (gzip ratio > 2.4) and holds more words than the speech had time for. Speech that
    really repeats (jfk.flac eight times: ratio 5.6, 2.2 words a second) is not a loop."""
    tokens = [_norm(w.text) for w in words if _norm(w.text)]
    if len(tokens) < LOOP_WORD_REPEATS:
        return False
    if _repeat_run(tokens) is not None:
        return True
    text = " ".join(w.text.strip() for w in words)
    from faster_whisper.transcribe import get_compression_ratio

    if len(text) <= 80 or get_compression_ratio(text) <= LOOP_COMPRESSION_RATIO:
        return False
    if voiced_s is None:
        voiced_s = words[-1].end - words[0].start
    return len(tokens) > LOOP_WORDS_PER_S * max(voiced_s, 1.0)


def _repeat_run(tokens: Sequence[str]) -> tuple[int, int, int] | None:
    """(start, phrase length, copies) of the first phrase said too often in a row, or None."""
    n = len(tokens)
    for size in range(1, 9):
        needed = LOOP_WORD_REPEATS if size == 1 else LOOP_PHRASE_REPEATS
        for start in range(0, n - size * needed + 1):
            phrase = tokens[start : start + size]
            copies = 1
            while tokens[start + copies * size : start + (copies + 1) * size] == phrase:
                copies += 1
            if copies >= needed:
                return start, size, copies
    return None


def _collapse_repeats(words: list[Word]) -> list[Word]:
    """Keep one copy of each looping phrase (the text stays doubtful: the report says so)."""
    kept = [w for w in words if _norm(w.text)]
    while True:
        run = _repeat_run([_norm(w.text) for w in kept])
        if run is None:
            return kept
        start, size, copies = run
        del kept[start + size : start + copies * size]


def _segments(words: Sequence[Word]) -> list[Segment]:
    """Transcript rows from words: a row ends at a pause over 1 s, at a sentence end, or
    after 20 s (engine.speaker_labels.segments_from_words: one rule, so a recount can rebuild
    the rows a turn change split)."""
    return [row.segment for row in segments_from_words(words, [None] * len(words))]
