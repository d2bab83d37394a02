"""Transcripts on disk: plain text, SRT, WebVTT, JSON, MAXQDA text (engine.maxqda_export),
RTTM (who spoke when, engine.rttm_export) and Word (engine.docx_export), each written atomically.

A file is first written to a hidden temporary file in the same folder, flushed to disk,
then renamed over the target in one step: a crash, a full disk or a locked file never
leaves a half-written transcript, and an earlier transcript stays intact until the new one
is complete. Text files are UTF-8 with "\\n" line endings.

Transcripts are health data: a file is never more readable than the recording it came from
(`max_mode`), folders created for them are 0700, and temporary files a killed run left
behind are removed by the next run that writes the same names (`remove_stale_temps`).
"""
from __future__ import annotations

import errno
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from engine.cues import MAX_PAUSE_S, build_cues, join_text
from engine.errors import ExportError
from engine.folders import make_dirs
from engine.options import EXPORT_FORMATS, EXPORT_SUFFIXES
from engine.segments import Cue, Segment
from engine.transcript import Transcript

PARAGRAPH_CHARS = 600  # a paragraph ends at the first segment end past this length


# --------------------------------------------------------------------------- formats


def _timestamp(seconds: float, separator: str) -> str:
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _cue_lines(cue: Cue) -> list[str]:
    # "-->" inside text would read as a timing line; blank lines would end the cue early.
    return [line.replace("-->", "->") for line in cue.lines if line.strip()]


def format_srt(cues: Sequence[Cue]) -> str:
    """SubRip: numbered blocks `HH:MM:SS,mmm --> HH:MM:SS,mmm`, blank line between. Speaker
    names are in the cues' text already (`build_cues(..., names)`: `Client: ...` opens a turn,
    inside its two lines of 42)."""
    blocks = []
    for cue in cues:
        lines = _cue_lines(cue)
        if not lines:
            continue
        timing = f"{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}"
        blocks.append("\n".join([str(len(blocks) + 1), timing, *lines]))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _vtt_escape(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_vtt(cues: Sequence[Cue], names: Callable[[int], str] | None = None) -> str:
    """WebVTT: `WEBVTT` header, then `HH:MM:SS.mmm --> HH:MM:SS.mmm` blocks. With `names`,
    each cue with a speaker carries a voice tag (`<v Client>`), which players show or style."""
    blocks = ["WEBVTT"]
    for cue in cues:
        lines = [_vtt_escape(line) for line in _cue_lines(cue)]
        if not lines:
            continue
        if names is not None and cue.speaker is not None:
            lines[0] = f"<v {_vtt_escape(names(cue.speaker))}>{lines[0]}"
        timing = f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}"
        blocks.append("\n".join([timing, *lines]))
    return "\n\n".join(blocks) + "\n"


