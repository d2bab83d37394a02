"""Transcript files: players can read them, and a failed write never damages a transcript."""
from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from engine import export as export_module
from engine.cues import build_cues
from engine.errors import ExportError
from engine.export import (
    export,
    render,
    format_json,
    format_srt,
    format_txt,
    format_vtt,
    write_atomic,
    write_outputs,
)
from engine.segments import Cue, Segment, Word
from engine.transcript import Transcript

FFPROBE = shutil.which("ffprobe")
FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(not (FFPROBE and FFMPEG), reason="ffmpeg/ffprobe not installed")

SEGMENTS = [
    Segment(0.0, 30.0, " So how have things been since we last met? Better, I think. "
            "I've been sleeping more & eating <properly> — mostly."),
    Segment(30.0, 60.0, " That's good to hear. Let's talk about the café incident, "
            "the one with your brother Zoë mentioned --> last week."),
    Segment(95.0, 98.0, " 好的，我们开始吧。"),
    Segment(3700.0, 3702.5, " Okay.", (Word(3700.2, 3700.9, " Okay.", 0.93),)),
]
SPEECH = [(0.5, 8.0), (9.0, 29.5), (30.5, 44.0), (50.0, 58.0), (95.2, 97.8), (3700.1, 3701.0)]
TRANSCRIPT = Transcript.of(SEGMENTS, SPEECH)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def count_packets(path: Path) -> int:
    result = subprocess.run(
        [FFPROBE, "-v", "error", "-show_packets", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )
    return len(json.loads(result.stdout).get("packets", []))


@needs_ffmpeg
@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_parse_in_ffmpeg_with_every_cue(tmp_path, fmt):
    cues = build_cues(SEGMENTS, SPEECH)
    assert len(cues) >= 6
    path = export(TRANSCRIPT, tmp_path / f"session.{fmt}", fmt)
    decoded = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", "0", "-c:s", "ass", "-f", "null", "-"],
        capture_output=True, text=True,
    )
    assert decoded.returncode == 0 and decoded.stderr.strip() == "", decoded.stderr
    assert count_packets(path) == len(cues)
    # ffmpeg turns the file into ASS; the cue text survives, accents and all.
    ass = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "ass", "-"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "café" in ass and "好的" in ass
    assert "0:00:00" in ass and "1:01:40" in ass  # past the hour


def test_srt_and_vtt_layout():
    cues = [Cue(1.5, 3.0, ("Hello there,", "how are you?")), Cue(3661.001, 3662.0, ("a < b & c",))]
    assert format_srt(cues) == (
        "1\n00:00:01,500 --> 00:00:03,000\nHello there,\nhow are you?\n\n"
        "2\n01:01:01,001 --> 01:01:02,000\na < b & c\n"
    )
    assert format_vtt(cues) == (
        "WEBVTT\n\n00:00:01.500 --> 00:00:03.000\nHello there,\nhow are you?\n\n"
        "01:01:01.001 --> 01:01:02.000\na &lt; b &amp; c\n"
    )


def test_json_round_trips_and_reruns_are_byte_identical(tmp_path):
    transcript = Transcript.of(SEGMENTS, SPEECH, source="Séance 3.m4a", model="large-v3", language="fr", duration_s=3702.5)
    first = export(transcript, tmp_path / "a.json", "json").read_bytes()
    second = export(transcript, tmp_path / "b.json", "json").read_bytes()
    assert first == second
    document = json.loads(first.decode("utf-8"))
    assert document["metadata"] == {
        "source": "Séance 3.m4a", "model": "large-v3", "language": "fr", "duration_s": 3702.5,
        "word_timestamps": True, "generator": "SessionScribe",
    }
    assert list(document["metadata"]) == sorted(document["metadata"])  # reruns match byte for byte
    assert [Segment.from_dict(item) for item in document["segments"]] == SEGMENTS
    assert "words" not in document["segments"][0] and "words" in document["segments"][3]
    assert "Zoë" in first.decode("utf-8")  # not \u-escaped
    assert format_json([], {}) == '{\n  "metadata": {},\n  "segments": []\n}\n'


