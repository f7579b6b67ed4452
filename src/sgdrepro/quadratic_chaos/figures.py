"""Figures. The paper's figure numbers could not be established (its text was not reachable),
so every figure is named for what it shows and each caption says so."""

from __future__ import annotations

import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from sgdrepro.core import new_figure

from . import theory
from .measures import classify_dataset

__all__ = ["plot_loss_curves_orthogonal", "plot_bifurcation", "plot_loss_curves_gaussian",
           "plot_phase_map_gaussian", "plot_generalization"]

_NAMING = "Named descriptively: the paper's figure number could not be established."
_MODEL_LABEL = {"phase_retrieval": "phase retrieval", "two_layer": "two-layer net"}


def _phase_colors():
    return dict(zip(theory.PHASES, sns.color_palette("colorblind", 5)))


def _loss_grid(ds: xr.Dataset, title: str):
    phases = classify_dataset(ds)
    models, a_values = list(ds["model"].values), ds["a"].values
    fig, axes = new_figure(len(a_values), len(models), width=2.0 * len(a_values), height=1.8 * len(models))
    colors = _phase_colors()
    for i, name in enumerate(models):
        for j, a in enumerate(a_values):
            ax = axes[i][j]
            run = ds.sel(model=name, a=a).isel(seed=0)
            loss = run["loss"].values / run["loss"].values[0]
            phase = theory.PHASES[int(phases["phase"].sel(model=name, a=a).isel(seed=0))]
            with np.errstate(invalid="ignore"):  # a diverging run's last loss may overflow to inf: not drawable
                ax.semilogy(run["step"].values, np.where((loss > 0) & np.isfinite(loss), loss, np.nan),
                            color=colors[phase], lw=0.8)
            div = int(run["diverged_step"])
            if div >= 0:
                ax.axvline(div, color="k", ls=":", lw=0.8)
                ax.text(0.05, 0.9, f"diverged at step {div}", transform=ax.transAxes, fontsize=6, va="top")
                ax.set_xlim(0, div + 1)
            else:
                ax.set_xlim(0, int(run["step"].values[-1]))
            ax.set_title(f"{_MODEL_LABEL.get(name, name)}, a = {a:g}\nmeasured: {phase}", fontsize=7)
            if i == len(models) - 1:
                ax.set_xlabel("iteration")
            if j == 0:
                ax.set_ylabel("training loss / initial loss")
    fig.suptitle(title, fontsize=9)
    return fig


def _choices(ds):
    return (f"d = {ds.attrs.get('d', '?')}, n = {ds.attrs.get('n', '?')}, two-layer width m = {ds.attrs['width']}, "
            f"initial weights N(0, {ds.attrs.get('init_scale', '?')}^2)")


def plot_loss_curves_orthogonal(data: dict, cfg: dict):
    ds = data["orthogonal"]
    fig = _loss_grid(ds, "GD on orthonormal data: one step size per phase")
    caption = (
        "Training loss (relative to its initial value, log scale) of full-batch GD on orthonormal data, one "
        "normalised step a = eta lambda_max/2 per phase (for equal targets y and width m, a = eta y / m is the "
        "cubic map's parameter); top: phase retrieval, bottom: two-layer network with quadratic activation and "
        "fixed outer layer 1/m. Titles give the phase measured by the trajectory classifier. Our choices: "
        f"all targets equal to {cfg['orthogonal'].get('target', 1.0)}, {_choices(ds)}. {_NAMING}"
    )
    return fig, caption


def plot_loss_curves_gaussian(data: dict, cfg: dict):
    ds = data["gaussian_losses"]
    fig = _loss_grid(ds, "GD on Gaussian data: the same five phases")
    c = cfg["gaussian_losses"]
    caption = (
        "Training loss (relative to its initial value, log scale) of full-batch GD on Gaussian inputs "
        "x ~ N(0, I/d) with targets of a random teacher (the paper's label model), one normalised step "
        "a = eta lambda_max/2 (lambda_max: top Hessian eigenvalue at the teacher) per phase; top: phase "
        "retrieval, bottom: two-layer network. Titles give the measured phase. Our choices: teacher width "
        f"{c.get('teacher_width', 1)}, noise {c.get('noise', 0.0)}, {_choices(ds)}. {_NAMING}"
    )
    return fig, caption


