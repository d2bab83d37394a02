"""Choosing recordings: folders are searched sensibly and no transcript overwrites another."""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from engine.inputs import MEDIA_EXTENSIONS, expand_inputs, is_media_file, plan_output_stems


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")
    return path


def test_media_extensions_are_case_insensitive():
    for name in ("a.wav", "b.MP3", "c.M4A", "d.mov", "e.MKV", "f.webm", "g.Opus", "h.mts"):
        assert is_media_file(Path(name)), name
    for name in ("notes.txt", "report.pdf", "session.srt", "noextension", ".m4a"):
        assert not is_media_file(Path(name)), name
    assert {".wav", ".mp3", ".m4a", ".mp4", ".mov", ".mkv", ".ogg", ".flac"} <= MEDIA_EXTENSIONS


def test_folder_walk_keeps_media_and_notes_everything_else(tmp_path):
    root = tmp_path / "sessions"
    touch(root / "b-session.MP3")
    touch(root / "a-session.m4a")
    touch(root / "notes.txt")
    touch(root / "week 2" / "intake.mov")
    touch(root / "week 2" / "consent.pdf")
    touch(root / ".hidden.wav")
    touch(root / ".cache" / "x.wav")
    touch(root / "._a-session.m4a")  # macOS resource fork
    files, notes = expand_inputs([root])
    assert files == [root / "a-session.m4a", root / "b-session.MP3", root / "week 2" / "intake.mov"]
    assert notes == [
        "notes.txt: skipped, not an audio or video file",
        "week 2/consent.pdf: skipped, not an audio or video file",
    ]


def test_files_given_explicitly_are_kept_whatever_they_are(tmp_path):
    text = touch(tmp_path / "transcript request.txt")
    missing = tmp_path / "gone.wav"
    dangling = tmp_path / "link.wav"
    os.symlink(tmp_path / "nowhere.wav", dangling)
    files, notes = expand_inputs([text, missing, dangling])
    assert files == [text, missing, dangling]
    assert notes == []


def test_the_same_recording_is_transcribed_once(tmp_path):
    folder = tmp_path / "in"
    one = touch(folder / "one.wav")
    two = touch(folder / "two.wav")
    files, _ = expand_inputs([one, folder, tmp_path / "in" / ".." / "in" / "one.wav", two])
    assert files == [one, two]


def test_empty_folder_is_mentioned(tmp_path):
    (tmp_path / "empty").mkdir()
    files, notes = expand_inputs([tmp_path / "empty"])
    assert files == [] and len(notes) == 1 and "empty" in notes[0]


def test_same_stem_in_one_folder_keeps_extensions(tmp_path):
    ogg, m4a, other = tmp_path / "a.ogg", tmp_path / "a.m4a", tmp_path / "b.wav"
    plan = plan_output_stems([ogg, m4a, other], None)
    assert plan == {ogg: tmp_path / "a.ogg", m4a: tmp_path / "a.m4a", other: tmp_path / "b"}


def test_collisions_are_case_insensitive(tmp_path):
    upper, lower = tmp_path / "Session.WAV", tmp_path / "session.mp4"
    plan = plan_output_stems([upper, lower], None)
    assert plan[upper].name == "Session.WAV" and plan[lower].name == "session.mp4"


def test_one_output_folder_for_inputs_from_several_folders(tmp_path):
    out = tmp_path / "out"
    first, second = tmp_path / "mon" / "client.wav", tmp_path / "tue" / "client.wav"
    third = tmp_path / "tue" / "other.flac"
    plan = plan_output_stems([first, second, third], out)
    assert plan[third] == out / "other"
    assert plan[first].parent == out and plan[second].parent == out
    assert len({str(p).casefold() for p in plan.values()}) == 3


def test_without_collision_outputs_go_beside_each_input(tmp_path):
    first, second = tmp_path / "mon" / "client.wav", tmp_path / "tue" / "client.wav"
    assert plan_output_stems([first, second], None) == {
        first: tmp_path / "mon" / "client",
        second: tmp_path / "tue" / "client",
    }


def test_an_input_is_never_overwritten_by_its_own_transcript(tmp_path):
    notes = tmp_path / "notes.txt"
    stem = plan_output_stems([notes], None)[notes]
    assert all(stem.with_name(f"{stem.name}.{fmt}") != notes for fmt in ("txt", "srt", "vtt", "json"))


def test_unicode_names_are_preserved(tmp_path):
    names = ["Séance 3 – Zoë.m4a", "第一次会谈.wav", "Ünal Çelik 2024-05-01.mp3"]
    for name in names:
        touch(tmp_path / name)
    files, notes = expand_inputs([tmp_path])
    assert notes == []
    assert {p.name for p in files} == set(names)
    plan = plan_output_stems(files, None)
    assert {plan[p].name for p in files} == {Path(n).stem for n in names}


def test_nfd_and_nfc_spellings_collide_like_on_macos(tmp_path):
    nfc = tmp_path / unicodedata.normalize("NFC", "Zoë.wav")
    nfd = tmp_path / unicodedata.normalize("NFD", "Zoë.m4a")
    plan = plan_output_stems([nfc, nfd], None)
    assert plan[nfc].name.endswith(".wav") and plan[nfd].name.endswith(".m4a")


def test_a_maxqda_named_recording_never_shares_an_output_with_another(tmp_path):
    """`a.wav`'s MAXQDA file is `a.maxqda.txt`, which is also `a.maxqda.wav`'s plain text."""
    first = tmp_path / "a.wav"
    second = tmp_path / "a.maxqda.wav"
    plan = plan_output_stems([first, second], None)
    assert plan[first] == tmp_path / "a"
    assert plan[second] == tmp_path / "a.maxqda-2"
