"""The transcript history: search every stored session, open a hit at its line, delete a
session (and its stored segments), re-export a session reopened from the store."""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt

from app.jobs import JobStatus
from app.session_search import hit_label, snippet


def _run(window, qtbot, paths: list[Path]):
    jobs = window.add_paths(paths)
    window.controller.start()
    qtbot.waitUntil(lambda: all(job.status.finished for job in jobs), timeout=20000)
    assert [job.status for job in jobs] == [JobStatus.DONE] * len(jobs)
    return jobs


def _touch(path: Path) -> Path:
    path.write_bytes(b"x")
    return path


def _search(window, qtbot, text: str):
    panel = window.session_search
    with qtbot.waitSignal(panel.searched, timeout=5000):
        panel.box.setText(text)  # typed: debounced, then run on a pool thread
    assert not panel.pending
    return panel.hits()


def test_search_all_sessions_finds_text_in_two_finished_jobs(make_window, qtbot, tmp_path):
    window = make_window(segments=8, step_s=0.002)
    first, second = _run(window, qtbot, [_touch(tmp_path / "monday intake.wav"), _touch(tmp_path / "friday follow-up.wav")])
    store = window.history.store
    assert len(store.segments(first.id)) == len(store.segments(second.id)) == 8

    # "Let's pause there for a second" is rows 3 and 7 of each fake transcript.
    hits = _search(window, qtbot, "PAUSE THERE")
    assert len(hits) == 4
    assert {hit.job_id for hit in hits} == {first.id, second.id}
    assert sorted((hit.job_id, hit.position) for hit in hits) == sorted(
        [(first.id, 3), (first.id, 7), (second.id, 3), (second.id, 7)]
    )
    panel = window.session_search
    assert panel.count.text() == "4 matches in 2 sessions"
    assert panel.results.isVisible() or not window.isVisible()
    assert panel.results.count() == 4
    # "<file name> · <time> · <snippet>", newest session first
    assert panel.results.item(0).text() == "friday follow-up.wav · 0:00:22 · Let's pause there for a second number 4."
    assert all(hit.name in ("monday intake.wav", "friday follow-up.wav") for hit in hits)

    assert len(_search(window, qtbot, "sleeping better")) == 4  # lower case finds "I have been sleeping..."
    assert _search(window, qtbot, "zebra") == []
    assert panel.count.text() == "No matches"
    assert _search(window, qtbot, "") == []
    assert panel.results.isHidden() and panel.count.text() == ""


def test_search_runs_off_the_ui_thread(make_window, qtbot, tmp_path):
    import threading

    window = make_window(segments=2, step_s=0.002)
    _run(window, qtbot, [_touch(tmp_path / "a.wav")])
    threads = []
    real = window.history.search

    def spy(text, limit=200):
        threads.append(threading.get_ident())
        return real(text, limit)

    window.session_search._search = spy
    _search(window, qtbot, "sleeping")
    assert threads and threads[0] != threading.get_ident()


def test_clicking_a_hit_opens_that_job_at_the_segment(make_window, qtbot, tmp_path):
    window = make_window(segments=40, step_s=0.001)
    first, second = _run(window, qtbot, [_touch(tmp_path / "first.wav"), _touch(tmp_path / "second.wav")])
    window.resize(1440, 900)
    window.show()
    qtbot.waitExposed(window)
    window.select_job(second.id)
    window.tabs.setCurrentWidget(window.report)

    hits = _search(window, qtbot, "number 34.")  # once per session
    assert [(hit.job_id, hit.position) for hit in hits] == [(second.id, 33), (first.id, 33)]
    panel = window.session_search
    row = next(r for r in range(panel.results.count()) if panel.hits()[r].job_id == first.id)
    rect = panel.results.visualItemRect(panel.results.item(row))
    qtbot.mouseClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    view = window.transcript
    assert window.selected_jobs() == [first]
    assert window.tabs.currentWidget() is view
    assert view.job is first and view.model.rowCount() == 40
    assert view.table.currentIndex().row() == 33
    target = view.table.visualRect(view.model.index(33, 1))
    assert view.table.viewport().rect().contains(target.center()), "segment not scrolled into view"
    assert view.model.index(33, 1).data() == "How did your body feel in that moment number 34."
    assert view.search_box.text() == "number 34."  # its matches are highlighted
    assert view.model.index(33, 1).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert not window.test.player.played  # opening a hit does not start playback


