"""Figures of the paper, from stored trajectories (one function per figure).

The paper's figure numbers could not be established from the material at hand, so the
figures are named for what they show (each caption says so). Curves are medians over the
seeds that did not diverge (faint lines: single seeds); diverged runs are counted in the
legend, drawn faintly up to their divergence and left out of the medians.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from sgdrepro.core import new_figure

__all__ = ["plot_diagonal_stabilization", "plot_diagonal_decay", "plot_diagonal_gd_vs_sgd",
           "plot_relu_teacher_student", "plot_relu_1d", "plot_relu_three_layer", "plot_deep_sparsity",
           "plot_deep_sota_sparsity", "plot_deep_densenet_sparsity"]

_NAMING = "Named for its content (the paper's figure number could not be established)."


def seed_median(da: xr.DataArray) -> xr.DataArray:
    """Median over seeds ignoring diverged (NaN) runs; all-NaN stays NaN without a warning."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return da.median("seed", skipna=True)


def n_diverged(ds: xr.Dataset, **sel) -> int:
    return int((ds["diverged_step"].sel(**sel) >= 0).sum())


def _colors(n: int):
    import seaborn as sns

    return sns.color_palette("colorblind", max(n, 3))


def _curves(ax, ds, var, sel, color, label, faint=True):
    """Faint: every seed (a diverged one stops at its divergence); bold: median over the seeds
    that never diverged, so the median does not jump when a run drops out. Only runs that never
    diverged set the axis limits: a diverging run's last records (1e9 and more) would flatten the
    others; its faint line may leave the axes."""
    da = ds[var].sel(**sel)
    alive = (ds["diverged_step"].sel(**sel) < 0).values
    if faint:
        for s, ok in zip(da["seed"].values, alive):
            ax.plot(ds["step"], da.sel(seed=s), color=color, alpha=0.2, lw=0.6, scaley=bool(ok))
    if alive.any():
        ax.plot(ds["step"], seed_median(da.isel(seed=np.flatnonzero(alive))), color=color, label=label)


def _decay_label(ds, decay_at):
    if decay_at >= 1.0:
        return "constant"
    factor = float(ds["decay_factor"].sel(decay_at=decay_at))
    return f"/{factor:g} at {decay_at:.0%}"


def plot_diagonal_stabilization(data: dict, cfg: dict):
    ds = data["diagonal_sgd"]
    fig, axes = new_figure(3, 1, width=7.8, height=2.4)
    const = ds.sel(decay_at=1.0)
    colors = _colors(ds.sizes["lr"])
    for i, lr in enumerate(ds["lr"].values):
        label = f"$\\eta$={lr:g}" + (f" ({n_diverged(const, lr=lr)} div.)" if n_diverged(const, lr=lr) else "")
        for ax, var in zip(axes[0], ("train_loss", "test_loss", "l1_norm")):
            _curves(ax, const, var, {"lr": lr}, colors[i], label)
    for ax, ylabel in zip(axes[0], ("train loss", "test loss", "$\\|\\beta\\|_1$")):
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
    axes[0][0].set_yscale("log")
    axes[0][1].set_yscale("log")
    axes[0][2].set_yscale("log")  # a large step's transient excursions (1e9 at paper scale) would flatten the rest
    axes[0][0].legend(title="SGD, constant step")
    caption = (f"Diagonal linear networks (beta = u*v, n={ds.attrs['n']}, d={ds.attrs['d']}), SGD with batch "
               f"{ds.attrs['batch_size']} and a constant step size: training loss, test loss and l1 norm of beta over "
               f"iterations, median over {ds.sizes['seed']} problems (faint: single problems). Small steps converge; "
               "larger steps stop the loss at a level that grows with the step size (loss stabilization) while "
               f"||beta||_1 keeps changing. Diverged runs are counted in the legend. {_NAMING}")
    return fig, caption