def plot_bifurcation(data: dict, cfg: dict):
    ds = data["bifurcation"].isel(seed=0)
    phases = classify_dataset(data["bifurcation"]).isel(seed=0)
    fig, axes = new_figure(1, 2, width=6.8, height=4.6, sharex=True)
    top, bottom = axes[0][0], axes[1][0]
    late = ds["step"].values >= int(ds.attrs["late_start"])
    v = ds["v"].values[:, late]
    a = np.repeat(ds["a"].values[:, None], v.shape[1], axis=1)
    keep = np.isfinite(v)
    top.scatter(a[keep], v[keep], s=0.05, color="k", alpha=0.5, linewidths=0, rasterized=True)
    top.set_ylabel("late iterates v = (w . x_1) / sqrt(y)")
    top.set_ylim(-2.0, 2.0)
    colors = _phase_colors()
    codes = phases["phase"].values
    a_all = ds["a"].values
    for k, name in enumerate(theory.PHASES):
        sel = codes == k
        if sel.any():
            bottom.scatter(a_all[sel], np.clip(phases["lyapunov"].values[sel], -1.5, 1.5), s=1.5,
                           color=colors[name], label=f"measured {name}", linewidths=0)
    lam_map = theory.lyapunov_map(a_all, n_transient=1000, n_average=4000)
    with np.errstate(invalid="ignore"):
        bottom.plot(a_all, np.clip(np.where(np.isfinite(lam_map), lam_map, np.nan), -1.5, 1.5),
                    color="0.4", lw=0.5, label="cubic map (theory)")
    bottom.axhline(0.0, color="k", lw=0.6)
    bottom.set_ylabel("Lyapunov exponent (nats/step)")
    bottom.set_xlabel("normalised step a = eta y")
    bottom.set_ylim(-1.6, 1.6)
    bottom.legend(loc="upper left", fontsize=6, markerscale=4, ncol=2)
    bottom.set_xlim(a_all[0] - 0.02, a_all[-1] + 0.02)
    for ax in (top, bottom):
        for value in theory.BOUNDARIES.values():
            ax.axvline(value, color="C3", ls="--", lw=0.7)
        ax.axvline(theory.A_PERIOD4, color="C3", ls=":", lw=0.6)
        ax.axvline(theory.A_MERGE, color="C3", ls=":", lw=0.6)
    edges = [a_all[0], *theory.BOUNDARIES.values(), a_all[-1]]
    for name, lo, hi in zip(theory.PHASES, edges[:-1], edges[1:]):
        if hi > lo:
            top.text(0.5 * (lo + hi), 2.05, name, ha="center", va="bottom", fontsize=7, color=colors[name],
                     rotation=0 if hi - lo > 0.15 else 30)
    caption = (
        "Bifurcation diagram of GD for phase retrieval on orthonormal data (equal targets y, so every data "
        "direction follows the cubic map v -> (1 + a) v - a v^3 with a = eta y). Top: the iterates of the last "
        f"{int(late.sum())} of {int(ds.attrs['n_steps'])} steps against a, all step sizes started from the same "
        "initial point. Bottom: top Lyapunov exponent of the GD trajectory (tangent-vector method over the late "
        "window), coloured by the measured phase, and the cubic map's exponent (grey). Dashed: theoretical "
        "boundaries a = 1/2 (monotonic|catapult), 1 (period doubling), a_inf = 1.3023 (Feigenbaum "
        "accumulation) and 2 (divergence, r = 3); dotted: a = sqrt5 - 1 (period 4) and 3 sqrt3/2 - 1 (the "
        f"v > 0 and v < 0 chaotic bands merge). Grid: {len(a_all)} step sizes. {_NAMING}"
    )
    return fig, caption