def test_hit_from_a_session_not_listed_is_opened_from_the_store(make_window, qtbot, tmp_path):
    window = make_window(segments=6, step_s=0.002)
    (job,) = _run(window, qtbot, [_touch(tmp_path / "old session.wav")])
    window.close()

    again = make_window()
    assert again.queue_model.job(job.id) is None  # an ended session: in History, not the queue
    hits = _search(again, qtbot, "seven maybe")
    assert [(hit.job_id, hit.position) for hit in hits] == [(job.id, 2)]
    assert again.open_search_hit(hits[0], "seven maybe")
    assert again.queue_model.job(job.id) is None  # opened, not queued again
    assert again.transcript.job.id == job.id and again.transcript.table.currentIndex().row() == 2


def test_delete_removes_the_job_and_its_segments(make_window, qtbot, tmp_path):
    window = make_window(segments=8, step_s=0.002)
    keep, gone = _run(window, qtbot, [_touch(tmp_path / "keep.wav"), _touch(tmp_path / "gone.wav")])
    store = window.history.store
    assert store.segments(gone.id)
    assert len(_search(window, qtbot, "pause there")) == 4

    asked = []
    window.confirm_remove = lambda jobs: asked.append([j.id for j in jobs]) or False
    window.select_job(gone.id)
    window.remove_action.trigger()
    assert asked == [[gone.id]]  # a stored transcript is only erased after a yes
    assert window.queue_model.job(gone.id) is gone and store.segments(gone.id)

    window.confirm_remove = lambda jobs: True
    window.select_job(gone.id)
    with qtbot.waitSignal(window.session_search.searched, timeout=5000):
        window.remove_action.trigger()
    assert window.queue_model.job(gone.id) is None
    assert [job.id for job in window.queue_model.jobs] == [keep.id]
    assert store.get_job(gone.id) is None
    assert store.segments(gone.id) == []
    assert all(job_id != gone.id for job_id, _pos, _seg in store.search("number"))
    # the open search forgot it too
    assert {hit.job_id for hit in window.session_search.hits()} == {keep.id}
    assert len(store.segments(keep.id)) == 8
    window.close()
    again = make_window()
    again.show_history()
    assert [row.job_id for row in again.history_view.shown_rows()] == [keep.id]


_SRT_CUE = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})\n(.+)")


def _srt_seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    seconds, millis = rest.split(",")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def test_reexport_from_history_writes_valid_srt(make_window, qtbot, tmp_path):
    window = make_window(segments=6, step_s=0.002)
    (job,) = _run(window, qtbot, [_touch(tmp_path / "client session.wav")])
    window.close()

    again = make_window()
    restored = again.history.job(job.id)
    assert restored is not None and restored.from_history and restored.status == JobStatus.DONE
    assert restored.segments == []  # read from the store only when viewed
    assert again.open_session(job.id)
    view = again.transcript
    restored = view.job
    assert restored.id == job.id and view.model.rowCount() == 6
    assert view.export_buttons["srt"].isEnabled()

    written = view.export_format("srt", tmp_path / "again" / "client session.srt")
    assert written is not None
    text = written.read_text(encoding="utf-8")
    blocks = [block for block in text.strip().split("\n\n") if block]
    assert len(blocks) >= 6  # long segments may be split into several cues
    previous_end = 0.0
    cue_texts = []
    for number, block in enumerate(blocks, start=1):
        cue = _SRT_CUE.fullmatch(block.strip())
        assert cue, f"not an SRT cue: {block!r}"
        assert int(cue.group(1)) == number
        start, end = _srt_seconds(cue.group(2)), _srt_seconds(cue.group(3))
        assert previous_end <= start < end
        previous_end = end
        cue_texts.append(cue.group(4).strip())
    assert " ".join(cue_texts).split() == " ".join(s.text for s in restored.segments).split()
    assert previous_end <= restored.segments[-1].end + 0.001


