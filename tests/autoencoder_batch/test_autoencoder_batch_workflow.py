"""End to end: the tiny config builds every figure and every claim passes."""

import pytest

FIGURES = ["sparsity_vs_batch_size", "alignment_vs_batch_size", "sharpness_vs_batch_size",
           "coordinate_trajectories", "loss_vs_step"]


@pytest.mark.slow
def test_workflow_builds_figures_and_claims_pass(paper_outputs):
    """The session's tiny DAG (conftest) built every figure and every claim passed."""
    claims = paper_outputs("autoencoder_batch", FIGURES, 8, caption_contains="batch")
    ids = {c["id"] for c in claims}
    assert {"global_minimum", "full_batch_dense", "full_batch_aligned", "small_batch_sparse",
            "cyclic_small_batch_sparse", "small_batch_nearly_orthogonal", "relu_full_batch_flatter"} <= ids
