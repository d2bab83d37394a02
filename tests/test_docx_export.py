"""DOCX and MAXQDA exports: a Word document a clinician can file, MAXQDA's transcript import,
both through the one renderer every door uses (render_bytes / write_outputs / export)."""
from __future__ import annotations

import dataclasses
import datetime
import io
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import numpy as np
import pytest
from lxml import etree

from engine.export import export, render, render_bytes, write_outputs
from engine.outputs import choose_stem
from engine.segments import Segment, Word
from engine.transcript import Transcript
from support.audio import write_audio
from test_safety import run_cli

ROOT = Path(__file__).resolve().parent.parent

TURNS = Transcript.of(
    [
        Segment(0.0, 2.0, " How was your week?", speaker=0),
        Segment(2.0, 4.0, " Better, thanks.", speaker=1),
        Segment(4.5, 6.0, " I slept more.", speaker=1),
        Segment(723.0, 725.0, " Good.", (Word(723.1, 723.6, " Good.", 0.9, 0),), speaker=0),
    ],
    [(0.1, 1.6), (2.1, 3.5), (4.6, 5.9), (723.1, 723.6)],
    source="Séance 12.m4a",
    duration_s=3723.4,
    language="fr",
    model="large-v3",
    speakers=("Therapist", "Client"),
    recorded="2026-11-20",
)
PLAIN = Transcript.of(
    [Segment(0.0, 3.0, " So how have things been?"), Segment(3.0, 5.0, " Better, I think."),
     Segment(20.0, 22.0, " Let's begin.")],
    [(0.2, 4.8), (20.1, 21.9)],
    source="plain.wav",
)


def _open(data: bytes):
    return docx.Document(io.BytesIO(data))


def _body(document) -> list:
    """The paragraphs after the "Transcript" heading: the transcript itself."""
    paragraphs = document.paragraphs
    start = next(i for i, p in enumerate(paragraphs) if p.style.name.startswith("Heading") and p.text == "Transcript")
    return paragraphs[start + 1:]


def test_docx_has_the_header_and_one_paragraph_per_turn_with_the_name_in_bold():
    document = _open(render_bytes(TURNS, "docx"))
    text = "\n".join(p.text for p in document.paragraphs)
    for line in ("Recording: Séance 12.m4a", "Session date: 2026-11-20", "Duration: 1:02:03",
                 "Language: French (fr)", "Model: large-v3", "Speakers: Therapist, Client"):
        assert line in text, text
    body = _body(document)
    assert [p.text for p in body] == [
        "[00:00:00] Therapist: How was your week?",
        "[00:00:02] Client: Better, thanks. I slept more.",
        "[00:12:03] Therapist: Good.",
    ]
    for paragraph, name in zip(body, ["Therapist:", "Client:", "Therapist:"]):
        bold = [run.text for run in paragraph.runs if run.bold]
        assert bold == [name]  # only the name: the words are plain
    assert document.core_properties.title == "Séance 12.m4a"
    assert document.core_properties.created == datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)


def test_docx_without_speakers_has_the_txt_exports_paragraphs():
    body = [p.text for p in _body(_open(render_bytes(PLAIN, "docx")))]
    assert body == [p for p in render(PLAIN, "txt").strip().split("\n\n")]
    assert body == ["So how have things been? Better, I think.", "Let's begin."]


def test_docx_is_a_well_formed_word_package():
    """What Word checks first: a zip with its content types, every XML part well formed."""
    data = render_bytes(TURNS, "docx")
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.testzip() is None
        names = package.namelist()
        assert names[0] == "[Content_Types].xml"
        assert {"word/document.xml", "_rels/.rels", "docProps/core.xml", "word/styles.xml"} <= set(names)
        for name in names:
            if name.endswith((".xml", ".rels")):
                etree.fromstring(package.read(name))  # raises on malformed XML
        types = package.read("[Content_Types].xml").decode()
        assert "wordprocessingml.document.main+xml" in types
        core = package.read("docProps/core.xml").decode()
        assert "2026-11-20T00:00:00Z" in core and "SessionScribe" in core


def test_a_control_character_in_the_text_does_not_break_the_document():
    broken = TURNS.with_text(0, "Hello\x00 there\x1b")
    body = _body(_open(render_bytes(broken, "docx")))
    assert body[0].text == "[00:00:00] Therapist: Hello there"


