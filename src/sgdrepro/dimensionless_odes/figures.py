"""Figures. We could not establish the paper's figure numbers here, so the figures carry
descriptive names (risk_collapse, phase_diagram, noise_floor); each caption says so."""

from __future__ import annotations

import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sgdrepro.core import new_figure

from . import theory
from .measures import nanmean, ode_at, noise_driven_ode, noise_driven_sgd, phase_regions, seed_mean_curve, spot_regions

__all__ = ["plot_risk_collapse", "plot_risk_width_collapse", "plot_phase_diagram", "plot_noise_floor"]

_REGIONS = ("perfect learning", "plateau (noise floor)", "failure")
_REGION_COLORS = ("#9bd3ae", "#f5d58c", "#ee9a8f")
_NAMING = ("Descriptive figure name: the paper's figure numbering could not be checked here. ")


def _ode_line(ax, t, risk, **kwargs):
    keep = (t > 0) & np.isfinite(risk)
    ax.plot(t[keep], risk[keep], **kwargs)


def plot_risk_collapse(data: dict[str, xr.Dataset], cfg: dict):
    """Excess risk against t = steps gamma/(p d): SGD at growing d (markers) on the ODE (line)."""
    ds = data["collapse"]
    ps, dims, ratios = ds["p"].values, ds["d"].values, ds["lr_over_p"].values
    fig, axes = new_figure(ncols=len(ps), nrows=2, width=2.7 * len(ps), height=4.2,
                           gridspec_kw={"height_ratios": [2.2, 1.0]})
    colors = sns.color_palette("viridis", len(dims))
    t_ode = ds["ode_time"].values
    for i, p in enumerate(ps):
        ax, low = axes[0][i], axes[1][i]
        g = ratios[0]
        ode = ds["risk_ode"].sel(p=p, lr_over_p=g).values
        for c, d in zip(colors, dims):
            t, risk = seed_mean_curve(ds, p, d, g)
            keep = t > 0
            ax.plot(t[keep], risk[keep], "o", ms=2.8, color=c, alpha=0.85, label=f"SGD, d = {d}")
            low.plot(t[keep], (risk[keep] - ode_at(t[keep], t_ode, ode)) / ode[0], "-", lw=1.0, color=c)
        _ode_line(ax, t_ode, ode, color="black", lw=1.3, label="ODE (d → ∞)")
        _ode_line(ax, t_ode, ds["risk_gradient_flow"].sel(p=p).values,
                  color="gray", lw=0.9, ls="--", label="gradient flow (γ/p → 0)")
        low.axhline(0.0, color="black", lw=1.0)
        for a in (ax, low):
            a.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("excess risk  R − Δ/2")
        ax.set_title(f"p = {p}, k = {ds.attrs['k']}, γ/p = {g:g}")
        low.set_xlabel("t = steps · γ / (p d)")
        low.set_ylabel("(R_SGD − R_ODE) / R(0)")
        if i == len(ps) - 1:
            ax.legend(loc="lower left", frameon=False)
    c = cfg["collapse"]
    caption = (
        _NAMING
        + "Excess population risk (closed form from Q, M) of one-pass SGD on the erf committee machine "
        f"(k = {ds.attrs['k']} teacher units, label noise Δ = {ds.attrs['noise']:g}) against the "
        "dimensionless time t = steps·γ/(p d), for growing input dimension d at fixed γ/p: markers are "
        f"means over {ds.sizes['seed']} seeds, the black line the ODE for Q and M (adaptive RK45), the dashed "
        "line the gradient-flow ODE (γ/p → 0); bottom row: deviation of the SGD mean from the ODE, "
        "relative to the initial risk, shrinking as d grows. All runs start from the same order parameters (Q0, M0) at "
        f"every d (our choice; {c['init']['kind']} start, overlap scale {c['init']['overlap_scale']}), so the "
        "curves at all d collapse on one ODE solution as d grows."
    )
    return fig, caption


