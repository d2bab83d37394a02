"""Every engine stage has its row in the app's one table of stages."""
from app.jobs import STAGE_TABLE, Job
from engine import Stage


def test_every_stage_has_a_label_a_weight_and_a_colour():
    assert set(STAGE_TABLE) == set(Stage)
    assert all(row.label and row.weight > 0 and row.colour.startswith("#") for row in STAGE_TABLE.values())
    assert abs(sum(row.weight for row in STAGE_TABLE.values()) - 1.0) < 1e-9  # a finished job reads 100 %


def test_a_job_with_every_stage_finished_is_complete(tmp_path):
    job = Job(tmp_path / "a.wav")
    for state in job.stages.values():
        state.finished_at = 1.0
    assert abs(job.overall_fraction() - 1.0) < 1e-9