def plot_diagonal_decay(data: dict, cfg: dict):
    ds = data["diagonal_sgd"]
    lr_large, lr_small = float(ds["lr"].max()), float(ds["lr"].min())
    fig, axes = new_figure(3, 1, width=7.8, height=2.4)
    decays = [float(v) for v in ds["decay_at"].values]
    colors = _colors(len(decays) + 1)
    ref = ds.sel(decay_at=1.0)
    for ax, var in zip(axes[0], ("train_loss", "test_loss", "nnz")):
        _curves(ax, ref, var, {"lr": lr_small}, "0.5", f"$\\eta$={lr_small:g} constant")
    for i, decay_at in enumerate(decays):
        run = ds.sel(lr=lr_large, decay_at=decay_at)
        k = n_diverged(run)
        label = f"$\\eta$={lr_large:g}, {_decay_label(ds, decay_at)}" + (f" ({k} div.)" if k else "")
        for ax, var in zip(axes[0], ("train_loss", "test_loss", "nnz")):
            _curves(ax, ds, var, {"lr": lr_large, "decay_at": decay_at}, colors[i], label)
            if decay_at < 1.0:
                ax.axvline(decay_at * ds.attrs["n_steps"], color=colors[i], ls="--", lw=0.8)
    for ax, ylabel in zip(axes[0], ("train loss", "test loss", f"$\\|\\beta\\|_0$ (|beta_i| > {ds.attrs['nnz_threshold']:g})")):
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
    axes[0][0].set_yscale("log")
    axes[0][1].set_yscale("log")
    axes[0][2].axhline(int((ds["beta_star"].isel(seed=0) != 0).sum()), color="k", lw=0.8, ls=":", label="|supp(beta*)|")
    axes[0][2].legend(fontsize=6)
    caption = (f"Diagonal linear networks, SGD (batch {ds.attrs['batch_size']}) with the large step {lr_large:g} divided at "
               f"different times (dashed lines; the factors are the authors'), against the small constant step {lr_small:g} "
               "(gray): training loss, test loss and number of coordinates of beta above "
               f"{ds.attrs['nnz_threshold']:g} (dotted: the ground truth's {int((ds['beta_star'].isel(seed=0) != 0).sum())}). "
               f"Median over {ds.sizes['seed']} problems. The longer the large-step phase, the sparser the predictor and "
               f"the lower the test loss after the decay. {_NAMING}")
    return fig, caption


def _final(da: xr.DataArray) -> xr.DataArray:
    return da.isel(step=-1)


