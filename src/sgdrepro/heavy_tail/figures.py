"""Figures of heavy_tail: ``plot_<figure>(data, cfg) -> (Figure, caption)``.

The paper's figure numbering could not be established from the material at hand, so the
figures are named for what they show (the captions say so).
"""

from __future__ import annotations

import numpy as np

from sgdrepro.core import new_figure

from .analysis import linreg_estimates, mlp_estimates
from .theory import tail_index, variance_border_lr

_NAMING = " (Descriptive name: the paper's figure number could not be established.)"
_EST = ("Filled markers: Hill estimate (top {k:g}% of |coordinates| of all chains after burn-in); open markers: "
        "the paper's block-sum estimator (median over block sizes {blocks}), which cannot exceed 2. Lines: theory, "
        "the root of h(alpha) = 1 (quadrature). ")
_NO_LAW = ("Crosses on the bottom edge: no stationary law (top Lyapunov exponent E log||M e_1|| >= 0: the iterates "
           "grow), so no tail index is estimated there. ")
_NO_LAW_Y = 0.1  # where the crosses of points without a stationary law sit on the log alpha axis


def _mark_no_law(ax, x, stationary, color, marked: bool) -> bool:
    """Crosses at the bottom of the alpha axis for the points without a stationary law; returns
    whether any point of the figure is marked so far."""
    x, stationary = np.asarray(x, float), np.asarray(stationary, bool)
    if stationary.all():
        return marked
    ax.plot(x[~stationary], np.full((~stationary).sum(), _NO_LAW_Y), "x", color=color, ms=5)
    return True


def _no_law_entry(ax, marked: bool) -> None:
    """The legend's "no stationary law" entry (last), when a point is marked."""
    if marked:
        ax.plot([], [], "x", color="0.3", ms=5, label="no stationary law")


def _curve(vary: str, values, eta, batch_size, dim, sigma):
    """Theory alpha along one parameter (the others fixed)."""
    out = []
    for v in values:
        args = {"eta": eta, "batch_size": batch_size, "dim": dim, "sigma": sigma, vary: v}
        out.append(tail_index(**args))
    return np.asarray(out, dtype=float)


def _style_alpha_axis(ax, top=None):
    ax.set_yscale("log")
    ax.axhline(2.0, color="0.4", lw=0.8, ls=":")
    ax.set_ylabel(r"tail index $\alpha$")
    if top:
        ax.set_ylim(0.08, top)


def _est_caption(cfg, marked: bool = False) -> str:
    a = cfg["analysis"]
    return _EST.format(k=100 * a["hill_k_fraction"], blocks=list(a["block_sizes"])) + (_NO_LAW if marked else "")


def plot_alpha_vs_lr(data, cfg):
    est = linreg_estimates(data["linreg"], cfg["analysis"])
    d, sigma = int(est.dim.values[0]), float(est.sigma.values[0])
    fig, axes = new_figure(1, 1, width=3.6, height=2.8)
    ax = axes[0][0]
    lrs = est.lr.values
    dense = np.linspace(lrs.min(), lrs.max(), 60)
    marked = False
    for i, b in enumerate(est.batch_size.values):
        color = f"C{i}"
        point = est.sel(batch_size=b).isel(dim=0, sigma=0)
        ax.plot(dense, _curve("eta", dense, 0, int(b), d, sigma), color=color, lw=1)
        ax.plot(lrs, point.alpha_hill, "o", color=color, label=f"b = {b}")
        ax.plot(lrs, point.alpha_block, "o", mfc="none", color=color, ms=3)
        marked = _mark_no_law(ax, lrs, point.stationary, color, marked)
        border = float(variance_border_lr(int(b), d, sigma))
        if lrs.min() <= border <= lrs.max():
            ax.axvline(border, color=color, lw=0.6, ls="--")
    _no_law_entry(ax, marked)
    _style_alpha_axis(ax, top=40)
    ax.set_xlabel(r"step size $\eta$")
    ax.legend(title=f"d = {d}, $\\sigma$ = {sigma:g}", loc="lower left")
    caption = (f"Tail index of online SGD iterates on Gaussian linear regression against the step size, for several "
               f"batch sizes (d = {d}, sigma = {sigma:g}, {data['linreg'].sizes['seed']} chains per point). "
               + _est_caption(cfg, marked) + "Dashed verticals: the closed-form border eta = 2b/(sigma^2 (d+b+1)) where alpha = 2; "
               "dotted: alpha = 2. Missing theory: E log||M e_1|| >= 0 (no stationary law)." + _NAMING)
    return fig, caption


