"""One prepared check of the project on a CUDA machine (issue 20): trainers, streams, benchmarks, paper scale.

    python benchmarks/gpu_check.py --device cuda --out gpu_out              # on a GPU node: about 5-8 min
    python benchmarks/gpu_check.py --device cuda --out gpu_out2 --only tiny  # rerun some parts only
    python benchmarks/gpu_check.py --device cpu --dry --out /tmp/gpu_dry     # every part, smallest sizes, CPU

Writes ``gpu_check.json`` (everything, with the traceback of any part that raised) and
``gpu_check.md`` (tables) into ``--out``, after every part, so a killed run keeps what it had.
Parts (in the order they run; ``--only`` / ``--skip`` take these names):

``streams``
    The counter-based streams of :class:`sgdrepro.core.RunRandom` on the device against the CPU:
    Philox4x32-10 known answers on the device; ``bits``, 53- and 24-bit ``uniform``, ``randint`` and
    ``permutation`` bit-equal (integer arithmetic and exact conversions only); ``normal`` (Box-Muller:
    the device's own log, sqrt, cos, sin) within ``NORMAL_MAX_ULPS`` ulps.
``benchmarks``
    ``bench_heavy_tail.py`` and ``bench_quadratic_chaos.py`` on the device at paper size, batched
    trainer against the per-run loop; ratio against the issue's target (>= 300x on a GPU).
``bandwidth``
    heavy_tail's streaming kernel (``train_linreg_streaming``, the paper grid with more or fewer
    chains): bytes moved per step, counted by intercepting every aten op of two short runs
    (inputs read + outputs written, each tensor's distinct elements; views move nothing), over
    the time per step (difference of two run lengths: set-up and the final copy cancel); against
    the card's peak from :data:`PEAK_BANDWIDTH_GBS` by device name (unknown card: fraction null).
``slices``
    One paper-scale experiment per paper (its config file's ``paper`` block) with fewer steps (every
    run of the grid on a GPU; in ``--dry`` also fewer runs), timed at two lengths; the full paper
    scale of that experiment is extrapolated as ``(fixed + per_step * full_steps) * full_runs /
    slice_runs`` (linear in steps x runs; fixed and per-step cost from the two lengths).
``tiny``
    Every paper's tiny DAG (config/test.yaml overlay, training and claims, no figures) through
    Snakemake in scratch directories, on the device and on the CPU (the reference), and once
    more on the CPU with every run's initial state perturbed by ``PERTURBATION_ULPS`` = 4 ulps
    (random signs; one worker process per paper calling the experiments, through a wrapper of
    ``core.trainer._train_chunk``, which every trainer uses). The CPU runs start first, in the
    background, while the other parts use the device; then the device's DAG. Compared: every
    variable of every experiment run by run, the distribution statistics of the heavy-tailed
    variables, and every claim (see *Tolerances*).

In ``--dry`` the device side of every comparison is the CPU again, so all the machinery runs.
A part that raises is recorded with its traceback and the next part runs; a part that runs past
its share of ``--budget-s`` is stopped the same way. Exit status: 0 when every requested part is
ok, 1 otherwise.

Tolerances (device against CPU)
-------------------------------
Bitwise equality across devices is not expected: libm, BLAS and reduction orders differ in the
last bits. Rounding differences then grow at most polynomially in contracting or converging
dynamics, and exponentially in chaotic ones (quadratic_chaos's chaotic phase, large-step SGD at
the edge of stability, deep nets) until the runs decorrelate. Which runs are which is measured,
not assumed: the perturbed CPU run starts every run a few ulps away (the CPU's own numerics
options are no substitute: portable and native numerics give bit-identical GD states in
quadratic_chaos, only its log-growth diagnostic differs), chaotic runs amplify that and the
others forget it, and

- a variable of a run (one grid point; grid dims = the dims of the dataset's ``*diverged_step``)
  must agree pointwise within ``RTOL`` = 1e-6 of its own scale (max |x| over the run's entries)
  unless the CPU perturbation moves that variable or the run's recorded state (its trajectory
  variables: records, coordinates, weights): then the device may move it
  ``SENSITIVITY_FACTOR`` = 1000 times as far (the device perturbs every step, through other
  reduction trees and libm, not only the start; the amplification is the run's own), and
  without limit once that reaches the run's scale (decorrelated: then only distributions and
  claims are compared). A variable without some grid dim (data, ODE references, schedules) is
  rounding-sensitive only where every run sharing it is. Integer and string variables: equal,
  except where rounding-sensitive. 1e-6 is ten orders above a float64 rounding difference grown
  over the tiny runs' steps and far below any real discrepancy (a wrong stream, step or batch).
- heavy-tailed variables (:data:`DISTRIBUTIONS`: heavy_tail's iterates, network weights,
  accuracies and divergences) are compared in distribution instead (the pointwise numbers are
  still recorded): per grid point, the 50/90/99 % quantiles of log10|x| over chains, records and
  coordinates within 10/10/15 % of that point's 5-95 % spread on the CPU (several standard
  errors of those quantiles even for fully decorrelated chains, while another tail index or
  batch size moves them by far more), the fraction of non-finite entries within 5 %, and the
  fraction of diverged chains per point within 5 %.
- claims: the same verdict on both devices (a flip counts as explained only if the CPU
  perturbation flips it too: a fragile claim, reported), and measured values within the
  largest of 1e-6 relative, half the claim's own 95 % half-width (about one standard error:
  the device must not move a claim by a noticeable part of its uncertainty), and 1000 times
  the CPU perturbation's own change.
- streams: bits and uniforms bit-equal; normals within 8 ulps (CUDA's double log is 1 ulp, cos
  and sin 2 ulps, the CPU's 1 ulp: at most about 6 ulps after the products).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as _dt
import fnmatch
import importlib.util
import io
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from sgdrepro.core import numerics

# cuBLAS reads its workspace setting when it starts: set it before torch can touch CUDA
for _key, _value in numerics.environment("native", base={}).items():
    if _key.startswith("CUBLAS"):
        os.environ.setdefault(_key, _value)

import numpy as np
import torch

from sgdrepro.core.config import load_config
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from sgdrepro.core.manifest import manifests

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
PARTS = ("streams", "benchmarks", "bandwidth", "slices", "tiny")

RTOL = 1e-6
SENSITIVITY_FACTOR = 1e3
NORMAL_MAX_ULPS = 8
CLAIM_RTOL = 1e-6
CLAIM_CI_FRACTION = 0.5
SPEEDUP_TARGET = 300.0  # issue 20: batched / per-run on one H100-class GPU, paper size
BANDWIDTH_TARGET = 0.30  # issue 20: heavy_tail kernel, fraction of the card's memory bandwidth

# Heavy-tailed variables, compared in distribution instead of pointwise (module docstring):
# (paper, experiment pattern, variable pattern) -> quantiles of x or log10|x| over the pooled dims
# per group of the others, or the fraction of diverged runs per group.
_QUANTILES = {"statistic": "quantiles", "quantiles": (0.5, 0.9, 0.99), "tolerance": (0.1, 0.1, 0.15),
              "nan_tolerance": 0.05}
DISTRIBUTIONS = [
    {"paper": "heavy_tail", "experiment": "linreg*", "variable": "error", "pool": ("seed", "step", "coord"),
     "log_abs": True, **_QUANTILES,
     "why": "stationary law with a power-law tail: the paper's object is the law, not the path"},
    {"paper": "heavy_tail", "experiment": "linreg*", "variable": "diverged_step", "pool": ("seed",),
     "statistic": "diverged_fraction", "tolerance": 0.05,
     "why": "a chain crossing the 1e100 bound a step earlier or later changes nothing; the share of "
            "diverged chains per grid point is what figures and claims read"},
    {"paper": "heavy_tail", "experiment": "mlp", "variable": "weight_avg_layer*", "pool": ("entry_layer*",),
     "log_abs": True, **_QUANTILES,
     "why": "the claims read the tail index of each run's averaged weights"},
    {"paper": "heavy_tail", "experiment": "mlp", "variable": "test_accuracy", "pool": ("*",),
     "log_abs": False, "statistic": "quantiles", "quantiles": (0.1, 0.5, 0.9), "tolerance": (0.1, 0.1, 0.1),
     "nan_tolerance": 0.1, "why": "accuracies over the (eta, b) grid: decorrelated nets reach the same ones"},
    {"paper": "heavy_tail", "experiment": "mlp", "variable": "train_loss", "pool": ("*",),
     "log_abs": True, "statistic": "quantiles", "quantiles": (0.1, 0.5, 0.9), "tolerance": (0.1, 0.1, 0.1),
     "nan_tolerance": 0.1, "why": "training losses over the (eta, b) grid, as the accuracies"},
    {"paper": "heavy_tail", "experiment": "mlp", "variable": "diverged_step", "pool": ("*",),
     "statistic": "diverged_fraction", "tolerance": 0.1, "why": "share of diverged networks (one of 18 is 0.056)"},
]

# Peak DRAM bandwidth (GB/s, vendor data sheets) by device name; first match wins, so the more
# specific names come first (e.g. "l40" before "l4", "a100" before "a10").
PEAK_BANDWIDTH_GBS = [
    (r"gh200.*144", "GH200 144 GB HBM3e", 4900.0),
    (r"gh200", "GH200 96 GB HBM3", 4000.0),
    (r"h200", "H200 (SXM or NVL, 141 GB HBM3e)", 4800.0),
    (r"h100.*nvl", "H100 NVL (94 GB HBM3)", 3900.0),
    (r"h100.*pcie", "H100 PCIe (80 GB HBM2e)", 2000.0),
    (r"h100|h800", "H100 SXM5 (80 GB HBM3)", 3350.0),
    (r"b200", "B200 (HBM3e)", 8000.0),
    (r"a100.*80\s*gb.*pcie|a100.*pcie.*80\s*gb", "A100 80 GB PCIe", 1935.0),
    (r"a100.*80\s*gb", "A100 80 GB SXM4", 2039.0),
    (r"a100", "A100 40 GB", 1555.0),
    (r"a30\b", "A30", 933.0),
    (r"l40s", "L40S", 864.0),
    (r"l40\b", "L40", 864.0),
    (r"\bl4\b", "L4", 300.0),
    (r"a10g?\b", "A10 / A10G", 600.0),
    (r"v100s", "V100S", 1134.0),
    (r"v100", "V100", 900.0),
    (r"\bt4\b", "T4", 320.0),
    (r"rtx 6000 ada", "RTX 6000 Ada", 960.0),
    (r"rtx a6000", "RTX A6000", 768.0),
    (r"rtx 4090", "GeForce RTX 4090", 1008.0),
    (r"rtx 3090", "GeForce RTX 3090", 936.0),
]

# Sizes of every part. "full": an H100/H200 (about 3 min in-process, then the tiny DAG);
# "dry": the smallest sizes on a CPU, for the test.
SIZES = {
    "full": {
        "budget_s": 480,
        "streams": {"cap_s": 60, "runs": 4096, "words": (1, 7, 64, 1001), "steps": (0, 7, 2**32 + 5),
                    "normal_size": 1001},
        "benchmarks": {"cap_s": 150,
                       "heavy_tail": ["--chains", "1600", "--steps", "1000", "--loop-runs", "20", "--repeats", "3"],
                       "quadratic_chaos": ["--num", "4001", "--steps", "2000", "--loop-runs", "8"]},
        "bandwidth": {"cap_s": 90, "chains": (1600, 16000, 64000), "steps": (10, 30), "repeats": 3},
        "slices": {"cap_s": 180, "heavy_tail": {"steps": (500, 1000)}, "quadratic_chaos": {"steps": (1000, 2000)},
                   "autoencoder_batch": {"steps": (2000, 4000)}, "dimensionless_odes": {"t_max": (0.25, 0.5)},
                   "large_step_sparse": {"steps": (2500, 5000)}},
        "tiny": {"cap_s": 330, "min_s": 150, "papers": list(manifests()), "device_cores": 6},
    },
    "dry": {
        "budget_s": 300,
        "streams": {"cap_s": 30, "runs": 64, "words": (1, 7, 64), "steps": (0, 2**32 + 5), "normal_size": 33},
        "benchmarks": {"cap_s": 60,
                       "heavy_tail": ["--chains", "2", "--steps", "20", "--loop-runs", "3", "--repeats", "1"],
                       "quadratic_chaos": ["--num", "21", "--steps", "20", "--loop-runs", "2"]},
        "bandwidth": {"cap_s": 30, "chains": (2, 4), "steps": (2, 4), "repeats": 1},
        "slices": {"cap_s": 60, "heavy_tail": {"steps": (20, 40), "chains": 2},
                   "quadratic_chaos": {"steps": (20, 40), "num": 21},
                   "autoencoder_batch": {"steps": (20, 40), "seeds": 1},
                   "dimensionless_odes": {"t_max": (0.02, 0.04), "seeds": 1},
                   "large_step_sparse": {"steps": (40, 80), "seeds": 1}},
        "tiny": {"cap_s": 240, "min_s": 60, "papers": ["autoencoder_batch"], "device_cores": 1},
    },
}


class PartTimeout(BaseException):
    """A part ran past its share of the budget (a BaseException: per-item ``except Exception``
    handlers inside a part must not swallow it)."""


# ----------------------------------------------------------------------------------- helpers


def _plain(value):
    """JSON-ready: numpy to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project_config() -> dict:
    return load_config(REPO / "config")