def plot_diagonal_gd_vs_sgd(data: dict, cfg: dict):
    sgd, gd = data["diagonal_sgd"], data["diagonal_gd"]
    fig, axes = new_figure(3, 1, width=7.8, height=2.5)
    colors = _colors(gd.sizes["lr"] * gd.sizes["decay_at"] + 1)
    rows = []
    lr_small, lr_large = float(sgd["lr"].min()), float(sgd["lr"].max())
    rows.append((f"SGD {lr_small:g} const", sgd.sel(lr=lr_small, decay_at=1.0)))
    for decay_at in sgd["decay_at"].values:
        if decay_at < 1.0:
            rows.append((f"SGD {lr_large:g} {_decay_label(sgd, float(decay_at))}", sgd.sel(lr=lr_large, decay_at=decay_at)))
    i = 0
    for lr in gd["lr"].values:
        for decay_at in gd["decay_at"].values:
            run = gd.sel(lr=lr, decay_at=decay_at)
            rows.append((f"GD {lr:g} {_decay_label(gd, float(decay_at))}", run))
            k = n_diverged(run)
            axes[0][0].plot(gd["step"], seed_median(run["train_loss"]), color=colors[i],
                            label=f"GD $\\eta$={lr:g}, {_decay_label(gd, float(decay_at))}" + (f" ({k} div.)" if k else ""))
            i += 1
    axes[0][0].plot(sgd["step"], seed_median(sgd["train_loss"].sel(lr=lr_large, decay_at=sgd["decay_at"].max())),
                    color="k", lw=0.8, label=f"SGD $\\eta$={lr_large:g} (constant)")
    axes[0][0].set_yscale("log")
    axes[0][0].set_xlabel("iteration")
    axes[0][0].set_ylabel("train loss")
    axes[0][0].legend(fontsize=5.5)
    for ax, var, ylabel in ((axes[0][1], "test_loss", "final test loss"), (axes[0][2], "nnz", "final $\\|\\beta\\|_0$")):
        for j, (label, run) in enumerate(rows):
            values = _final(run[var]).values
            ax.scatter(np.full(values.shape, j), values, s=8, color="C0" if label.startswith("SGD") else "C3", alpha=0.7)
            ax.scatter([j], [np.nanmedian(values) if np.isfinite(values).any() else np.nan], marker="_", s=120, color="k")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r[0] for r in rows], rotation=60, ha="right", fontsize=5.5)
        ax.set_ylabel(ylabel)
    axes[0][1].set_yscale("log")
    caption = ("Diagonal linear networks on the same problems: full-batch GD (red) against SGD with batch 1 (blue). Left: "
               "GD training loss over iterations for each step size and schedule (black: SGD's stabilized loss at its large "
               "step). Middle and right: final test loss and number of non-zero coordinates per problem (dots) and median "
               "(bars). GD with these step sizes converges fast and ends dense (GD needs step sizes near its own stability "
               "threshold to stabilize, and even then the authors find it helps little); SGD's large-step phase yields "
               f"sparser predictors and lower test loss. {_NAMING}")
    return fig, caption


def _relu_runs(ds):
    """Small constant step, and the large step with each decay time (the paper's runs)."""
    lr_small, lr_large = float(ds["lr"].min()), float(ds["lr"].max())
    runs = [(f"$\\eta$={lr_small:g} constant", {"lr": lr_small, "decay_at": float(ds["decay_at"].max())})]
    for decay_at in ds["decay_at"].values:
        if decay_at < 1.0:
            runs.append((f"$\\eta$={lr_large:g}, {_decay_label(ds, float(decay_at))}", {"lr": lr_large, "decay_at": float(decay_at)}))
    return runs


def plot_relu_teacher_student(data: dict, cfg: dict):
    ds = data["relu_teacher_student"]
    fig, axes = new_figure(3, 1, width=7.8, height=2.4)
    runs = _relu_runs(ds)
    colors = ["0.5"] + list(_colors(len(runs)))
    for i, (label, sel) in enumerate(runs):
        k = n_diverged(ds, **sel)
        label = label + (f" ({k} div.)" if k else "")
        for ax, var in zip(axes[0], ("train_loss", "feature_sparsity_dedup", "test_loss")):
            _curves(ax, ds, var, sel, colors[i], label)
            if sel["decay_at"] < 1.0:
                ax.axvline(sel["decay_at"] * ds.attrs["n_steps"], color=colors[i], ls="--", lw=0.8)
    for ax, ylabel in zip(axes[0], ("train loss", "feature sparsity coefficient", "test loss")):
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
    axes[0][0].set_yscale("log")
    axes[0][2].set_yscale("log")
    axes[0][0].legend(fontsize=6)
    caption = (f"Two-layer ReLU student ({ds.attrs['m_student']} units, no biases) of a 3-unit teacher on n={ds.attrs['n']} "
               f"points of the unit circle, SGD with batch {ds.attrs['batch_size']}: small constant step (gray) vs a large "
               "step divided at different times (dashed lines). Training loss, feature sparsity coefficient (fraction of "
               f"positive ReLUs over samples x neurons after dropping dead and |corr| > {cfg['relu_teacher_student']['corr_threshold']} "
               f"duplicated neurons) and test loss; median over {ds.sizes['seed']} draws of teacher, data and init. {_NAMING}")
    if float(ds["lr"].max()) < 0.455:
        caption += (f" The large step is {float(ds['lr'].max()):g}, not the authors' 0.455: with their exact setup 0.455 "
                    "diverges within ~30 iterations on most draws (in their code too), see config comments.")
    return fig, caption