def test_snippet_and_label():
    long = "word " * 40 + "the needle is here " + "tail " * 40
    cut = snippet(long, "NEEDLE", width=60)
    assert "needle" in cut and cut.startswith("…") and cut.endswith("…") and len(cut) <= 62
    assert snippet("  short   text ", "x") == "short text"

    from app.history import SearchHit

    hit = SearchHit("j", 3, 3725.4, " It was probably a seven. ", "2026-11-02 session.mp3")
    assert hit_label(hit, "seven") == "2026-11-02 session.mp3 · 1:02:05 · It was probably a seven."
    said = SearchHit("j", 3, 3725.4, "It was probably a seven.", "2026-11-02 session.mp3", "Client")
    assert hit_label(said, "seven") == "2026-11-02 session.mp3 · 1:02:05 · Client: It was probably a seven."


# Who said it (issue 12). The fake engine with speakers=2 gives segment i to speaker i % 2,
# named from Settings' speaker names.
def _labels(window) -> list[str]:
    results = window.session_search.results
    return [results.item(row).text() for row in range(results.count())]


def _rename(window, job, row: int, name: str) -> None:
    from app.transcript_view import SPEAKER_COLUMN

    window.select_job(job.id)
    view = window.transcript
    assert view.job is job
    assert view.model.setData(view.model.index(row, SPEAKER_COLUMN), name, Qt.ItemDataRole.EditRole)


def _names(window, text: str) -> None:
    panel = window.settings_panel
    panel.speaker_names.setText(text)
    panel.speaker_names.editingFinished.emit()


def test_each_hit_says_who_said_it_by_the_name_the_user_gave(make_window, qtbot, tmp_path):
    window = make_window(segments=4, step_s=0.002, speakers=2)
    (couple,) = _run(window, qtbot, [_touch(tmp_path / "couple.wav")])
    panel = window.settings_panel
    panel.speakers.setCurrentIndex(panel.speakers.findData("off"))  # a dictation: no speakers
    (memo,) = _run(window, qtbot, [_touch(tmp_path / "memo.wav")])

    hits = _search(window, qtbot, "number")  # newest session first
    assert [(hit.job_id, hit.speaker) for hit in hits] == [(memo.id, None)] * 4 + [
        (couple.id, "Speaker 1"), (couple.id, "Speaker 2")
    ] * 2
    labels = _labels(window)
    assert labels[0] == "memo.wav · 0:00:00 · I have been sleeping better mostly number 1."  # no speaker
    assert labels[4] == "couple.wav · 0:00:00 · Speaker 1: I have been sleeping better mostly number 1."
    assert labels[5] == "couple.wav · 0:00:15 · Speaker 2: How did your body feel in that moment number 2."
    assert "Speaker 2" in window.session_search.results.item(5).toolTip()

    # Renamed in the transcript: the open search says so without being asked again.
    with qtbot.waitSignal(window.session_search.searched, timeout=5000):
        _rename(window, couple, 0, "Therapist")
    assert [hit.speaker for hit in window.session_search.hits()[4:]] == ["Therapist", "Speaker 2"] * 2
    assert _labels(window)[4] == "couple.wav · 0:00:00 · Therapist: I have been sleeping better mostly number 1."
    # ...and after a restart (the name is the store's)
    window.close()
    again = make_window()
    _search(again, qtbot, "sleeping")
    assert _labels(again) == [
        "memo.wav · 0:00:00 · I have been sleeping better mostly number 1.",
        "couple.wav · 0:00:00 · Therapist: I have been sleeping better mostly number 1.",
    ]


