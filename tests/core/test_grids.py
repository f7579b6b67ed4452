import numpy as np
import pytest

from sgdrepro.core import Grid


def test_grid_flat_points_and_unflatten_agree():
    grid = Grid.from_config({"lr": [0.1, 0.2, 0.3], "batch_size": [1, 4], "seed": [0, 1]})
    assert grid.dims == ("lr", "batch_size", "seed") and grid.shape == (3, 2, 2) and grid.size == 12
    flat = grid.flat()
    points = list(grid.points())
    assert points[5] == {"lr": 0.2, "batch_size": 1, "seed": 1}
    assert all(flat["lr"][i] == p["lr"] for i, p in enumerate(points))
    cube = grid.unflatten(flat["batch_size"])
    assert (cube[:, 1, :] == 4).all() and (cube[:, 0, :] == 1).all()


def test_grid_dataset_has_named_dims_and_requires_attrs():
    grid = Grid.from_config({"lr": [0.1, 0.2], "seed": [0, 1, 2]})
    values = np.arange(grid.size * 4, dtype=float).reshape(grid.size, 4)
    ds = grid.dataset({"loss": (("step",), values, {"units": "1", "long_name": "loss"})}, coords={"step": [0, 1, 2, 3]})
    assert ds["loss"].dims == ("lr", "seed", "step")
    assert ds["loss"].sel(lr=0.2, seed=1).values.tolist() == values[4].tolist()
    with pytest.raises(ValueError, match="units"):
        grid.dataset({"loss": (("step",), values, {"long_name": "loss"})})


def test_scalar_pins_a_dim_and_empty_is_rejected():
    assert Grid.from_config({"lr": 0.5, "seed": [0, 1]}).shape == (1, 2)
    with pytest.raises(ValueError, match="empty"):
        Grid.from_config({"lr": []})


def test_paired_values_follow_their_coordinate():
    """A list given per coordinate of one dim (a decay factor per decay time) spreads over the runs."""
    grid = Grid.from_config({"lr": [0.1, 0.2], "decay_at": [1.0, 0.1, 0.5], "seed": [0, 1]})
    factors = grid.paired("decay_at", [1.0, 4.8, 1.5])
    flat = grid.flat()
    expected = {1.0: 1.0, 0.1: 4.8, 0.5: 1.5}
    assert factors.shape == (grid.size,)
    assert all(factors[i] == expected[flat["decay_at"][i]] for i in range(grid.size))
    with pytest.raises(ValueError, match="2 values paired with the 3 coordinates of 'decay_at'"):
        grid.paired("decay_at", [1.0, 4.8])