def plot_relu_1d(data: dict, cfg: dict):
    ds = data["relu_1d"]
    fig, axes = new_figure(3, 1, width=7.8, height=2.4)
    lr = float(ds["lr"].values[0])
    colors = _colors(ds.sizes["decay_at"])
    for i, decay_at in enumerate(ds["decay_at"].values):
        sel = {"lr": lr, "decay_at": float(decay_at)}
        label = f"large-step phase {decay_at:.0%}"
        for ax, var in zip(axes[0][:2], ("train_loss", "feature_sparsity")):
            _curves(ax, ds, var, sel, colors[i], label)
            ax.axvline(decay_at * ds.attrs["n_steps"], color=colors[i], ls="--", lw=0.8)
        axes[0][2].plot(ds["x"], ds["function"].sel(seed=0, **sel), color=colors[i], label=label)
    axes[0][2].scatter(ds["x_train"], ds["y_train"], color="k", s=8, zorder=3, label="training points")
    axes[0][0].set_yscale("log")
    for ax, (xlabel, ylabel) in zip(axes[0], (("iteration", "train loss"), ("iteration", "fraction of active ReLUs"), ("x", "f(x), seed 0"))):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    axes[0][0].legend(fontsize=6)
    axes[0][2].legend(fontsize=6)
    caption = (f"Two-layer ReLU network ({ds.attrs['m']} units with biases) on the authors' 12-point 1-D regression, SGD "
               f"with batch {ds.attrs['batch_size']}: the step {lr:g} is warmed up linearly to lr*(1+({ds.attrs['warmup_mult']:g}L-1)L) "
               "during a large-step phase of length L and then divided (dashed lines). Training loss, fraction of positive "
               f"ReLUs over (points x units), median over {ds.sizes['seed']} inits, and the learned functions of the first "
               f"init. The long large-step phase stabilizes the loss and halves the fraction of active ReLUs. {_NAMING}")
    return fig, caption


def _phase_label(ds, phase: float) -> str:
    """The authors' legend: step size, its warm-up (to the actual peak) and the decay time."""
    lr = float(ds["lr"].sel(large_phase=phase))
    if phase == 0:
        return f"$\\eta$={lr:g} constant"
    peak = lr * (1 + (ds.attrs["warmup_factor"] - 1) * phase ** ds.attrs["warmup_exponent"])
    factor = float(ds["decay_factor"].sel(large_phase=phase))
    return f"$\\eta$={lr:g}$\\to${peak:.3g} warm-up, /{factor:g} at {phase:.0%}"