def test_txt_is_paragraphs_without_timestamps():
    text = format_txt(SEGMENTS, SPEECH)
    paragraphs = text.rstrip("\n").split("\n\n")
    # 0-60 s is continuous speech; silence 58 -> 95.2 s and 97.8 -> 3700.1 s start new ones.
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith("So how have things been") and "That's good" in paragraphs[0]
    assert paragraphs[1] == "好的，我们开始吧。" and paragraphs[2] == "Okay."
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "-->" not in text.replace("mentioned -->", "") and ":00" not in text


def test_txt_breaks_long_talk_into_readable_paragraphs():
    sentence = "I think it went better than I expected, mostly because I was prepared. "
    segments = [Segment(i * 30.0, (i + 1) * 30.0, sentence * 4) for i in range(9)]
    paragraphs = format_txt(segments).rstrip("\n").split("\n\n")
    assert len(paragraphs) == 3  # 3 segments (~850 characters) each: no wall of text
    assert all(600 <= len(p) < 900 for p in paragraphs)
    assert " ".join(paragraphs).split() == " ".join(s.text for s in segments).split()


def test_write_outputs_writes_every_format_next_to_a_dotted_stem(tmp_path):
    written = write_outputs(TRANSCRIPT, tmp_path / "a.ogg", ["txt", "srt", "vtt", "json"])
    assert {fmt: path.name for fmt, path in written.items()} == {
        "txt": "a.ogg.txt", "srt": "a.ogg.srt", "vtt": "a.ogg.vtt", "json": "a.ogg.json"
    }
    assert all(path.read_text(encoding="utf-8") for path in written.values())
    assert all(b"\r\n" not in path.read_bytes() for path in written.values())
    assert leftovers(tmp_path) == []


def test_new_files_are_readable_by_other_programs(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    path = write_atomic(tmp_path / "out.txt", "hello\n")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def _folder_is_really_read_only(folder: Path) -> bool:
    try:
        probe = tempfile.NamedTemporaryFile(dir=folder, delete=False)
    except OSError:
        return True
    probe.close()
    os.unlink(probe.name)
    return False  # running as root (or on a file system that ignores modes)


def test_read_only_folder_raises_export_error_naming_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "session.srt").write_text("old\n", encoding="utf-8")
    folder.chmod(0o555)
    try:
        if not _folder_is_really_read_only(folder):
            # Root ignores folder modes: have the OS call fail the way it would for a user.
            real = tempfile.NamedTemporaryFile

            def refuse(*args, **kwargs):
                if Path(kwargs.get("dir", "")) == folder:
                    raise PermissionError(errno.EACCES, "Permission denied")
                return real(*args, **kwargs)

            monkeypatch.setattr(export_module.tempfile, "NamedTemporaryFile", refuse)
        with pytest.raises(ExportError) as caught:
            export(TRANSCRIPT, folder / "session.srt", "srt")
        message = str(caught.value)
        assert message.startswith("session.srt: could not write (")
        assert "permission denied" in message
        assert (folder / "session.srt").read_text(encoding="utf-8") == "old\n"
        assert leftovers(folder) == []
    finally:
        folder.chmod(0o755)


def test_failed_rename_keeps_the_old_transcript_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "session.txt"
    target.write_text("the previous transcript\n", encoding="utf-8")

    def broken_replace(src, dst):
        assert Path(src).exists() and Path(src).parent == tmp_path  # temp in the same folder
        raise PermissionError(errno.EACCES, "Access is denied", str(dst), 32)

    monkeypatch.setattr(export_module.os, "replace", broken_replace)
    with pytest.raises(ExportError, match=r"^session\.txt: could not write \("):
        write_atomic(target, "the new transcript\n")
    assert target.read_text(encoding="utf-8") == "the previous transcript\n"
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.txt"]