def plot_phase_map_gaussian(data: dict, cfg: dict):
    ds = data["gaussian_phase_map"]
    phases = classify_dataset(ds).isel(seed=0)["phase"].transpose("n", "a")
    fig, axes = new_figure(1, 1, width=5.0, height=2.6)
    ax = axes[0][0]
    colors = _phase_colors()
    cmap = ListedColormap([colors[p] for p in theory.PHASES])
    norm = BoundaryNorm(np.arange(-0.5, 5.5), cmap.N)
    a, n = ds["a"].values, ds["n"].values
    ax.pcolormesh(a, np.arange(len(n)), phases.values, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
    ax.set_yticks(np.arange(len(n)), [str(int(v)) for v in n])
    ax.set_ylabel("sample size n")
    ax.set_xlabel("normalised step a = eta lambda_max / 2")
    ax.grid(False)
    for value in (theory.A_MONOTONIC, theory.A_CATAPULT):
        ax.axvline(value, color="k", ls="--", lw=0.8)
    for value in (theory.A_FEIGENBAUM, theory.A_ESCAPE):
        ax.axvline(value, color="k", ls=":", lw=0.8)
    ax.legend(handles=[Patch(color=colors[p], label=p) for p in theory.PHASES], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=6)
    c = cfg["gaussian_phase_map"]
    caption = (
        "Phase of full-batch GD for phase retrieval on Gaussian data (x ~ N(0, I/d), targets (w* . x)^2 of a "
        f"Gaussian teacher, d = {c['d']}) over the normalised step a = eta lambda_max/2 (lambda_max: top Hessian "
        "eigenvalue at the teacher) and the sample size n, measured by the trajectory classifier; data sets are "
        "nested (the first n samples of one draw) and every run starts from the same initial point. Dashed: the "
        "linear-stability boundaries a = 1/2 and a = 1, exact on any data; dotted: the orthonormal-data values "
        f"a_inf = 1.302 and a = 2, for reference. {c['n_steps']} steps, classification over the last "
        f"{c['window']}. {_NAMING}"
    )
    return fig, caption


def plot_generalization(data: dict, cfg: dict):
    ds = data["generalization"]
    phases = classify_dataset(ds)
    a_values = ds["a"].values
    fig, axes = new_figure(len(a_values), 1, width=2.3 * len(a_values), height=2.2)
    for j, a in enumerate(a_values):
        ax = axes[0][j]
        run = ds.sel(a=a).isel(seed=0)
        steps = run["step"].values
        ax.semilogy(steps, run["test_error"].values, lw=0.5, color="C0", label="last iterate")
        ax.semilogy(steps, run["test_error_avg"].values, lw=1.4, color="C1", label="ergodic average from step 0")
        if "test_error_avg_late" in run:
            ax.semilogy(steps, run["test_error_avg_late"].values, lw=1.2, color="C2", ls="--",
                        label="average after burn-in")
            ax.axvline(int(ds.attrs["late_start"]), color="0.5", ls=":", lw=0.7)
        phase = theory.PHASES[int(phases["phase"].sel(a=a).isel(seed=0))]
        ax.set_title(f"a = {a:g}, measured: {phase}", fontsize=7)
        ax.set_xlabel("iteration")
        if j == 0:
            ax.set_ylabel("relative test error")
            ax.legend(fontsize=6)
    c = cfg["generalization"]
    caption = (
        "Test error (mean squared error on held-out data over the mean squared target) of the two-layer "
        "quadratic network trained by full-batch GD on Gaussian data, for the last iterate and for the ergodic "
        "(Cesaro) average of the predictor along the trajectory, (1/k) sum_{j<=k} f_{W_j}: it is linear in "
        "W W^T, so it is the ergodic average of the iterates in the model's invariant parameterisation "
        "(averaging W itself would mix sign- and rotation-equivalent weights). Dashed: the same average over the "
        "late window only (after a burn-in up to the dotted line), the one the claims judge: over the late window the average "
        "from step 0 moves little for any bounded sequence, this one only if the iterates settle. One normalised step per "
        f"non-monotonic, non-divergent phase; seed 0 of {ds.sizes['seed']}. Our choices: d = {c['d']}, "
        f"n = {c['n']}, width m = {c['width']}, teacher width {c['teacher_width']}, noise {c['noise']}, "
        f"{c['n_test']} test points. {_NAMING}"
    )
    return fig, caption