def test_characters_a_word_processor_cannot_show_are_dropped_and_the_rest_survives():
    """Seen in LibreOffice: DEL, C1 controls and noncharacters (legal XML, discouraged) were
    drawn as empty boxes mid-sentence; a file name that is not UTF-8 (surrogate escapes, as
    Python decodes it) failed the whole export with UnicodeEncodeError."""
    odd = dataclasses.replace(
        TURNS.with_text(0, "Zoë\x7f said\x85 it\x9f,\ufdd0 ok\x1b.\ufffe 😀 Łódź"),
        info=dataclasses.replace(TURNS.info, source="bad\udcff name.wav", speakers=("Dr. Ōkafor\x01", "Zoë")),
    )
    data = render_bytes(odd, "docx")
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        etree.fromstring(package.read("word/document.xml"))
    document = _open(data)
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Recording: bad\ufffd name.wav" in text  # a character was there: U+FFFD says so
    assert "Speakers: Dr. Ōkafor, Zoë" in text
    assert _body(document)[0].text == "[00:00:00] Dr. Ōkafor: Zoë said it, ok. 😀 Łódź"
    assert document.core_properties.title == "bad\ufffd name.wav"


def test_every_page_says_which_recording_and_which_page_of_how_many():
    """A printed transcript is filed as loose sheets: the footer names the recording and
    carries PAGE and NUMPAGES fields (Word and LibreOffice fill them in)."""
    footer = _open(render_bytes(TURNS, "docx")).sections[0].footer
    assert footer.paragraphs[0].text == "Séance 12.m4a · page 1 of 1"  # the fields' stored results
    xml = footer._element.xml
    assert xml.count('fldCharType="begin"') == 2 and " PAGE " in xml and " NUMPAGES " in xml


@pytest.mark.skipif(not shutil.which("soffice") or not shutil.which("pdftotext"),
                    reason="LibreOffice (soffice) and poppler-utils (pdftotext) not installed")