def test_the_speaker_filter_keeps_one_speakers_hits_across_sessions(make_window, qtbot, tmp_path):
    window = make_window(segments=4, step_s=0.002, speakers=2)
    _names(window, "Therapist, Client")
    (monday,) = _run(window, qtbot, [_touch(tmp_path / "monday.wav")])
    _names(window, "Client, Therapist")  # on Friday the client spoke first
    (friday,) = _run(window, qtbot, [_touch(tmp_path / "friday.wav")])
    panel = window.settings_panel
    panel.speakers.setCurrentIndex(panel.speakers.findData("off"))
    (memo,) = _run(window, qtbot, [_touch(tmp_path / "memo.wav")])
    search = window.session_search
    assert search.speaker.isHidden()  # nothing searched yet

    assert len(_search(window, qtbot, "number")) == 12
    assert not search.speaker.isHidden()
    assert [search.speaker.itemText(i) for i in range(search.speaker.count())] == ["All speakers", "Client", "Therapist"]
    with qtbot.waitSignal(search.searched, timeout=5000):
        search.speaker.setCurrentIndex(search.speaker.findText("Therapist"))
    # Speaker 2 on Friday, Speaker 1 on Monday; the client's lines and the memo are hidden.
    assert [(hit.job_id, hit.position) for hit in search.hits()] == [
        (friday.id, 1), (friday.id, 3), (monday.id, 0), (monday.id, 2)
    ]
    assert all(" · Therapist: " in label for label in _labels(window))
    assert search.count.text() == "4 matches in 2 sessions"

    # The filter stays for the next words.
    assert [(hit.job_id, hit.position) for hit in _search(window, qtbot, "sleeping")] == [(monday.id, 0)]
    assert [(hit.job_id, hit.position) for hit in _search(window, qtbot, "pause there")] == [(friday.id, 3)]
    assert _search(window, qtbot, "zebra") == []
    assert search.count.text() == "No matches from Therapist"
    assert search.speaker.isVisible() or not window.isVisible()
    assert search.speaker.currentText() == "Therapist" and not search.speaker.isHidden()

    _search(window, qtbot, "number")
    with qtbot.waitSignal(search.searched, timeout=5000):
        search.speaker.setCurrentIndex(0)  # All speakers
    assert len(search.hits()) == 12 and {hit.job_id for hit in search.hits()} == {monday.id, friday.id, memo.id}


def test_the_speaker_filter_finds_their_lines_past_the_first_matches(make_window, qtbot, tmp_path):
    from app.history import SEARCH_LIMIT

    window = make_window(segments=SEARCH_LIMIT + 20, step_s=0.0002, speakers=2)
    (job,) = _run(window, qtbot, [_touch(tmp_path / "long.wav")])
    search = window.session_search
    assert len(_search(window, qtbot, "number")) == SEARCH_LIMIT  # every line matches; the first 200
    assert search.count.text() == f"first {SEARCH_LIMIT} matches in 1 session"
    with qtbot.waitSignal(search.searched, timeout=5000):
        search.set_speaker_filter("Speaker 2")
    # All 110 of theirs, not the 100 among the first 200 matches.
    assert [hit.position for hit in search.hits()] == list(range(1, SEARCH_LIMIT + 20, 2))
    assert {hit.speaker for hit in search.hits()} == {"Speaker 2"}


def test_a_name_typed_differently_in_two_sessions_is_one_filter_entry(make_window, qtbot, tmp_path):
    window = make_window(segments=2, step_s=0.002, speakers=2)
    _names(window, "Therapist, Client")
    (first,) = _run(window, qtbot, [_touch(tmp_path / "first.wav")])
    _names(window, "THERAPIST,  client ")
    (second,) = _run(window, qtbot, [_touch(tmp_path / "second.wav")])
    search = window.session_search
    _search(window, qtbot, "number")
    entries = [search.speaker.itemText(i) for i in range(search.speaker.count())]
    assert entries == ["All speakers", "client", "THERAPIST"]  # as the newest session spells them
    with qtbot.waitSignal(search.searched, timeout=5000):
        search.speaker.setCurrentIndex(2)
    assert [(hit.job_id, hit.speaker) for hit in search.hits()] == [(second.id, "THERAPIST"), (first.id, "Therapist")]
    assert not search.pending
    with qtbot.waitSignal(search.hit_opened, timeout=5000) as opened:
        qtbot.keyClick(search.box, Qt.Key.Key_Return)  # opens the first hit, does not search again
    assert opened.args[0].job_id == second.id


def test_speaker_names_match_across_sessions_ignoring_case_and_spacing():
    from app.history import speaker_key

    assert speaker_key(" Therapist ") == speaker_key("therapist") == speaker_key("THERAPIST")
    assert speaker_key("Dr.  Okafor") == speaker_key("dr. okafor") != speaker_key("Dr. Okafor-Smith")