def _spoken_span(segment: Segment, speech: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """When speech in a segment begins and ends: its words, else its voiced regions."""
    if segment.words:
        words = [word for word in segment.words if word.text.strip()]
        if words:
            return words[0].start, max(word.end for word in words)
    inside = [
        (max(a, segment.start), min(b, segment.end))
        for a, b in speech
        if min(b, segment.end) > max(a, segment.start)
    ]
    if inside:
        return min(a for a, _ in inside), max(b for _, b in inside)
    return segment.start, segment.end


def paragraphs(
    segments: Sequence[Segment], speech: Sequence[tuple[float, float]] = ()
) -> list[tuple[float, float, str]]:
    """The TXT export's paragraphs as (start, end, text), times of the speech inside them.

    A paragraph ends at a pause longer than 2.5 s between segments (measured between the
    speech inside them) or at the first segment end after ~600 characters.
    """
    regions = sorted((float(a), float(b)) for a, b in speech if float(b) > float(a))
    found: list[tuple[float, float, str]] = []
    current = ""
    first: float | None = None
    last_end: float | None = None
    for segment in sorted(segments, key=lambda s: (s.start, s.end)):
        text = " ".join(segment.text.split())
        if not text:
            continue
        start, end = _spoken_span(segment, regions)
        if current and (
            (last_end is not None and start - last_end > MAX_PAUSE_S)
            or len(current) >= PARAGRAPH_CHARS
        ):
            found.append((first or 0.0, last_end or 0.0, current))
            current, first = "", None
        if first is None:
            first = start
        current = join_text(current, text)
        last_end = end if last_end is None else max(last_end, end)
    if current:
        found.append((first or 0.0, last_end or 0.0, current))
    return found


def format_txt(segments: Sequence[Segment], speech: Sequence[tuple[float, float]] = ()) -> str:
    """Plain paragraphs (`paragraphs`), no timestamps."""
    texts = [text for _, _, text in paragraphs(segments, speech)]
    return "\n\n".join(texts) + "\n" if texts else ""


@dataclass(frozen=True)
class Turn:
    """What one speaker said without interruption: a paragraph of the TXT, DOCX and MAXQDA exports."""

    start: float
    end: float
    speaker: int | None
    text: str


def turns(segments: Sequence[Segment]) -> list[Turn]:
    """Consecutive segments of one speaker joined, in time order (empty segments skipped)."""
    found: list[Turn] = []
    current: Turn | None = None
    for segment in sorted(segments, key=lambda s: (s.start, s.end)):
        text = " ".join(segment.text.split())
        if not text:
            continue
        if current is not None and segment.speaker == current.speaker:
            current = Turn(current.start, max(current.end, segment.end), current.speaker,
                           join_text(current.text, text))
            continue
        if current is not None:
            found.append(current)
        current = Turn(segment.start, segment.end, segment.speaker, text)
    if current is not None:
        found.append(current)
    return found


def clock(seconds: float) -> str:
    """`00:12:03`: where a turn starts, to the second (TXT and DOCX)."""
    return _timestamp(seconds, ",")[:8]


def format_turns(segments: Sequence[Segment], names: Callable[[int], str]) -> str:
    """TXT of a transcript with speakers: one paragraph per turn, `[00:12:03] Client: ...`."""
    lines = [
        f"[{clock(turn.start)}] {names(turn.speaker)}: {turn.text}"
        if turn.speaker is not None
        else f"[{clock(turn.start)}] {turn.text}"
        for turn in turns(segments)
    ]
    return "\n\n".join(lines) + "\n" if lines else ""


def _sorted_keys(value):
    if isinstance(value, dict):
        return {str(key): _sorted_keys(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_sorted_keys(item) for item in value]
    return value


def format_json(segments: Sequence[Segment], metadata: dict) -> str:
    """`{"metadata": {...}, "segments": [...]}`; metadata keys sorted so reruns match byte for byte."""
    document = {
        "metadata": _sorted_keys(dict(metadata or {})),
        "segments": [segment.to_dict() for segment in segments],
    }
    return json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"


# --------------------------------------------------------------------------- writing


# One human reason per OS error; names missing on a platform (EDQUOT, ETXTBSY) are skipped.
_REASONS: dict[int, str] = {
    getattr(errno, name): reason
    for names, reason in (
        (("EACCES", "EPERM"), "permission denied"),
        (("ENOSPC",), "the disk is full"),
        (("EDQUOT",), "disk quota exceeded"),
        (("EROFS",), "the disk is read-only"),
        (("EBUSY", "ETXTBSY"), "the file is in use"),
        (("ENOENT",), "the folder does not exist"),
        (("ENOTDIR",), "part of the path is not a folder"),
        (("EEXIST",), "a file stands where its folder should be"),
        (("EISDIR",), "a folder has that name"),
        (("ENAMETOOLONG",), "the name is too long"),
        (("EIO",), "input/output error on the disk"),
    )
    for name in names
    if hasattr(errno, name)
}


def _reason(error: OSError) -> str:
    winerror = getattr(error, "winerror", None)
    if winerror in (32, 33):  # ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
        return "the file is open in another program"
    reason = _REASONS.get(error.errno)
    if reason is not None:
        return reason
    return (error.strerror or str(error) or type(error).__name__).lower()


def _new_file_mode() -> int:
    """0666 less the process umask, read without changing it (os.umask is process-wide)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644


# Temporary files: "." + the target's name (cut to fit the folder's name limit) + "." +
# tempfile's 8 random characters + ".tmp". Only names of this shape are ever cleaned up.
_TEMP_SUFFIX = ".tmp"
_TEMP_RANDOM = 8  # tempfile's random part
_TEMP_EXTRA = 1 + 1 + _TEMP_RANDOM + len(_TEMP_SUFFIX)  # bytes a temp name adds to the target's
STALE_TEMP_S = 15 * 60  # a temp file untouched this long belongs to a run that was killed


def name_limit(folder: Path) -> int:
    """Longest file name, in bytes, the file system under `folder` takes (255 where unknown)."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:  # the folder may not exist yet
        probe = probe.parent
    try:
        return int(os.pathconf(probe, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_prefix(name: str, limit: int) -> str:
    """"." + `name` + ".", `name` cut (on a character boundary) so the temp name fits `limit`."""
    room = limit - _TEMP_EXTRA
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > room:
        name = encoded[:room].decode("utf-8", "ignore")
    return "." + name + "."


def remove_stale_temps(path: Path, stale_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete temporary files `write_atomic` left for `path` when its run was killed.

    Only files of our own shape for this very name (`.<name>.XXXXXXXX.tmp`) that nobody
    touched for `stale_s` seconds: one another run is writing now is a few seconds old."""
    path = Path(path)
    prefix = _temp_prefix(path.name, name_limit(path.parent))
    shape = re.compile(re.escape(prefix) + "[a-z0-9_]{%d}" % _TEMP_RANDOM + re.escape(_TEMP_SUFFIX))
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not shape.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if entry.is_file(follow_symlinks=False) and now - info.st_mtime > stale_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def mode_limit(recording: Path) -> int | None:
    """The most permissive mode an export of `recording` may have: the recording's own
    read/write bits (a 0600 recording gives 0600 transcripts). None where unknown."""
    if os.name != "posix":
        return None
    try:
        return Path(recording).stat().st_mode & 0o666
    except OSError:
        return None


def write_atomic(path: Path, text: str | bytes, *, max_mode: int | None = None) -> Path:
    """Write `text` (a str is written as UTF-8; bytes as they are) to `path` all at once or
    not at all; returns `path`.

    The file gets the mode it had (new: 0666 less the umask), never more than `max_mode`;
    missing folders are created 0700. Raises ExportError("<name>: could not write
    (<reason>)") on any OS error; the temporary file is removed and an existing `path` is
    left as it was.
    """
    path = Path(path)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    temp_name: str | None = None
    try:
        make_dirs(path.parent)
        try:
            mode = path.stat().st_mode & 0o777  # rewriting keeps the file's permissions
        except FileNotFoundError:
            mode = _new_file_mode()
        if max_mode is not None:
            mode &= max_mode
        prefix = _temp_prefix(path.name, name_limit(path.parent))
        with tempfile.NamedTemporaryFile(
            mode="wb", dir=path.parent, prefix=prefix, suffix=_TEMP_SUFFIX, delete=False
        ) as handle:
            temp_name = handle.name
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
        temp_name = None
    except OSError as error:
        raise ExportError(f"{path.name}: could not write ({_reason(error)})") from error
    finally:
        if temp_name is not None:
            try:
                os.unlink(temp_name)
            except OSError:
                pass
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows (POSIX)."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# Formats whose file is text (UTF-8); the others are documents rendered to bytes.
TEXT_FORMATS = ("txt", "srt", "vtt", "json", "maxqda", "rttm")
_BOM = "\ufeff"  # MAXQDA runs on Windows, where a BOM is what says "UTF-8" to a .txt reader


def render(transcript: Transcript, fmt: str) -> str:
    """The text of one text export (txt, srt, vtt, json, maxqda, rttm) of `transcript`; DOCX is a
    document: `render_bytes`."""
    _check_format(fmt)
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"{fmt} is not a text format; use render_bytes")
    segments, speech = transcript.segments, transcript.speech
    names = transcript.info.speaker_name if transcript.speaker_numbers else None
    if fmt == "txt":
        return format_turns(segments, names) if names is not None else format_txt(segments, speech)
    if fmt == "json":
        return format_json(segments, transcript.info.to_dict())
    if fmt == "maxqda":
        from engine.maxqda_export import format_maxqda

        return _BOM + format_maxqda(transcript)
    if fmt == "rttm":
        from engine.rttm_export import format_rttm

        return format_rttm(transcript)
    if fmt == "srt":  # names inside the text: they count toward its lines
        return format_srt(build_cues(segments, speech, names))
    return format_vtt(build_cues(segments, speech), names)  # names in voice tags


def render_bytes(transcript: Transcript, fmt: str) -> bytes:
    """The bytes of one export of `transcript`, any format: the one renderer the CLI, the
    app's Export and "Update exports" all use, so the same transcript gives the same bytes
    from every door (text formats are `render` in UTF-8)."""
    _check_format(fmt)
    if fmt == "docx":
        from engine.docx_export import format_docx  # python-docx loads only when asked for

        return format_docx(transcript)
    return render(transcript, fmt).encode("utf-8")


def _check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {', '.join(EXPORT_FORMATS)})")


def export(transcript: Transcript, path: Path, fmt: str, *, max_mode: int | None = None) -> Path:
    """Write one format (any of EXPORT_FORMATS) to `path`; returns `path`."""
    return write_atomic(Path(path), render_bytes(transcript, fmt), max_mode=max_mode)


def output_path(stem: Path, fmt: str) -> Path:
    """`<stem>.<fmt>` (`<stem>.maxqda.txt` for MAXQDA), keeping any dots already in the stem
    (`a.ogg` -> `a.ogg.srt`)."""
    stem = Path(stem)
    return stem.with_name(stem.name + EXPORT_SUFFIXES.get(fmt, f".{fmt}"))


def check_output_names(stem: Path, formats: Sequence[str], source_name: str) -> None:
    """Raise ExportError naming `source_name` when a `<stem>.<fmt>` name is longer than the
    output folder's file system takes: checked before transcribing, not after."""
    limit = name_limit(Path(stem).parent)
    for fmt in formats:
        name = output_path(stem, fmt).name
        size = len(name.encode("utf-8", "surrogateescape"))
        if size > limit:
            raise ExportError(
                f"{source_name}: the name is too long for its transcripts ({size} bytes with "
                f"'{EXPORT_SUFFIXES.get(fmt, '.' + fmt)}'; this disk takes {limit}); rename the recording to a shorter name",
                kind="name-too-long",
            )


def write_outputs(
    transcript: Transcript,
    stem: Path,
    formats: Sequence[str],
    max_mode: int | None = None,
) -> dict[str, Path]:
    """Write `<stem>.<fmt>` for each format; returns {fmt: path}. Stale temporary files of
    earlier, killed runs for these names are removed first.

    Stops at the first failure with its ExportError; files written before it stay.
    """
    wanted = list(dict.fromkeys(formats))
    for fmt in wanted:
        _check_format(fmt)
    for fmt in wanted:
        remove_stale_temps(output_path(stem, fmt))
    written: dict[str, Path] = {}
    for fmt in wanted:
        path = output_path(stem, fmt)
        written[fmt] = write_atomic(path, render_bytes(transcript, fmt), max_mode=max_mode)
    return written
