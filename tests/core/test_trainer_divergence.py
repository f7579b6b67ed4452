"""The batched trainer marks a blown-up run as divergent at the right step, silently.

Model: the scalar recursion x_{k+1} = (1 + lr) x_k from x_0 = 1, so x_k = (1 + lr)^k exactly
for lr = 1 (powers of two are exact in float64). The default divergence test of
``train_batched`` flags a run once |x| >= 1e150, i.e. at the first k with
k * log10(1 + lr) >= 150; with a finiteness-only test the run is flagged when x overflows to
inf, which for lr = 1 is at k = 1024 (2^1023 is the largest power of two below float64's max).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from sgdrepro.core import Grid, run_keys, train_batched
from sgdrepro.core.trainer import any_beyond

LIMIT = 1e150  # the default threshold of sgdrepro.core.trainer.all_finite


def _init(chunk):
    return {"x": torch.ones(chunk.n_runs, 1, dtype=chunk.dtype, device=chunk.device)}


def _step(state, k, chunk):
    return {"x": state["x"] * (1.0 + chunk.params["lr"])[:, None]}


def _observe(state, k, chunk):
    return {"x": state["x"][:, 0], "step_index": torch.full((chunk.n_runs,), k, device=chunk.device)}


def _train(lrs, n_steps, record_at=None, **kwargs):
    grid = Grid.from_config({"lr": list(lrs)})
    keys = run_keys("divergence_test", grid.points(), root_seed=0)
    record_at = np.arange(n_steps + 1) if record_at is None else np.asarray(record_at)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")  # any RuntimeWarning (overflow, NaN in a reduction) fails the test
        return train_batched(_init, _step, _observe, n_steps, record_at, grid.flat(), keys,
                             device="cpu", dtype=torch.float64, **kwargs)


def _first_step_at_or_above(lr: float, limit: float) -> int:
    """Smallest m with (1 + lr)^m >= limit, checked against the neighbours to avoid a rounding edge."""
    m = math.ceil(math.log(limit) / math.log1p(lr))
    assert (1 + lr) ** (m - 1) < limit * (1 - 1e-9) and (1 + lr) ** m > limit * (1 + 1e-9), "lr sits on an edge"
    return m


@pytest.mark.filterwarnings("error")
def test_divergence_step_with_default_threshold():
    lrs = [1.0, 3.0, 0.01, -0.5, 0.0]
    n_steps = 600
    traj = _train(lrs, n_steps)
    expected = [_first_step_at_or_above(1.0, LIMIT), _first_step_at_or_above(3.0, LIMIT), -1, -1, -1]
    assert expected[:2] == [499, 250]
    np.testing.assert_array_equal(traj.diverged_step, expected)
    np.testing.assert_array_equal(traj.diverged, [True, True, False, False, False])

    x = traj.records["x"]
    assert x.shape == (len(lrs), n_steps + 1)
    for run, (lr, m) in enumerate(zip(lrs, expected)):
        if m < 0:
            assert np.isfinite(x[run]).all()
            continue
        # exact powers before divergence, NaN from the step of divergence on
        before = np.arange(m)
        np.testing.assert_array_equal(x[run, :m], (1.0 + lr) ** before.astype(np.float64))
        assert np.isnan(x[run, m:]).all()
        # the frozen final state is the last finite one
        assert traj.final["x"][run, 0] == (1.0 + lr) ** (m - 1)
    # integer records are not NaN-masked
    np.testing.assert_array_equal(traj.records["step_index"][0], np.arange(n_steps + 1))


@pytest.mark.filterwarnings("error")
def test_other_runs_unaffected_by_a_divergent_neighbour():
    """Runs that converge give bit-identical trajectories alone, beside divergent runs, and chunked."""
    n_steps = 600
    mixed = _train([0.01, 1.0, -0.5, 3.0, 1e300], n_steps)
    alone = _train([0.01, -0.5], n_steps)
    np.testing.assert_array_equal(mixed.records["x"][[0, 2]], alone.records["x"])
    np.testing.assert_array_equal(mixed.final["x"][[0, 2]], alone.final["x"])
    np.testing.assert_array_equal(alone.diverged_step, [-1, -1])
    # the closed form, up to the rounding of 600 products
    k = np.arange(n_steps + 1)
    np.testing.assert_allclose(alone.records["x"][0], 1.01 ** k, rtol=1e-12)
    np.testing.assert_allclose(alone.records["x"][1], 0.5 ** k, rtol=0)
    # lr = 1e300: the very first step exceeds the threshold
    assert mixed.diverged_step[4] == 1
    assert mixed.records["x"][4, 0] == 1.0 and np.isnan(mixed.records["x"][4, 1:]).all()
    # chunking (one run per chunk) changes nothing
    chunked = _train([0.01, 1.0, -0.5, 3.0, 1e300], n_steps, chunk_size=1)
    np.testing.assert_array_equal(chunked.records["x"], mixed.records["x"])
    np.testing.assert_array_equal(chunked.diverged_step, mixed.diverged_step)


@pytest.mark.filterwarnings("error")
def test_divergence_at_float_overflow_with_finiteness_only_check():
    """With is_diverged = 'not finite', lr = 1 overflows exactly at step 1024 (2^1024 = inf)."""

    def not_finite(state):
        return ~torch.isfinite(state["x"]).all(dim=1)

    n_steps = 1100
    record_at = [0, 1, 1000, 1023, 1024, 1025, 1100]
    traj = _train([1.0, 0.5], n_steps, record_at=record_at, is_diverged=not_finite)
    # (1.5)^m overflows at m = ceil(1024 log 2 / log 1.5) = 1751 > 1100: never diverges here
    assert math.ceil(1024 * math.log(2) / math.log(1.5)) > n_steps
    np.testing.assert_array_equal(traj.diverged_step, [1024, -1])
    x = traj.records["x"]
    np.testing.assert_array_equal(x[0, :4], [1.0, 2.0, 2.0**1000, 2.0**1023])
    assert np.isnan(x[0, 4:]).all()
    assert traj.final["x"][0, 0] == 2.0**1023
    assert np.isfinite(x[1]).all()
    np.testing.assert_allclose(x[1], 1.5 ** np.asarray(record_at, dtype=np.float64), rtol=1e-12)


@pytest.mark.filterwarnings("error")
def test_nan_state_is_divergent_too():
    """A NaN appearing in the state (0 * inf style) is caught like an overflow, at its step."""

    def step(state, k, chunk):
        poisoned = torch.where(chunk.params["lr"] > 0.5, torch.full_like(state["x"][:, 0], float("nan")),
                               state["x"][:, 0]) if k == 6 else state["x"][:, 0]
        return {"x": (poisoned * (1.0 + chunk.params["lr"]))[:, None]}

    grid = Grid.from_config({"lr": [0.1, 0.9]})
    keys = run_keys("divergence_test_nan", grid.points())
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        traj = train_batched(_init, step, _observe, 10, np.arange(11), grid.flat(), keys)
    np.testing.assert_array_equal(traj.diverged_step, [-1, 7])
    assert np.isnan(traj.records["x"][1, 7:]).all() and np.isfinite(traj.records["x"][1, :7]).all()
    np.testing.assert_allclose(traj.records["x"][0], 1.1 ** np.arange(11.0), rtol=1e-13)


def test_any_beyond_flags_nan_inf_and_the_limit_itself():
    nan, inf = float("nan"), float("inf")
    rows = [[0.0, 1.0], [nan, 0.0], [0.0, -inf], [inf, 0.0], [-10.0, 0.0], [9.999, -9.999]]
    value = torch.tensor(rows, dtype=torch.float64).reshape(6, 1, 2)  # [runs, ...] of any rank
    np.testing.assert_array_equal(any_beyond(value, 10.0).numpy(), [False, True, True, True, True, False])
    # the elementwise definition it replaces, on random data straddling the limit
    x = torch.randn(50, 3, 7, dtype=torch.float64) * 3
    x[5, 1, 2] = nan
    assert torch.equal(any_beyond(x, 6.0), ~(x.abs() < 6.0).flatten(1).all(dim=1))