def plot_alpha_vs_batch(data, cfg):
    est = linreg_estimates(data["linreg"], cfg["analysis"])
    d, sigma = int(est.dim.values[0]), float(est.sigma.values[0])
    fig, axes = new_figure(1, 1, width=3.6, height=2.8)
    ax = axes[0][0]
    bs = est.batch_size.values
    dense = np.arange(bs.min(), bs.max() + 1)
    lrs = est.lr.values[:: max(1, len(est.lr) // 4)]
    marked = False
    for i, lr in enumerate(lrs):
        color = f"C{i}"
        point = est.sel(lr=lr).isel(dim=0, sigma=0)
        ax.plot(dense, _curve("batch_size", dense, float(lr), 1, d, sigma), color=color, lw=1)
        ax.plot(bs, point.alpha_hill, "o", color=color, label=f"$\\eta$ = {lr:g}")
        ax.plot(bs, point.alpha_block, "o", mfc="none", color=color, ms=3)
        marked = _mark_no_law(ax, bs, point.stationary, color, marked)
    _no_law_entry(ax, marked)
    _style_alpha_axis(ax, top=40)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size b")
    ax.legend(loc="lower right")
    caption = (f"Tail index against the batch size for several step sizes (d = {d}, sigma = {sigma:g}): alpha rises "
               "with b. " + _est_caption(cfg, marked) + _NAMING)
    return fig, caption


def _plot_vs(data_key, vary, label, data, cfg):
    est = linreg_estimates(data[data_key], cfg["analysis"])
    fig, axes = new_figure(1, 1, width=3.6, height=2.8)
    ax = axes[0][0]
    values = est[vary].values
    dense = np.arange(values.min(), values.max() + 1) if vary == "dim" else np.linspace(values.min(), values.max(), 50)
    fixed = {k: est[k].values for k in ("lr", "batch_size", "dim", "sigma") if k != vary}
    marked = False
    for i, lr in enumerate(est.lr.values):
        color = f"C{i}"
        point = est.sel(lr=lr).squeeze([k for k in ("batch_size", "dim", "sigma") if k != vary])
        b = int(fixed["batch_size"][0])
        d = int(est.dim.values[0])
        sigma = float(est.sigma.values[0])
        theory_args = {"eta": float(lr), "batch_size": b, "dim": d, "sigma": sigma}
        key = {"dim": "dim", "sigma": "sigma"}[vary]
        ax.plot(dense, _curve(key, dense, **theory_args), color=color, lw=1)
        ax.plot(values, point.alpha_hill, "o", color=color, label=f"$\\eta$ = {lr:g}")
        ax.plot(values, point.alpha_block, "o", mfc="none", color=color, ms=3)
        marked = _mark_no_law(ax, values, point.stationary, color, marked)
    _no_law_entry(ax, marked)
    _style_alpha_axis(ax, top=40)
    ax.set_xlabel(label)
    ax.legend(loc="lower left")
    return fig, est, fixed, marked


def plot_alpha_vs_dim(data, cfg):
    fig, est, fixed, marked = _plot_vs("linreg_dim", "dim", "dimension d", data, cfg)
    caption = (f"Tail index against the dimension d (b = {int(fixed['batch_size'][0])}, sigma = {float(fixed['sigma'][0]):g}): "
               "alpha falls as d grows; d = 1 included (theory by exact quadrature). " + _est_caption(cfg, marked) + _NAMING)
    return fig, caption


def plot_alpha_vs_sigma(data, cfg):
    fig, est, fixed, marked = _plot_vs("linreg_sigma", "sigma", r"data scale $\sigma$ (Hessian $\sigma^2 I$)", data, cfg)
    caption = (f"Tail index against the data scale sigma, rows N(0, sigma^2 I) so the Hessian is sigma^2 I "
               f"(b = {int(fixed['batch_size'][0])}, d = {int(fixed['dim'][0])}): more curvature, heavier tails. "
               + _est_caption(cfg, marked) + _NAMING)
    return fig, caption


def plot_tail_survival(data, cfg):
    ds = data["linreg"]
    a = cfg["analysis"]
    fig, axes = new_figure(2, 1, width=6.4, height=2.6)
    hist_ax, surv_ax = axes[0]
    d, sigma = int(ds.dim.values[0]), float(ds.sigma.values[0])
    for i, which in enumerate(("heavy", "light")):
        point = a[which]
        x = ds["error"].sel(lr=point["lr"], batch_size=point["batch_size"]).isel(dim=0, sigma=0).values[..., :d].ravel()
        x = x[np.isfinite(x)]
        scale = np.median(np.abs(x))
        z = x / scale
        alpha = tail_index(point["lr"], point["batch_size"], d, sigma)
        label = f"{which}: $\\eta$ = {point['lr']:g}, b = {point['batch_size']}, $\\alpha$ = {alpha:.2g}"
        bins = np.linspace(-10, 10, 101)
        outside = float(np.mean(np.abs(z) > 10))
        # density of the whole sample shown on [-10, 10]; the mass outside is given in the legend
        weights = np.full(z.size, 1.0 / (z.size * (bins[1] - bins[0])))
        hist_ax.hist(z, bins=bins, weights=weights, histtype="step", color=f"C{i}",
                     label=f"{label}, {100 * outside:.1f}% beyond ±10")
        t = np.sort(np.abs(z))
        survival = 1.0 - np.arange(t.size) / t.size
        surv_ax.loglog(t, survival, color=f"C{i}", label=label)
        anchor = np.quantile(t, 0.99)
        ref = np.geomspace(anchor, max(anchor * 1.01, t[-1]), 20)
        if np.isfinite(alpha) and alpha < 20:
            surv_ax.loglog(ref, 0.01 * (ref / anchor) ** (-alpha), ls="--", color=f"C{i}", lw=0.8)
    hist_ax.set_yscale("log")
    hist_ax.set_xlabel("coordinate / median |coordinate|")
    hist_ax.set_ylabel("density")
    hist_ax.legend(loc="upper right", fontsize=5.5)
    surv_ax.set_xlim(left=0.1)
    surv_ax.set_xlabel("t = |coordinate| / median |coordinate|")
    surv_ax.set_ylabel(r"$P(|x_i| > t)$")
    caption = (f"Iterate coordinates of online SGD after burn-in (d = {d}, sigma = {sigma:g}, all chains pooled): "
               "histogram (left, log density) and log-log survival function (right) for a heavy-tailed and a light-tailed "
               "setting; dashed: slope -alpha (theory) anchored at the 99% quantile. Settings chosen by us (config "
               "analysis.heavy / analysis.light)." + _NAMING)
    return fig, caption


def plot_streaming_vs_finite(data, cfg):
    stream = linreg_estimates(data["linreg"], cfg["analysis"])
    finite = linreg_estimates(data["linreg_finite"], cfg["analysis"])
    fig, axes = new_figure(2, 1, width=6.6, height=3.0)
    ax, avg_ax = axes[0]
    lims = [0.1, 20]
    no_law = []
    for i, b in enumerate(finite.batch_size.values):
        for lr in finite.lr.values:
            if lr not in stream.lr.values or b not in stream.batch_size.values:
                continue
            s = stream.sel(lr=lr, batch_size=b).isel(dim=0, sigma=0)
            f = finite.sel(lr=lr, batch_size=b).isel(dim=0, sigma=0)
            which = [name for name, point in (("streaming", s), ("finite", f)) if not bool(point.stationary)]
            if which:
                no_law.append(f"$\\eta$ = {lr:g}, b = {b} ({' and '.join(which)})")
                continue
            ax.plot(float(s.alpha_hill), float(f.alpha_hill), "o", color=f"C{i}",
                    label=f"b = {b}" if lr == finite.lr.values[0] else None)
            ax.plot(float(s.alpha_block), float(f.alpha_block), "s", mfc="none", color=f"C{i}", ms=3)
    if no_law:
        ax.text(0.97, 0.03, "no stationary law, not shown:\n" + "\n".join(no_law), transform=ax.transAxes,
                ha="right", va="bottom", fontsize=5.5)
    ax.plot(lims, lims, color="0.4", lw=0.8)
    for a in (ax, avg_ax):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlim(lims)
        a.set_ylim(lims)
    ax.set_xlabel(r"$\hat\alpha$, streaming (fresh Gaussian data)")
    ax.set_ylabel(r"$\hat\alpha$, finite data set")
    ax.set_title("streaming against finite data")
    ax.legend(loc="upper left")
    _plot_averaged(avg_ax, finite, lims)
    n = int(data["linreg_finite"].attrs.get("n_data", 0))
    n_chains = data["linreg_finite"].sizes["seed"]
    caption = (f"Left: streaming SGD against the authors' finite-data setting (one data set of n = {n} points, mini-batches "
               "without replacement, error to the least-squares solution), same (eta, b, d, sigma). Circles: Hill; "
               "squares: block-sum. The identity line is agreement; pairs where either setting has no stationary law "
               "(growing iterates) are listed, not plotted. Right: the finite-data estimates against the streaming "
               "theory's alpha: Hill and block-sum on the pooled iterate coordinates, and the authors' estimate, the "
               f"block-sum estimator on the norms of the {n_chains} averaged iterates after burn-in (one vector per chain; "
               "triangles). Solid: alpha; dashed: min(alpha, 2), what a block-sum estimate converges to (by the "
               "generalized CLT the average is alpha-stable where alpha < 2, Gaussian where alpha > 2). Crosses: no "
               "stationary law (measured growth of log||x - x*||)." + _NAMING)
    return fig, caption


def _plot_averaged(ax, finite, lims):
    """Finite-data estimates (raw Hill, raw block-sum, averaged-iterate block-sum) against the theory alpha."""
    dense = np.geomspace(lims[0], lims[1], 50)
    ax.plot(dense, dense, color="0.4", lw=0.8)
    ax.plot(dense, np.minimum(dense, 2.0), color="0.4", lw=0.8, ls="--")
    marked = False
    for i, b in enumerate(finite.batch_size.values):
        f = finite.sel(batch_size=b).isel(dim=0, sigma=0)
        theory = f.alpha_theory.values
        shown = np.isfinite(theory)
        color = f"C{i}"
        ax.plot(theory[shown], f.alpha_hill.values[shown], "o", color=color)
        ax.plot(theory[shown], f.alpha_block.values[shown], "s", mfc="none", color=color, ms=3)
        if "alpha_block_avg" in f:
            ax.plot(theory[shown], f.alpha_block_avg.values[shown], "^", color=color, ms=4, mec="k", mew=0.4)
        marked = _mark_no_law(ax, theory[shown], f.stationary.values[shown], color, marked)
    for marker, style, label in (("o", {}, "Hill, iterates"), ("s", {"mfc": "none", "ms": 3}, "block-sum, iterates"),
                                 ("^", {"mec": "k", "mew": 0.4, "ms": 4}, "block-sum, averaged iterates")):
        ax.plot([], [], marker, color="0.5", label=label, **style)
    _no_law_entry(ax, marked)
    ax.set_xlabel(r"theory $\alpha$ (root of $h(\alpha) = 1$)")
    ax.set_ylabel(r"$\hat\alpha$, finite data set")
    ax.set_title("averaged against raw iterates")
    ax.legend(loc="upper left")


def plot_mlp_alpha_vs_lr_over_b(data, cfg):
    est = mlp_estimates(data["mlp"], cfg["analysis"])
    layers = est.layer.values
    fig, axes = new_figure(len(layers), 1, width=2.3 * len(layers), height=2.4)
    for j, layer in enumerate(layers):
        ax = axes[0][j]
        for i, b in enumerate(est.batch_size.values):
            x = est.lr_over_b.sel(batch_size=b).values
            y = est.alpha_block.sel(batch_size=b, layer=layer).mean("seed").values
            ax.plot(x, y, "o", color=f"C{i}", label=f"b = {b}")
        ax.set_xscale("log")
        ax.set_xlabel(r"$\eta / b$")
        ax.set_title(f"layer {layer}")
        if j == 0:
            ax.set_ylabel(r"$\hat\alpha$ (block-sum)")
            ax.legend(loc="lower left")
    attrs = data["mlp"].attrs
    caption = (f"Bias-free ReLU network ({attrs.get('layer_sizes', '')}) on {attrs.get('dataset', '')}, trained by SGD "
               f"for {attrs.get('n_steps', '')} steps: block-sum tail index of each layer's weights (average of the last "
               f"{attrs.get('n_average', '')} iterates, centred by the layer mean; block sizes up to 1000 as in the "
               "authors' code) against eta/b. Diverged runs are omitted." + _NAMING)
    return fig, caption


def plot_mlp_accuracy_vs_alpha(data, cfg):
    est = mlp_estimates(data["mlp"], cfg["analysis"])
    fig, axes = new_figure(1, 1, width=3.4, height=2.6)
    ax = axes[0][0]
    alpha = est.alpha_block.mean("layer")
    for i, b in enumerate(est.batch_size.values):
        ax.plot(alpha.sel(batch_size=b).values.ravel(), est.test_accuracy.sel(batch_size=b).values.ravel(), "o",
                color=f"C{i}", label=f"b = {b}")
    ax.set_xlabel(r"$\hat\alpha$ (block-sum, mean over layers)")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right")
    caption = ("Test accuracy of the networks against the tail index of their weights (mean of the per-layer block-sum "
               "estimates), one point per (eta, b)." + _NAMING)
    return fig, caption
