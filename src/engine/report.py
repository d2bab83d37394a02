"""The run report: where the time went, what it cost, how it ran."""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

import psutil


@dataclass(frozen=True)
class CostLine:
    gpu_seconds: float
    gpu_dollars: float  # this run's device time at the $/hour rate
    api_dollars: float  # the same audio through a speech API at $/minute


@dataclass
class RunReport:
    model: str = ""
    device: str = ""
    compute_type: str = ""
    batch_size: int = 0
    cpu_threads: int = 0
    num_workers: int = 0
    vad_workers: int = 0
    language: str | None = None
    audio_s: float = 0.0  # length of the recording
    speech_s: float = 0.0  # audio sent to the model
    leading_silence_s: float = 0.0  # edge silence the conditioning trimmed (never transcribed)
    trailing_silence_s: float = 0.0
    wall_s: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # busy seconds per stage
    peak_ram_bytes: int = 0
    peak_vram_bytes: int | None = None
    windows: int = 0
    resumed_windows: int = 0  # windows taken from the job store, not recomputed
    segments: int = 0
    speakers: int = 0  # voices told apart (0: the speaker stage was off or heard no speech)
    # Recordings with 2+ channels: the layout found and what was done (engine.channel_route);
    # "" for a mono recording or --channels mix on one.
    channel_layout: str = ""  # "separate", "shared", "mono", "one-silent"
    channel_route: str = ""  # "speakers", "one", "mix"
    channels_note: str = ""  # ChannelRoute.text(): the line the CLI prints
    # Did every word come back? (engine.transcribe.SpeechCheck, summed over the windows run)
    clips: int = 0
    clip_fill: float = 0.0  # share of the encoder's 30-s inputs that held audio
    redecoded_clips: int = 0  # clips decoded again on their own (speech missed, or a loop)
    redecoded_regions: int = 0  # voiced stretches decoded again as clips of their own
    recovered_s: float = 0.0  # voiced seconds the first pass missed and a retry found
    loops: int = 0  # clips whose first decode repeated itself
    doubtful_loops: int = 0  # ...and still did after every retry (repeats collapsed)
    untranscribed_regions: int = 0  # voiced stretches that stayed without words
    untranscribed_s: float = 0.0
    nonfinite_samples: int = 0  # damaged (NaN/Inf) samples, heard as silence
    gpu_dollars_per_hour: float = 0.42
    api_dollars_per_minute: float = 0.006

    @classmethod
    def for_runtime(cls, runtime, options) -> "RunReport":
        """A report for a job about to run with `runtime` (engine.hardware.Runtime) and
        `options` (its cost rates)."""
        return cls(
            model=runtime.model,
            device=runtime.device,
            compute_type=runtime.compute_type,
            batch_size=runtime.batch_size,
            cpu_threads=runtime.cpu_threads,
            num_workers=runtime.num_workers,
            vad_workers=runtime.vad_workers,
            gpu_dollars_per_hour=options.gpu_dollars_per_hour,
            api_dollars_per_minute=options.api_dollars_per_minute,
        )

    def add_check(self, check) -> None:
        """Take the speech check's totals (an engine.transcribe.SpeechCheck)."""
        for name in (
            "clips", "redecoded_clips", "redecoded_regions", "loops", "doubtful_loops",
            "untranscribed_regions",
        ):
            setattr(self, name, getattr(check, name))
        self.clip_fill = round(check.clip_fill, 4)
        self.recovered_s = round(check.recovered_s, 2)
        self.untranscribed_s = round(check.untranscribed_s, 2)

    @property
    def run_audio_s(self) -> float:
        """The audio this run transcribed itself. A resumed run took its first windows from
        the job store; dividing the whole recording by the rest's time claimed "100x real
        time". Estimated by windows (they are cut at silences, of similar lengths)."""
        total = self.windows + self.resumed_windows
        return self.audio_s * self.windows / total if total else self.audio_s

    def resume_text(self) -> str:
        """"" for a run that did all the work; else how much came from an earlier run."""
        if not self.resumed_windows:
            return ""
        total = self.windows + self.resumed_windows
        return f"{self.resumed_windows} of {total} part(s) came from an earlier run (not transcribed again)"

    @property
    def rtf(self) -> float:
        """Real-time factor: wall seconds per second of audio this run transcribed (lower is
        faster); 0.0 when it transcribed nothing (everything came from an earlier run)."""
        audio = self.run_audio_s
        return self.wall_s / audio if audio else 0.0

    def cost(
        self, gpu_dollars_per_hour: float | None = None, api_dollars_per_minute: float | None = None
    ) -> CostLine:
        per_hour = self.gpu_dollars_per_hour if gpu_dollars_per_hour is None else gpu_dollars_per_hour
        per_minute = (
            self.api_dollars_per_minute if api_dollars_per_minute is None else api_dollars_per_minute
        )
        return CostLine(
            gpu_seconds=self.wall_s,
            gpu_dollars=self.wall_s / 3600.0 * per_hour,
            api_dollars=self.run_audio_s / 60.0 * per_minute,  # the same work, not the whole file
        )

    def cost_text(self) -> str:
        cost = self.cost()
        return (
            f"{cost.gpu_seconds:.1f} s of {self.device.upper()} time at "
            f"${self.gpu_dollars_per_hour:.2f}/h = ${cost.gpu_dollars:.4f}, vs "
            f"${cost.api_dollars:.2f} for {self.run_audio_s / 60:.1f} min through a speech API at "
            f"${self.api_dollars_per_minute:.3f}/min"
            + (f" ({self.resume_text()})" if self.resumed_windows else "")
        )

    def check_text(self) -> str:
        """Did every word come back: one line for the CLI and the app's report."""
        parts = [f"{self.clips} clip(s), {self.clip_fill:.0%} full"]
        again = [
            f"{count} {noun}" for count, noun in (
                (self.redecoded_clips, "clip(s)"), (self.redecoded_regions, "missed stretch(es)")
            ) if count
        ]
        if again:
            parts.append(
                f"{' and '.join(again)} decoded again, {self.recovered_s:.1f} s of speech recovered"
            )
        if self.loops:
            parts.append(f"{self.loops} repeating decode(s) retried, {self.doubtful_loops} doubtful")
        if self.untranscribed_regions:
            parts.append(
                f"{self.untranscribed_regions} stretch(es) of speech ({self.untranscribed_s:.1f} s) "
                "gave no words"
            )
        else:
            parts.append("all detected speech has words")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rtf"] = round(self.rtf, 4)
        data["cost"] = asdict(self.cost())
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "RunReport":
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


class PeakMemory:
    """Samples this process's RSS (and GPU memory used, via NVML) in the background."""

    def __init__(self, interval_s: float = 0.05, gpu: bool = False) -> None:
        self.interval_s = interval_s
        self.peak_rss = 0
        self.peak_vram: int | None = None
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)
        self._nvml_handle = self._open_nvml() if gpu else None

    @staticmethod
    def _open_nvml():
        try:
            import pynvml

            pynvml.nvmlInit()
            return pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # no NVML: VRAM peak stays unknown
            return None

    def _sample(self) -> None:
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
        if self._nvml_handle is not None:
            import pynvml

            try:
                used = int(pynvml.nvmlDeviceGetMemoryInfo(self._nvml_handle).used)
                self.peak_vram = max(self.peak_vram or 0, used)
            except Exception:
                pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> "PeakMemory":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class StageClock:
    """Busy time per stage; stages run in several threads, each adds its own spans."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def timed(self, stage: str):
        clock = self

        class _Span:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                clock.add(stage, time.perf_counter() - self.start)

        return _Span()
