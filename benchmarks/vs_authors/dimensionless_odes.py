"""dimensionless_odes against the authors' code (IdePHICS/DimensionlessDynamicsSGD): one-pass SGD
of the erf committee machine (teacher-student, Gaussian inputs, label noise).

What runs: the authors' simulation classes from ``committee_learning/`` in the checkout given by
``--authors`` (imported from there, not copied): ``Simulation`` (autograd, the class their
how-to notebook uses) and ``TensorSimulation`` (their hand-written gradient), one seed after
another, each ``fit(steps, n_saved_points)``; against ours,
``sgdrepro.dimensionless_odes.experiments.train_group``, every seed one batched program.
Their float32 tensors are theirs; ours are float64.

Run-time patch (theirs, in memory only): their package imports ``erf_risk`` from a Cython
extension built against the boost-math submodule, which the checkout does not carry built; a
stand-in module ``committee_learning._cython.risk`` is put in ``sys.modules`` whose ``erf_risk``
is our closed form (``sgdrepro.dimensionless_odes.theory.risk_erf``). Their training code is
untouched; the risk both sides are compared on is computed by that one formula from each
side's recorded order parameters (Q, M).

Same work: per setting (p, d) with k = 2 teachers, ``--runs`` seeds, gamma = p * lr/p, noise
Delta, ``--steps`` steps; every run, theirs and ours, starts from the same order parameters
(Q0, M0, P = I) (ours' random start of ``initial_condition``: M0 ~ N(0, 1), Q0 = M0 M0^T + I),
their weights built from them with a random frame per seed (our ``weights_from_overlaps``).
Both record at the same step counts (theirs save before the update of step s, i.e. after s - 1
updates; ours are asked for exactly those counts).

Agreement: over seeds, (1) the mean excess risk at the last record and (2) the mean over the
records of log10 risk (the whole curve's level); each side's seed spread is the standard error
of the mean over its seeds; agreement when |ours - theirs| <= 3 sqrt(se_ours^2 + se_theirs^2),
for each of their classes. Throughput: run-steps per second (from the median seconds over
``--repeats`` interleaved repeats), and the ratio ours / theirs for each class (the median of
the ratios within each repeat).

    python benchmarks/vs_authors/dimensionless_odes.py --authors /tmp/authors/DimensionlessDynamicsSGD
        [--settings 10:256 2:256 4:256] [--steps 20000] [--runs 8] [--lr-over-p 0.5] [--noise 1e-3]
"""

from __future__ import annotations

import _common  # first: pins one thread before numpy and torch load

import logging
import sys
import types

import numpy as np
import torch

from sgdrepro.core import RunContext
from sgdrepro.dimensionless_odes import theory
from sgdrepro.dimensionless_odes.experiments import initial_condition, train_group
from sgdrepro.dimensionless_odes.model import weights_from_overlaps

PACKAGE = "committee_learning/committee_learning/simulation/base.py"
K = 2


def import_theirs(path) -> dict:
    """Their two simulation classes, imported from the checkout with the risk stand-in."""
    stub_pkg, stub = types.ModuleType("committee_learning._cython"), types.ModuleType("committee_learning._cython.risk")
    stub.erf_risk = lambda Q, M, P: float(theory.risk_erf(Q, M, P))
    stub.square_risk = lambda Q, M, P: float(theory.risk_square(Q, M, P))
    stub_pkg.risk = stub
    sys.modules.update({"committee_learning._cython": stub_pkg, "committee_learning._cython.risk": stub})
    sys.path.insert(0, str(path / "committee_learning"))
    from committee_learning.simulation import Simulation, TensorSimulation

    return {"theirs Simulation": Simulation, "theirs TensorSimulation": TensorSimulation}


def save_points(steps: int, n_saved: int) -> np.ndarray:
    """The step numbers at which their ``fit`` records (before that step's update)."""
    every = max(1, int(steps / min(n_saved, steps)))
    return np.array([s for s in range(1, steps + 1) if s % every == 0])


