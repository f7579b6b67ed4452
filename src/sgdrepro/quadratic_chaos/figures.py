"""Figures. The paper's figure numbers could not be established (its text was not reachable),
so every figure is named for what it shows and each caption says so."""

from __future__ import annotations

import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sgdrepro.core import new_figure

from . import theory
from .measures import band_merging_bracket, classify_dataset, hull_brackets

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


def _mark_boundaries(ax, measured: dict, label: bool = False):
    """Theoretical boundaries (dashed) and the measured grid brackets' midpoints (triangles on top)."""
    for k, value in enumerate(theory.BOUNDARIES.values()):
        ax.axvline(value, color="C3", ls="--", lw=0.7, label="cubic map boundary" if label and k == 0 else None)
    mids = [0.5 * (lo + hi) for lo, hi in measured.values() if np.isfinite(lo) and np.isfinite(hi)]
    ax.plot(mids, np.ones(len(mids)), "v", color="k", ms=4, transform=ax.get_xaxis_transform(), clip_on=False,
            label="measured boundary" if label else None)


def _boundary_table(measured: dict) -> str:
    return "; ".join(f"{name} {0.5 * (lo + hi):.3f} (theory {theory.BOUNDARIES[name]:.3f})"
                     for name, (lo, hi) in measured.items())


def plot_bifurcation(data: dict, cfg: dict):
    full = data["bifurcation"]
    classified = classify_dataset(full)
    models = [str(m) for m in full["model"].values]
    fig, axes = new_figure(len(models), 2, width=3.6 * len(models), height=4.8, sharex=True)
    colors = _phase_colors()
    a_all = full["a"].values
    late = full["step"].values >= int(full.attrs["late_start"])
    lam_map = theory.lyapunov_map(a_all, n_transient=1000, n_average=4000)
    tables = []
    for j, name in enumerate(models):
        top, bottom = axes[0][j], axes[1][j]
        ds, phases = full.sel(model=name).isel(seed=0), classified.sel(model=name).isel(seed=0)
        measured = hull_brackets(a_all, classified["phase"].sel(model=name).transpose("seed", "a").values)
        tables.append(f"{_MODEL_LABEL.get(name, name)}: {_boundary_table(measured)}")
        v = ds["v"].values[:, late]
        a = np.repeat(a_all[:, None], v.shape[1], axis=1)
        keep = np.isfinite(v)
        top.scatter(a[keep], v[keep], s=0.05, color="k", alpha=0.5, linewidths=0, rasterized=True)
        if name == "two_layer":
            top.set_ylabel("late sqrt(f(x_1) / y) = |v|")
            top.set_ylim(0.0, 2.0)
        else:
            top.set_ylabel("late iterates v = (w . x_1) / sqrt(y)")
            top.set_ylim(-2.0, 2.0)
        step = "a = eta y / m" if name == "two_layer" else "a = eta y"
        top.set_title(f"{_MODEL_LABEL.get(name, name)} ({step})", fontsize=8, pad=8)
        codes = phases["phase"].values
        for k, phase in enumerate(theory.PHASES):
            sel = codes == k
            if sel.any():
                bottom.scatter(a_all[sel], np.clip(phases["lyapunov"].values[sel], -1.5, 1.5), s=1.5,
                               color=colors[phase], label=f"measured {phase}", linewidths=0)
        with np.errstate(invalid="ignore"):
            bottom.plot(a_all, np.clip(np.where(np.isfinite(lam_map), lam_map, np.nan), -1.5, 1.5),
                        color="0.4", lw=0.5, label="cubic map exponent")
        bottom.axhline(0.0, color="k", lw=0.6)
        if j == 0:
            bottom.set_ylabel("Lyapunov exponent (nats/step)")
        bottom.set_xlabel(f"normalised step {step}")
        bottom.set_ylim(-1.6, 1.6)
        bottom.set_xlim(a_all[0] - 0.02, a_all[-1] + 0.02)
        for ax in (top, bottom):
            _mark_boundaries(ax, measured, label=ax is bottom and j == 0)
            ax.axvline(theory.A_PERIOD4, color="C3", ls=":", lw=0.6)
            ax.axvline(theory.A_MERGE, color="C3", ls=":", lw=0.6)
        if j == 0:
            handles = [Line2D([], [], ls="", marker="o", ms=3, color=colors[p], label=f"measured {p}")
                       for p in theory.PHASES]
            handles += [Line2D([], [], color="0.4", lw=0.5, label="cubic map exponent"),
                        Line2D([], [], color="C3", ls="--", lw=0.7, label="cubic map boundary"),
                        Line2D([], [], ls="", marker="v", ms=4, color="k", label="measured boundary")]
            bottom.legend(handles=handles, loc="upper left", fontsize=5.5, ncol=2)
        edges = [a_all[0], *theory.BOUNDARIES.values(), a_all[-1]]
        for phase, lo, hi in zip(theory.PHASES, edges[:-1], edges[1:]):
            if hi > lo:
                top.text(0.5 * (lo + hi), 0.95, phase, ha="center", va="top", fontsize=6, color=colors[phase],
                         transform=top.get_xaxis_transform(), rotation=0 if hi - lo > 0.3 else 90)
    merging = ""
    if "phase_retrieval" in models:
        v = full["v"].sel(model="phase_retrieval").transpose("seed", "a", "step").values[..., late]
        lo, hi = np.asarray([band_merging_bracket(a_all, v_seed) for v_seed in v]).T
        if np.all(np.isfinite(lo)):
            merging = (f"; measured where phase retrieval's late v first takes both signs: "
                       f"{0.5 * (lo.min() + hi.max()):.3f}")
    caption = (
        "Bifurcation diagrams of GD on orthonormal data with equal targets y, left: phase retrieval (every data "
        "direction follows the cubic map v -> (1 + a) v - a v^3 with a = eta y), right: the two-layer network "
        "with quadratic activation and fixed outer layer 1/m (m = "
        f"{full.attrs['width']}; sqrt(f(x_i)/y) follows |v| of the same map with a = eta y / m). Top: the "
        f"iterates of the last {int(late.sum())} of {int(full.attrs['n_steps'])} steps against a, every step size "
        "started from the same initial point. Bottom: top Lyapunov exponent of the GD trajectory (tangent-vector "
        "method over the late window; on cycles the two-layer net's is 0, its rotation symmetry W -> WQ being a "
        "neutral direction), coloured by the measured phase, and the cubic map's exponent (grey). Dashed: the cubic "
        "map's boundaries a = 1/2 (monotonic|catapult), 1 (period doubling), a_inf = 1.3023 (Feigenbaum "
        "accumulation) and 2 (divergence, r = 3); triangles: the boundaries measured from the trajectories (midpoint "
        "of the grid bracket where the classified phase first passes each; hull over seeds): "
        f"{'. '.join(tables)}. Dotted: a = sqrt5 - 1 (period 4) and 3 sqrt3/2 - 1 = 1.598 (the v > 0 and v < 0 "
        f"chaotic bands merge; orbits stay bounded up to a = 2){merging}. "
        f"Grid: {len(a_all)} step sizes. {_NAMING}"
    )
    return fig, caption


