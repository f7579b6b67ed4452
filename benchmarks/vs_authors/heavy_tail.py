"""heavy_tail against the authors' code (umutsimsekli/sgd_ht): finite-data linear-regression SGD.

What runs: the authors' ``sgd_linreg`` and ``alpha_estimator_multi``, read at run time from
``synth_experiments.ipynb`` in the checkout given by ``--authors`` (only the cells that define
them, plus ``loss_fn``, are exec'd; nothing of theirs is copied here), called serially (their
notebook fans the runs out with joblib; here both sides get one thread) against ours,
``sgdrepro.heavy_tail.experiments.run_linreg_finite``, all runs one batched program.

Same work: one data set, shared by both: n rows a ~ N(0, I_d), x_true ~ N(0, 3^2 I), responses
with noise sd 3 (the notebook's sizes), drawn as ``run_linreg_finite`` draws it and handed to
``sgd_linreg``; per setting (d, b, eta) ``--runs`` runs of ``--steps`` SGD updates each with
mini-batches of b distinct rows (their K = steps + 1, as their loop makes K - 1 updates).
They start at 5 N(0, I), we at x_LS + 5 N(0, I); after 1000 contracting steps neither start
matters.

Agreement: on the final error x - x_LS of every run, (1) the tail index, by the authors'
estimator (median over their block sizes m that divide the number of runs) applied to both,
and (2) the median of ||x - x_LS|| over runs. Each side's seed spread is a bootstrap standard
error over its runs; the two agree when |ours - theirs| <= 3 sqrt(se_ours^2 + se_theirs^2).
Throughput: run-steps per second (runs x steps / median seconds over ``--repeats`` interleaved
repeats) of both, and the ratio ours / theirs (the median of the ratios within each repeat).

    python benchmarks/vs_authors/heavy_tail.py --authors /tmp/authors/sgd_ht [--steps 1000] [--runs 1600]
        [--settings 10:1:0.15 10:20:1.0 100:5:0.08] [--n-data 10000] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import _common  # first: pins one thread before numpy and torch load

import logging
import math

import numpy as np
import torch

from sgdrepro.core import RunContext, numpy_rng
from sgdrepro.heavy_tail import experiments

NOTEBOOK = "synth_experiments.ipynb"
BLOCKS = (2, 5, 10, 20, 50, 100, 40)  # the notebook's m values (40 = sqrt of its 1600 runs)
SIG_X, SIG_Y, INIT = 3.0, 3.0, 5.0  # the notebook's sig_x, sig_Y and initial scale


def parse_setting(text: str) -> tuple[int, int, float]:
    d, b, eta = text.split(":")
    return int(d), int(b), float(eta)


def config(d: int, b: int, eta: float, runs: int, steps: int, n_data: int) -> dict:
    """run_linreg_finite's config for one (d, b, eta): only the final iterate is recorded."""
    return {
        "grid": {"lr": [eta], "batch_size": [b], "dim": [d], "sigma": [1.0]},
        "n_chains": runs,
        "n_steps": steps,
        "burn_in": steps,
        "thin": 1,
        "noise_sd": SIG_Y,
        "init_scale": INIT,
        "true_scale": SIG_X,
        "n_data": n_data,
    }


def context() -> RunContext:
    return RunContext(
        paper="heavy_tail", experiment="linreg_finite", device=torch.device("cpu"), dtype=torch.float64, log=logging.getLogger("vs_authors")
    )


