"""Every claim of large_step_sparse fails when the paper's effect is absent or reversed.

The inputs are small synthetic Datasets with the structure of the stored ones (dims, coordinates,
variables, attributes), built so that every effect of the paper holds with seed-to-seed noise
(``base_*``: the test below shows every claim passes on them). Each falsifier changes one thing:
the large- and small-step runs swapped, the decay times swapped, a beta with the wrong support, a
curve that does not fall, a loss that does not stabilize, ...; the claims it targets must then fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from conftest import assert_falsified

from sgdrepro.large_step_sparse import claims as lss
from sgdrepro.large_step_sparse.measures import support_overlap

N_SEEDS = 8
SEEDS = np.arange(N_SEEDS)


def _noise(shape, scale=0.1, seed=0):
    """Multiplicative seed-to-seed noise exp(N(0, scale^2)), fixed draw."""
    return np.exp(scale * np.random.default_rng(seed).standard_normal(shape))


# ---------------------------------------------------------------- synthetic stored data

D, R, N_STEPS = 200, 20, 1000
STEPS = np.linspace(0, N_STEPS, 21).astype(int)
LRS, DECAYS = [0.15, 0.22, 0.24], [1.0, 0.1, 0.3, 0.5]


def _diagonal_run(lr: float, decay_at: float, seed: int) -> dict:
    """One run's records: a small step converges dense; a large one stabilizes its loss at a level
    growing with lr, thins out off-support coordinates while it lasts, and ends with the authors'
    setting-A sparsity and test loss when decayed."""
    t = STEPS / N_STEPS
    jitter = _noise((), seed=seed + int(1000 * lr) + int(100 * decay_at))
    if lr == LRS[0]:
        train, test, nnz, overlap = 1e-1 * 1e-11 ** t, 3.5e-3, D, 0.75
    else:
        level = {LRS[1]: 1e-4, LRS[2]: 1e-3}[lr]
        phase = t < decay_at
        train = np.where(phase, level, level * 1e-3)
        test = {1.0: 3e-3, 0.1: 6.6e-4, 0.3: 2.8e-4, 0.5: 1.5e-4}[decay_at]
        nnz = {1.0: 190, 0.1: 156, 0.3: 89, 0.5: 71}[decay_at]
        overlap = 1.0
    full = np.ones_like(t, dtype=float)
    return {"train_loss": train * full * jitter, "test_loss": test * full * jitter,
            "nnz": np.round(nnz + 3 * (jitter - 1) * 10) * full, "support_overlap": overlap * full}


def base_diagonal() -> tuple[xr.Dataset, xr.Dataset]:
    """(SGD, GD) datasets of diagonal nets where every effect of the paper holds."""
    names = ("train_loss", "test_loss", "nnz", "support_overlap")
    shape = (len(LRS), len(DECAYS), N_SEEDS, STEPS.size)
    arrays = {name: np.empty(shape) for name in names}
    for i, lr in enumerate(LRS):
        for j, L in enumerate(DECAYS):
            for s in SEEDS:
                for name, values in _diagonal_run(lr, L, int(s)).items():
                    arrays[name][i, j, s] = values
    dims = ("lr", "decay_at", "seed", "step")
    beta_star = np.zeros((N_SEEDS, D))
    beta_star[:, :R] = 1 / np.sqrt(R)
    sgd = xr.Dataset({name: (dims, a) for name, a in arrays.items()} | {"beta_star": (("seed", "feature"), beta_star)},
                     coords={"lr": LRS, "decay_at": DECAYS, "seed": SEEDS, "step": STEPS, "feature": np.arange(D)},
                     attrs={"n": 80, "d": D, "n_steps": N_STEPS, "nnz_threshold": 1e-8, "batch_size": 1})
    gd_test = 1e-1 * _noise((2, 1, N_SEEDS, STEPS.size), seed=7)
    gd = xr.Dataset({"test_loss": (dims, gd_test)},
                    coords={"lr": [1.0, 2.0], "decay_at": [1.0], "seed": SEEDS, "step": STEPS})
    return sgd, gd


def _swap(ds: xr.Dataset, var: str, a: dict, b: dict) -> xr.Dataset:
    """``ds`` with the values of ``var`` at selections ``a`` and ``b`` exchanged (a swapped control)."""
    out = ds.copy(deep=True)
    va, vb = ds[var].loc[a].values.copy(), ds[var].loc[b].values.copy()
    out[var].loc[a] = vb
    out[var].loc[b] = va
    return out


def _reverse_coord(ds: xr.Dataset, dim: str, values) -> xr.Dataset:
    """``ds`` with the labels ``values`` of ``dim`` reversed among themselves (e.g. decay times swapped)."""
    values = list(values)
    mapping = dict(zip(values, values[::-1]))
    return ds.assign_coords({dim: [mapping.get(float(v), float(v)) for v in ds[dim].values]}).sortby(dim)


def _wrong_support(sgd: xr.Dataset) -> xr.Dataset:
    """The large-step runs end with a beta supported on r coordinates outside supp(beta*)."""
    out = sgd.copy(deep=True)
    beta = torch.zeros(N_SEEDS, D, dtype=torch.float64)
    beta[:, R:2 * R] = 1.0
    overlap = support_overlap(beta, torch.as_tensor(sgd["beta_star"].values)).numpy()  # 0 for every seed
    for lr in LRS[1:]:
        out["support_overlap"].loc[{"lr": lr}] = overlap[None, :, None]
    return out


def diagonal(modify=None, gd_modify=None):
    sgd, gd = base_diagonal()
    return lss.diagonal_claims(modify(sgd) if modify else sgd, gd_modify(gd) if gd_modify else gd)


def _set(ds, var, sel, value):
    out = ds.copy(deep=True)
    out[var].loc[sel] = value
    return out


LARGE, SMALL = {"lr": LRS[-1]}, {"lr": LRS[0]}
LONG_SMALL = ({"lr": LRS[-1], "decay_at": 0.5}, {"lr": LRS[0], "decay_at": 1.0})
FAST = {"decay_at": [0.1, 0.3, 0.5]}


def base_relu_ts() -> xr.Dataset:
    lrs, decays = [0.13, 0.3], [1.0, 0.1, 0.3, 0.5]
    t = STEPS / N_STEPS
    fs = np.empty((2, 4, N_SEEDS, STEPS.size))
    test = np.empty_like(fs)
    for i in range(len(lrs)):
        for j, L in enumerate(decays):
            noise = _noise((N_SEEDS, 1), 0.05, seed=10 * i + j)
            if i == 0:
                fs[i, j] = 0.40 * noise * np.ones_like(t)
                test[i, j] = 6.1e-4 * noise * np.ones_like(t)
            else:
                fs[i, j] = (0.40 - 0.15 * np.minimum(t, L) / max(L, 1e-9) * (L < 1)) * noise
                test[i, j] = (5.4e-5 if L < 1 else 1e-3) * noise * np.ones_like(t)
    dims = ("lr", "decay_at", "seed", "step")
    return xr.Dataset({"feature_sparsity_dedup": (dims, fs), "test_loss": (dims, test)},
                      coords={"lr": lrs, "decay_at": decays, "seed": SEEDS, "step": STEPS}, attrs={"n_steps": N_STEPS})


def base_relu_1d() -> xr.Dataset:
    decays = [0.02, 0.5]
    t = STEPS / N_STEPS
    train = np.empty((1, 2, N_SEEDS, STEPS.size))
    active = np.empty_like(train)
    for j, L in enumerate(decays):
        noise = _noise((N_SEEDS, 1), 0.05, seed=20 + j)
        train[0, j] = np.where(t <= L, 1e-1, 1e-4) * noise
        active[0, j] = {0.02: 0.4867, 0.5: 0.2667}[L] * noise * np.ones_like(t)
    dims = ("lr", "decay_at", "seed", "step")
    return xr.Dataset({"train_loss": (dims, train), "feature_sparsity": (dims, active)},
                      coords={"lr": [2e-4], "decay_at": decays, "seed": SEEDS, "step": STEPS}, attrs={"n_steps": N_STEPS})


PHASES = [0.0, 0.1, 0.3, 0.5]


def base_relu3() -> xr.Dataset:
    t = STEPS / N_STEPS
    shape = (len(PHASES), N_SEEDS, STEPS.size)
    train, test, rank = np.empty(shape), np.empty(shape), np.empty(shape)
    fs = np.empty(shape + (2,))
    for j, L in enumerate(PHASES):
        noise = _noise((N_SEEDS, 1), 0.05, seed=30 + j)
        phase = (t < L)
        train[j] = np.where(phase, 1e-2, 1e-3) * noise if L else 1e-3 * noise * np.ones_like(t)
        test[j] = (0.06 if L == 0 else 0.06 / (1 + 10 * L)) * noise * np.ones_like(t)
        fall = np.minimum(t, L) / L if L else 0 * t
        rank[j] = np.round(158 - (0 if L == 0 else 60 * L) * fall) * np.ones((N_SEEDS, 1))
        for layer in range(2):
            fs[j, :, :, layer] = (0.5 - 0.4 * L * fall) * noise
    dims = ("large_phase", "seed", "step")
    return xr.Dataset({"train_loss": (dims, train), "test_loss": (dims, test), "grad_rank": (dims, rank),
                       "feature_sparsity_dedup": (dims + ("layer",), fs)},
                      coords={"large_phase": PHASES, "seed": SEEDS, "step": STEPS, "layer": [1, 2],
                              "lr": ("large_phase", [0.011, 0.04, 0.04, 0.04])},
                      attrs={"n_steps": N_STEPS, "rank_points": 181, "rank_threshold": 1e-4})


EPOCHS = 10


def base_deep() -> xr.Dataset:
    epoch = np.arange(EPOCHS + 1)
    shape = (len(PHASES), N_SEEDS, EPOCHS + 1)
    error, fs = np.empty(shape), np.empty(shape + (2,))
    for j, L in enumerate(PHASES):
        noise = _noise((N_SEEDS, 1), 0.05, seed=40 + j)
        fall = np.minimum(epoch / EPOCHS, L) / L if L else 0 * epoch
        error[j] = (0.14 - 0.15 * L) * noise * np.ones_like(epoch)
        for stage in range(2):
            fs[j, :, :, stage] = (0.5 - 0.6 * L * fall) * noise
    dims = ("large_phase", "seed", "epoch")
    return xr.Dataset({"test_error": (dims, error), "feature_sparsity": (dims + ("stage",), fs)},
                      coords={"large_phase": PHASES, "seed": SEEDS, "epoch": epoch, "stage": [1, 2]},
                      attrs={"epochs": EPOCHS, "dataset": "digits"})


def deep(modify=None):
    ds = modify(base_deep()) if modify else base_deep()
    return (lss.deep_claims(ds) + lss.deep_claims(ds, "deep_sota", "ResNets, SOTA")
            + lss.deep_claims(ds, "deep_densenet", "DenseNets", unit="dense block"))


def _flat(ds, var, sel, dim):
    """The curve of ``var`` at ``sel`` held at its first value: it does not fall."""
    out = ds.copy(deep=True)
    first = ds[var].loc[sel].isel({dim: 0})
    out[var].loc[sel] = first.broadcast_like(ds[var].loc[sel])
    return out


LONGEST_SMALL = ({"large_phase": 0.5}, {"large_phase": 0.0})
POSITIVE_PHASES = [0.1, 0.3, 0.5]

FALSIFIERS = {
    # diagonal nets
    r"diagonal_loss_stabilization": lambda: diagonal(
        lambda ds: _set(ds, "train_loss", {"lr": LRS[-1], "decay_at": 1.0}, ds["train_loss"].loc[{"lr": LRS[0], "decay_at": 1.0}])),
    r"diagonal_plateau_grows_with_lr": lambda: diagonal(
        lambda ds: _swap(ds, "train_loss", {"lr": LRS[-1], "decay_at": 1.0}, {"lr": LRS[-2], "decay_at": 1.0})),
    r"diagonal_sparser_with_longer_phase_at\d+_vs_at\d+": lambda: diagonal(
        lambda ds: _reverse_coord(ds, "decay_at", [0.1, 0.3, 0.5])),
    r"diagonal_test_lower_with_longer_phase": lambda: diagonal(
        lambda ds: _reverse_coord(ds, "decay_at", [0.1, 0.3, 0.5])),
    r"diagonal_sparser_than_small_step": lambda: diagonal(lambda ds: _set(ds, "nnz", LARGE, float(D))),
    r"diagonal_test_lower_after_decay": lambda: diagonal(lambda ds: _swap(ds, "test_loss", *LONG_SMALL)),
    r"diagonal_support_recovered": lambda: diagonal(_wrong_support),
    # both runs recover the support: a tie, which must not pass
    r"diagonal_support_better_than_small_step": lambda: diagonal(lambda ds: _set(ds, "support_overlap", SMALL, 1.0)),
    r"diagonal_sgd_beats_gd": lambda: diagonal(gd_modify=lambda gd: gd * 1e-3),
    # the large-step runs stay dense and end at the small step's test loss
    r"diagonal_nnz_fraction_paper_at\d+": lambda: diagonal(lambda ds: _set(ds, "nnz", LARGE, float(D))),
    r"diagonal_test_loss_paper_at\d+": lambda: diagonal(lambda ds: _set(ds, "test_loss", LARGE, 1e-1)),
    # two-layer ReLU teacher-student
    r"relu_ts_sparsity_falls_during_large_phase": lambda: lss.relu_teacher_student_claims(
        _flat(base_relu_ts(), "feature_sparsity_dedup", {"lr": 0.3}, "step")),
    r"relu_ts_sparser_than_small_step": lambda: lss.relu_teacher_student_claims(
        _swap(base_relu_ts(), "feature_sparsity_dedup", {"lr": 0.3, "decay_at": 0.5}, {"lr": 0.13, "decay_at": 1.0})),
    r"relu_ts_test_lower_after_decay": lambda: lss.relu_teacher_student_claims(
        _swap(base_relu_ts(), "test_loss", {"lr": 0.3, "decay_at": 0.5}, {"lr": 0.13, "decay_at": 1.0})),
    # 1-D regression: the decay does not bring the loss down; the phases swapped; no sparsification
    r"relu_1d_loss_stabilization": lambda: lss.relu_1d_claims(_flat(base_relu_1d(), "train_loss", {"decay_at": 0.5}, "step")),
    r"relu_1d_sparser_with_longer_phase": lambda: lss.relu_1d_claims(_reverse_coord(base_relu_1d(), "decay_at", [0.02, 0.5])),
    r"relu_1d_active_fraction_ratio_paper": lambda: lss.relu_1d_claims(
        _set(base_relu_1d(), "feature_sparsity", {"decay_at": 0.5}, base_relu_1d()["feature_sparsity"].loc[{"decay_at": 0.02}])),
    # three-layer ReLU
    r"relu3_loss_stabilization": lambda: lss.relu_three_layer_claims(
        _set(base_relu3(), "train_loss", {"large_phase": 0.5}, base_relu3()["train_loss"].loc[{"large_phase": 0.3}])),
    r"relu3_sparser_than_small_step_layer\d+": lambda: lss.relu_three_layer_claims(
        _swap(base_relu3(), "feature_sparsity_dedup", *LONGEST_SMALL)),
    r"relu3_sparsity_falls_during_large_phase": lambda: lss.relu_three_layer_claims(
        _flat(base_relu3(), "feature_sparsity_dedup", {"large_phase": 0.5}, "step")),
    r"relu3_test_lower_after_decay": lambda: lss.relu_three_layer_claims(_swap(base_relu3(), "test_loss", *LONGEST_SMALL)),
    r"relu3_grad_rank_falls_during_large_phase": lambda: lss.relu_three_layer_claims(
        _flat(base_relu3(), "grad_rank", {"large_phase": 0.5}, "step")),
    r"relu3_grad_rank_lower_than_small_step": lambda: lss.relu_three_layer_claims(_swap(base_relu3(), "grad_rank", *LONGEST_SMALL)),
    # deep nets (ResNets, SOTA setting, DenseNets: one measurement)
    lss._DEEP + r"_sparser_with_longer_phase": lambda: deep(lambda ds: _reverse_coord(ds, "large_phase", POSITIVE_PHASES)),
    lss._DEEP + r"_test_error_lower_with_longer_phase": lambda: deep(
        lambda ds: _reverse_coord(ds, "large_phase", POSITIVE_PHASES)),
    lss._DEEP + r"_sparser_than_small_step": lambda: deep(lambda ds: _swap(ds, "feature_sparsity", *LONGEST_SMALL)),
    lss._DEEP + r"_test_error_lower": lambda: deep(lambda ds: _swap(ds, "test_error", *LONGEST_SMALL)),
    lss._DEEP + r"_sparsity_falls_during_large_phase": lambda: deep(
        lambda ds: _flat(ds, "feature_sparsity", {"large_phase": 0.5}, "epoch")),
}

BASE = {
    "diagonal": diagonal,
    "relu_ts": lambda: lss.relu_teacher_student_claims(base_relu_ts()),
    "relu_1d": lambda: lss.relu_1d_claims(base_relu_1d()),
    "relu3": lambda: lss.relu_three_layer_claims(base_relu3()),
    "deep": deep,
}


@pytest.mark.parametrize("family", sorted(BASE))
def test_every_claim_passes_on_the_unmodified_input(family):
    """The falsifiers' common input shows every effect: each falsifier is a real contrast."""
    claims = BASE[family]()
    failing = [(c.id, c.measured, c.ci) for c in claims if c.passed is not True]
    assert claims and not failing, failing