def plot_phase_map_gaussian(data: dict, cfg: dict):
    ds = data["gaussian_phase_map"]
    classified = classify_dataset(ds)["phase"]
    phases = classified.isel(seed=0).transpose("n", "a")
    fig, axes = new_figure(1, 1, width=5.4, height=2.8)
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
    for value in theory.BOUNDARIES.values():
        ax.axvline(value, color="k", ls="--", lw=0.8)
    distances = {name: [] for name in theory.BOUNDARIES}
    for i, n_value in enumerate(n):
        measured = hull_brackets(a, classified.sel(n=n_value).transpose("seed", "a").values)
        for name, (lo, hi) in measured.items():
            if np.isfinite(lo) and np.isfinite(hi):
                mid = 0.5 * (lo + hi)
                ax.plot([mid], [i], marker="v", ms=5, color="k", mec="w", mew=0.5, ls="")
                distances[name].append(mid - theory.BOUNDARIES[name])
    handles = [Patch(color=colors[p], label=p) for p in theory.PHASES]
    handles += [Line2D([], [], color="k", ls="--", lw=0.8, label="orthonormal boundary"),
                Line2D([], [], ls="", marker="v", ms=5, color="k", mec="w", label="measured boundary")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6)
    c = cfg["gaussian_phase_map"]
    tol = 10.0 / int(c["window"])  # the claims' finite-time tolerance, claims.FINITE_TIME / W
    parts = []
    for name, values in distances.items():
        if not values:
            parts.append(f"{name}: not on the grid")
            continue
        where = "at the orthonormal value" if max(abs(v) for v in values) <= tol else "NOT at the orthonormal value"
        span = (f"{min(values):+.3f} at every n" if np.isclose(min(values), max(values))
                else f"{min(values):+.3f} to {max(values):+.3f} over n")
        parts.append(f"{name}: distance {span} ({where}, a = {theory.BOUNDARIES[name]:.3f})")
    caption = (
        "Phase of full-batch GD for phase retrieval on Gaussian data (x ~ N(0, I/d), targets (w* . x)^2 of a "
        f"Gaussian teacher, d = {c['d']}) over the normalised step a = eta lambda_max/2 (lambda_max: top Hessian "
        "eigenvalue at the teacher) and the sample size n, measured by the trajectory classifier (seed 0 shown); "
        "data sets are nested (the first n samples of one draw) and every run starts from the same initial point. "
        "Dashed: the orthonormal-data (cubic map) boundaries a = 1/2, 1, a_inf = 1.302 and 2; a = 1 (the minimiser "
        "loses linear stability) is exact on any data. Triangles: the boundaries measured per n (midpoint of the grid "
        "bracket where the phase first passes each, hull over seeds). Measured distance to the orthonormal case "
        f"(tolerance {tol:.3f} = 10/window): {'; '.join(parts)}. The first step classified catapult (a GD step "
        "turning back) need not sit at a = 1/2 on non-orthonormal data: the top Hessian mode oscillates from a = 1/2 "
        "on, but the step is a sum over modes, and the slower, monotone ones can outweigh it. "
        f"{c['n_steps']} steps, classification over the last {c['window']}. {_NAMING}"
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
