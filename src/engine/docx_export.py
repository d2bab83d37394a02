"""The transcript as a Word document (.docx), since clinicians file their notes in Word.

A header block says what the transcript is of (recording, session date, duration, language,
model), then the transcript: with speakers one paragraph per turn, `[00:12:03] Client: ...`
with the name in bold; without, the TXT export's paragraphs. Under every page, the recording
and "page N of M".

The same transcript gives the same bytes on every run and from every door (the engine's
rerun tests and the app's Export compare files byte for byte), while python-docx stamps the
zip entries and the document's core properties with the current time. So the properties
are set from the transcript (its session date, never "now") and the zip is written again
with fixed entry dates. python-docx is imported here only, when a DOCX is asked for.
"""
from __future__ import annotations

import datetime
import io
import re
import zipfile

from engine.export import clock, paragraphs, turns
from engine.folders import APP_NAME
from engine.languages import LANGUAGES
from engine.transcript import Transcript

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry takes: reruns compare equal
UNDATED = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)  # core dates when none is known

# Characters a document must not hold: those XML 1.0 forbids (C0 controls, U+FFFE/U+FFFF; lxml
# refuses them, so one stray control character would fail the whole export) and those it only
# "discourages" (DEL, the C1 controls, the noncharacters U+FDD0-U+FDEF): never meant as text,
# LibreOffice draws each as an empty box in the middle of a sentence. Dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")
# Lone surrogates: a file name that is not UTF-8 reaches us with its odd bytes as surrogate
# escapes, which lxml cannot encode. Shown as U+FFFD, so the name still shows a character was there.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    return _SURROGATE.sub("\ufffd", _NOT_XML.sub("", text))


def _duration(seconds: float) -> str:
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _language(code: str | None) -> str:
    if not code:
        return "unknown"
    name = LANGUAGES.get(code)
    return f"{name} ({code})" if name else code


def _session_datetime(recorded: str | None) -> datetime.datetime:
    try:
        day = datetime.date.fromisoformat(recorded or "")
    except ValueError:
        return UNDATED
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)


def header_fields(transcript: Transcript) -> list[tuple[str, str]]:
    """(label, value) of the header block, in order."""
    info = transcript.info
    fields = [
        ("Recording", info.source or "unknown"),
        ("Session date", info.recorded or "unknown"),
        ("Duration", _duration(info.duration_s)),
        ("Language", _language(info.language)),
        ("Model", info.model or "unknown"),
    ]
    if transcript.speaker_numbers:
        names = ", ".join(info.speaker_name(number) for number in transcript.speaker_numbers)
        fields.append(("Speakers", names))
    if info.edited:
        fields.append(("Note", "corrected by hand after transcription"))
    return fields


def _document(transcript: Transcript):
    from docx import Document  # python-docx
    from docx.shared import Pt

    document = Document()
    info = transcript.info
    document.add_heading("Session transcript", level=1)
    for label, value in header_fields(transcript):
        paragraph = document.add_paragraph()
        # One block, line under line: with Normal's space after each, six short lines took
        # a third of the first page and read as six paragraphs.
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(_clean(value))
    _footer(document, _clean(info.source or "Transcript"))
    document.add_heading("Transcript", level=2)
    if transcript.speaker_numbers:
        for turn in turns(transcript.segments):
            paragraph = document.add_paragraph()
            paragraph.add_run(f"[{clock(turn.start)}] ")
            if turn.speaker is not None:
                paragraph.add_run(f"{_clean(info.speaker_name(turn.speaker))}:").bold = True
                paragraph.add_run(" ")
            paragraph.add_run(_clean(turn.text))
    else:
        for _start, _end, text in paragraphs(transcript.segments, transcript.speech):
            document.add_paragraph(_clean(text))

    # Core properties from the transcript, none from this machine or this moment.
    dated = _session_datetime(info.recorded)
    properties = document.core_properties
    properties.title = _clean(info.source or "Transcript")
    properties.subject = "Transcript"
    properties.author = ""
    properties.last_modified_by = APP_NAME
    properties.comments = ""
    properties.keywords = ""
    properties.category = ""
    properties.revision = 1
    properties.created = dated
    properties.modified = dated
    properties.last_printed = dated
    return document


def _field(paragraph, instruction: str) -> None:
    """A field Word and LibreOffice compute when they lay the page out (PAGE, NUMPAGES), in
    the form Word writes: begin, instruction, separate, result, end, each in a run of its own.
    "1" is what a reader that computes no fields shows."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for kind in ("begin", "instr", "separate", "result", "end"):
        if kind == "instr":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {instruction} "
        elif kind == "result":
            element = OxmlElement("w:t")
            element.text = "1"
        else:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        paragraph.add_run()._r.append(element)


def _footer(document, source: str) -> None:
    """`<recording> · page 2 of 9` under every page: a printed transcript is filed or read
    as loose sheets, and each must say what it belongs to and where it goes."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document.styles["Footer"].font.size = Pt(9)  # the style, so the fields' numbers match the words
    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(f"{source} · page ")
    _field(paragraph, "PAGE")
    paragraph.add_run(" of ")
    _field(paragraph, "NUMPAGES")


def _fixed_zip(data: bytes) -> bytes:
    """`data` (a zip) written again with every entry dated ZIP_DATE, in the same order."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            entry = zipfile.ZipInfo(item.filename, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(item.filename))
    return out.getvalue()


def format_docx(transcript: Transcript) -> bytes:
    """The .docx file of `transcript`, byte-identical for the same transcript."""
    raw = io.BytesIO()
    _document(transcript).save(raw)
    return _fixed_zip(raw.getvalue())
