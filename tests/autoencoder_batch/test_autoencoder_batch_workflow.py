"""End to end: the tiny config builds every figure and every claim passes."""

import json

import pytest

from sgdrepro.core.figures import read_caption

FIGURES = ["sparsity_vs_batch_size", "alignment_vs_batch_size", "sharpness_vs_batch_size",
           "coordinate_trajectories", "loss_vs_step"]


@pytest.mark.slow
def test_workflow_builds_figures_and_claims_pass(tmp_path, workflow_runner):
    workflow_runner(tmp_path, ["autoencoder_batch"])
    out = tmp_path / "results" / "autoencoder_batch"
    for figure in FIGURES:
        assert (out / "figures" / f"{figure}.pdf").stat().st_size > 0
        assert "batch" in read_caption(out / "figures" / f"{figure}.png")
    claims = json.loads((out / "claims.json").read_text())
    ids = {c["id"] for c in claims}
    assert {"global_minimum", "full_batch_dense", "full_batch_aligned", "small_batch_sparse",
            "cyclic_small_batch_sparse", "small_batch_nearly_orthogonal", "relu_full_batch_flatter"} <= ids
    failed = [c for c in claims if not c["passed"]]
    assert not failed, failed