def plot_relu_three_layer(data: dict, cfg: dict):
    ds = data["relu_three_layer"]
    panels = [("train_loss", None, "train loss"), ("test_loss", None, "test loss")]
    if "grad_rank" in ds:
        panels.append(("grad_rank", None, f"rank of per-sample gradients (rel. {ds.attrs['rank_threshold']:g})"))
    panels += [("feature_sparsity_dedup", int(layer), f"feature sparsity, layer {int(layer)} (%)") for layer in ds["layer"].values]
    fig, axes = new_figure(len(panels), 1, width=2.5 * len(panels), height=2.5)
    phases = [float(v) for v in ds["large_phase"].values]
    colors = ["0.5"] + list(_colors(len(phases)))
    for i, phase in enumerate(phases):
        k = n_diverged(ds, large_phase=phase)
        label = _phase_label(ds, phase) + (f" ({k} div.)" if k else "")
        for ax, (var, layer, _) in zip(axes[0], panels):
            view = ds if layer is None else ds.sel(layer=layer)
            if var.startswith("feature_sparsity"):
                view = view.assign({var: view[var] * 100})
            _curves(ax, view, var, {"large_phase": phase}, colors[i], label)
            if phase > 0:
                ax.axvline(phase * ds.attrs["n_steps"], color=colors[i], ls="--", lw=0.8)
    for ax, (_, _, ylabel) in zip(axes[0], panels):
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
    axes[0][0].set_yscale("log")
    axes[0][1].set_yscale("log")
    axes[0][0].legend(fontsize=5.5)
    widths = "-".join(str(w) for w in [ds.attrs["d"], *ds.attrs["widths_student"], 1])
    teacher = "-".join(str(w) for w in [ds.attrs["d"], *ds.attrs["widths_teacher"], 1])
    caption = (f"Three-layer ReLU student ({widths}, biases, all layers trained) of a ReLU teacher ({teacher}) on n={ds.attrs['n']} "
               f"points of the unit sphere, SGD with batch {ds.attrs['batch_size']} for {ds.attrs['n_steps']} iterations: a small "
               f"constant step (gray) vs a step warmed up as lr(1 + {ds.attrs['warmup_factor'] - 1:g}(k/n)^{ds.attrs['warmup_exponent']:g}) "
               "during a large-step phase and then divided (dashed lines); the authors' step sizes, phases and factors. Panels: "
               "training and test loss, "
               + (f"rank of the per-sample gradient matrix on {ds.attrs['rank_points']} test inputs, " if "grad_rank" in ds else "")
               + f"and the feature sparsity coefficient of each hidden layer (positive ReLUs over samples x neurons after dropping "
               f"dead and |corr| > {ds.attrs['corr_threshold']:g} duplicated neurons). Median over {ds.sizes['seed']} draws of "
               "teacher, data, init and sample order (faint: single draws; the authors show one). The legend gives the actual peak "
               "of the warm-up (the authors' legend writes lr(1 + 5L) for it). " + _NAMING)
    return fig, caption


def _deep_panels(ds: xr.Dataset, unit: str):
    """The deep-network figure: final test error and per-{unit} feature sparsity against the length
    of the large-step phase, and the last {unit}'s sparsity and the test error per epoch."""
    fig, axes = new_figure(4, 1, width=10.0, height=2.5)
    phases = ds["large_phase"].values
    final = ds.isel(epoch=-1)
    for s in final["seed"].values:
        axes[0][0].scatter(phases, final["test_error"].sel(seed=s) * 100, color="C0", s=8, alpha=0.6)
    axes[0][0].plot(phases, seed_median(final["test_error"]) * 100, color="C0", marker="o")
    axes[0][0].set_xlabel("large-step phase (fraction of training)")
    axes[0][0].set_ylabel("final test error (%)")
    stage_colors = _colors(ds.sizes["stage"])
    for j, stage in enumerate(ds["stage"].values):
        axes[0][1].plot(phases, seed_median(final["feature_sparsity"].sel(stage=stage)) * 100, marker="o",
                        color=stage_colors[j], label=f"{unit} {stage}")
    axes[0][1].set_xlabel("large-step phase (fraction of training)")
    axes[0][1].set_ylabel("final feature sparsity (%)")
    axes[0][1].legend(fontsize=6)
    colors = _colors(len(phases))
    last = int(ds["stage"].values[-1])
    for i, phase in enumerate(phases):
        lr = float(ds["lr"].sel(large_phase=phase))
        k = n_diverged(ds, large_phase=phase)
        label = (f"$\\eta$={lr:g} constant" if phase == 0 else f"$\\eta_0$={lr:g}, {phase:.0%}") + (f" ({k} div.)" if k else "")
        axes[0][2].plot(ds["epoch"], seed_median(ds["feature_sparsity"].sel(large_phase=phase, stage=last)) * 100,
                        color=colors[i], label=label)
        axes[0][3].plot(ds["epoch"], seed_median(ds["test_error"].sel(large_phase=phase)) * 100, color=colors[i], label=label)
    axes[0][2].set_ylabel(f"feature sparsity, {unit} {last} (%)")
    axes[0][3].set_ylabel("test error (%)")
    for ax in axes[0][2:]:
        ax.set_xlabel("epoch")
    axes[0][2].legend(fontsize=6)
    return fig