def shared_data(cfg: dict, ctx: RunContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The data set run_linreg_finite draws for ``cfg`` (same generator, same order), and x_LS."""
    d, n = cfg["grid"]["dim"][0], int(cfg["n_data"])
    rng = numpy_rng(ctx.experiment, {"data": True}, 0, ctx.root_seed)
    a = rng.standard_normal((n, d))
    x_true = SIG_X * rng.standard_normal(d)
    y = a @ x_true + SIG_Y * rng.standard_normal(n)
    return a, y, np.linalg.lstsq(a, y, rcond=None)[0]


def ours(cfg: dict, ctx: RunContext) -> np.ndarray:
    """[runs, d] final errors x - x_LS from our batched trainer."""
    return experiments.run_linreg_finite(cfg, ctx)["error"].values.reshape(cfg["n_chains"], -1)


def theirs(ns: dict, a, y, x_ls, cfg: dict, seed: int) -> np.ndarray:
    """[runs, d] final errors from the authors' sgd_linreg, one run after another."""
    np.random.seed(seed)
    n, d = a.shape
    eta, b = cfg["grid"]["lr"][0], cfg["grid"]["batch_size"][0]
    finals = [ns["sgd_linreg"](a, y, n, d, cfg["n_steps"] + 1, eta, b)[0] for _ in range(cfg["n_chains"])]
    return np.asarray(finals) - x_ls


def tail_index(ns: dict, errors: np.ndarray) -> float:
    """The authors' estimator on the rows of ``errors``, median over the block sizes m that divide the count."""
    x = torch.from_numpy(np.ascontiguousarray(errors))
    values = [ns["alpha_estimator_multi"](m, x) for m in BLOCKS if len(x) % m == 0 and len(x) // m >= 2]
    return float(np.median(values))


def median_norm(errors: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(errors, axis=1)))


def compare(ns: dict, mine: np.ndarray, their: np.ndarray) -> list[dict]:
    checks = []
    for name, stat in (("tail index (authors' estimator)", lambda e: tail_index(ns, e)), ("median ||x - x_LS||", median_norm)):
        finite_ours, finite_theirs = mine[np.isfinite(mine).all(1)], their[np.isfinite(their).all(1)]
        checks.append(
            _common.agreement(
                name,
                stat(finite_ours),
                stat(finite_theirs),
                _common.bootstrap_se(stat, finite_ours),
                _common.bootstrap_se(stat, finite_theirs, seed=1),
            )
        )
    return checks


def run_setting(ns: dict, setting: tuple[int, int, float], args) -> dict:
    d, b, eta = setting
    cfg, ctx = config(d, b, eta, args.runs, args.steps, args.n_data), context()
    a, y, x_ls = shared_data(cfg, ctx)
    print(f"setting d = {d}, b = {b}, eta = {eta}: {args.runs} runs x {args.steps} steps, n = {args.n_data}", flush=True)
    seconds, outputs = _common.interleaved({"theirs": lambda: theirs(ns, a, y, x_ls, cfg, args.seed), "ours": lambda: ours(cfg, ctx)}, args.repeats)
    mine, their = outputs["ours"][0], outputs["theirs"][0]
    diverged = {"ours": int((~np.isfinite(mine).all(1)).sum()), "theirs": int((~np.isfinite(their).all(1)).sum())}
    print(f"  diverged runs: ours {diverged['ours']}, theirs {diverged['theirs']}")
    return {
        "d": d,
        "b": b,
        "eta": eta,
        "runs": args.runs,
        "steps": args.steps,
        "n_data": args.n_data,
        "diverged": diverged,
        "agreement": compare(ns, mine, their),
        **_common.rates_line(args.runs * args.steps, seconds),
    }


def main(argv=None) -> dict:
    parser = _common.base_parser(__doc__, steps=1000, runs=1600)
    parser.add_argument("--settings", nargs="+", default=["10:1:0.15", "10:20:1.0", "100:5:0.08"], help="d:b:eta triples")
    parser.add_argument("--n-data", type=int, default=10_000, help="data set size n (the notebook: 10^4)")
    args = parser.parse_args(argv)
    path = _common.check_checkout(args.authors, NOTEBOOK, "umutsimsekli/sgd_ht")
    ns = _common.notebook_namespace(path / NOTEBOOK, ["alpha_estimator_multi", "loss_fn", "sgd_linreg"], {"np": np, "math": math, "torch": torch})
    result = {
        "paper": "heavy_tail",
        "authors": "umutsimsekli/sgd_ht",
        "commit": _common.authors_commit(path),
        "machine": _common.machine(),
        "settings": [run_setting(ns, parse_setting(s), args) for s in args.settings],
    }
    _common.finish(result, args.json)
    return result


if __name__ == "__main__":
    main()