def peak_bandwidth(name: str) -> tuple[str | None, float | None]:
    """(table entry, peak GB/s) for a device name, or (None, None) for a card not in the table."""
    lowered = name.lower()
    for pattern, label, peak in PEAK_BANDWIDTH_GBS:
        if re.search(pattern, lowered):
            return label, peak
    return None, None


def device_info(device: torch.device) -> dict:
    info = {"type": device.type, "torch": torch.__version__, "cpu_count": os.cpu_count(),
            "cpu": _cpu_model(), "python": platform.python_version()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(name=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version(), capability=f"{props.major}.{props.minor}",
                    total_memory_gib=props.total_memory / 2**30, sm_count=props.multi_processor_count)
        for attr in ("L2_cache_size", "memory_clock_rate", "memory_bus_width"):
            info[attr] = getattr(props, attr, None)
        if info["memory_clock_rate"] and info["memory_bus_width"]:  # kHz, bits; double data rate
            info["peak_from_properties_gbs"] = 2 * info["memory_clock_rate"] * 1e3 * info["memory_bus_width"] / 8 / 1e9
    else:
        info["name"] = f"cpu ({info['cpu']})"
    info["peak_entry"], info["peak_bandwidth_gbs"] = peak_bandwidth(info["name"])
    return info


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise PartTimeout in the main thread after ``seconds`` (fail soft on a hung part)."""
    def handler(signum, frame):
        raise PartTimeout(f"part ran past its {seconds:.0f} s share of the budget")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check(name: str, ok: bool, **detail) -> dict:
    return {"name": name, "ok": bool(ok), **detail}


# ----------------------------------------------------------------------------------- comparisons


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place of the larger magnitude (0 where equal, inf on NaN mismatch)."""
    a, b = np.asarray(a), np.asarray(b)
    spacing = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(a.dtype))
    with np.errstate(invalid="ignore"):
        out = np.abs(a.astype(np.float64) - b.astype(np.float64)) / spacing.astype(np.float64)
    return np.where(a == b, 0.0, np.where(np.isfinite(out), out, np.inf))


def _front(values: np.ndarray, dims: tuple, first: list) -> np.ndarray:
    order = [dims.index(d) for d in first] + [i for i, d in enumerate(dims) if d not in first]
    return np.transpose(values, order)


def run_errors(a: np.ndarray, b: np.ndarray, dims: tuple, run_dims) -> tuple[np.ndarray, list]:
    """Per run (index over ``run_dims`` present in ``dims``): the largest |a - b| over the run's
    entries relative to the run's scale max(|a|, |b|); inf where one side is NaN or infinite and
    the other is not. Non-float arrays: 0 where equal, inf otherwise. Returns (errors, run dims)."""
    rd = [d for d in dims if d in run_dims]
    A, B = _front(np.asarray(a), dims, rd), _front(np.asarray(b), dims, rd)
    lead = A.shape[: len(rd)]
    if A.size == 0:
        return np.zeros(lead), rd
    A, B = A.reshape(*lead, -1), B.reshape(*lead, -1)
    if A.dtype.kind in "fc" and B.dtype.kind in "fc":
        with np.errstate(invalid="ignore", over="ignore"):
            fa, fb = np.isfinite(A), np.isfinite(B)
            same = (A == B) | (np.isnan(A) & np.isnan(B))
            diff = np.where(fa & fb, np.abs(np.where(fa & fb, A - B, 0.0)), np.where(same, 0.0, np.inf))
            mag = np.maximum(np.where(fa, np.abs(A), 0.0), np.where(fb, np.abs(B), 0.0))
            num, scale = diff.max(axis=-1), mag.max(axis=-1)
            err = np.where(num == 0, 0.0, np.where(scale > 0, num / np.where(scale > 0, scale, 1.0), np.inf))
    else:
        err = np.where((A != B).any(axis=-1), np.inf, 0.0)
    return np.asarray(err, dtype=np.float64), rd


