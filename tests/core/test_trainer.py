"""Batched trainer: a run trained in a batch equals the run trained alone; chunking is invisible."""

import numpy as np
import pytest

from sgdrepro.core import Grid, log_spaced_steps, run_keys, train_batched


def _noisy_quadratic():
    """SGD on f(x) = |x|^2 / 2 with additive Gaussian gradient noise of per-run scale."""

    def init(chunk):
        return {"x": chunk.random.normal("init", 0, (3,), chunk.dtype)}

    def step(state, k, chunk):
        noise = chunk.random.normal("noise", k, (3,), chunk.dtype)
        lr = chunk.params["lr"][:, None]
        return {"x": state["x"] - lr * (state["x"] + chunk.params["sigma"][:, None] * noise)}

    def observe(state, k, chunk):
        return {"x": state["x"], "norm": state["x"].norm(dim=1)}

    return init, step, observe


def _train(grid, index=None, chunk_size=None, group_by=None):
    params = grid.flat()
    keys = run_keys("demo", grid.points())
    if index is not None:
        params = {k: v[index] for k, v in params.items()}
        keys = keys[index]
    init, step, observe = _noisy_quadratic()
    return train_batched(init, step, observe, 200, log_spaced_steps(200, 20), params, keys, chunk_size=chunk_size,
                         group_by=None if group_by is None else params[group_by])


GRID = Grid.from_config({"lr": [0.01, 0.1, 0.5], "sigma": [0.0, 1.0], "seed": [0, 1, 2]})


def test_run_alone_equals_run_in_batch():
    full = _train(GRID)
    for i in (0, 7, GRID.size - 1):
        alone = _train(GRID, index=[i])
        np.testing.assert_allclose(alone.records["x"][0], full.records["x"][i], rtol=1e-12, atol=1e-14)


def test_chunking_does_not_change_results():
    whole = _train(GRID)
    chunked = _train(GRID, chunk_size=4)
    for name in whole.records:
        np.testing.assert_array_equal(whole.records[name], chunked.records[name])
    np.testing.assert_array_equal(whole.final["x"], chunked.final["x"])


def test_grouping_keeps_labels_apart_and_results_in_run_order():
    """group_by: no chunk mixes two labels, chunk.group is the label, and every record comes
    back at its run's position, equal to the ungrouped training."""
    seen = []
    init, step, observe = _noisy_quadratic()

    def spying_init(chunk):
        seen.append((chunk.group, set(chunk.params["lr"].tolist())))
        return init(chunk)

    params, keys = GRID.flat(), run_keys("demo", GRID.points())
    grouped = train_batched(spying_init, step, observe, 200, log_spaced_steps(200, 20), params, keys,
                            chunk_size=4, group_by=params["lr"])
    assert all(labels == {group} for group, labels in seen)
    assert sorted({group for group, _ in seen}) == [0.01, 0.1, 0.5]
    whole = _train(GRID)
    for name in whole.records:
        np.testing.assert_array_equal(whole.records[name], grouped.records[name])
    np.testing.assert_array_equal(whole.diverged_step, grouped.diverged_step)
    with pytest.raises(ValueError, match="one label per run"):
        train_batched(init, step, observe, 2, [2], params, keys, group_by=params["lr"][:3])


def test_recording_shapes_and_noise_free_runs_follow_theory():
    traj = _train(GRID)
    steps = log_spaced_steps(200, 20)
    assert traj.records["x"].shape == (GRID.size, len(steps), 3)
    assert (traj.steps == steps).all() and not traj.diverged.any()
    # sigma = 0: x_k = (1 - lr)^k x_0 exactly
    flat = GRID.flat()
    for i in np.flatnonzero(flat["sigma"] == 0.0):
        expected = (1 - flat["lr"][i]) ** steps[:, None] * traj.records["x"][i, 0]
        np.testing.assert_allclose(traj.records["x"][i], expected, rtol=1e-10, atol=1e-300)


def test_record_at_out_of_range_is_rejected():
    init, step, observe = _noisy_quadratic()
    with pytest.raises(ValueError, match="record_at"):
        train_batched(init, step, observe, 10, [0, 11], GRID.flat(), run_keys("demo", GRID.points()))