@pytest.mark.parametrize("pattern", sorted(FALSIFIERS))
def test_claim_fails_without_the_effect(pattern):
    assert_falsified(FALSIFIERS[pattern](), pattern)


def test_every_pattern_is_emitted_on_the_synthetic_inputs():
    """The synthetic inputs exercise every claim id the module can emit."""
    import re

    ids = [c.id for make in BASE.values() for c in make()]
    assert all(any(re.fullmatch(p, i) for i in ids) for p in lss.CLAIM_IDS)
    assert all(sum(bool(re.fullmatch(p, i)) for p in lss.CLAIM_IDS) == 1 for i in ids)


def test_too_few_seeds_is_not_assessable():
    """Five seeds admit no distribution-free interval for a median: the claim is neither passed nor failed."""
    sgd, gd = base_diagonal()
    claims = lss.diagonal_claims(sgd.isel(seed=slice(0, 5)), gd.isel(seed=slice(0, 5)))
    assert all(c.passed is None and "at least 6" in c.reason for c in claims)


def test_a_diverged_run_counts_against_the_claim():
    sgd, gd = base_diagonal()
    sgd = _set(sgd, "test_loss", {"lr": LRS[-1], "decay_at": 0.5, "seed": 3}, np.nan)
    claim = next(c for c in lss.diagonal_claims(sgd, gd) if c.id == "diagonal_test_lower_after_decay")
    assert claim.passed is False and "not finite" in claim.reason