def grid_dims(ds) -> tuple[str, ...]:
    """The run grid of an experiment: the dims of its ``*diverged_step`` variables (every trainer
    stores one per run), in order of appearance."""
    dims: list[str] = []
    for name, var in ds.data_vars.items():
        if name.endswith("diverged_step"):
            dims += [d for d in var.dims if d not in dims]
    return tuple(dims)


def _to_grid(err: np.ndarray, rd: list, grid: tuple, shape: tuple) -> np.ndarray:
    """Broadcast a per-run array over dims ``rd`` to the full grid."""
    ordered = [d for d in grid if d in rd]
    arr = np.transpose(err, [rd.index(d) for d in ordered]) if rd else np.asarray(err)
    for axis, d in enumerate(grid):
        if d not in rd:
            arr = np.expand_dims(arr, axis)
    return np.broadcast_to(arr, shape)


def _from_grid(full: np.ndarray, grid: tuple, rd: list) -> np.ndarray:
    """Reduce a full-grid array to dims ``rd`` by the minimum over the dims a variable lacks (a
    variable shared by several runs is rounding-sensitive only where all of them are)."""
    axes = tuple(i for i, d in enumerate(grid) if d not in rd)
    reduced = full.min(axis=axes) if axes else full
    ordered = [d for d in grid if d in rd]
    return np.transpose(reduced, [ordered.index(d) for d in rd]) if rd else reduced


def _run_label(index: tuple, rd: list, ds) -> dict:
    out = {}
    for d, i in zip(rd, index):
        value = ds[d].values[i] if d in ds.coords else i
        out[d] = value.item() if hasattr(value, "item") else value
    return out


def sensitivity(cpu, perturbed, grid: tuple) -> np.ndarray:
    """Per run of the grid: how far the CPU's rounding perturbation moves the run's recorded state,
    the largest relative change of its trajectory variables (those with every grid dim and more:
    records, coordinates, weights; derived per-run scalars such as a loss at float64 precision
    are pure rounding noise and would mark every run). 0 without a perturbed run."""
    shape = tuple(cpu.sizes[d] for d in grid)
    full = np.zeros(shape)
    if perturbed is None:
        return full
    names = [n for n, v in cpu.data_vars.items() if set(grid) <= set(v.dims) and len(v.dims) > len(grid)]
    names = names or [n for n, v in cpu.data_vars.items() if set(grid) <= set(v.dims)]
    for name in names:
        var = cpu[name]
        if name not in perturbed.data_vars or perturbed[name].shape != var.shape:
            continue
        err, rd = run_errors(var.values, perturbed[name].transpose(*var.dims).values, var.dims, grid)
        full = np.maximum(full, _to_grid(err, rd, grid, shape))
    return full


def distribution_check(cpu_var, dev_var, spec: dict) -> dict:
    """Per group (the dims not pooled by ``spec['pool']`` patterns): ``quantiles`` of x or log10|x|,
    the device's within ``tolerance`` of the CPU group's 5-95 % spread, and non-finite fractions
    within ``nan_tolerance``; or (``statistic: diverged_fraction``) the fraction of runs with a
    divergence step (>= 0) within ``tolerance``."""
    dims = cpu_var.dims
    pooled = [d for d in dims if any(fnmatch.fnmatch(d, p) for p in spec["pool"])]
    by = [d for d in dims if d not in pooled]
    a = _front(cpu_var.values, dims, by)
    b = _front(dev_var.transpose(*dims).values, dims, by)
    lead = a.shape[: len(by)]
    a, b = a.reshape(int(np.prod(lead)), -1).astype(np.float64), b.reshape(int(np.prod(lead)), -1).astype(np.float64)
    if spec.get("statistic") == "diverged_fraction":
        gap = np.abs((a >= 0).mean(axis=1) - (b >= 0).mean(axis=1))
        bad = np.flatnonzero(gap > spec["tolerance"])
        return {"policy": "distribution", "statistic": "diverged_fraction", "by": by, "pooled": pooled,
                "tolerance": spec["tolerance"], "groups": int(a.shape[0]), "worst_gap": float(gap.max()),
                "violations": [{"group": _run_label(np.unravel_index(g, lead) if lead else (), by, cpu_var),
                                "gap": float(gap[g])} for g in bad[:5]],
                "n_violations": int(bad.size), "ok": not bad.size, "why": spec["why"]}
    if spec["log_abs"]:
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b = np.log10(np.abs(a)), np.log10(np.abs(b))
    qs, tol = np.asarray(spec["quantiles"]), np.asarray(spec["tolerance"])
    worst = np.zeros(len(qs))
    worst_nan, violations, checked = 0.0, [], 0
    for g in range(a.shape[0]):
        fa, fb = a[g][np.isfinite(a[g])], b[g][np.isfinite(b[g])]
        nan_gap = abs(np.mean(~np.isfinite(a[g])) - np.mean(~np.isfinite(b[g])))
        worst_nan = max(worst_nan, nan_gap)
        index = np.unravel_index(g, lead) if lead else ()
        label = _run_label(index, by, cpu_var)
        if nan_gap > spec["nan_tolerance"]:
            violations.append({"group": label, "nan_fraction_gap": nan_gap})
        if fa.size < 10 or fb.size < 10:
            continue
        checked += 1
        spread = float(np.subtract(*np.quantile(fa, [0.95, 0.05])))
        spread = spread if spread > 0 else max(1e-12, float(np.abs(fa).max()))
        dev = np.abs(np.quantile(fa, qs) - np.quantile(fb, qs)) / spread
        worst = np.maximum(worst, dev)
        if (dev > tol).any():
            violations.append({"group": label, "deviation_over_spread": dev.tolist()})
    return {"policy": "distribution", "by": by, "pooled": pooled, "log_abs": spec["log_abs"],
            "quantiles": qs.tolist(), "tolerance": tol.tolist(), "groups": int(a.shape[0]), "groups_checked": checked,
            "worst_deviation_over_spread": worst.tolist(), "worst_nan_fraction_gap": worst_nan,
            "violations": violations[:5], "n_violations": len(violations), "ok": not violations, "why": spec["why"]}


def compare_datasets(dev, cpu, perturbed=None, *, paper: str = "", experiment: str = "") -> dict:
    """Every variable of the device's dataset against the CPU's, run by run (module docstring)."""
    grid = grid_dims(cpu)
    out = {"grid_dims": list(grid), "variables": {}, "problems": []}
    for name in sorted(set(cpu.variables) | set(dev.variables)):
        if name not in cpu.variables or name not in dev.variables:
            out["problems"].append(f"{name}: only on the {'CPU' if name in cpu.variables else 'device'}")
        elif name in cpu.coords and not (cpu[name].dims == dev[name].dims
                                         and np.array_equal(cpu[name].values, dev[name].values)):
            out["problems"].append(f"coordinate {name} differs")
    full_sens = sensitivity(cpu, perturbed, grid)
    for name, var in cpu.data_vars.items():
        if name not in dev.data_vars:
            continue
        other = dev[name]
        if set(other.dims) != set(var.dims) or other.transpose(*var.dims).shape != var.shape:
            out["variables"][name] = {"ok": False,
                                      "problem": f"dims/shape {other.dims} {other.shape} vs {var.dims} {var.shape}"}
            continue
        err, rd = run_errors(var.values, other.transpose(*var.dims).values, var.dims, grid)
        own = np.zeros_like(err)
        if perturbed is not None and name in perturbed.data_vars and perturbed[name].shape == var.shape:
            own, _ = run_errors(var.values, perturbed[name].transpose(*var.dims).values, var.dims, grid)
        moved = np.maximum(own, _from_grid(full_sens, grid, rd))
        sensitive_scale = SENSITIVITY_FACTOR * moved
        if var.dtype.kind in "fc":
            allowed = np.where(sensitive_scale >= 1.0, np.inf, np.maximum(RTOL, sensitive_scale))
        else:
            allowed = np.where(moved > RTOL, np.inf, 0.0)
        bad = err > allowed
        worst = np.unravel_index(int(np.argmax(np.where(np.isfinite(err), err, 1e300))), err.shape) if err.size else ()
        result = {
            "policy": "runwise", "dtype": str(var.dtype), "run_dims": rd, "runs": int(err.size),
            "bit_equal": int((err == 0).sum()), "within_rtol": int(((err > 0) & (err <= RTOL)).sum()),
            "rounding_sensitive": int((moved > RTOL).sum()), "decorrelated_on_cpu": int((sensitive_scale >= 1).sum()),
            "max_error": float(err.max()) if err.size else 0.0,
            "max_cpu_perturbation": float(moved.max()) if moved.size else 0.0,
            "worst_run": _run_label(worst, rd, cpu) if err.size else {},
            "n_violations": int(bad.sum()),
            "violations": [{"run": _run_label(i, rd, cpu), "error": float(err[i]), "allowed": float(allowed[i]),
                            "cpu_perturbation": float(moved[i])} for i in map(tuple, np.argwhere(bad)[:5])],
        }
        result["ok"] = result["pointwise_ok"] = not bad.any()
        for spec in DISTRIBUTIONS:  # heavy-tailed: the distribution decides, pointwise is for the record
            if (spec["paper"] == paper and fnmatch.fnmatch(experiment, spec["experiment"])
                    and fnmatch.fnmatch(name, spec["variable"])):
                result["policy"] = "distribution"
                result["distribution"] = distribution_check(var, other, spec)
                result["ok"] = result["distribution"]["ok"]
        out["variables"][name] = result
    out["ok"] = not out["problems"] and all(v["ok"] for v in out["variables"].values())
    out["summary"] = {
        "variables": len(out["variables"]), "variables_ok": sum(v["ok"] for v in out["variables"].values()),
        "runs_bit_equal": all(v.get("bit_equal") == v.get("runs") for v in out["variables"].values()),
        "max_error": max([v.get("max_error", 0.0) for v in out["variables"].values()] or [0.0]),
        "rounding_sensitive_runs": int((full_sens > RTOL).sum()), "grid_runs": int(full_sens.size),
    }
    return out


