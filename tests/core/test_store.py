"""Trajectory store: round trip, attrs, byte-identical rewrites, atomicity."""

import hashlib
import os
import time

import numpy as np
import pytest
import xarray as xr

from sgdrepro.core import Grid, read_dataset, write_dataset
from sgdrepro.core.store import atomic_path, git_commit, provenance


def _dataset():
    grid = Grid.from_config({"lr": [0.1, 0.2], "seed": [0, 1, 2]})
    rng = np.random.default_rng(0)
    return grid.dataset(
        {
            "loss": (("step",), rng.normal(size=(grid.size, 5)), {"units": "1", "long_name": "training loss"}),
            "diverged": ((), np.array([True, False, False, False, True, False]), {"units": "1", "long_name": "diverged"}),
            "diverged_step": ((), np.array([3, -1, -1, -1, 2, -1]), {"units": "step", "long_name": "step of divergence"}),
        },
        coords={"step": np.arange(5)},
    )


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_round_trip_keeps_values_dims_coords_attrs(tmp_path):
    ds = _dataset()
    attrs = provenance("demo", "exp", {"n_seeds": 3, "lr": [0.1, 0.2]}, "quick", 0, "cpu")
    write_dataset(ds, tmp_path / "a.nc", attrs)
    back = read_dataset(tmp_path / "a.nc")
    xr.testing.assert_identical(back.drop_attrs(), ds.drop_attrs())
    assert back["loss"].attrs["units"] == "1" and back["loss"].attrs["long_name"] == "training loss"
    assert back["diverged"].dtype == bool
    for key in ("config_digest", "package_version", "git_commit", "seeds", "root_seed", "paper", "experiment"):
        assert key in back.attrs
    assert back.attrs["git_commit"] == git_commit()


def test_rewrite_is_byte_identical(tmp_path):
    ds = _dataset()
    write_dataset(ds, tmp_path / "a.nc", {"x": 1})
    time.sleep(1.1)  # HDF5 object times would differ by now if they were tracked
    write_dataset(ds, tmp_path / "b.nc", {"x": 1})
    assert _digest(tmp_path / "a.nc") == _digest(tmp_path / "b.nc")


def test_variables_are_compressed(tmp_path):
    grid = Grid.from_config({"seed": list(range(10))})
    ds = grid.dataset({"x": (("step",), np.zeros((10, 10_000)), {"units": "1", "long_name": "x"})}, coords={"step": np.arange(10_000)})
    write_dataset(ds, tmp_path / "z.nc")
    assert os.path.getsize(tmp_path / "z.nc") < 100_000 // 4  # 800 kB of zeros compress away


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.nc"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    bad = _dataset().assign(obj=("lr", np.array([object(), object()])))
    with pytest.raises(ValueError):  # netCDF cannot hold Python objects
        write_dataset(bad, target)
    assert list(tmp_path.iterdir()) == []
