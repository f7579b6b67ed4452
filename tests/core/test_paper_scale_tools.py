"""The paper-scale measurement tools: how a step size is chosen from a divergence curve
(benchmarks/divergence_curve.py) and how the claims of the jobs that ran whole are tabulated
(benchmarks/paper_scale.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from divergence_curve import divergence_table, largest_stable, overlay
from paper_scale import claims_cell


def test_largest_stable_stops_at_the_first_divergence():
    # 0.23 has no divergence in this sample, but a smaller step diverged: the edge is below 0.22
    assert largest_stable({"0.2": 0, "0.21": 0, "0.22": 1, "0.23": 0}) == 0.21
    assert largest_stable({"0.3": 0, "0.1": 0, "0.2": 0}) == 0.3  # keys in any order
    assert largest_stable({"0.1": 2, "0.2": 0}) is None  # no stable step on the grid


def test_divergence_table_counts_draws_per_step_and_schedule():
    diverged = np.full((2, 2, 4), -1)
    diverged[1, 0, :3] = [50, 70, 90]  # lr 0.3, constant schedule: 3 of 4 draws diverge, first at 50
    diverged[1, 1, 0] = 10
    ds = xr.Dataset({"diverged_step": (("lr", "decay_at", "seed"), diverged)},
                    coords={"lr": [0.2, 0.3], "decay_at": [1.0, 0.5], "seed": np.arange(4)})
    table = divergence_table(ds)
    assert table["draws"] == 4
    assert table["diverged"] == {"1": {"0.2": 0, "0.3": 3}, "0.5": {"0.2": 0, "0.3": 1}}
    assert table["first_divergence_step"]["1"] == {"0.2": -1, "0.3": 50}
    assert largest_stable(table["diverged"]["1"]) == 0.2


def test_overlay_keeps_the_shared_problems_of_sgd_and_gd():
    section = overlay("diagonal_sgd", [0.2, 0.3], [1.0, 0.5], 16)["large_step_sparse"]["paper"]
    assert section["diagonal_sgd"]["lr"] == [0.2, 0.3]
    assert section["diagonal_sgd"]["decay_factor"][0] == 1.0  # the factor paired with decay_at 1 (never)
    assert section["diagonal_gd"] == {"n_seeds": 16}  # the config requires equal seeds


def test_claims_cell_names_what_fails_and_what_is_fragile():
    claims = [{"id": "a", "reads": ["x"], "passed": True, "fragile": False},
              {"id": "b", "reads": ["x", "y"], "passed": True, "fragile": True},
              {"id": "c", "reads": ["x"], "passed": False, "fragile": False},
              {"id": "d", "reads": ["y"], "passed": None, "fragile": False}]
    assert claims_cell(claims, "x") == "2/3 pass (1 fragile: b); fail: c"
    assert claims_cell(claims, "y") == "1/2 pass (1 fragile: b); not assessable: d"
    assert claims_cell(claims, "z") == ""