def their_weights(overlaps, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(W_teacher [k, d], W [p, d]) with exactly the overlaps (Q0, M0, P), random frame of ``seed``."""
    gauss = torch.from_numpy(np.random.default_rng(1000 + seed).standard_normal((1, d, overlaps[0].shape[0] + K)))
    wt, w = weights_from_overlaps(gauss, *overlaps)
    return wt[0].numpy(), w[0].numpy()


def run_theirs(cls, overlaps, p: int, d: int, gamma: float, noise: float, steps: int, n_saved: int, runs: int) -> np.ndarray:
    """[runs, records] excess risks of their class, one seed after another."""
    P = overlaps[2]
    risks = []
    for seed in range(runs):
        wt, w0 = their_weights(overlaps, d, seed)
        sim = cls(d=d, p=p, k=K, gamma=gamma, Wt=wt, W0=w0, noise=noise, activation="erf")
        torch.manual_seed(seed)
        sim.fit(steps, n_saved_points=n_saved, show_progress=False)
        risks.append([theory.risk_erf(Q, M, P) for Q, M in zip(sim.saved_Qs, sim.saved_Ms)])
    return np.asarray(risks, float)


def run_ours(overlaps, p: int, d: int, gamma: float, noise: float, steps: int, record_at: np.ndarray, runs: int) -> np.ndarray:
    """[runs, records] excess risks of our batched trainer."""
    ctx = RunContext(
        paper="dimensionless_odes", experiment="vs_authors", device=torch.device("cpu"), dtype=torch.float64, log=logging.getLogger("vs_authors")
    )
    traj = train_group(
        "vs_authors",
        ctx,
        p=p,
        d=d,
        k=K,
        lr=np.full(runs, gamma),
        seeds=np.arange(runs),
        overlaps=overlaps,
        noise=noise,
        n_steps=steps,
        record_at=record_at,
        record_overlaps=False,
    )
    return np.asarray(traj.records["risk"], float)


def compare(name: str, mine: np.ndarray, their: np.ndarray) -> list[dict]:
    def se(v):
        return float(np.std(v, ddof=1) / np.sqrt(len(v)))

    final_o, final_t = mine[:, -1], their[:, -1]
    level_o, level_t = np.log10(mine).mean(1), np.log10(their).mean(1)
    return [
        _common.agreement(f"final excess risk vs {name}", final_o.mean(), final_t.mean(), se(final_o), se(final_t)),
        _common.agreement(f"mean log10 risk over records vs {name}", level_o.mean(), level_t.mean(), se(level_o), se(level_t)),
    ]


def run_setting(classes: dict, p: int, d: int, args) -> dict:
    overlaps = initial_condition({"kind": "random", "overlap_scale": 1.0, "seed": 0}, p, K)
    gamma = p * args.lr_over_p
    saved = save_points(args.steps, args.saved)
    print(
        f"setting p = {p}, k = {K}, d = {d}, gamma = {gamma:g}, noise = {args.noise:g}: {args.runs} seeds x {args.steps} steps "
        f"(t = {args.steps * args.lr_over_p / d:g})",
        flush=True,
    )
    variants = {
        name: (lambda c=cls: run_theirs(c, overlaps, p, d, gamma, args.noise, args.steps, args.saved, args.runs)) for name, cls in classes.items()
    }
    variants["ours"] = lambda: run_ours(overlaps, p, d, gamma, args.noise, args.steps, saved - 1, args.runs)
    seconds, outputs = _common.interleaved(variants, args.repeats)
    checks = [c for name in classes for c in compare(name, outputs["ours"][0], outputs[name][0])]
    rates = _common.rates_line(args.runs * args.steps, seconds)
    return {
        "p": p,
        "k": K,
        "d": d,
        "gamma": gamma,
        "noise": args.noise,
        "runs": args.runs,
        "steps": args.steps,
        "final_risk": {k: float(v[0][:, -1].mean()) for k, v in outputs.items()},
        "agreement": checks,
        **rates,
    }


def main(argv=None) -> dict:
    parser = _common.base_parser(__doc__, steps=20_000, runs=8)
    parser.add_argument("--settings", nargs="+", default=["10:256", "2:256", "4:256"], help="p:d pairs (d >= p + 2)")
    parser.add_argument("--lr-over-p", type=float, default=0.5, help="gamma / p (default 0.5)")
    parser.add_argument("--noise", type=float, default=1e-3, help="label-noise variance Delta (their notebook: 1e-3)")
    parser.add_argument("--saved", type=int, default=20, help="records per run (their n_saved_points)")
    args = parser.parse_args(argv)
    path = _common.check_checkout(args.authors, PACKAGE, "IdePHICS/DimensionlessDynamicsSGD")
    classes = import_theirs(path)
    settings = [tuple(int(v) for v in s.split(":")) for s in args.settings]
    result = {
        "paper": "dimensionless_odes",
        "authors": "IdePHICS/DimensionlessDynamicsSGD",
        "commit": _common.authors_commit(path),
        "machine": _common.machine(),
        "settings": [run_setting(classes, p, d, args) for p, d in settings],
    }
    _common.finish(result, args.json)
    return result


if __name__ == "__main__":
    main()