def test_libreoffice_opens_the_document_and_lays_out_header_turns_and_page_numbers(tmp_path):
    """A real word processor, not python-docx reading back what python-docx wrote."""
    long = TURNS.with_text(1, " ".join(["Better, thanks."] * 400))  # more than one page
    source = export(long, tmp_path / "s.docx", "docx")
    profile = (tmp_path / "lo-profile").as_uri()  # its own profile: no clash with a running office
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(source)],
        capture_output=True, timeout=180, check=True,
    )
    text = subprocess.run(["pdftotext", str(tmp_path / "s.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Recording: Séance 12.m4a" in text and "Speakers: Therapist, Client" in text
    assert "[00:00:00] Therapist: How was your week?" in text
    pages = text.split("\f")[:-1]
    assert len(pages) >= 2
    for number, page in enumerate(pages, 1):
        assert f"Séance 12.m4a · page {number} of {len(pages)}" in page


def test_docx_reruns_are_byte_identical_even_in_another_process_later(tmp_path):
    first = export(TURNS, tmp_path / "a.docx", "docx").read_bytes()
    assert render_bytes(TURNS, "docx") == first
    # Another process, at least two seconds later (a zip's clock ticks in 2-s steps).
    script = (
        "import sys, time; time.sleep(2.1)\n"
        "sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from test_docx_export import TURNS\n"
        "from engine.export import render_bytes\n"
        "sys.stdout.buffer.write(render_bytes(TURNS, 'docx'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "src"), str(ROOT / "tests")], capture_output=True, check=True
    )
    assert result.stdout == first
    assert render_bytes(TURNS.with_speaker_names(["Dr. Ames", "Client"]), "docx") != first


def test_write_outputs_writes_docx_beside_the_text_formats_no_more_readable_than_the_recording(tmp_path):
    written = write_outputs(TURNS, tmp_path / "s.ogg", ["txt", "docx", "maxqda"], max_mode=0o600)
    assert {fmt: path.name for fmt, path in written.items()} == {
        "txt": "s.ogg.txt", "docx": "s.ogg.docx", "maxqda": "s.ogg.maxqda.txt",
    }
    assert written["docx"].read_bytes() == render_bytes(TURNS, "docx")
    if os.name == "posix":
        assert stat.S_IMODE(written["docx"].stat().st_mode) & ~0o600 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ogg.docx", "s.ogg.maxqda.txt", "s.ogg.txt"]


def test_render_refuses_docx_as_text():
    with pytest.raises(ValueError):
        render(TURNS, "docx")
    assert render_bytes(TURNS, "txt") == render(TURNS, "txt").encode("utf-8")


# -- MAXQDA ---------------------------------------------------------------------------------------
def test_maxqda_has_timestamps_and_speakers_at_paragraph_starts():
    text = render(TURNS, "maxqda")
    assert text.startswith("\ufeff")  # Windows readers take it as UTF-8
    assert text[1:].split("\n") == [
        "#00:00:00-0#",
        "Therapist: How was your week? #00:00:02-0#",
        "Client: Better, thanks. I slept more. #00:00:06-0#",
        "Therapist: Good. #00:12:05-0#",
        "",
    ]
    plain = render(PLAIN, "maxqda")[1:].split("\n")
    assert plain[1:3] == ["So how have things been? Better, I think. #00:00:04-8#", "Let's begin. #00:00:21-9#"]
    # A '#' of the text would read as half a timestamp.
    assert "#5#" not in render(TURNS.with_text(0, "Item #5# please"), "maxqda")


def test_maxqda_file_never_replaces_a_plain_txt_nor_a_file_we_did_not_write(tmp_path):
    stem = tmp_path / "Session 12"
    (tmp_path / "Session 12.txt").write_text("my notes\n")
    # Only the formats asked for take part: the notes at .txt do not move a MAXQDA-only export.
    assert choose_stem(stem, ["maxqda"]) == stem
    foreign = tmp_path / "Session 12.maxqda.txt"
    foreign.write_text("someone's coding\n")
    assert choose_stem(stem, ["maxqda", "docx"]) == tmp_path / "Session 12 (transcript)"
    (tmp_path / "Session 12.docx").write_bytes(b"a report")
    assert choose_stem(tmp_path / "Session 12", ["docx"]) == tmp_path / "Session 12 (transcript)"


# -- the CLI --------------------------------------------------------------------------------------
def _tone(seconds: float = 1.5, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_cli_format_docx_writes_it_beside_the_others_and_keeps_a_docx_it_did_not_write(tmp_path, tiny_model):
    recording = write_audio(tmp_path / "Session 12.wav", _tone())
    os.utime(recording, (1_700_000_000, 1_700_000_000))  # 2023-11-14/15: the session's date
    args = ["transcribe", str(recording), "--model", str(tiny_model), "--device", "cpu",
            "--format", "txt,docx", "--speakers", "off"]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    docx_file = tmp_path / "Session 12.docx"
    assert (tmp_path / "Session 12.txt").exists() and docx_file.exists()
    text = "\n".join(p.text for p in _open(docx_file.read_bytes()).paragraphs)
    day = datetime.date.fromtimestamp(1_700_000_000).isoformat()
    assert "Recording: Session 12.wav" in text and f"Session date: {day}" in text, text
    written = docx_file.read_bytes()

    # A rerun replaces its own .docx with the same bytes.
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert docx_file.read_bytes() == written

    # A .docx SessionScribe did not write for this recording is kept.
    other = write_audio(tmp_path / "other" / "Session 12.wav", _tone(2.0))
    own = tmp_path / "other" / "Session 12.docx"
    own.write_bytes(b"the clinician's own report")
    third = run_cli("transcribe", str(other), "--model", str(tiny_model), "--device", "cpu",
                    "--format", "docx", "--speakers", "off")
    assert third.returncode == 0, third.stderr
    assert own.read_bytes() == b"the clinician's own report"
    assert (tmp_path / "other" / "Session 12 (transcript).docx").exists()


def test_default_formats_stay_the_four_text_files():
    from engine.cli import build_parser
    from engine.options import DEFAULT_FORMATS, EXPORT_FORMATS, TranscribeOptions

    assert TranscribeOptions().formats == DEFAULT_FORMATS == ("txt", "srt", "vtt", "json")
    assert {"docx", "maxqda", "rttm"} <= set(EXPORT_FORMATS)
    args = build_parser().parse_args(["transcribe", "x.wav"])
    assert args.format == DEFAULT_FORMATS
    assert build_parser().parse_args(["transcribe", "x.wav", "--format", "docx,maxqda"]).format == ("docx", "maxqda")
    assert build_parser().parse_args(["transcribe", "x.wav", "--format", "rttm,json"]).format == ("rttm", "json")
