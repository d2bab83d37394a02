"""What a run is asked to do: one dataclass shared by the CLI, the app and the job store."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

# Every format a transcript can be exported as; DEFAULT_FORMATS are written unless others
# are asked for. DOCX (a Word document), MAXQDA (its transcript import) and RTTM (who spoke
# when, for diarization scorers) are on request: most users want the four text files, and a
# .docx nobody opens is one more copy of health data.
DEFAULT_FORMATS = ("txt", "srt", "vtt", "json")
EXPORT_FORMATS = (*DEFAULT_FORMATS, "docx", "maxqda", "rttm")
# The file name ending of each format. MAXQDA's import wants a .txt; ".maxqda.txt" keeps it
# apart from the plain `<stem>.txt` transcript beside it (engine.outputs checks every name).
EXPORT_SUFFIXES: dict[str, str] = {fmt: f".{fmt}" for fmt in EXPORT_FORMATS} | {"maxqda": ".maxqda.txt"}
DEVICES = ("auto", "cpu", "cuda")
COMPUTE_TYPES = ("auto", "float16", "int8_float16", "int8", "float32")
# TranscribeOptions.channels: how recordings with two or more channels are heard.
CHANNEL_SETTINGS = ("auto", "speakers", "mix")


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "auto"  # a model name, a folder holding a CTranslate2 model, or "auto"
    device: str = "auto"
    compute_type: str = "auto"
    batch_size: int | None = None  # None: chosen from free VRAM / the CPU
    language: str | None = None  # None: detected
    hotwords: str | None = None
    initial_prompt: str | None = None
    # Kept for stored options and old scripts: words are always timed now (cues take their
    # times from them) and always in the JSON export.
    word_timestamps: bool = True
    formats: tuple[str, ...] = DEFAULT_FORMATS
    output_dir: Path | None = None  # None: beside each input
    cpu_threads: int | None = None  # CTranslate2 intra-op threads; None: chosen from the CPU
    num_workers: int | None = None  # CTranslate2 parallel workers; None: chosen (engine.hardware)
    max_new_tokens: int | None = None  # cap on tokens per clip (benchmarks; None: model's max)
    # Who said what (engine.diarize). speakers: how many voices (2 for a one-to-one session,
    # the usual case); None: found. speaker_labels False skips the stage (a monologue).
    speaker_labels: bool = True
    speakers: int | None = None
    speaker_names: tuple[str, ...] = ()  # "Therapist", "Client": names for speakers 1, 2, ...
    # Recordings with 2+ channels (engine.channel_route): "auto" measures the layout (one
    # speaker per channel -> each channel transcribed as its speaker); "speakers" forces that;
    # "mix" mixes to mono as for any recording. Changes who said what, so in the transcript key.
    channels: str = "auto"
    gpu_dollars_per_hour: float = 0.42
    api_dollars_per_minute: float = 0.006

    def with_changes(self, **changes) -> "TranscribeOptions":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["formats"] = list(self.formats)
        data["speaker_names"] = list(self.speaker_names)
        data["output_dir"] = None if self.output_dir is None else str(self.output_dir)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TranscribeOptions":
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "formats" in values:
            values["formats"] = tuple(values["formats"])
        if "speaker_names" in values:
            values["speaker_names"] = tuple(values["speaker_names"] or ())
        if values.get("output_dir") is not None:
            values["output_dir"] = Path(values["output_dir"])
        return cls(**values)

    def transcript_key(self) -> str:
        """Hash of the options that change the transcript text or timing.

        Output location, formats, thread counts and cost rates do not change what is
        transcribed, so a job resumed with a different output folder still reuses its
        finished windows.
        """
        relevant = {
            name: value
            for name, value in self.to_dict().items()
            if name
            not in {
                "formats",
                "output_dir",
                "gpu_dollars_per_hour",
                "api_dollars_per_minute",
                "cpu_threads",
                "num_workers",
                "word_timestamps",  # always on now; old stored options may say otherwise
                "speaker_names",  # names are how speakers are shown, not who said what
            }
        }
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def windows_key(self) -> str:
        """`transcript_key` less the speaker count: what a job's stored windows depend on.
        Their words and voices are the same whatever the count, and the speaker stage tells
        the voices apart at the end of every run, resumed or not; so a rerun with another
        `--speakers` takes every window from the store and only counts again (seconds, not a
        second transcription). Written as the count "auto" rather than left out, so jobs
        stored with the default keep their key. Whether speakers are told apart at all
        (`speaker_labels`) stays in: without it the windows keep no voices."""
        return replace(self, speakers=None).transcript_key()
