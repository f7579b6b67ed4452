"""quadratic_chaos end to end on the session's tiny DAG (conftest): every figure, every claim."""

from __future__ import annotations

import pytest

FIGURES = ["loss_curves_orthogonal", "bifurcation", "loss_curves_gaussian", "phase_map_gaussian", "generalization"]

# Tiny size: generalization has 2 seeds, below the 6 a distribution-free interval for a median needs.
NOT_ASSESSABLE = frozenset({"ergodic_average_stabilises_test_error_a1.15",
                            "ergodic_average_stabilises_test_error_a1.6"})
# Measured, not tuned away (the phase map's caption says so): on Gaussian data the first turn-back of
# the GD step lies above a = 1/2 and divergence sets in below a = 2, the orthonormal case's values.
KNOWN_FAILURES = frozenset(f"gaussian_boundary_{b}_n{n}" for b in ("monotonic_to_catapult", "chaotic_to_divergent")
                           for n in (20, 80))
BOUNDARIES = ("monotonic_to_catapult", "catapult_to_periodic", "periodic_to_chaotic", "chaotic_to_divergent")


@pytest.mark.slow
def test_quadratic_chaos_workflow_end_to_end(paper_outputs):
    claims = paper_outputs("quadratic_chaos", FIGURES, 26, known_failures=KNOWN_FAILURES,
                           not_assessable=NOT_ASSESSABLE)
    ids = {c["id"] for c in claims}
    assert {f"boundary_{model}_{b}" for model in ("phase_retrieval", "two_layer") for b in BOUNDARIES} <= ids
    assert {f"gaussian_boundary_{b}_n{n}" for b in BOUNDARIES for n in (20, 80)} <= ids
    assert {"bifurcation_phase_agreement_phase_retrieval", "bifurcation_phase_agreement_two_layer",
            "band_merging_phase_retrieval",
            "gaussian_all_five_phases", "gaussian_lyapunov_positive_chaotic",
            "gaussian_lyapunov_negative_periodic"} <= ids