def _deep_panels_caption(ds: xr.Dataset, unit: str) -> str:
    return (f"Final test error and per-{unit} feature sparsity (fraction of positive activations of the {unit}'s "
            f"post-ReLU output on training images) against the phase length, and the last {unit}'s sparsity and the "
            f"test error per epoch; median over {ds.sizes['seed']} seeds (dots: single seeds). {_NAMING}")


def plot_deep_sparsity(data: dict, cfg: dict):
    ds = data["deep"]
    fig = _deep_panels(ds, "stage")
    caption = (f"ResNet (widths {ds.attrs['widths']}, blocks {ds.attrs['blocks']}) on {ds.attrs['dataset']}, plain SGD (batch "
               f"{ds.attrs['batch_size']}, no momentum, weight decay or augmentation) with the authors' schedule: the step is "
               "warmed up exponentially during a large-step phase of the given length, then divided by 10 (and by 100 at 90% "
               "of training); 0 is a small constant step. " + _deep_panels_caption(ds, "stage"))
    return fig, caption


def plot_deep_sota_sparsity(data: dict, cfg: dict):
    ds = data["deep_sota"]
    fig = _deep_panels(ds, "stage")
    flips = " and horizontal flips" if ds.attrs.get("hflip") else " (no flips)"
    widths, blocks = [int(w) for w in np.atleast_1d(ds.attrs["widths"])], [int(b) for b in np.atleast_1d(ds.attrs["blocks"])]
    caption = (f"State-of-the-art setting: ResNet (widths {widths}, blocks {blocks}) on "
               f"{ds.attrs['dataset']}, SGD with momentum {ds.attrs['momentum']:g}, weight decay {ds.attrs['weight_decay']:g} "
               f"on every parameter, random crops with {ds.attrs.get('crop_padding', 0)}-pixel zero padding{flips}, batch "
               f"{ds.attrs['batch_size']}, {ds.attrs['epochs']} epochs. Step schedule without warm-up, as the authors' "
               "piecewise_05epochs command: the large step until the end of the phase, then divided by 10 (by 100 at 90% "
               "of training); 0 is a small constant step. The authors ran only the 50% phase in this setting; the shorter "
               "phases are ours (decayed by 10 too, see schedules.py). ")
    if ds.attrs["dataset"] == "digits":
        caption += ("Quick scale: 8x8 digits, so the crops pad 1 pixel and images are not flipped; the small constant step "
                    "is far from converged after the few epochs with these crops, so its test error says little about "
                    "generalization. ")
    return fig, caption + _deep_panels_caption(ds, "stage")


def plot_deep_densenet_sparsity(data: dict, cfg: dict):
    ds = data["deep_densenet"]
    fig = _deep_panels(ds, "block")
    name = f"DenseNet{'-BC' if ds.attrs['bottleneck'] else ''}-{ds.attrs['depth']}-{ds.attrs['growth']}"
    caption = (f"{name} (compression {ds.attrs['compression']:g}, {ds.attrs['n_parameters']:,} parameters) on "
               f"{ds.attrs['dataset']}, plain SGD (batch {ds.attrs['batch_size']}, no momentum, weight decay or "
               "augmentation) with the ResNet runs' schedule: exponential warm-up during the large-step phase, then divided "
               "by 10 (by 100 at 90% of training); 0 is a small constant step. The architecture is the standard "
               "DenseNet-BC of Huang et al. (the authors' public code has no DenseNet), and its step sizes are the ResNet "
               "runs', not tuned for DenseNets. The feature of a dense block is ReLU(BN(concatenated maps)), the input of "
               "the next transition. ")
    return fig, caption + _deep_panels_caption(ds, "block")
