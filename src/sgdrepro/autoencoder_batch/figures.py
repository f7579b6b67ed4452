"""Figures of autoencoder_batch, from the stored trajectories of experiment ``orthogonal``.

The paper's figure numbering could not be established (its text was not reachable), so the
figures are named for what they show: sparsity, alignment and sharpness against the batch
size, the coordinates over training, and the loss over training.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..core import new_figure
from . import theory
from .claims import live_runs

__all__ = [
    "plot_sparsity_vs_batch_size",
    "plot_alignment_vs_batch_size",
    "plot_sharpness_vs_batch_size",
    "plot_coordinate_trajectories",
    "plot_loss_vs_step",
]

_ORDER_STYLE = {"reshuffle": ("C0", "o", "random reshuffling"), "cyclic": ("C1", "s", "cyclic order")}
_TITLE = {"linear": "linear", "relu": "ReLU"}


def _setting(ds: xr.Dataset) -> str:
    a = ds.attrs
    return (f"n = {a['n']} orthonormal samples in R^{a['d']}, step size {a['lr']:g}, {a['n_steps']} updates per run, "
            f"w_0 ~ N(0, {a['init_scale']:g}^2/d I), {ds.sizes['seed']} seeds, last partial batch {a['last_batch']}")


def _band(ax, ds: xr.Dataset, name: str, order: str, label: str | None, linestyle: str = "-", transform=None):
    """Mean over seeds (live runs) with a +-1 standard deviation band, against b."""
    values = ds[name].where(live_runs(ds)).sel(order=order)
    if transform is not None:
        values = transform(values)
    mean = values.mean("seed", skipna=True)
    std = values.std("seed", skipna=True)
    color, marker, _ = _ORDER_STYLE[order]
    b = ds["batch_size"].values
    ax.plot(b, mean.values, linestyle=linestyle, marker=marker, color=color, label=label,
            markerfacecolor="white" if linestyle != "-" else color)
    ax.fill_between(b, (mean - std).values, (mean + std).values, color=color, alpha=0.15, linewidth=0)


def _bottom_legend(fig, ax, skip_last: int = 0, ncol: int = 2) -> None:
    """One legend under the panels (without the last ``skip_last`` entries, kept in each panel)."""
    handles, labels = ax.get_legend_handles_labels()
    keep = len(handles) - skip_last
    fig.legend(handles[:keep], labels[:keep], loc="outside lower center", ncol=ncol, frameon=False)


def _by_activation(data: dict):
    ds = data["orthogonal"]
    return ds, [a for a in ("linear", "relu") if a in ds["activation"].values]


def plot_sparsity_vs_batch_size(data: dict[str, xr.Dataset], cfg: dict):
    ds, acts = _by_activation(data)
    n, tau = ds.attrs["n"], ds.attrs["sparsity_threshold"]
    fig, axes = new_figure(len(acts), 1, width=3.0 * len(acts), height=2.5)
    for ax, act in zip(axes[0], acts):
        sub = ds.sel(activation=act)
        for order in sub["order"].values:
            name = _ORDER_STYLE[order][2]
            _band(ax, sub, "count_above", order, f"{name}: #|c_i| > {tau:g}")
            _band(ax, sub, "participation_ratio", order, f"{name}: participation ratio", linestyle="--")
        if act == "relu":
            k = sub["n_active_init"].where(live_runs(sub)).isel(batch_size=0, order=0).mean().item()
            ax.axhline(k, color="0.4", linestyle=":", linewidth=1, label=f"mean #active at init ({k:.1f})")
        else:
            ax.axhline(n, color="0.4", linestyle=":", linewidth=1, label=f"n = {n}")
        ax.set(xlabel="batch size b", ylabel="number of coordinates", title=_TITLE[act], ylim=(0, n + 0.5))
        ax.set_xticks(ds["batch_size"].values)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[-1:], labels[-1:], loc="upper left", frameon=False)
    _bottom_legend(fig, axes[0][-1], skip_last=1)
    caption = (
        "Sparsity of the final weights in the data basis (c_i = w^T x_i) against the batch size b: "
        f"number of coordinates with |c_i| > {tau:g} (solid) and participation ratio (sum c_i^2)^2 / sum c_i^4 "
        "(dashed), mean over seeds with a +-1 std band; left linear, right ReLU. Every b < n ends with one "
        "coordinate with random reshuffling; full-batch GD (b = n) keeps all n (linear) or all the initially "
        "active ones (ReLU, dotted line). With a cyclic (fixed) order the batches are a fixed partition, the "
        "coordinates of a batch are always scaled by the same factor and keep their initial ratios, so the "
        "limit lies in a single batch: at most b coordinates (one for b = 1, and here for b = n-1, where the "
        f"partial last batch holds one sample). {_setting(ds)}. Descriptive name: the paper's figure number could not be established."
    )
    return fig, caption


def plot_alignment_vs_batch_size(data: dict[str, xr.Dataset], cfg: dict):
    ds, acts = _by_activation(data)
    n = ds.attrs["n"]
    fig, axes = new_figure(len(acts), 1, width=3.0 * len(acts), height=2.5)
    for ax, act in zip(axes[0], acts):
        sub = ds.sel(activation=act)
        for order in sub["order"].values:
            name = _ORDER_STYLE[order][2]
            _band(ax, sub, "cos_init_active", order, f"{name}: |cos(w_T, projected w_0)|", transform=np.abs)
            _band(ax, sub, "cos_init", order, f"{name}: |cos(w_T, w_0)|", linestyle="--", transform=np.abs)
        ax.axhline(1 / np.sqrt(n), color="0.4", linestyle=":", linewidth=1, label=r"$1/\sqrt{n}$")
        ax.axhline(theory.sparse_alignment_bound(n), color="0.4", linestyle="-.", linewidth=1,
                   label=r"$\sqrt{2\ln(2n)/n}$")
        ax.set(xlabel="batch size b", ylabel="|cosine|", title=_TITLE[act], ylim=(0, 1.05))
        ax.set_xticks(ds["batch_size"].values)
    _bottom_legend(fig, axes[0][-1], ncol=3)
    caption = (
        "Alignment of the final weights w_T with the initialization against the batch size: |cos| with the "
        "projected initialization (solid): the projection of w_0 on the data span, P w_0, for the linear model, "
        "on the samples active at initialization, P_+ w_0 = sum_i relu(w_0^T x_i) x_i, for ReLU; and with w_0 "
        "itself (dashed); mean over seeds, "
        "+-1 std band. Full-batch GD keeps the projected direction (cos = 1); every b < n ends at one sample, "
        f"|cos| ~ max_i |c_i(0)|/||c(0)|| of order 1/sqrt(n) (reference lines). {_setting(ds)}. "
        "Descriptive name: the paper's figure number could not be established."
    )
    return fig, caption


def plot_sharpness_vs_batch_size(data: dict[str, xr.Dataset], cfg: dict):
    ds, acts = _by_activation(data)
    n, d = ds.attrs["n"], ds.attrs["d"]
    fig, axes = new_figure(len(acts), 1, width=3.0 * len(acts), height=2.5)
    for ax, act in zip(axes[0], acts):
        sub = ds.sel(activation=act)
        for order in sub["order"].values:
            name = _ORDER_STYLE[order][2]
            _band(ax, sub, "trace_hessian", order, name)
        if act == "linear":
            value = float(theory.trace_hessian_global_min(n, d, n, False))
            ax.axhline(value, color="0.4", linestyle=":", linewidth=1, label="theory, every global min")
            ax.set_ylim(value - 1.0, value + 1.0)
            ax.ticklabel_format(axis="y", useOffset=False)
        else:
            ax.axhline(float(theory.trace_hessian_global_min(n, d, 1, True)), color="0.4", linestyle=":",
                       linewidth=1, label="theory, one coordinate")
            k = sub["n_active_init"].where(live_runs(sub)).isel(order=0, batch_size=0)
            gd = float(theory.trace_hessian_global_min(n, d, k, True).mean())
            ax.axhline(gd, color="0.4", linestyle="-.", linewidth=1, label="theory, GD (mean over seeds)")
        ax.set(xlabel="batch size b", ylabel=r"tr $\nabla^2 L(w)$", title=_TITLE[act])
        ax.set_xticks(ds["batch_size"].values)
        ax.legend(loc="lower left", frameon=False, fontsize=5.5)
    caption = (
        "Sharpness of the minimum found, trace of the Hessian of the full loss (exact, autograd), against the "
        "batch size; mean over seeds with a +-1 std band. It is evaluated at the end point w_T of each run as it "
        "is; the ReLU loss is not twice differentiable at c_i = 0, and a vanished coordinate ends at the float64 "
        "rounding floor (|c_i| ~ 1e-16..3e-14) with a random sign, so the Hessian is taken on the branch where a "
        f"sample is active iff c_i > {ds.attrs.get('zero_tol', 1e-12):g} ||w|| (ReLU'(0) = 0 below, the "
        "gradient's convention). Linear: every global minimum has the same trace "
        "(2d+8)/n - 2. ReLU: (2d+8-2k)/n with k active coordinates, so GD's dense minimum (b = n) is flatter "
        f"than the one-coordinate minima of every b < n. {_setting(ds)}. "
        "Descriptive name: the paper's figure number could not be established."
    )
    return fig, caption


def plot_coordinate_trajectories(data: dict[str, xr.Dataset], cfg: dict):
    ds, acts = _by_activation(data)
    fcfg = cfg["figures"]
    seed = int(fcfg["trajectory_seed"])
    sizes = [b for b in fcfg["trajectory_batch_sizes"] if b in ds["batch_size"].values]
    order = "reshuffle" if "reshuffle" in ds["order"].values else str(ds["order"].values[0])
    fig, axes = new_figure(len(sizes), len(acts), width=2.3 * len(sizes), height=2.0 * len(acts), sharex=True)
    steps = ds["step"].values
    shown = steps > 0
    for row, act in enumerate(acts):
        for col, b in enumerate(sizes):
            ax = axes[row][col]
            coords = ds["coords"].sel(activation=act, order=order, batch_size=b, seed=seed).values
            for i in range(coords.shape[1]):
                ax.plot(steps[shown], coords[shown, i], linewidth=0.9, color=f"C{i % 10}")
            ax.set_xscale("log")
            ax.axhline(0, color="0.5", linewidth=0.6)
            label = "full batch (GD)" if b == ds.attrs["n"] else "SGD"
            ax.set_title(f"{_TITLE[act]}, b = {b} ({label})")
            if row == len(acts) - 1:
                ax.set_xlabel("update k")
            if col == 0:
                ax.set_ylabel(r"$c_i = w_k^\top x_i$")
    caption = (
        "Coordinates c_i = w_k^T x_i of the weights in the data basis over training (one line per sample, "
        f"seed {seed}, {order} order, log step axis), for several batch sizes (columns) and both activations "
        "(rows). Full-batch GD scales every (active) coordinate by the same factor and ends dense, at the "
        "direction of the projected initialization; with b < n one coordinate wins and the others decay to 0. "
        f"{_setting(ds)}. Descriptive name: the paper's figure number could not be established."
    )
    return fig, caption


def plot_loss_vs_step(data: dict[str, xr.Dataset], cfg: dict):
    ds, acts = _by_activation(data)
    n = ds.attrs["n"]
    order = "reshuffle" if "reshuffle" in ds["order"].values else str(ds["order"].values[0])
    fig, axes = new_figure(len(acts), 1, width=3.0 * len(acts), height=2.5)
    steps = ds["step"].values
    sizes = ds["batch_size"].values
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("viridis")
    for ax, act in zip(axes[0], acts):
        sub = ds.sel(activation=act, order=order)
        gap = (sub["loss"] - theory.global_min_loss(n)).where(live_runs(sub))
        for j, b in enumerate(sizes):
            curve = gap.sel(batch_size=b).mean("seed", skipna=True).values
            with np.errstate(invalid="ignore"):
                curve = np.where(curve > 0, curve, np.nan)
            ax.plot(steps[1:], curve[1:], color=cmap(j / max(1, len(sizes) - 1)),
                    label=f"b = {b}" if j in (0, len(sizes) - 1) or len(sizes) <= 8 else None)
        ax.set(xscale="log", yscale="log", xlabel="update k", ylabel=r"$L(w_k) - L^*$", title=_TITLE[act])
        ax.legend(loc="lower left", frameon=False, fontsize=5.5, ncol=2)
    caption = (
        "Excess loss L(w_k) - L* over training, L* = 1 - 1/n the global minimum for orthonormal data (linear "
        f"and ReLU), mean over seeds for each batch size (colour), {order} order, log-log; gaps that reach "
        f"floating-point zero are not drawn. Every batch size reaches a global minimum. {_setting(ds)}. "
        "ReLU runs whose initialization fires on no sample (a critical point with L = 1) are left out. "
        "Descriptive name: the paper's figure number could not be established."
    )
    return fig, caption