def _claim_tolerance(cpu: dict, perturbed: dict | None) -> float:
    m = cpu.get("measured")
    tol = CLAIM_RTOL * abs(m) + 1e-12 if m is not None else 0.0
    ci = cpu.get("ci") or [None, None]
    if None not in ci:
        tol = max(tol, CLAIM_CI_FRACTION * (ci[1] - ci[0]) / 2)
    if perturbed is not None and m is not None and perturbed.get("measured") is not None:
        tol = max(tol, SENSITIVITY_FACTOR * abs(perturbed["measured"] - m))
    return tol


def compare_claims(dev: list, cpu: list, perturbed: list | None = None) -> dict:
    """Claims of the device run against the CPU's: same ids, same verdicts, measured values close."""
    dev_by, cpu_by = {c["id"]: c for c in dev}, {c["id"]: c for c in cpu}
    pert_by = {c["id"]: c for c in perturbed} if perturbed is not None else {}
    rows, problems = [], []
    for cid in sorted(set(dev_by) ^ set(cpu_by)):
        problems.append(f"{cid}: only on the {'CPU' if cid in cpu_by else 'device'}")
    for cid in sorted(set(dev_by) & set(cpu_by)):
        c, g, p = cpu_by[cid], dev_by[cid], pert_by.get(cid)
        same_verdict = c.get("passed") == g.get("passed")
        explained = not same_verdict and p is not None and p.get("passed") == g.get("passed")
        mc, mg = c.get("measured"), g.get("measured")
        delta = 0.0 if mc is None and mg is None else (abs(mg - mc) if None not in (mc, mg) else math.inf)
        tol = _claim_tolerance(c, p)
        row = {"id": cid, "cpu_passed": c.get("passed"), "device_passed": g.get("passed"),
               "perturbed_passed": None if p is None else p.get("passed"), "same_verdict": same_verdict,
               "flip_explained_by_cpu_perturbation": explained, "fragile_on_cpu": bool(c.get("fragile")),
               "cpu_measured": mc, "device_measured": mg, "delta": delta, "tolerance": tol,
               "measured_ok": delta <= tol}
        row["ok"] = (same_verdict or explained) and row["measured_ok"]
        rows.append(row)
    return {"claims": len(rows), "same_verdicts": sum(r["same_verdict"] for r in rows),
            "verdict_flips": [r["id"] for r in rows if not r["same_verdict"]],
            "not_ok": [r for r in rows if not r["ok"]], "problems": problems,
            "max_delta_over_tolerance": max([r["delta"] / r["tolerance"] if r["tolerance"] > 0 else
                                             (0.0 if r["delta"] == 0 else math.inf) for r in rows] or [0.0]),
            "rows": rows, "ok": not problems and all(r["ok"] for r in rows)}


# ----------------------------------------------------------------------------------- part: streams