def plot_risk_width_collapse(data: dict[str, xr.Dataset], cfg: dict):
    """Excess risk of several widths at fixed gamma/p: against t = steps gamma/(p d) (left), and
    against steps gamma/d, the time without the 1/p (right: the curves separate)."""
    ds = data["width"]
    d, g = ds["d"].values[0], ds["lr_over_p"].values[0]
    widths = ds["p"].values
    fig, axes = new_figure(ncols=2, nrows=1, width=6.6, height=2.8)
    colors = dict(zip(widths, sns.color_palette("viridis", len(widths))))
    t_ode = ds["ode_time"].values
    ode_colors = sns.color_palette("rocket", len(ds["ode_p"].values) + 1)
    for col, wrong in enumerate((False, True)):
        ax = axes[0][col]
        for p in widths:
            t, risk = seed_mean_curve(ds, p, d, g)
            keep = t > 0
            x = t[keep] * p if wrong else t[keep]
            ax.plot(x, risk[keep], "o", ms=2.8, color=colors[p], alpha=0.85, label=f"SGD, p = {p}")
        if not wrong:
            for c, p in zip(ode_colors, ds["ode_p"].values):
                _ode_line(ax, t_ode, ds["risk_ode"].sel(ode_p=p, lr_over_p=g).values, color=c, lw=1.0,
                          label=f"ODE, p = {p}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("steps · γ / d   (wrong: no 1/p)" if wrong else "t = steps · γ / (p d)")
        ax.set_ylabel("excess risk  R − Δ/2")
        ax.set_title("against steps·γ/d: the widths separate" if wrong else f"d = {d}, γ/p = {g:g}: one curve")
        ax.legend(loc="lower left", frameon=False, fontsize=6)
    init = cfg["width"]["init"]
    caption = (
        _NAMING
        + f"Excess population risk of one-pass SGD on the erf committee machine (k = {ds.attrs['k']}, "
        f"Δ = {ds.attrs['noise']:g}) for student widths p = {', '.join(map(str, widths))} at d = {d} and the same "
        f"γ/p = {g:g} (so γ = p·{g:g}); markers: means over {ds.sizes['seed']} seeds. Left: against the "
        "dimensionless time t = steps·γ/(p d), the curves of different widths fall on one curve, and on the ODEs "
        f"of the widths p = {', '.join(map(str, ds['ode_p'].values))} (lines; the ODE costs p^4, so only small "
        "widths), whose finite-width corrections shrink as p grows. Right: the same SGD curves against "
        "steps·γ/d, i.e. the time without its 1/p: they separate by the ratio of the widths. Every student starts "
        f"near one teacher unit with the same alignment {init['alignment']:g} and orthogonal part "
        f"q_orth = {init['q_orth']:g} (our choice: order parameters with a large-width limit)."
    )
    return fig, caption


def plot_phase_diagram(data: dict[str, xr.Dataset], cfg: dict):
    """Regions of the (kappa, delta) plane from every cell's ODE, SGD spot checks, example curves."""
    ds = data["phase"]
    c = cfg["claims"]
    fail_level = float(c["fail_fraction"]) * theory.uninformed_risk(int(ds.attrs["k"]))
    regions = phase_regions(ds, float(c["region_slope_tol"]), fail_level)
    kappa, delta = ds["kappa"].values, ds["delta"].values
    fig, axes = new_figure(ncols=2, nrows=1, width=6.6, height=3.4)
    ax = axes[0][0]
    cmap = ListedColormap(_REGION_COLORS)
    ax.pcolormesh(_edges(kappa), _edges(delta), regions.T, cmap=cmap, vmin=-0.5, vmax=2.5, shading="flat")
    line = np.linspace(_edges(kappa)[0], _edges(kappa)[-1], 2)
    ax.plot(line, -line, color="black", lw=1.0, ls="--")
    ax.set_xlim(_edges(kappa)[0], _edges(kappa)[-1])
    ax.set_ylim(_edges(delta)[0], _edges(delta)[-1])
    regions_sgd = spot_regions(ds, float(c["spot_slope_tol"]), fail_level)
    markers = ("o", "s", "X")
    for a in range(ds.sizes["spot"]):
        ax.plot(ds["spot_kappa"].values[a], ds["spot_delta"].values[a], markers[regions_sgd[a]],
                color=_REGION_COLORS[regions_sgd[a]], mec="black", ms=6)
        ax.annotate(chr(ord("A") + a), (ds["spot_kappa"].values[a], ds["spot_delta"].values[a]),
                    textcoords="offset points", xytext=(6, 3), fontsize=7)
    ax.set_xlabel("κ  (width p = p0 d^κ)")
    ax.set_ylabel("δ  (learning rate γ = γ0 d^−δ)")
    ax.set_title("ODE regions; markers: SGD spot checks")
    handles = [Patch(color=col, label=r) for col, r in zip(_REGION_COLORS, _REGIONS)]
    handles.append(Line2D([], [], color="black", ls="--", label="κ + δ = 0 (paper's boundary)"))
    handles += [Line2D([], [], ls="", marker=m, color="white", mec="black", label=f"SGD: {r}")
                for m, r in zip(markers, _REGIONS)]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False, fontsize=6)
    ax.grid(False)
    # example curves: the spot checks at the largest d, SGD markers on their ODE
    ax = axes[0][1]
    j = ds.sizes["spot_d"] - 1
    d = int(ds["spot_d"].values[j])
    colors = sns.color_palette("colorblind", ds.sizes["spot"])
    t_ode = ds["ode_time"].values
    for a in range(ds.sizes["spot"]):
        label = (chr(ord("A") + a) + f": κ={ds['spot_kappa'].values[a]:g}, δ={ds['spot_delta'].values[a]:g}, "
                 f"p={int(ds['spot_p'].values[a, j])}")
        _ode_line(ax, t_ode, ds["spot_risk_ode"].values[a, j], color=colors[a], lw=1.2, label=label)
        mean = nanmean(ds["spot_risk"].values[a, j], axis=0)
        t = ds["spot_time"].values[a, j]
        keep = t > 0
        ax.plot(t[keep], mean[keep], "o", ms=2.5, color=colors[a], alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("t = steps · γ / (p d)")
    ax.set_ylabel("excess risk  R − Δ/2")
    ax.set_title(f"examples at d = {d}: ODE (lines), SGD (markers)")
    ax.legend(loc="lower left", frameon=False, fontsize=5.5)
    ladder = ", ".join(f"{v:g}" for v in ds["d_ladder"].values)
    caption = (
        _NAMING
        + f"Left: regions of one-pass SGD in the plane of the exponents (κ, δ), with width p = round(p0 d^κ) "
        f"(p0 = {ds.attrs['p0']}) and learning rate γ = γ0 d^−δ (γ0 = {ds.attrs['gamma0']:g}), the convention of "
        "Veiga et al. 2022 that the paper extends (its own text could not be checked here); the paper's boundary "
        "is κ + δ = 0 (dashed): perfect learning above, a plateau on it, failure below. Every cell is solved "
        f"with the ODEs at its own p(d) and γ(d)/p(d) at d = {ladder} (p up to "
        f"{int(ds['cell_p'].values.max())}) and classified by how its noise-driven late-time excess risk (at "
        f"t = {ds.attrs['t_late']:g}, minus the gradient-flow ODE of the same width) behaves as d grows: "
        f"falling (log-log slope < −{c['region_slope_tol']:g}): perfect learning; flat: plateau with a noise floor; "
        f"growing or above {c['fail_fraction']:g} × the zero-output risk: failure. Markers: SGD spot checks "
        f"(A, B, ...) at d = {', '.join(str(v) for v in ds['spot_d'].values)} with the cell's p and γ, classified the "
        f"same way from the SGD's own late risk (slope bound {c['spot_slope_tol']:g}) and coloured by their SGD "
        f"region. Right: the spot checks at d = {d}, ODE of the same p and γ/p (lines) and SGD means over "
        f"{ds.sizes['seed']} seeds (markers), k = {ds.attrs['k']}, Δ = {ds.attrs['noise']:g}; students start near "
        "the teacher (our choice) so that the late-time level is reached within the time budget."
    )
    return fig, caption


def _edges(centres: np.ndarray) -> np.ndarray:
    centres = np.asarray(centres, float)
    step = np.diff(centres).mean() if len(centres) > 1 else 1.0
    return np.concatenate([centres - step / 2, [centres[-1] + step / 2]])


def plot_noise_floor(data: dict[str, xr.Dataset], cfg: dict):
    """Late-time excess risk against gamma and gamma/p: ODE (lines, several p), SGD (markers)."""
    ds = data["floor"]
    t_late = float(ds.attrs["t_late"])
    fig, axes = new_figure(ncols=2, nrows=1, width=6.4, height=2.6)
    ode_ps = ds["ode_p"].values
    colors = dict(zip(ode_ps, sns.color_palette("colorblind", len(ode_ps))))
    for p in ds["p"].values:
        if p not in colors:
            colors[p] = "black"
    for col, x_of in enumerate(("lr", "ratio")):
        ax = axes[0][col]
        for p in ode_ps:
            g = ds["ode_lr_over_p"].values
            x = g * p if x_of == "lr" else g
            ax.plot(x, noise_driven_ode(ds, p), color=colors[p], lw=1.2, label=f"ODE, p = {p}")
        for p in ds["p"].values:
            g = ds["lr_over_p"].values
            ax.plot(g * p if x_of == "lr" else g, noise_driven_sgd(ds, p), "o", ms=4, mfc="none", mew=1.2,
                    color=colors[p], label=f"SGD, p = {p}, d = {ds['d'].values[-1]}")
        if x_of == "ratio":
            g = ds["ode_lr_over_p"].values
            anchor = noise_driven_ode(ds, ode_ps[0])[0] * (g / g[0])
            ax.plot(g, anchor, color="gray", lw=0.8, ls="--", label="∝ γ/p (linear response)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("learning rate γ" if x_of == "lr" else "γ / p")
        ax.set_ylabel(f"noise-driven excess risk at t = {t_late:g}")
        ax.set_title("against γ: wider students sit lower" if x_of == "lr" else "against γ/p: the widths collapse")
        if col == 1:
            ax.legend(loc="upper left", frameon=False, fontsize=6)
    caption = (
        _NAMING
        + f"Noise-driven late-time excess risk, R(t) - R_gf(t) at t = {t_late:g} (R_gf: the gradient-flow "
        f"ODE, γ/p → 0, at the same t; SGD: mean over t in [t/2, t] and over {ds.sizes['seed']} seeds) of "
        f"the erf committee machine (k = {ds.attrs['k']}, label noise "
        f"Δ = {ds.attrs['noise']:g}) against the learning rate γ (left) and against γ/p (right), from the "
        "ODEs (lines, several widths p) and SGD (open markers). The noise floor grows with γ/p, linearly at "
        "small γ/p (dashed reference, slope 1 in the noise-driven part) and faster beyond, up to failure; at "
        "fixed γ wider students have the "
        "lower floor, and plotted against γ/p the widths nearly collapse. Students start near the "
        "teacher (our choice) so the stationary level is reached within the time budget."
    )
    return fig, caption
