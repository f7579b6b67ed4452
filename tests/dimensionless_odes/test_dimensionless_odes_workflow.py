"""Config checks and the end-to-end run of the paper's DAG on the tiny test config."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from sgdrepro.core.config import load_config

from sgdrepro.core import ConfigError, RunContext
from sgdrepro.core.config import validate_schema
from sgdrepro.dimensionless_odes import check_config
from sgdrepro.dimensionless_odes.experiments import run_collapse

REPO = Path(__file__).resolve().parents[2]
FIGURES = ["risk_collapse", "risk_width_collapse", "phase_diagram", "noise_floor"]


def _config() -> dict:
    config = load_config(REPO / "config")
    config["papers"] = ["dimensionless_odes"]
    return config


def test_default_config_is_valid():
    config = _config()
    validate_schema(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    for scale in ("quick", "paper"):
        check_config({**config, "scale": scale}, f"dimensionless_odes.{scale}")


@pytest.mark.parametrize("path, value, key", [
    (("collapse", "noise"), -0.1, "dimensionless_odes.quick.collapse.noise"),
    (("floor", "lr_over_p"), [], "dimensionless_odes.quick.floor.lr_over_p"),
    (("claims", "fail_fraction"), 2.0, "dimensionless_odes.quick.claims.fail_fraction"),
    (("width", "p"), [16], "dimensionless_odes.quick.width.p"),
    (("collapse", "learning_rate"), 0.1, "dimensionless_odes.quick.collapse.learning_rate"),
])
def test_schema_names_the_bad_key(path, value, key):
    config = _config()
    config["dimensionless_odes"]["quick"][path[0]][path[1]] = value
    with pytest.raises(ConfigError) as error:
        validate_schema(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert error.value.key == key


def test_semantic_checks_name_the_bad_key():
    config = _config()
    bad = copy.deepcopy(config)
    bad["dimensionless_odes"]["quick"]["collapse"]["d"] = [3, 64]
    with pytest.raises(ConfigError, match=r"collapse\.d\[0\]"):
        check_config(bad, "dimensionless_odes.quick")
    bad = copy.deepcopy(config)
    bad["dimensionless_odes"]["quick"]["floor"]["t_late"] = 1e3
    with pytest.raises(ConfigError, match=r"floor\.t_late"):
        check_config(bad, "dimensionless_odes.quick")
    bad = copy.deepcopy(config)
    bad["dimensionless_odes"]["quick"]["width"]["d"] = [32]  # < 64 + k
    with pytest.raises(ConfigError, match=r"width\.d\[0\]"):
        check_config(bad, "dimensionless_odes.quick")
    bad = copy.deepcopy(config)
    bad["dimensionless_odes"]["quick"]["phase"]["spot"]["points"] = [[0.3, 0.0]]  # not a cell of the grid
    with pytest.raises(ConfigError, match=r"spot\.points\[0\]"):
        check_config(bad, "dimensionless_odes.quick")


def test_collapse_runs_are_batched_and_start_from_the_same_overlaps():
    """Every run of every d starts at R(0) of the ODE; learning rates of one seed share their data."""
    cfg = dict(k=2, noise=0.01, p=[2], d=[8, 16], lr_over_p=[0.5, 1.0], n_seeds=2, t_max=1.0, decades=1,
               n_records=4, ode_points=10, ode_rtol=1e-6, init=dict(kind="random", overlap_scale=1.0, seed=0))
    ctx = RunContext(paper="dimensionless_odes", experiment="collapse", device=torch.device("cpu"),
                     dtype=torch.float64)
    ds = run_collapse(cfg, ctx)
    r0 = ds["risk"].isel(record=0).values
    np.testing.assert_allclose(r0, float(ds["risk_ode"].isel(ode_time=0, p=0, lr_over_p=0)), rtol=1e-10)
    assert ds["risk"].dims == ("p", "d", "lr_over_p", "seed", "record")
    for name, var in ds.data_vars.items():
        assert {"units", "long_name"} <= set(var.attrs), name
    # different seeds differ after training, and the two learning rates differ too
    last = ds["risk"].sel(d=16).isel(p=0, record=ds["step"].sel(d=16).values[0].argmax()).values
    assert not np.allclose(last[0, 0], last[0, 1])
    assert not np.allclose(last[0], last[1])


# At the tiny size (config/test.yaml: 3 seeds) the SGD claims have fewer runs than the 6 their
# percentile bootstrap over seeds needs: they come out passed null with the reason. The ODE-only
# claims are measured on the tiny grids with the quick thresholds and pass.
NOT_ASSESSABLE_TINY = frozenset({
    "sgd_ode_gap_falls_with_d_p2_g1", "sgd_tracks_ode_at_largest_d_p2_g1", "collapse_across_d_p2_g1",
    "collapse_across_width_d32_g0.5", "noise_floor_slope_sgd_vs_ode_p2",
    "phase_spot_sgd_in_ode_region_k0_d0.5", "phase_spot_sgd_in_ode_region_k0_d-0.5",
    "phase_spot_sgd_in_ode_region_k0.5_d-0.5",
})


@pytest.mark.slow
def test_dimensionless_odes_workflow_end_to_end(paper_outputs):
    """The session's tiny DAG (conftest) built every figure; the ODE-only claims passed, the SGD
    claims were not assessable (too few seeds), each with its reason."""
    claims = paper_outputs("dimensionless_odes", FIGURES, 13, not_assessable=NOT_ASSESSABLE_TINY)
    assert all("needs at least 6 units" in c["reason"] for c in claims if c["passed"] is None)