def check_streams(device: torch.device, reference: torch.device, sizes: dict) -> dict:
    """RunRandom and Philox on ``device`` against ``reference`` (the CPU)."""
    from sgdrepro.core import RunRandom, run_keys
    from sgdrepro.core.seeding import philox4x32

    checks = []
    kat = [  # Random123's kat_vectors for Philox4x32-10
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
         [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
    ]
    for counter, key, expected in kat:
        got = [int(v) for v in philox4x32([torch.tensor([c], device=device) for c in counter],
                                          [torch.tensor([k], device=device) for k in key])]
        checks.append(_check(f"philox known answer {counter[0]:#x}", got == expected, got=[hex(v) for v in got]))
    keys = run_keys("gpu_check", [{"seed": s} for s in range(sizes["runs"])])
    dev, ref = RunRandom(keys, device), RunRandom(keys, reference)
    n_bits = mismatched = 0
    for stream in ("data", "init", 123456789):
        for step in sizes["steps"]:
            for n_words in sizes["words"]:
                a, b = dev.bits(stream, step, n_words).cpu(), ref.bits(stream, step, n_words)
                n_bits += a.numel()
                mismatched += int((a != b).sum())
    checks.append(_check("bits bit-equal", mismatched == 0, words=n_bits, mismatched=mismatched))
    n = sizes["normal_size"]
    for dtype in (torch.float64, torch.float32):
        a, b = dev.uniform("u", 3, (n,), dtype).cpu(), ref.uniform("u", 3, (n,), dtype)
        checks.append(_check(f"uniform {dtype} bit-equal", torch.equal(a, b), values=a.numel(),
                             mismatched=int((a != b).sum())))
    a, b = dev.randint("r", 5, (n,), 1000).cpu(), ref.randint("r", 5, (n,), 1000)
    checks.append(_check("randint bit-equal", torch.equal(a, b), mismatched=int((a != b).sum())))
    a, b = dev.permutation("p", 2, 97).cpu(), ref.permutation("p", 2, 97)
    checks.append(_check("permutation equal", torch.equal(a, b), mismatched=int((a != b).sum())))
    for dtype in (torch.float64, torch.float32):
        a = dev.normal("z", 11, (n,), dtype).cpu().numpy()
        b = ref.normal("z", 11, (n,), dtype).numpy()
        u = ulps(a, b)
        checks.append(_check(f"normal {dtype} within {NORMAL_MAX_ULPS} ulps", float(u.max()) <= NORMAL_MAX_ULPS,
                             max_ulps=float(u.max()), mean_ulps=float(u.mean()),
                             bit_equal_fraction=float((u == 0).mean()), values=int(u.size)))
    return {"device": str(device), "reference": str(reference), "checks": checks}


# ----------------------------------------------------------------------------------- part: benchmarks


def run_benchmarks(device: torch.device, sizes: dict) -> dict:
    out, checks = {}, []
    for name in ("heavy_tail", "quadratic_chaos"):
        module = _load_module(f"bench_{name}", BENCH / f"bench_{name}.py")
        argv = ["--device", device.type, *sizes[name]]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            result = module.main(argv)
        print(buffer.getvalue(), end="", flush=True)
        result["command"] = f"python benchmarks/bench_{name}.py {' '.join(argv)}"
        result["printed"] = buffer.getvalue()
        result["target"] = SPEEDUP_TARGET if device.type == "cuda" else None
        result["meets_target"] = result["speedup"] >= SPEEDUP_TARGET if device.type == "cuda" else None
        out[name] = result
        checks.append(_check(f"{name} rates finite", all(math.isfinite(result[k]) and result[k] > 0 for k in
                                                           ("loop_run_steps_per_s", "batched_run_steps_per_s"))))
    torch.set_num_threads(1)
    return {**out, "checks": checks}


# ----------------------------------------------------------------------------------- part: bandwidth


class ByteCounter(TorchDispatchMode):
    """Counts the bytes every aten op reads (tensor inputs) and writes (outputs) while active:
    the DRAM traffic of an unfused implementation, caches ignored. A tensor counts its distinct
    elements (a broadcast, stride-0 dim reads one element); ops that return views move nothing."""

    def __init__(self):
        super().__init__()
        self.bytes, self.ops = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        returns = func._schema.returns
        if returns and all(r.alias_info is not None and not r.alias_info.is_write for r in returns):
            return out  # a view
        leaves = tree_flatten((args, kwargs or {}))[0] + tree_flatten(out)[0]
        tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
        self.bytes += sum(_distinct_bytes(t) for t in tensors)
        self.ops += 1
        return out


def _distinct_bytes(t: torch.Tensor) -> int:
    n = 1
    for size, stride in zip(t.shape, t.stride()):
        if stride != 0:
            n *= size
    return n * t.element_size()


def measure_bandwidth(device: torch.device, sizes: dict, info: dict) -> dict:
    from sgdrepro.heavy_tail.experiments import train_linreg_streaming

    grid_cfg = dict(project_config()["heavy_tail"]["paper"]["linreg"]["grid"])
    s1, s2 = sizes["steps"]
    peak = info.get("peak_bandwidth_gbs")
    rows, checks = [], []
    for chains in sizes["chains"]:
        row = {"chains": chains}
        try:
            # the paper grid with `chains` chains per point; any keys do (run_keys costs ~30 us a point)
            mesh = np.meshgrid(*(np.asarray(v) for v in grid_cfg.values()), np.arange(chains), indexing="ij")
            flat = {name: m.reshape(-1) for name, m in zip([*grid_cfg, "seed"], mesh)}
            n_runs = flat["seed"].size
            keys = np.random.default_rng(chains).integers(0, 2**32, size=(n_runs, 2), dtype=np.uint32)

            def run(n_steps, flat=flat, keys=keys):
                _sync(device)
                start = time.perf_counter()
                train_linreg_streaming(flat, keys, n_steps, np.array([n_steps]), noise_sd=1.0, init_scale=1.0,
                                       device=device, dtype=torch.float64)
                _sync(device)
                return time.perf_counter() - start

            run(s1)  # warm-up: kernel caches, allocator growth
            t1 = float(np.median([run(s1) for _ in range(sizes["repeats"])]))
            t2 = float(np.median([run(s2) for _ in range(sizes["repeats"])]))
            counted = {}
            for n_steps in (1, 2):
                with ByteCounter() as counter:
                    train_linreg_streaming(flat, keys, n_steps, np.array([n_steps]), noise_sd=1.0, init_scale=1.0,
                                           device=device, dtype=torch.float64)
                counted[n_steps] = (counter.bytes, counter.ops)
            bytes_per_step = counted[2][0] - counted[1][0]
            ops_per_step = counted[2][1] - counted[1][1]
            per_step = (t2 - t1) / (s2 - s1)
            if per_step <= 0:  # timing noise swamped the difference: whole-run time, an upper bound
                per_step = t2 / s2
            gbs = bytes_per_step / per_step / 1e9
            d = int(np.max(flat["dim"]))
            row.update(runs=n_runs, steps=[s1, s2], seconds=[t1, t2], time_per_step_s=per_step,
                       bytes_per_step=bytes_per_step, bytes_per_run_step=bytes_per_step / n_runs,
                       ops_per_step=ops_per_step, mean_bytes_per_op=bytes_per_step / max(1, ops_per_step),
                       achieved_gbs=gbs, fraction_of_peak=gbs / peak if peak else None,
                       minimal_bytes_per_run_step=2 * 8 * d,
                       fused_equivalent_gbs=2 * 8 * d * n_runs / per_step / 1e9,
                       run_steps_per_s=n_runs / per_step)
            l2 = info.get("L2_cache_size")
            row["ops_fit_in_l2"] = bool(l2 and row["mean_bytes_per_op"] < l2)
            checks.append(_check(f"chains {chains}: bytes and time measured", bytes_per_step > 0 and per_step > 0))
        except Exception as error:  # one size failing (out of memory) leaves the others
            row["error"] = "".join(traceback.format_exception(error))
            checks.append(_check(f"chains {chains}", False, error=repr(error)))
            if device.type == "cuda":
                torch.cuda.empty_cache()
        rows.append(row)
    paper = next((r for r in rows if r.get("chains") == 1600 and "achieved_gbs" in r), None)
    best = max((r for r in rows if "achieved_gbs" in r), key=lambda r: r["achieved_gbs"], default=None)
    return {"device_name": info["name"], "peak_entry": info.get("peak_entry"), "peak_bandwidth_gbs": peak,
            "peak_from_properties_gbs": info.get("peak_from_properties_gbs"), "rows": rows,
            "paper_size": paper, "best": best, "target_fraction": BANDWIDTH_TARGET,
            "meets_target": (best["fraction_of_peak"] >= BANDWIDTH_TARGET) if best and peak else None,
            "kernel": "heavy_tail.experiments.train_linreg_streaming (paper linreg grid, d = 10, float64)",
            "bytes": "sum over the aten ops of one step of the distinct bytes of their tensor inputs and outputs",
            "checks": checks}


# ----------------------------------------------------------------------------------- part: slices


def _slice_specs() -> dict:
    """Per paper: (experiment, size key in SIZES, the config key it sets, slice maker, (runs, steps) of a config)."""

    def heavy_tail(cfg, steps, chains=None, **_):
        c = copy.deepcopy(cfg)
        c["burn_in"] = max(0, round(cfg["burn_in"] * steps / cfg["n_steps"]))
        c["n_steps"] = steps
        c["n_chains"] = chains or cfg["n_chains"]
        return c

    def heavy_tail_runs(c):
        g = c["grid"]
        return len(g["lr"]) * len(g["batch_size"]) * len(g["dim"]) * len(g["sigma"]) * c["n_chains"], c["n_steps"]

    def quadratic_chaos(cfg, steps, num=None, **_):
        c = copy.deepcopy(cfg)
        c["window"] = max(2, round(cfg["window"] * steps / cfg["n_steps"]))  # the same share of steps recorded
        c["n_steps"], c["record_early"] = steps, 0
        if num:
            c["a"] = {**cfg["a"], "num": num}
        return c

    def quadratic_chaos_runs(c):
        return c["a"]["num"] * c.get("n_seeds", 1), c["n_steps"]

    def autoencoder_batch(cfg, steps, seeds=None, **_):
        c = copy.deepcopy(cfg)
        c["n_steps"] = steps
        c["seeds"] = seeds or cfg["seeds"]
        return c

    def autoencoder_batch_runs(c):
        return len(c["activation"]) * len(c["order"]) * len(c["batch_size"]) * c["seeds"], c["n_steps"]

    def dimensionless_odes(cfg, t_max, seeds=None, **_):
        c = copy.deepcopy(cfg)
        c["t_max"] = t_max
        c["n_seeds"] = seeds or cfg["n_seeds"]
        return c

    def dimensionless_odes_runs(c):
        # one group per (p, d) of len(lr_over_p) x n_seeds runs, t_max d / min(gamma/p) steps each;
        # returns every run and the mean steps per run
        per_group = len(c["lr_over_p"]) * c["n_seeds"]
        run_steps = sum(round(c["t_max"] * d / min(c["lr_over_p"])) for d in c["d"]) * len(c["p"]) * per_group
        runs = per_group * len(c["d"]) * len(c["p"])
        return runs, run_steps / runs

    def large_step_sparse(cfg, steps, seeds=None, **_):
        c = copy.deepcopy(cfg)
        c["record_points"] = max(2, round(cfg["record_points"] * steps / cfg["n_steps"]))
        c["n_steps"] = steps
        c["n_seeds"] = seeds or cfg["n_seeds"]
        return c

    def large_step_sparse_runs(c):
        return len(c["lr"]) * len(c["decay_at"]) * c["n_seeds"], c["n_steps"]

    return {
        "heavy_tail": ("linreg", "steps", "n_steps", heavy_tail, heavy_tail_runs),
        "quadratic_chaos": ("bifurcation", "steps", "n_steps", quadratic_chaos, quadratic_chaos_runs),
        "autoencoder_batch": ("orthogonal", "steps", "n_steps", autoencoder_batch, autoencoder_batch_runs),
        "dimensionless_odes": ("collapse", "t_max", "t_max", dimensionless_odes, dimensionless_odes_runs),
        "large_step_sparse": ("diagonal_sgd", "steps", "n_steps", large_step_sparse, large_step_sparse_runs),
    }


def extrapolate(sizes: tuple, seconds: tuple, runs_slice: int, runs_full: int, length_full: float) -> dict:
    """Full-scale time from two slice lengths (steps; dimensionless_odes: t_max, which the steps are
    proportional to): t = fixed + per_unit * length, times runs_full / runs_slice."""
    (l1, l2), (t1, t2) = sizes, seconds
    per_unit = (t2 - t1) / (l2 - l1)
    fixed = t1 - per_unit * l1
    method = "two-length fit: fixed + per-step cost, linear in steps, times full/slice runs"
    if per_unit <= 0 or fixed < 0:  # timing noise: proportional to the longer slice instead
        per_unit, fixed = t2 / l2, 0.0
        method = "proportional to the longer slice (steps x runs)"
    full = (fixed + per_unit * length_full) * runs_full / runs_slice
    return {"fixed_s": fixed, "per_unit_s": per_unit, "full_s": full, "full_h": full / 3600, "method": method}


def time_slices(device: torch.device, sizes: dict) -> dict:
    from sgdrepro.core.entry import RunContext

    config = project_config()
    out, checks = {}, []
    for paper, (experiment, length_key, cfg_key, make, runs_of) in _slice_specs().items():
        spec = dict(sizes[paper])
        lengths = spec.pop(length_key)
        full_cfg = config[paper]["paper"][experiment]
        entry = {"experiment": experiment, "length_key": length_key, "lengths": list(lengths), "overrides": spec}
        try:
            module = importlib.import_module(f"sgdrepro.{paper}.experiments")
            run = getattr(module, f"run_{experiment}")
            seconds, memory = [], []
            # warm-up at a tenth of the shorter length: imports, kernel loading, allocator growth
            warm = lengths[0] / 10 if isinstance(lengths[0], float) else max(2, lengths[0] // 10)
            run(make(full_cfg, warm, **spec), RunContext(paper=paper, experiment=experiment, device=device,
                                                         dtype=torch.float64, datasets_dir=str(REPO / "data")))
            for length in lengths:
                cfg = make(full_cfg, length, **spec)
                ctx = RunContext(paper=paper, experiment=experiment, device=device, dtype=torch.float64,
                                 datasets_dir=str(REPO / "data"))
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                _sync(device)
                start = time.perf_counter()
                ds = run(cfg, ctx)
                _sync(device)
                seconds.append(time.perf_counter() - start)
                memory.append(torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None)
                del ds
            runs_slice, steps_slice = runs_of(make(full_cfg, lengths[-1], **spec))
            runs_full, steps_full = runs_of(full_cfg)
            full_length = full_cfg[cfg_key]
            entry.update(seconds=seconds, peak_device_memory_gib=memory, runs_slice=runs_slice,
                         run_steps_slice=round(runs_slice * steps_slice), runs_full=runs_full,
                         steps_full=steps_full, run_steps_full=round(runs_full * steps_full),
                         full_length=full_length,
                         slice=f"{experiment}: paper config, {cfg_key} {list(lengths)} of {full_length}"
                               + (f", {spec}" if spec else ", every run of the grid"),
                         **extrapolate(tuple(lengths), tuple(seconds), runs_slice, runs_full, full_length))
            checks.append(_check(f"{paper}/{experiment} timed", all(s > 0 for s in seconds)))
        except Exception as error:
            entry["error"] = "".join(traceback.format_exception(error))
            checks.append(_check(f"{paper}/{experiment}", False, error=repr(error)))
            if device.type == "cuda":
                torch.cuda.empty_cache()
        out[paper] = entry
    return {**out, "checks": checks}


# ----------------------------------------------------------------------------------- part: tiny DAG


class Job:
    """A subprocess in its own session (so a timeout can stop it and everything it started)."""

    def __init__(self, label: str, command: list, log: Path, env: dict | None = None, device: str = "cpu",
                 what: str = ""):
        self.label, self.command, self.log, self.device, self.what = label, command, log, device, what
        log.parent.mkdir(parents=True, exist_ok=True)
        self.start, self.started_at = time.perf_counter(), time.time()
        with open(log, "w") as handle:
            self.proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO,
                                         env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})},
                                         start_new_session=True)
        self.wall_s, self.returncode, self.timed_out = None, None, False

    def wait(self, deadline: float) -> None:
        try:
            self.proc.wait(timeout=max(1.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.stop()
        self.returncode = self.proc.returncode
        self.wall_s = time.perf_counter() - self.start
        with contextlib.suppress(OSError):  # it may have finished long before this wait: its last output
            self.wall_s = min(self.wall_s, max(0.0, self.log.stat().st_mtime - self.started_at))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def summary(self) -> dict:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return {"label": self.label, "device": self.device, "what": self.what, "wall_s": self.wall_s,
                "returncode": self.returncode,
                "timed_out": self.timed_out, "command": " ".join(map(str, self.command)),
                "log_tail": tail if self.returncode else ""}


class DagRun(Job):
    """One Snakemake run of the tiny DAG (training and claims only) in a scratch directory."""

    def __init__(self, label: str, workdir: Path, papers: list, device: str, cores: int):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        targets = [f"results/{p}/claims.json" for p in papers]
        # targets first: --configfile and --config take every word after them
        command = [sys.executable, "-m", "snakemake", *targets, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                   "--cores", str(cores), "--keep-going", "--quiet", "rules",
                   "--configfile", str(REPO / "config" / "test.yaml"),
                   "--config", f"papers={json.dumps(papers)}", f"device={device}"]
        super().__init__(label, command, workdir.parent / f"{label}.log", device=device,
                         what="Snakemake, config/test.yaml, portable numerics")

    def results(self, paper: str) -> Path:
        return self.workdir / "results" / paper


class PerturbedRuns:
    """The CPU reference again, every run's initial state perturbed at the rounding level (one
    worker process per paper, portable numerics, one thread: the same as the CPU DAG's jobs)."""

    label = "cpu_perturbed"

    def __init__(self, root: Path, papers: list):
        self.root = root
        env = numerics.environment("portable")
        self.jobs = [Job(f"{self.label}:{paper}", [sys.executable, str(Path(__file__).resolve()),
                                                   "--perturbed-worker", paper, "--work", str(root)],
                         root / f"{paper}.log", env, what=f"in-process, initial states perturbed by "
                                                               f"{PERTURBATION_ULPS} ulps") for paper in papers]

    def results(self, paper: str) -> Path:
        return self.root / "results" / paper


PERTURBATION_ULPS = 4


def perturb_initial_states(ulps: int = PERTURBATION_ULPS) -> None:
    """Multiply every per-run floating tensor of every trainer's initial state by (1 +- ulps eps)
    (random signs): the whole spine trains through ``core.trainer._train_chunk``."""
    from sgdrepro.core import trainer

    original = trainer._train_chunk

    def perturbed(init, *args, **kwargs):
        def init_perturbed(chunk):
            state = init(chunk)
            generator = torch.Generator().manual_seed(int(chunk.index[0]))
            out = {}
            for name, value in state.items():
                if (torch.is_tensor(value) and value.is_floating_point() and value.ndim >= 1
                        and value.shape[0] == chunk.n_runs):
                    sign = torch.randint(0, 2, value.shape, generator=generator).to(value.dtype).mul_(2).sub_(1)
                    value = value * (1 + ulps * torch.finfo(value.dtype).eps * sign.to(value.device))
                out[name] = value
            return out

        return original(init_perturbed, *args, **kwargs)

    trainer._train_chunk = perturbed


def tiny_config() -> dict:
    """config.yaml with config/test.yaml merged in, as the tiny DAG sees it."""
    config = load_config(REPO / "config", overlays=(REPO / "config" / "test.yaml",))
    with contextlib.suppress(Exception):  # fills schema defaults, as the workflow does
        from snakemake.utils import validate

        validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def perturbed_worker(paper: str, root: Path) -> int:
    """Train every tiny experiment of ``paper`` on the CPU with perturbed initial states and
    measure its claims, into ``root/results/<paper>`` (the layout of a DAG's results)."""
    import logging

    from sgdrepro.core.claims import write_claims
    from sgdrepro.core.entry import RunContext, set_threads
    from sgdrepro.core.store import read_dataset, write_dataset

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = tiny_config()
    section = config[paper][config["scale"]]
    set_threads(1)
    numerics.deterministic(torch.device("cpu"))
    perturb_initial_states()
    out = root / "results" / paper
    (out / "data").mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f"sgdrepro.{paper}.experiments")
    data = {}
    for experiment in paper_experiments(paper):
        ctx = RunContext(paper=paper, experiment=experiment, device=torch.device("cpu"), dtype=torch.float64,
                         root_seed=int(config.get("root_seed", 0)), datasets_dir=config.get("datasets_dir"))
        start = time.perf_counter()
        dataset = getattr(module, f"run_{experiment}")(dict(section[experiment]), ctx)
        write_dataset(dataset, out / "data" / f"{experiment}.nc")
        data[experiment] = read_dataset(out / "data" / f"{experiment}.nc")
        print(f"{paper}/{experiment}: {time.perf_counter() - start:.1f} s", flush=True)
    write_claims(importlib.import_module(f"sgdrepro.{paper}.claims").measure_claims(data, section), out / "claims.json")
    print(f"{paper}: claims written", flush=True)
    return 0


def paper_experiments(paper: str) -> list[str]:
    """The paper's experiments (one training job each), from its manifest."""
    return manifests()[paper].experiment_names


def _job_log(run: DagRun, paper: str, experiment: str) -> str:
    path = run.results(paper) / "logs" / f"train_{experiment}.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else f"(no log at {path})"


def compare_paper(paper: str, dev: DagRun, cpu: DagRun, perturbed: DagRun | None) -> dict:
    import xarray as xr

    out = {"experiments": {}, "problems": []}
    for experiment in paper_experiments(paper):
        paths = {run.label: run.results(paper) / "data" / f"{experiment}.nc" for run in (dev, cpu)}
        missing = [label for label, path in paths.items() if not path.exists()]
        if missing:
            out["problems"].append(f"{experiment}: no trajectories from {', '.join(missing)}")
            out["experiments"][experiment] = {"ok": False, "missing": missing,
                                              "job_logs": {run.label: _job_log(run, paper, experiment)
                                                           for run in (dev, cpu) if run.label in missing}}
            continue
        with xr.open_dataset(paths[dev.label]) as a, xr.open_dataset(paths[cpu.label]) as b:
            a, b = a.load(), b.load()
        c = None
        if perturbed is not None and (perturbed.results(paper) / "data" / f"{experiment}.nc").exists():
            with xr.open_dataset(perturbed.results(paper) / "data" / f"{experiment}.nc") as p:
                c = p.load()
        result = compare_datasets(a, b, c, paper=paper, experiment=experiment)
        result["perturbed"] = c is not None
        out["experiments"][experiment] = result
    claims = {run.label: run.results(paper) / "claims.json" for run in (dev, cpu)}
    if all(path.exists() for path in claims.values()):
        pert = perturbed.results(paper) / "claims.json" if perturbed is not None else None
        out["claims"] = compare_claims(json.loads(claims[dev.label].read_text()),
                                       json.loads(claims[cpu.label].read_text()),
                                       json.loads(pert.read_text()) if pert is not None and pert.exists() else None)
    else:
        out["problems"].append("claims.json missing from " + ", ".join(k for k, v in claims.items() if not v.exists()))
        out["claims"] = {"ok": False}
    out["ok"] = not out["problems"] and out["claims"]["ok"] and all(e["ok"] for e in out["experiments"].values())
    return out


def start_cpu_runs(work: Path, papers: list, perturbed: bool) -> list:
    """The CPU reference DAG and (optionally) the perturbed CPU runs, started in the background."""
    cores = max(1, (os.cpu_count() or 2) - 4 - (len(papers) if perturbed else 0))
    runs = [DagRun("cpu", work / "cpu", papers, "cpu", cores)]
    if perturbed:
        runs.append(PerturbedRuns(work / "cpu_perturbed", papers))
    return runs


def _jobs(runs) -> list[Job]:
    return [job for run in runs if run is not None for job in (run.jobs if isinstance(run, PerturbedRuns) else [run])]


def start_device_dag(device: torch.device, work: Path, sizes: dict, background: list = ()) -> DagRun:
    """The device's tiny DAG: ``device_cores`` jobs at a time, half the machine's cores if the CPU
    runs have finished (each job is one process driving the device)."""
    cores = sizes["device_cores"]
    if background and all(job.proc.poll() is not None for job in _jobs(background)):
        cores = max(cores, (os.cpu_count() or 2) // 2)
    return DagRun("device", work / "device", list(sizes["papers"]), device.type, cores)


def run_tiny(device: torch.device, sizes: dict, work: Path, background: list, deadline: float,
             dev: DagRun | None = None) -> dict:
    """Wait for the runs (starting the device's DAG unless already running) and compare them paper by paper."""
    papers = list(sizes["papers"])
    dev = dev or start_device_dag(device, work, sizes, background)
    jobs = _jobs([dev, *background])
    try:
        for job in jobs:
            job.wait(deadline)
    finally:
        for job in jobs:
            job.stop()
    cpu = background[0]
    perturbed = background[1] if len(background) > 1 else None
    out = {"papers": {}, "runs": {job.label: job.summary() for job in jobs}, "checks": []}
    for paper in papers:
        try:
            result = compare_paper(paper, dev, cpu, perturbed)
        except Exception as error:
            result = {"ok": False, "error": "".join(traceback.format_exception(error))}
        out["papers"][paper] = result
        out["checks"].append(_check(f"{paper}: trajectories and claims match", result["ok"]))
    for job in jobs:
        if job.timed_out:
            out["checks"].append(_check(f"{job.label} finished in time", False, wall_s=job.wall_s))
    return out


# ----------------------------------------------------------------------------------- report


def write_report(out_dir: Path, report: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_plain(report), indent=2, allow_nan=False) + "\n"
    (out_dir / "gpu_check.json.tmp").write_text(text)
    os.replace(out_dir / "gpu_check.json.tmp", out_dir / "gpu_check.json")
    (out_dir / "gpu_check.md").write_text(markdown(report))


def _fmt(value, spec: str = ".3g") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, float):
        return format(value, spec) if math.isfinite(value) else str(value)
    return str(value)


def markdown(report: dict) -> str:
    info = report["device"]
    lines = [f"# GPU check: {info.get('name')}", "",
             f"- command: `{report['command']}`",
             f"- started: {report['started']}, wall {_fmt(report.get('wall_s'), '.0f')} s",
             f"- torch {info.get('torch')}, CUDA {info.get('cuda', '-')}, "
             f"{info.get('cpu_count')} CPU cores ({info.get('cpu')})",
             f"- peak memory bandwidth used: {_fmt(info.get('peak_bandwidth_gbs'), '.0f')} GB/s "
             f"({info.get('peak_entry') or 'not in the table: fraction not computed'})",
             f"- dry run (smallest sizes): {_fmt(report['dry'])}", "",
             "| part | status | wall (s) | checks ok |", "|---|---|---:|---:|"]
    parts = report["parts"]
    for name, part in parts.items():
        checks = part.get("result", {}).get("checks", []) if isinstance(part.get("result"), dict) else []
        lines.append(f"| {name} | {part['status']} | {_fmt(part.get('wall_s'), '.1f')} | "
                     f"{sum(c['ok'] for c in checks)}/{len(checks)} |")
    for name, part in parts.items():
        lines += ["", f"## {name}", ""]
        result = part.get("result")
        if part.get("error"):
            lines += ["```", part["error"].strip()[-2000:], "```"]
        if not isinstance(result, dict):
            continue
        lines += globals()[f"_md_{name}"](result)
    return "\n".join(lines) + "\n"


def _md_streams(result: dict) -> list[str]:
    lines = ["| check | ok | detail |", "|---|---|---|"]
    for c in result["checks"]:
        detail = ", ".join(f"{k} {_fmt(v)}" for k, v in c.items() if k not in ("name", "ok"))
        lines.append(f"| {c['name']} | {_fmt(c['ok'])} | {detail} |")
    return lines


def _md_benchmarks(result: dict) -> list[str]:
    lines = ["| command | per-run loop (run-steps/s) | batched (run-steps/s) | ratio | target |",
             "|---|---:|---:|---:|---:|"]
    for name in ("heavy_tail", "quadratic_chaos"):
        r = result.get(name)
        if r:
            lines.append(f"| `{r['command']}` | {r['loop_run_steps_per_s']:,.0f} | "
                         f"{r['batched_run_steps_per_s']:,.0f} | **{r['speedup']:.1f}x** | "
                         f"{_fmt(r['target'], '.0f')} |")
    return lines


def _md_bandwidth(result: dict) -> list[str]:
    lines = [f"Kernel: {result['kernel']}. Bytes: {result['bytes']}. "
             f"Peak: {_fmt(result['peak_bandwidth_gbs'], '.0f')} GB/s ({result['peak_entry'] or 'unknown card'}).", "",
             "| chains | runs | bytes/run-step | ops/step | time/step (ms) | achieved (GB/s) | of peak "
             "| fused-equivalent (GB/s) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        if "achieved_gbs" not in r:
            lines.append(f"| {r['chains']} | error | | | | | | |")
            continue
        frac = f"{100 * r['fraction_of_peak']:.1f} %" if r["fraction_of_peak"] is not None else "-"
        lines.append(f"| {r['chains']:,} | {r['runs']:,} | {r['bytes_per_run_step']:,.0f} | {r['ops_per_step']:,} | "
                     f"{1e3 * r['time_per_step_s']:.3f} | {r['achieved_gbs']:,.1f} | {frac} | "
                     f"{r['fused_equivalent_gbs']:,.2f} |")
    return lines


def _md_slices(result: dict) -> list[str]:
    lines = ["| paper | slice | seconds | full paper scale (run-steps) | extrapolated full | how |",
             "|---|---|---:|---:|---:|---|"]
    for paper, r in result.items():
        if paper == "checks":
            continue
        if "error" in r:
            lines.append(f"| {paper} | {r['experiment']} | error | | | |")
            continue
        lines.append(f"| {paper} | {r['slice']} | {' / '.join(f'{s:.1f}' for s in r['seconds'])} | "
                     f"{r['run_steps_full']:,} | {r['full_s']:,.0f} s ({r['full_h']:.2f} h) | {r['method']} |")
    return lines


def _md_tiny(result: dict) -> list[str]:
    lines = ["| paper | experiments ok | variables ok | max rel. error | rounding-sensitive runs (CPU) "
             "| claims: same verdicts | flips | ok |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for paper, r in result["papers"].items():
        exps = r.get("experiments", {})
        n_ok = sum(e.get("ok", False) for e in exps.values())
        variables = [s for e in exps.values() for s in [e.get("summary", {})]]
        v_ok, v_all = sum(s.get("variables_ok", 0) for s in variables), sum(s.get("variables", 0) for s in variables)
        max_err = max([s.get("max_error", 0.0) for s in variables] or [0.0])
        sensitive = sum(s.get("rounding_sensitive_runs", 0) for s in variables)
        sens = f"{sensitive}/{sum(s.get('grid_runs', 0) for s in variables)}"
        claims = r.get("claims", {})
        lines.append(f"| {paper} | {n_ok}/{len(exps)} | {v_ok}/{v_all} | {_fmt(max_err)} | {sens} | "
                     f"{claims.get('same_verdicts', '-')}/{claims.get('claims', '-')} | "
                     f"{', '.join(claims.get('verdict_flips', [])) or '-'} | {_fmt(r.get('ok'))} |")
    lines += ["", "| run | device | what | wall (s) | exit | timed out |", "|---|---|---|---:|---:|---|"]
    for d in result["runs"].values():
        lines.append(f"| {d['label']} | {d['device']} | {d['what']} | {_fmt(d['wall_s'], '.0f')} | "
                     f"{d['returncode']} | {_fmt(d['timed_out'])} |")
    return lines


# ----------------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="the device checked against the CPU")
    parser.add_argument("--out", type=Path, help="directory for gpu_check.json and gpu_check.md (required)")
    parser.add_argument("--dry", action="store_true", help="every part at the smallest sizes (minutes on a CPU)")
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock budget (default: 480, dry 300)")
    parser.add_argument("--only", default=None, help=f"comma-separated parts to run ({','.join(PARTS)})")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out")
    parser.add_argument("--tiny-papers", default=None,
                        help="comma-separated papers of the tiny DAG (default: all; dry: autoencoder_batch)")
    parser.add_argument("--no-perturbed", action="store_true",
                        help="no perturbed CPU run (then every run is checked strictly pointwise)")
    parser.add_argument("--perturbed-worker", metavar="PAPER", help=argparse.SUPPRESS)  # internal: one worker
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch directory of the tiny DAGs (default: a temporary directory, removed)")
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if args.out is None and not args.perturbed_worker:
        parser.error("--out DIR is required")
    wanted = args.only.split(",") if args.only else list(PARTS)
    unknown = [p for p in wanted + [s for s in args.skip.split(",") if s] if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}: choose from {', '.join(PARTS)}")
    args.parts = [p for p in PARTS if p in wanted and p not in args.skip.split(",")]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.perturbed_worker:
        return perturbed_worker(args.perturbed_worker, args.work)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine (use --device cpu --dry to exercise the script)",
              file=sys.stderr)
        return 2
    numerics.deterministic(device)  # as every training job does, before any CUDA work
    sizes = copy.deepcopy(SIZES["dry" if args.dry else "full"])
    if args.tiny_papers:
        sizes["tiny"]["papers"] = [p for p in args.tiny_papers.split(",") if p]
    budget = args.budget_s or sizes["budget_s"]
    t0 = time.perf_counter()
    deadline = t0 + budget
    torch.set_num_threads(1)
    info = device_info(device)
    print(f"gpu_check: device {info['name']}; peak memory bandwidth used: "
          f"{_fmt(info['peak_bandwidth_gbs'], '.0f')} GB/s ({info['peak_entry'] or 'card not in the table'})",
          flush=True)
    command = " ".join(["python", "benchmarks/gpu_check.py", *(sys.argv[1:] if argv is None else argv)])
    report = {"script": "benchmarks/gpu_check.py", "command": command,
              "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "dry": args.dry,
              "budget_s": budget, "device": info, "sizes": sizes,
              "tolerances": {"rtol": RTOL, "sensitivity_factor": SENSITIVITY_FACTOR, "normal_max_ulps": NORMAL_MAX_ULPS,
                             "claim_rtol": CLAIM_RTOL, "claim_ci_fraction": CLAIM_CI_FRACTION,
                             "distributions": DISTRIBUTIONS},
              "parts": {}}
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    background, device_dag = [], None
    if "tiny" in args.parts:  # the CPU references train while the device parts run
        try:
            background = start_cpu_runs(work, sizes["tiny"]["papers"], perturbed=not args.no_perturbed)
            if device.type == "cpu":  # nothing to disturb: the "device" DAG starts too
                device_dag = start_device_dag(device, work, sizes["tiny"])
        except Exception:
            report["parts"]["tiny"] = {"status": "error", "error": traceback.format_exc()}
    reference = torch.device("cpu")
    actions = {
        "streams": lambda: check_streams(device, reference, sizes["streams"]),
        "benchmarks": lambda: run_benchmarks(device, sizes["benchmarks"]),
        "bandwidth": lambda: measure_bandwidth(device, sizes["bandwidth"], info),
        "slices": lambda: time_slices(device, sizes["slices"]),
    }
    interrupted = False
    try:
        for name in args.parts:
            if name in report["parts"]:
                continue
            reserve = sizes["tiny"]["min_s"] if "tiny" in args.parts and name != "tiny" else 0
            share = min(sizes[name]["cap_s"], deadline - time.perf_counter() - reserve)
            part = {"status": None}
            start = time.perf_counter()
            print(f"\n=== {name} (up to {share:.0f} s)", flush=True)
            try:
                if share < 5:
                    part["status"] = "skipped"
                    part["error"] = f"no budget left ({budget:.0f} s in all)"
                elif name == "tiny":
                    part["result"] = run_tiny(device, sizes["tiny"], work, background, start + share, device_dag)
                else:
                    with _alarm(share):
                        part["result"] = actions[name]()
            except BaseException as error:  # fail soft: record and go on (after Ctrl-C: record and stop)
                part["status"] = "error"
                part["error"] = "".join(traceback.format_exception(error))
                print(part["error"], file=sys.stderr, flush=True)
                interrupted = isinstance(error, KeyboardInterrupt)
                if device.type == "cuda":
                    with contextlib.suppress(Exception):
                        torch.cuda.empty_cache()
            part["wall_s"] = time.perf_counter() - start
            if part["status"] is None:
                checks = part["result"].get("checks", [])
                part["status"] = "ok" if all(c["ok"] for c in checks) else "failed"
            print(f"=== {name}: {part['status']} ({part['wall_s']:.1f} s)", flush=True)
            report["parts"][name] = part
            report["wall_s"] = time.perf_counter() - t0
            write_report(args.out, report)
            if interrupted:
                break
    finally:
        for job in _jobs([*background, device_dag]):
            job.stop()
        if not args.keep_work and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    report["wall_s"] = time.perf_counter() - t0
    report["failed"] = [name for name, part in report["parts"].items() if part["status"] != "ok"]
    write_report(args.out, report)
    print(f"\ngpu_check: {len(report['parts']) - len(report['failed'])}/{len(report['parts'])} parts ok "
          f"in {report['wall_s']:.0f} s; {args.out / 'gpu_check.json'}, {args.out / 'gpu_check.md'}", flush=True)
    for name in report["failed"]:
        print(f"gpu_check: part {name}: {report['parts'][name]['status']}", file=sys.stderr)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
