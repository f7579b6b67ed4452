"""End-to-end: the tiny config builds every heavy_tail figure and claim, and every claim passes."""

import json

import pytest

from sgdrepro.core.figures import read_caption

FIGURES = ["alpha_vs_lr", "alpha_vs_batch", "alpha_vs_dim", "alpha_vs_sigma", "tail_survival", "streaming_vs_finite",
           "mlp_alpha_vs_lr_over_b", "mlp_accuracy_vs_alpha"]


@pytest.mark.slow
def test_heavy_tail_workflow_tiny(tmp_path, workflow_runner):
    workflow_runner(tmp_path, ["heavy_tail"])
    results = tmp_path / "results" / "heavy_tail"
    for figure in FIGURES:
        assert (results / "figures" / f"{figure}.pdf").stat().st_size > 0
        assert read_caption(results / "figures" / f"{figure}.png")
    claims = json.loads((results / "claims.json").read_text())
    assert len(claims) >= 12
    failed = [c for c in claims if not c["passed"]]
    assert not failed, failed


def test_heavy_tail_bad_config_fails_before_any_job(tmp_path, workflow_runner):
    result = workflow_runner(tmp_path, ["heavy_tail"], config=['heavy_tail={"quick": {"linreg": {"burn_in": 5000}}}'],
                             extra=["--dry-run"], check=False)
    assert result.returncode != 0
    assert "heavy_tail.quick.linreg.burn_in" in result.stdout + result.stderr