def test_disk_full_is_explained_and_cleaned_up(tmp_path, monkeypatch):
    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module.os, "fsync", full)
    with pytest.raises(ExportError, match=r"session\.json: could not write \(the disk is full\)"):
        export(TRANSCRIPT, tmp_path / "session.json", "json")
    assert list(tmp_path.iterdir()) == []


def test_output_folder_that_is_a_file_is_an_export_error(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ExportError, match=r"^session\.vtt: could not write"):
        export(TRANSCRIPT, blocker / "session.vtt", "vtt")
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_missing_output_folder_is_created(tmp_path):
    path = export(TRANSCRIPT, tmp_path / "new" / "deeper" / "s.txt", "txt")
    assert path.read_text(encoding="utf-8").startswith("So how have things been")


def test_write_outputs_stops_at_the_first_failure_keeping_earlier_files(tmp_path, monkeypatch):
    real = export_module.write_atomic

    def fail_on_vtt(path, text, **kwargs):
        if path.suffix == ".vtt":
            raise ExportError(f"{path.name}: could not write (the disk is full)")
        return real(path, text, **kwargs)

    monkeypatch.setattr(export_module, "write_atomic", fail_on_vtt)
    with pytest.raises(ExportError, match="s.vtt"):
        write_outputs(TRANSCRIPT, tmp_path / "s", ["txt", "srt", "vtt", "json"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.srt", "s.txt"]


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError):
        export(TRANSCRIPT, tmp_path / "x.odt", "odt")


def test_txt_joins_chinese_segments_without_a_space_before_their_punctuation():
    """One joining rule for cues and TXT: `谈谈。好的`, never `谈谈 。好的`."""
    segments = [Segment(0.0, 2.0, "我们谈谈"), Segment(2.1, 3.0, "。好的")]
    assert format_txt(segments, [(0.0, 3.0)]) == "我们谈谈。好的\n"


# -- speakers ----------------------------------------------------------------------------------
TURNS = Transcript.of(
    [
        Segment(0.0, 2.0, " How was your week?", (Word(0.1, 0.4, " How", 0.9, 0), Word(0.4, 0.6, " was", 0.9, 0),
                                                   Word(0.6, 0.9, " your", 0.9, 0), Word(0.9, 1.6, " week?", 0.9, 0)), speaker=0),
        Segment(2.0, 4.0, " Better, thanks.", (Word(2.1, 2.8, " Better,", 0.9, 1), Word(2.8, 3.5, " thanks.", 0.9, 1)), speaker=1),
        Segment(4.5, 6.0, " I slept more.", (Word(4.6, 4.8, " I", 0.9, 1), Word(4.8, 5.3, " slept", 0.9, 1),
                                              Word(5.3, 5.9, " more.", 0.9, 1)), speaker=1),
        Segment(723.0, 725.0, " Good.", (Word(723.1, 723.6, " Good.", 0.9, 0),), speaker=0),
    ],
    [(0.1, 1.6), (2.1, 3.5), (4.6, 5.9), (723.1, 723.6)],
    source="s.wav",
    speakers=("Therapist", "Client"),
)


def test_txt_with_speakers_is_one_timestamped_paragraph_per_turn():
    assert render(TURNS, "txt") == (
        "[00:00:00] Therapist: How was your week?\n\n"
        "[00:00:02] Client: Better, thanks. I slept more.\n\n"
        "[00:12:03] Therapist: Good.\n"
    )


def test_subtitles_name_the_speaker_where_the_speaker_changes_and_no_cue_mixes_two():
    cues = build_cues(TURNS.segments, TURNS.speech)
    assert [cue.speaker for cue in cues] == [0, 1, 1, 0]
    srt = render(TURNS, "srt")
    assert "Therapist: How was your week?" in srt and "Client: Better, thanks." in srt
    assert "\nI slept more." in srt  # the same speaker's next cue: no name again
    vtt = render(TURNS, "vtt")
    assert "<v Therapist>How was your week?" in vtt and "<v Client>Better, thanks." in vtt


def test_a_speakers_name_fits_inside_the_cues_two_lines_of_42():
    """The name opens a turn's first cue and counts toward its width: added after wrapping,
    it made lines of up to 53 characters (30-min bench session, 29 of 405 cues)."""
    said = "What was the best part of your week? Can you tell me a little more about that?"
    words = tuple(Word(0.2 + 0.3 * i, 0.45 + 0.3 * i, " " + text, 0.9, 0) for i, text in enumerate(said.split()))
    turn = Transcript.of([Segment(0.2, words[-1].end, " " + said, words, speaker=0)], [(0.2, words[-1].end)],
                         source="s.wav", speakers=("Therapist",))
    blocks = [block.split("\n")[2:] for block in render(turn, "srt").strip().split("\n\n")]
    assert blocks[0][0].startswith("Therapist: What was")
    assert all(len(lines) <= 2 and all(len(line) <= 42 for line in lines) for lines in blocks), blocks
    assert " ".join(" ".join(lines) for lines in blocks) == "Therapist: " + said  # every word, once
    assert sum(line.startswith("Therapist:") for lines in blocks for line in lines) == 1
    # Without a name (VTT's voice tag is not text on screen) the same words fill the lines.
    assert len(build_cues(turn.segments, turn.speech)) <= len(blocks)


def test_turns_said_over_each_other_name_the_speaker_wherever_the_shown_voice_changes():
    """Two voices at once (a two-microphone recording): the other voice's cue lands inside a
    turn, so the turn's next cue names its speaker again (stereo_diarization.wav: "behind the
    curtain on the left." came after the other speaker's cue with no name)."""
    long = "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."
    short = "The horizon seems extremely distant."
    first = tuple(Word(0.05 + 0.3 * i, 0.3 + 0.3 * i, " " + t, 0.9, 0) for i, t in enumerate(long.split()))
    second = tuple(Word(0.5 + 0.4 * i, 0.8 + 0.4 * i, " " + t, 0.9, 1) for i, t in enumerate(short.split()))
    both = Transcript.of(
        [Segment(0.05, first[-1].end, " " + long, first, speaker=0), Segment(0.5, second[-1].end, " " + short, second, speaker=1)],
        [(0.05, first[-1].end)], source="s.wav", speakers=("Left", "Right"),
    )
    blocks = [block.split("\n")[2:] for block in render(both, "srt").strip().split("\n\n")]
    starts = [lines[0] for lines in blocks]
    assert starts[0].startswith("Left: He began") and starts[1].startswith("Right: The horizon")
    assert starts[2].startswith("Left: ")  # the left voice again, after the right one's cue
    assert all(len(lines) <= 2 and all(len(line) <= 42 for line in lines) for lines in blocks), blocks
    said = " ".join(" ".join(lines) for lines in blocks).replace("Left: ", "").replace("Right: ", "")
    assert sorted(said.split()) == sorted((long + " " + short).split())  # every word, once


def test_json_carries_each_segments_and_words_speaker_and_the_names():
    document = json.loads(render(TURNS, "json"))
    assert document["metadata"]["speakers"] == ["Therapist", "Client"]
    assert [s["speaker"] for s in document["segments"]] == [0, 1, 1, 0]
    assert {w["speaker"] for w in document["segments"][1]["words"]} == {1}
    # A renamed speaker is renamed in every format.
    renamed = TURNS.with_speaker_names(["Dr. Ames", "Client"])
    assert "[00:00:00] Dr. Ames: How was your week?" in render(renamed, "txt")
    assert "<v Dr. Ames>" in render(renamed, "vtt")


def test_unnamed_speakers_are_numbered_and_a_transcript_without_speakers_is_unchanged():
    unnamed = TURNS.with_speaker_names([])
    assert render(unnamed, "txt").startswith("[00:00:00] Speaker 1: How was your week?")
    assert "speaker" not in render(TRANSCRIPT, "json") and "<v " not in render(TRANSCRIPT, "vtt")
