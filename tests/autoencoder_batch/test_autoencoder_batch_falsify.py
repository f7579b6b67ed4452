"""Every claim of autoencoder_batch fails on an input where the paper's effect is absent.

The input is one small direct run of the experiment (n = 6 orthonormal samples in R^8, b = 1, 2, 6,
both activations and orders, 8 seeds: a few seconds), which passes every claim as it is
(:func:`test_unmodified_runs_pass_every_claim`, the contrast), then changed the way a wrong result
would look: full-batch runs labelled as small-batch ones and back, end points moved off the
minimum (every stored measure recomputed from the moved points), a run stopped before it settles,
the cyclic runs read with a partition they did not use.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from conftest import assert_falsified
from sgdrepro.autoencoder_batch.claims import CLAIM_IDS, measure_claims
from sgdrepro.autoencoder_batch.experiments import measure_end_points, simulate
from sgdrepro.core import Grid, log_spaced_steps

N, D, STEPS = 6, 8, 3000
BATCH_SIZES = [1, 2, N]  # b = 3 of 6 would need ~8000 updates to settle: left out to keep this fast


def _simulate(n_steps: int) -> xr.Dataset:
    grid = Grid.from_config({"activation": ["linear", "relu"], "order": ["reshuffle", "cyclic"],
                             "batch_size": BATCH_SIZES, "seed": list(range(8))})
    return simulate(grid, experiment="orthogonal", n=N, d=D, lr=0.2, n_steps=n_steps, init_scale=0.1,
                    last_batch="keep", sparsity_threshold=1e-4, record_at=log_spaced_steps(n_steps, 5))


@pytest.fixture(scope="module")
def runs() -> xr.Dataset:
    return _simulate(STEPS)


def _claims(ds: xr.Dataset):
    return measure_claims({"orthogonal": ds}, {})


def _swap_full_and_single(ds: xr.Dataset) -> xr.Dataset:
    """b = n runs labelled b = 1 and b = 1 runs labelled b = n (everything else kept)."""
    labels = [N if b == 1 else 1 if b == N else b for b in ds["batch_size"].values.tolist()]
    return ds.assign_coords(batch_size=labels).sortby("batch_size")


def _scaled(ds: xr.Dataset, factor: float, where: xr.DataArray | None = None) -> xr.DataArray:
    """End points scaled by ``factor`` (only where ``where``), every measure recomputed from them."""
    scale = xr.ones_like(ds["diverged_step"], dtype=float) * factor
    if where is not None:
        scale = xr.where(where.broadcast_like(scale), scale, 1.0)
    return measure_end_points(ds.assign(w_final=ds["w_final"] * scale))


def _stopped_early(ds: xr.Dataset) -> xr.Dataset:
    """The same runs stopped after 30 updates, before they settle at a minimum."""
    return _simulate(30)


def _partition_mixed(ds: xr.Dataset) -> xr.Dataset:
    """The end points read with the samples shifted by one: the cyclic runs' batches {jb..(j+1)b-1}
    are not the partition they trained with, so a support within one batch straddles two."""
    return ds.assign(coords_final=ds["coords_final"].roll(sample=1, roll_coords=False))


FALSIFIERS = {
    "global_minimum": _stopped_early,
    "full_batch_dense": _swap_full_and_single,
    "full_batch_aligned": _swap_full_and_single,
    "small_batch_sparse": _swap_full_and_single,
    "cyclic_small_batch_sparse": _partition_mixed,
    "small_batch_nearly_orthogonal": _swap_full_and_single,
    "relu_full_batch_flatter": _swap_full_and_single,
    "trace_hessian_theory": lambda ds: _scaled(ds, 1.01),
    "linear_trace_equal_across_batch_sizes": lambda ds: _scaled(ds, 1.01, ds["batch_size"] < N),
}


def test_unmodified_runs_pass_every_claim(runs):
    """The contrast: the unmodified runs pass every claim (the falsifiers are not broken inputs)."""
    claims = _claims(runs)
    assert {c.id for c in claims} == set(CLAIM_IDS)
    assert all(c.passed for c in claims), [(c.id, c.measured, c.ci, c.reason) for c in claims if not c.passed]


@pytest.mark.parametrize("pattern", sorted(FALSIFIERS))
def test_claim_fails_without_the_effect(runs, pattern):
    claims = _claims(FALSIFIERS[pattern](runs))
    assert_falsified(claims, pattern)


def test_linear_traces_differ_where_relu_minima_are_fed_as_linear(runs):
    """ReLU end points are global minima too, but their trace depends on the support: fed to the
    linear claim they break the equality across batch sizes."""
    relu_as_linear = runs.sel(activation=["relu"]).assign_coords(activation=["linear"])
    assert_falsified(_claims(relu_as_linear), "linear_trace_equal_across_batch_sizes")


def test_dense_solution_fails_the_orthogonality_bound(runs):
    """The bound separates: the b = n runs themselves, fed as b < n, give sqrt(n) |cos| = sqrt(n) (linear)."""
    claim = next(c for c in _claims(_swap_full_and_single(runs)) if c.id == "small_batch_nearly_orthogonal")
    assert claim.measured == pytest.approx(np.sqrt(N))


def test_every_claim_id_is_one_pattern(runs):
    for claim in _claims(runs):
        assert sum(bool(re.fullmatch(p, claim.id)) for p in CLAIM_IDS) == 1
