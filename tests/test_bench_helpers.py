"""Pure helpers of the benchmark harness (bench/): statistics, formatting, the docs writer.

Milliseconds only: the benchmarks themselves are run by hand (`.venv/bin/python bench/run.py`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common as C  # noqa: E402
from bench.app_timing import parse_output, percentile  # noqa: E402
from bench.gpu_pipeline import calibrated_cap  # noqa: E402
from bench.run import grid_cells, old_sections  # noqa: E402


def test_stats_median_min_max():
    stats = C.Stats.of([3.0, 1.0, 2.0, None])
    assert (stats.median, stats.low, stats.high, stats.n) == (2.0, 1.0, 3.0, 3)
    assert C.Stats.of([]) is None
    assert C.Stats.of([1.0, 2.0]).median == 1.5


def test_ratios_are_taken_per_repeat():
    assert C.pairwise_ratios([2.0, 6.0], [1.0, 2.0]) == [2.0, 3.0]
    stats = C.ratio_stats([2.0, 6.0, 4.0], [1.0, 2.0, 4.0])
    assert (stats.median, stats.low, stats.high) == (2.0, 1.0, 3.0)
    assert C.pairwise_ratios([1.0], [0.0]) == []  # a zero denominator is skipped, not a crash


def test_rotations_put_each_competitor_first_in_turn():
    orders = [order for _, order in C.rotations(["a", "b", "c"], 4)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert [i for i, _ in C.rotations(["a", "b"], 2)] == [0, 1]


def test_format_stat_and_ratio():
    assert C.fmt_stat(C.Stats(12.3, 11.9, 13.0, 3), "s") == "12.30 s (11.90–13.00)"
    assert C.fmt_stat(C.Stats(12.3, 12.3, 12.3, 1), "s", 1) == "12.3 s"
    assert C.fmt_ratio(C.Stats(0.7512, 0.7, 0.8, 3)) == "0.75x (0.70–0.80)"
    assert C.fmt_stat(C.Stats(3922.4, 3922.4, 3922.4, 1), "x", 0) == "3,922x"
    assert C.fmt_stat(None) == "n/a"
    assert C.fmt_bytes(822 * 2**20) == "822 MB"
    assert C.fmt_bytes(None) == "n/a"


def test_check_goal():
    assert C.check_goal(0.75, at_most=0.80) == C.MET
    assert C.check_goal(0.81, at_most=0.80) == C.NOT_MET
    assert C.check_goal(1200, at_least=1000) == C.MET
    assert C.check_goal(999, at_least=1000) == C.NOT_MET
    assert C.check_goal(None, at_most=1) == C.NOT_MEASURED


def test_md_table_escapes_and_aligns():
    table = C.md_table(["Name", "Time"], [["a|b", "1 s"], ["short"]])
    lines = table.splitlines()
    assert lines[0] == "| Name | Time |"
    assert lines[1] == "| :--- | ---: |"
    assert lines[2] == "| a\\|b | 1 s |"
    assert lines[3] == "| short |  |"


def test_text_table_pads_columns():
    text = C.text_table(["A", "Value"], [["long name", "1"], ["x", "22"]]).splitlines()
    assert len({len(line) for line in text}) == 1
    assert text[1].startswith("-")


def test_replace_block_keeps_everything_outside_the_markers():
    doc = f"intro\n\n{C.BEGIN_MARK}\nold\n{C.END_MARK}\n\nlog by hand\n"
    new = C.replace_block(doc, "new tables")
    assert new == f"intro\n\n{C.BEGIN_MARK}\nnew tables\n{C.END_MARK}\n\nlog by hand\n"
    assert C.replace_block(new, "again").count(C.BEGIN_MARK) == 1


def test_replace_block_adds_missing_markers():
    assert C.replace_block("intro\n", "x").endswith(f"{C.BEGIN_MARK}\nx\n{C.END_MARK}\n")
    doc = f"a\n{C.BEGIN_MARK}\nmain\n{C.END_MARK}\nz\n"
    placed = C.replace_block(doc, "gpu", C.GPU_BEGIN_MARK, C.GPU_END_MARK, after=C.END_MARK)
    assert placed.index(C.GPU_BEGIN_MARK) > placed.index(C.END_MARK)
    assert placed.rstrip().endswith("z")


def test_update_docs_creates_from_template_and_keeps_the_log(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    C.update_docs("FIRST-CONTENT", path=path)
    text = path.read_text()
    assert "# Benchmarks" in text and "Before / after log" in text and "FIRST-CONTENT" in text
    path.write_text(text.replace("| :--- | :--- | :--- | ---: | ---: |", "| :--- | :--- | :--- | ---: | ---: |\n| 1 | x | 3 | 2 s | 1 s |"))
    C.update_docs("SECOND-CONTENT", path=path)
    C.update_docs("gpu part", C.GPU_BEGIN_MARK, C.GPU_END_MARK, path=path)
    text = path.read_text()
    assert "SECOND-CONTENT" in text and "FIRST-CONTENT" not in text and "gpu part" in text
    assert "| 1 | x | 3 | 2 s | 1 s |" in text


def test_old_sections_are_found_for_reuse():
    doc = "<!-- bench:table:3:begin -->\n## 3. End to end\nbody\n<!-- bench:table:3:end -->"
    assert old_sections(doc) == {3: "## 3. End to end\nbody"}


def test_grid_always_holds_the_automatic_choice():
    cells = grid_cells(2, (2, 1))
    assert (2, 1) in cells and (1, 1) in cells and (4, 2) in cells
    assert (16, 1) in grid_cells(16, (16, 1))
    assert (3, 1) in grid_cells(2, (3, 1))


def test_worker_result_line_round_trip(capsys):
    C.emit_result({"a": 1.5})
    out = capsys.readouterr().out
    assert C.parse_result("noise\n" + out) == {"a": 1.5}
    assert C.parse_result("nothing here") is None


def test_app_output_parsing():
    out = ("junk\nwindow-shown 100.5\nui-stall p50=0.20 p99=53.40 max=240.5 n=520\n"
           "startup-stall max=900.00 n=12\nqueue-done 105.25\n")
    found = parse_output(out)
    assert found["window_shown"] == 100.5 and found["queue_done"] == 105.25
    assert (found["stall_p50"], found["stall_p99"], found["stall_max"], found["stall_n"]) == (0.2, 53.4, 240.5, 520)
    assert (found["startup_stall_max"], found["startup_stall_n"]) == (900.0, 12)


@pytest.mark.parametrize("q, expected", [(50, 2), (99, 4), (100, 4), (1, 1)])
def test_percentile_nearest_rank(q, expected):
    assert percentile([4, 1, 3, 2], q) == expected


def test_calibrated_cap():
    assert calibrated_cap(100, 100, [52, 52, 51]) == 192  # a build that decodes max_length / 2
    assert calibrated_cap(100, 100, [98, 100]) == 100  # close enough: unchanged
    assert calibrated_cap(100, 100, []) == 100
    assert calibrated_cap(300, 100, [10]) == 440  # never past Whisper's context


def test_kept_sections_report_their_goal_and_status():
    from bench.run import _kept_summary

    body = "## 4. Memory\n\n**Goal:** flat: ours at 180 min <= 1.10x — **met** (180/45 = 1.08x)\n\n| t |"
    assert _kept_summary(body) == ("flat: ours at 180 min <= 1.10x", "met")
    assert _kept_summary("**Goal:** none set by the issue (informative).") == ("none set by the issue (informative)", "")
    assert _kept_summary("no goal line") == ("", "")


# -- bench/accuracy.py: issue 9's "Done means" checks ------------------------------------------------
def _system(wer, dropped=(), insertions=0, cue_p90=0.3, wall=10.0, rss=500 * 2**20):
    return {"wer": wer, "dropped": list(dropped), "insertions": insertions, "cue_start_p90": cue_p90,
            "wall_s": wall, "rss": rss}


def _session(name, ours, seq, bat):
    return {"session": name, "systems": {"ours": ours, "sequential": seq, "batched": bat}}


def test_accuracy_checks_compare_with_sequential_and_batched():
    from bench.accuracy import checks

    good = _session("10min", _system(0.070, dropped=[3], insertions=4, wall=9.0),
                    _system(0.065, dropped=[3], insertions=5), _system(0.13, dropped=[1, 3], wall=10.0))
    verdicts = checks(good, {})
    assert set(verdicts.values()) == {C.MET}
    assert "wall <= batched" in verdicts and "click within 2" not in verdicts

    bad = _session("10min", _system(0.080, dropped=[2], insertions=6, cue_p90=0.6, wall=11.0, rss=800 * 2**20),
                   _system(0.065, insertions=5), _system(0.13, wall=10.0))
    verdicts = checks(bad, {})
    assert all(v == C.NOT_MET for v in verdicts.values()), verdicts  # 1.5 points over, a drop seq kept, ...

    short = _session("short", _system(0.050), _system(0.05), _system(0.1))
    click = _session("quiet-click", _system(0.075), _system(0.05), _system(0.1))
    verdicts = checks(click, {"short": short})
    assert verdicts["click within 2"] == C.NOT_MET and "wall <= batched" not in verdicts
    assert checks(click, {})["click within 2"] == C.NOT_MEASURED


def test_accuracy_counts_cues_over_issue_9s_limits():
    from bench.accuracy import checks, cue_limits

    words = [(0.0, 0.4), (0.5, 0.9), (4.0, 4.3), (10.0, 10.5), (17.6, 18.0)]
    document = {"segments": [{"words": [{"start": a, "end": b} for a, b in words]}]}
    srt = (
        "1\n00:00:00,000 --> 00:00:00,900\nTherapist: How was your week?\n\n"  # fine
        "2\n00:00:03,900 --> 00:00:04,300\nA line well over forty-two characters on screen\n\n"
        "3\n00:00:10,000 --> 00:00:18,000\nSeven seconds or more,\nwith a 7-s pause inside\n\n"
        "4\n00:00:20,000 --> 00:00:21,000\none\ntwo\nthree lines\n"
    )
    assert cue_limits(srt, document) == {"cues": 4, "over_7s": 1, "over_lines": 2, "across_pause": 1}
    good = _session("short", {**_system(0.05), "cue_limits": cue_limits(srt.split("\n\n")[0], document)},
                    _system(0.05), _system(0.1))
    assert checks(good, {})["cue limits"] == C.MET
    bad = _session("short", {**_system(0.05), "cue_limits": cue_limits(srt, document)}, _system(0.05), _system(0.1))
    assert checks(bad, {})["cue limits"] == C.NOT_MET
