"""benchmarks/gpu_check.py (issue 20): the dry run on CPU, and its comparisons on perturbed inputs.

The script is meant for a GPU node; ``--device cpu --dry`` runs every part at the smallest sizes
with the CPU standing in for the device, so the whole script is known to work before a GPU sees
it. The unit tests check that each comparison passes identical and rounding-level inputs and
flags a real difference.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gc():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_dry_run_on_cpu_runs_every_part(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--dry", "--out", str(out),
           "--work", str(tmp_path / "work")]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert list(report["parts"]) == ["streams", "benchmarks", "bandwidth", "slices", "tiny"]
    assert {name: part["status"] for name, part in report["parts"].items()} == dict.fromkeys(report["parts"], "ok")
    parts = report["parts"]
    assert parts["benchmarks"]["result"]["heavy_tail"]["speedup"] > 0
    assert parts["benchmarks"]["result"]["quadratic_chaos"]["speedup"] > 0
    assert parts["bandwidth"]["result"]["rows"][0]["bytes_per_run_step"] > 0
    assert parts["bandwidth"]["result"]["peak_bandwidth_gbs"] is None  # a CPU: no peak, fraction null
    papers = ("heavy_tail", "quadratic_chaos", "autoencoder_batch", "dimensionless_odes", "large_step_sparse")
    assert all(parts["slices"]["result"][p]["full_s"] > 0 for p in papers)
    tiny = parts["tiny"]["result"]
    (paper, compared), = tiny["papers"].items()
    assert compared["ok"] and compared["claims"]["claims"] > 0 and compared["experiments"]
    assert set(tiny["runs"]) == {"device", "cpu", f"cpu_perturbed:{paper}"}
    assert all(run["returncode"] == 0 for run in tiny["runs"].values())
    table = (out / "gpu_check.md").read_text()
    assert "| part | status |" in table and "| tiny | ok |" in table and paper in table


# ------------------------------------------------------------------ trajectories


def _dataset(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    lr, seeds, steps = [0.1, 0.2, 0.3], [0, 1, 2, 3], 50
    return xr.Dataset(
        {
            "loss": (("lr", "seed", "step"), 1.0 + rng.random((3, 4, steps))),
            "count": (("lr", "seed"), rng.integers(0, 5, (3, 4))),
            "diverged_step": (("lr", "seed"), np.full((3, 4), -1)),
            "data": (("sample",), rng.standard_normal(6)),
        },
        coords={"lr": lr, "seed": seeds, "step": np.arange(steps)},
    )


def test_identical_and_rounding_level_datasets_pass(gc):
    cpu = _dataset()
    same = gc.compare_datasets(cpu.copy(deep=True), cpu)
    assert same["ok"] and same["summary"]["runs_bit_equal"]
    assert same["variables"]["loss"]["bit_equal"] == 12
    rounded = cpu.copy(deep=True)
    rounded["loss"] = rounded["loss"] * (1 + 1e-13)
    result = gc.compare_datasets(rounded, cpu)
    assert result["ok"] and result["variables"]["loss"]["within_rtol"] == 12


def test_a_run_that_moved_is_flagged_with_its_grid_point(gc):
    cpu = _dataset()
    dev = cpu.copy(deep=True)
    dev["loss"][1, 2, 30] += 1e-3
    result = gc.compare_datasets(dev, cpu)
    loss = result["variables"]["loss"]
    assert not result["ok"] and not loss["ok"] and loss["n_violations"] == 1
    assert loss["violations"][0]["run"] == {"lr": 0.2, "seed": 2}


def test_rounding_sensitive_runs_may_move_others_may_not(gc):
    cpu = _dataset()
    perturbed = cpu.copy(deep=True)
    perturbed["loss"][1, 2, 30:] *= 1 + 1e-4  # the CPU's own rounding perturbation moves this run
    dev = cpu.copy(deep=True)
    dev["loss"][1, 2, 30:] *= 1 + 1e-2  # within 1000x of that
    dev["count"][1, 2] += 1  # an integer of a sensitive run may differ too
    result = gc.compare_datasets(dev, cpu, perturbed)
    assert result["ok"], result["variables"]["loss"]
    assert result["variables"]["loss"]["rounding_sensitive"] == 1
    dev["loss"][0, 0, 10] += 1e-3  # a run the perturbation did not move
    result = gc.compare_datasets(dev, cpu, perturbed)
    assert not result["ok"] and result["variables"]["loss"]["violations"][0]["run"] == {"lr": 0.1, "seed": 0}


def test_divergence_integers_and_shared_data_are_flagged(gc):
    cpu = _dataset()
    dev = cpu.copy(deep=True)
    dev["loss"][2, 3, 40:] = np.nan
    dev["diverged_step"][2, 3] = 40
    result = gc.compare_datasets(dev, cpu)
    assert not result["variables"]["loss"]["ok"] and result["variables"]["loss"]["max_error"] == np.inf
    assert not result["variables"]["diverged_step"]["ok"]
    dev = cpu.copy(deep=True)
    dev["count"][0, 1] += 1
    dev["data"][3] += 1e-3
    result = gc.compare_datasets(dev, cpu)
    assert not result["variables"]["count"]["ok"] and not result["variables"]["data"]["ok"]
    assert result["variables"]["loss"]["ok"]
    dev = cpu.copy(deep=True).assign_coords(step=np.arange(50) + 1)
    assert gc.compare_datasets(dev, cpu)["problems"] == ["coordinate step differs"]


def test_distribution_check_passes_the_same_law_and_flags_another_tail(gc):
    rng = np.random.default_rng(1)
    spec = next(s for s in gc.DISTRIBUTIONS if s["variable"] == "error")
    shape, dims = (2, 64, 50, 2), ("lr", "seed", "step", "coord")

    def heavy(alpha):  # symmetric power law with tail index alpha
        return xr.DataArray(rng.choice([-1, 1], shape) * rng.random(shape) ** (-1 / alpha), dims=dims,
                            coords={"lr": [0.5, 0.7]})

    cpu = heavy(1.5)
    assert gc.distribution_check(cpu, heavy(1.5), spec)["ok"]  # decorrelated chains, same law
    other = gc.distribution_check(cpu, heavy(3.0), spec)
    assert not other["ok"] and other["n_violations"] == 2 and other["groups_checked"] == 2
    diverged = cpu.copy()
    diverged[0, :8] = np.nan  # an eighth of the chains of one point diverged on the device only
    flagged = gc.distribution_check(cpu, diverged, spec)
    assert not flagged["ok"] and flagged["violations"][0]["group"] == {"lr": 0.5}


def test_heavy_tailed_iterates_are_compared_in_distribution_not_pointwise(gc):
    rng = np.random.default_rng(2)
    shape = (2, 64, 50, 2)

    def linreg(alpha, diverged=0):
        error = rng.choice([-1, 1], shape) * rng.random(shape) ** (-1 / alpha)
        step = np.full(shape[:2], -1)
        step[0, :diverged] = 10
        return xr.Dataset({"error": (("lr", "seed", "step", "coord"), error),
                           "diverged_step": (("lr", "seed"), step)}, coords={"lr": [0.5, 0.7]})

    cpu = linreg(1.5)
    same_law = gc.compare_datasets(linreg(1.5), cpu, paper="heavy_tail", experiment="linreg")
    error = same_law["variables"]["error"]
    assert same_law["ok"] and error["policy"] == "distribution" and not error["pointwise_ok"]
    assert not gc.compare_datasets(linreg(3.0), cpu, paper="heavy_tail", experiment="linreg")["ok"]
    more_diverged = gc.compare_datasets(linreg(1.5, diverged=8), cpu, paper="heavy_tail", experiment="linreg_dim")
    assert not more_diverged["variables"]["diverged_step"]["ok"]
    assert more_diverged["variables"]["diverged_step"]["distribution"]["violations"][0]["group"] == {"lr": 0.5}
    # outside heavy_tail the same decorrelation is a pointwise failure
    assert not gc.compare_datasets(linreg(1.5), cpu, paper="quadratic_chaos", experiment="linreg")["ok"]


# ------------------------------------------------------------------ claims, streams, helpers


def _claims():
    return [
        {"id": "a", "passed": True, "measured": 1.0, "ci": [0.8, 1.2], "fragile": False},
        {"id": "b", "passed": False, "measured": 0.1, "ci": [0.0, 0.2], "fragile": True},
        {"id": "c", "passed": None, "measured": None, "ci": [None, None], "fragile": False},
    ]


def test_claims_same_verdicts_pass_flips_and_shifts_are_flagged(gc):
    assert gc.compare_claims(_claims(), _claims())["ok"]
    dev = _claims()
    dev[0]["measured"] = 1.05  # a quarter of the half-width: within tolerance
    assert gc.compare_claims(dev, _claims())["ok"]
    dev[0]["measured"] = 1.15
    shifted = gc.compare_claims(dev, _claims())
    assert not shifted["ok"] and [r["id"] for r in shifted["not_ok"]] == ["a"]
    dev = _claims()
    dev[1]["passed"] = True
    flipped = gc.compare_claims(dev, _claims())
    assert not flipped["ok"] and flipped["verdict_flips"] == ["b"]
    perturbed = _claims()
    perturbed[1]["passed"] = True  # the CPU's rounding perturbation flips it too: a fragile claim
    explained = gc.compare_claims(dev, _claims(), perturbed)
    assert explained["ok"] and explained["rows"][1]["flip_explained_by_cpu_perturbation"]
    assert not gc.compare_claims(_claims()[:2], _claims())["ok"]  # a claim missing on the device


def test_ulps_and_normal_tolerance(gc):
    a = np.array([1.0, -2.5, 0.0, 3.0])
    b = a.copy()
    b[0] = np.nextafter(1.0, 2.0)
    b[1] = np.nextafter(np.nextafter(-2.5, 0.0), 0.0)
    assert gc.ulps(a, b).tolist() == [1.0, 2.0, 0.0, 0.0]
    assert gc.ulps(a, a * (1 + 1e-12)).max() > gc.NORMAL_MAX_ULPS


def test_streams_check_on_cpu(gc):
    import torch

    sizes = {"runs": 8, "words": (1, 5), "steps": (0, 2**32 + 1), "normal_size": 9}
    checks = gc.check_streams(torch.device("cpu"), torch.device("cpu"), sizes)["checks"]
    assert len(checks) == 10 and all(c["ok"] for c in checks)


def test_peak_bandwidth_by_device_name(gc):
    assert gc.peak_bandwidth("NVIDIA H100 80GB HBM3")[1] == 3350
    assert gc.peak_bandwidth("NVIDIA H100 PCIe")[1] == 2000
    assert gc.peak_bandwidth("NVIDIA H100 NVL")[1] == 3900
    assert gc.peak_bandwidth("NVIDIA H200")[1] == 4800
    assert gc.peak_bandwidth("NVIDIA A100-SXM4-40GB")[1] == 1555
    assert gc.peak_bandwidth("NVIDIA A100-SXM4-80GB")[1] == 2039
    assert gc.peak_bandwidth("NVIDIA A100 80GB PCIe")[1] == 1935
    assert gc.peak_bandwidth("NVIDIA L4")[1] == 300
    assert gc.peak_bandwidth("NVIDIA L40S")[1] == 864
    assert gc.peak_bandwidth("NVIDIA A10G")[1] == 600
    assert gc.peak_bandwidth("Tesla T4")[1] == 320
    assert gc.peak_bandwidth("Some Future Card") == (None, None)


def test_extrapolation_recovers_a_linear_cost(gc):
    # 2 s fixed + 1 ms per step, slice of 10 of 100 runs at 1000 and 2000 steps, full 20000 steps
    out = gc.extrapolate((1000, 2000), (3.0, 4.0), 10, 100, 20000)
    assert out["fixed_s"] == pytest.approx(2.0) and out["per_unit_s"] == pytest.approx(1e-3)
    assert out["full_s"] == pytest.approx((2.0 + 20.0) * 10)
    noisy = gc.extrapolate((1000, 2000), (4.0, 3.9), 1, 1, 20000)  # noise: proportional instead
    assert noisy["full_s"] == pytest.approx(3.9 * 10) and "proportional" in noisy["method"]


def test_byte_counter_counts_reads_and_writes_not_views(gc):
    import torch

    x = torch.zeros(1000, dtype=torch.float64)
    with gc.ByteCounter() as counter:
        y = x * x  # reads 2 x 8000 bytes, writes 8000
        y.view(10, 100)  # a view: nothing moves
        y.add_(x.expand(1000))  # reads 16000, writes 8000
        y.add_(x[:1].expand(1000))  # a broadcast element is read once: 8000 + 8 + 8000
    assert counter.bytes == 3 * 24000 - 8000 + 8 and counter.ops == 3
