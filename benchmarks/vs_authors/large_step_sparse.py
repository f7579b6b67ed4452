"""large_step_sparse against the authors' code (tml-epfl/sgd-sparse-features): SGD on diagonal
linear networks (their setting A) and on two-layer ReLU networks (their teacher-student task).

What runs: the authors' ``SGD`` of ``diag_nets.py`` and ``train_fc_net`` / ``FCNet2Layers`` of
``fc_nets.py`` with the data of ``utils.get_data_two_layer_relu_net``, imported from the checkout
given by ``--authors`` (not copied), one run after another; against ours,
``sgdrepro.large_step_sparse.diagonal.train_runs`` and ``relu.train_runs``, every run of the grid
one batched program. Their ReLU nets are float32 torch; everything else is float64.

Diagonal nets, same work: one sparse regression problem (n = 80, d = 200, r = 20, 1000 test
points, drawn by our ``make_data``) shared by both; u0 = 0.1, v0 = 0, batch 1; their notebook's
four schedules for this setting (a constant 0.25, and 0.282 divided by 4.8 / 3.4 / 1.5 after
10 / 30 / 50 % of the steps) x ``--runs`` sample orders (seeds), ``--steps`` steps each; losses
recorded at the same ~100 evenly spaced steps by both. Their decay acts from the step after
their threshold; ours is given that same step (decay_at = (threshold + 1) / steps).

ReLU nets, same work: their data (n = 15, d = 2, teacher 3 units, seed 0) handed to both, the
student (20 units, W ~ 0.5 N(0, I), a = 0, no biases) initialised by their code for each seed and
that same initial state given to ours; their notebook's schedules (0.13 constant; 0.455 divided
by 2 / 4 / 5 after 10 / 30 / 50 %) x ``--relu-runs`` seeds, ``--relu-steps`` steps, batch 1.
0.455 is at the edge of stability (see relu.py), so a share of runs diverges in both codes; the
divergence counts are printed, and the statistics use the runs that did not diverge.

Agreement, per schedule: the fraction of runs that diverged (binomial standard error at the
pooled fraction), and over the surviving seeds the mean of log10 of the final test loss (ReLU:
at the last record, 1 % before the end, the last net their ``train_fc_net`` returns) and
(diagonal) of ||u * v||_1, each side's seed spread the standard error of its mean over seeds;
agreement when |ours - theirs| <= 3 sqrt(se_ours^2 + se_theirs^2) (a schedule with fewer than 3
surviving runs on either side is reported, not checked). Throughput: run-steps per second (from
the median seconds over ``--repeats`` interleaved repeats) and the ratio ours / theirs (the
median of the ratios within each repeat). Our diagonal trainer holds one data set per run, so
the shared problem is copied per run and its 1000 x 200 test matrix is streamed once per run at
each of the ~100 test-loss records; "ours (no test-loss records)" times the same training
without the test set, to show what that layout costs.

    python benchmarks/vs_authors/large_step_sparse.py --authors /tmp/authors/sgd-sparse-features
        [--steps 20000] [--runs 16] [--relu-steps 8000] [--relu-runs 16] [--no-relu | --no-diag] [--repeats 3]
"""

from __future__ import annotations

import _common  # first: pins one thread before numpy and torch load

import contextlib
import io
import sys

import numpy as np
import torch

from sgdrepro.core import RunRandom, run_keys
from sgdrepro.large_step_sparse import diagonal, relu
from sgdrepro.large_step_sparse.experiments import linear_record_steps

DIAG = {"n": 80, "d": 200, "r": 20, "n_test": 1000, "u0": 0.1, "v0": 0.0}
DIAG_SCHEDULES = [(0.25, 1.0, 1.0), (0.282, 0.1, 4.8), (0.282, 0.3, 3.4), (0.282, 0.5, 1.5)]  # (lr, decay at, factor)
RELU = {"n": 15, "d": 2, "m_teacher": 3, "m_student": 20, "init": [0.5, 0.0], "data_seed": 0}
RELU_SCHEDULES = [(0.13, 0.0, 1.0), (0.455, 0.1, 2.0), (0.455, 0.3, 4.0), (0.455, 0.5, 5.0)]


def import_theirs(path) -> dict:
    sys.path.insert(0, str(path))
    import diag_nets
    import fc_nets
    import utils

    return {
        "SGD": diag_nets.SGD,
        "train_fc_net": fc_nets.train_fc_net,
        "FCNet2Layers": fc_nets.FCNet2Layers,
        "get_data": utils.get_data_two_layer_relu_net,
    }


def threshold(decay_at: float, steps: int) -> int:
    """Their threshold iteration (the notebook's int(fraction * num_iter)); -1: never."""
    return int(decay_at * steps) if decay_at < 1.0 else -1


def our_params(schedules, runs: int, steps: int, after: int) -> dict:
    """Per-run lr, decay_at, decay_factor (schedule-major), decaying from the step theirs does:
    their threshold + ``after`` (1: their SGD divides after the threshold's step, 0: before it)."""
    lr, at, factor = (np.repeat([s[i] for s in schedules], runs).astype(float) for i in range(3))
    at = np.array([(threshold(a, steps) + after) / steps if 0.0 < a < 1.0 else 1.0 for a in at])
    factor = np.where(at < 1.0, factor, 1.0)
    return {"lr": lr, "decay_at": at, "decay_factor": factor}


def our_keys(experiment: str, schedules, runs: int) -> np.ndarray:
    points = [{"schedule": i, "seed": s} for i in range(len(schedules)) for s in range(runs)]
    return run_keys(experiment, points, key_dims=("schedule", "seed"))


# ---------------------------------------------------------------- diagonal nets


def diag_problem() -> dict:
    """One sparse regression problem (numpy arrays), drawn by our make_data."""
    keys = run_keys("vs_authors_diag_data", [{"seed": 0}], key_dims=("seed",))
    data = diagonal.make_data(RunRandom(keys, "cpu"), DIAG["n"], DIAG["d"], DIAG["r"], DIAG["n_test"])
    return {k: v[0].numpy() for k, v in data.items()}


def diag_theirs(fn, prob: dict, steps: int, runs: int, record: np.ndarray) -> np.ndarray:
    """[schedules * runs, d] final u * v from their SGD, one run after another."""
    u0, v0 = DIAG["u0"] * np.ones(DIAG["d"]), DIAG["v0"] * np.ones(DIAG["d"])
    betas = []
    with np.errstate(all="ignore"):
        for lr, at, factor in DIAG_SCHEDULES:
            for seed in range(runs):
                np.random.seed(seed)
                _, _, u, v = fn(
                    prob["X"],
                    prob["y"],
                    prob["X_test"],
                    prob["y_test"],
                    lr,
                    u0,
                    v0,
                    record,
                    steps,
                    thresholds=[threshold(at, steps)],
                    decays=[factor],
                )
                betas.append(u * v)
    return np.asarray(betas)


def diag_ours(prob: dict, steps: int, runs: int, record: np.ndarray, test_records: bool = True) -> np.ndarray:
    """[schedules * runs, d] final u * v (NaN for a diverged run) from our trainer. Our trainer
    holds every run's own data set, so the shared problem is copied per run; ``test_records``
    False leaves the test set out (no test loss at the records: the 1000 x 200 test matrix per run
    is then not streamed from memory at every record)."""
    total = len(DIAG_SCHEDULES) * runs
    keep = prob if test_records else {k: v for k, v in prob.items() if not k.endswith("_test")}
    data = {k: torch.as_tensor(v).expand(total, *v.shape) for k, v in keep.items()}
    traj = diagonal.train_runs(
        data,
        our_params(DIAG_SCHEDULES, runs, steps, 1),
        our_keys("vs_authors_diag", DIAG_SCHEDULES, runs),
        steps,
        1,
        record,
        init_u=DIAG["u0"],
        init_v=DIAG["v0"],
    )
    beta = traj.final["u"] * traj.final["v"]
    return np.where(traj.diverged[:, None], np.nan, beta)


def diag_stats(prob: dict, betas: np.ndarray) -> dict:
    """Per run: log10 final test loss and ||beta||_1 (NaN when diverged)."""
    with np.errstate(all="ignore"):
        test = 0.5 * np.mean((betas @ prob["X_test"].T - prob["y_test"]) ** 2, axis=1)
        ok = np.isfinite(test) & np.isfinite(betas).all(1) & (np.abs(betas).max(1) < 1e10)
        return {"log10 test loss": np.where(ok, np.log10(test), np.nan), "l1 norm": np.where(ok, np.abs(betas).sum(1), np.nan)}


# ---------------------------------------------------------------- two-layer ReLU nets


def relu_data(theirs: dict):
    with contextlib.redirect_stdout(io.StringIO()):  # their data function prints the labels
        X, y, X_test, y_test, _ = theirs["get_data"](RELU["n"], RELU["d"], RELU["m_teacher"], [1.0, 1.0], RELU["data_seed"])
    return X, y, X_test, y_test


def relu_init(theirs: dict, seed: int):
    torch.manual_seed(seed)
    net = theirs["FCNet2Layers"](n_feature=RELU["d"], n_hidden=RELU["m_student"])
    net.init_gaussian(init_scales=RELU["init"])
    return net


def relu_theirs(theirs: dict, data, steps: int, runs: int, record: np.ndarray) -> np.ndarray:
    """[schedules * runs] test loss at the last record step (the last net their train_fc_net returns;
    NaN when it stopped on a NaN loss)."""
    X, y, X_test, y_test = data
    out = []
    for lr, at, factor in RELU_SCHEDULES:
        for seed in range(runs):
            np.random.seed(seed)
            net = relu_init(theirs, seed)
            _, test_losses, nets = theirs["train_fc_net"](
                X, y, X_test, y_test, lr, 1, net, record, steps, thresholds=[int(at * steps)], decays=[factor]
            )
            with torch.no_grad():
                final = float(torch.mean((nets[-1](X_test) - y_test) ** 2)) if len(nets) == len(record) else np.nan
            out.append(final)
    return np.asarray(out)


def relu_ours(theirs: dict, data, steps: int, runs: int, record: np.ndarray) -> np.ndarray:
    """[schedules * runs] test loss at the last record step of our batched trainer, from the same initial states."""
    X, y, X_test, y_test = (torch.as_tensor(t.numpy(), dtype=torch.float64) for t in data)
    total = len(RELU_SCHEDULES) * runs
    nets = [relu_init(theirs, s % runs) for s in range(total)]
    W = torch.stack([n.layer1.weight.detach().double() for n in nets])
    init = {
        "W": W,
        "b": torch.zeros(total, RELU["m_student"], dtype=torch.float64),
        "a": torch.stack([n.layer2.weight.detach().double()[0] for n in nets]),
    }
    expand = lambda t: t.reshape(1, *t.shape).expand(total, *t.shape)
    rows = {"X": expand(X), "y": expand(y[:, 0]), "X_test": expand(X_test), "y_test": expand(y_test[:, 0])}
    params = {**our_params(RELU_SCHEDULES, runs, steps, 0), "warmup_factor": np.ones(total)}
    traj = relu.train_runs(rows, init, params, our_keys("vs_authors_relu", RELU_SCHEDULES, runs), steps, 1, record, train_bias=False)
    final = np.asarray(traj.records["test_loss"])[:, -1]  # at their last record step, as theirs
    return np.where(np.isfinite(final), final, np.nan)


# ---------------------------------------------------------------- comparison


def compare_schedules(label: str, schedules, runs: int, ours: dict, theirs: dict) -> tuple[list[dict], list[dict]]:
    """Per schedule and statistic, the agreement check on the surviving runs; and divergence counts."""
    checks, counts = [], []
    for i, (lr, at, factor) in enumerate(schedules):
        rows = slice(i * runs, (i + 1) * runs)
        name = f"{label} lr {lr} constant" if factor == 1.0 else f"{label} lr {lr} / {factor} after {at:.0%}"
        counts.append(
            {
                "schedule": name,
                "diverged_ours": int(np.isnan(next(iter(ours.values()))[rows]).sum()),
                "diverged_theirs": int(np.isnan(next(iter(theirs.values()))[rows]).sum()),
                "runs": runs,
            }
        )
        print(f"  {name}: diverged ours {counts[-1]['diverged_ours']}/{runs}, theirs {counts[-1]['diverged_theirs']}/{runs}")
        fraction = {k: counts[-1][f"diverged_{k}"] / runs for k in ("ours", "theirs")}
        pooled = (fraction["ours"] + fraction["theirs"]) / 2
        binomial_se = float(np.sqrt(pooled * (1 - pooled) / runs))
        checks.append(_common.agreement(f"{name}: fraction diverged", fraction["ours"], fraction["theirs"], binomial_se, binomial_se))
        for stat in ours:
            o, t = ours[stat][rows], theirs[stat][rows]
            o, t = o[np.isfinite(o)], t[np.isfinite(t)]
            if min(len(o), len(t)) < 3:
                print(f"    {stat}: too few surviving runs to compare (ours {len(o)}, theirs {len(t)})")
                continue
            se = lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v)))
            checks.append(_common.agreement(f"{name}: mean {stat}", float(o.mean()), float(t.mean()), se(o), se(t)))
    return checks, counts


def run_diag(theirs: dict, args) -> dict:
    prob, record = diag_problem(), linear_record_steps(args.steps, 101)[:-1]
    print(
        f"diagonal nets: n = {DIAG['n']}, d = {DIAG['d']}, batch 1, {len(DIAG_SCHEDULES)} schedules x {args.runs} seeds x {args.steps} steps",
        flush=True,
    )
    seconds, outputs = _common.interleaved(
        {
            "theirs": lambda: diag_theirs(theirs["SGD"], prob, args.steps, args.runs, record),
            "ours": lambda: diag_ours(prob, args.steps, args.runs, record),
            "ours (no test-loss records)": lambda: diag_ours(prob, args.steps, args.runs, record, test_records=False),
        },
        args.repeats,
    )
    checks, counts = compare_schedules(
        "diag", DIAG_SCHEDULES, args.runs, diag_stats(prob, outputs["ours"][0]), diag_stats(prob, outputs["theirs"][0])
    )
    return _summary("diagonal net", DIAG, len(DIAG_SCHEDULES) * args.runs, args.steps, counts, checks, seconds)


def _summary(model: str, setting: dict, runs: int, steps: int, counts, checks, seconds) -> dict:
    """One model's record: its setting, the divergence counts, the agreement checks and the rates."""
    return {
        "model": model,
        **setting,
        "runs": runs,
        "steps": steps,
        "divergence": counts,
        "agreement": checks,
        **_common.rates_line(runs * steps, seconds),
    }


def run_relu(theirs: dict, args) -> dict:
    data, record = relu_data(theirs), linear_record_steps(args.relu_steps, 101)[:-1]
    print(
        f"two-layer ReLU nets: n = {RELU['n']}, d = {RELU['d']}, m = {RELU['m_student']}, batch 1, {len(RELU_SCHEDULES)} schedules x "
        f"{args.relu_runs} seeds x {args.relu_steps} steps",
        flush=True,
    )
    seconds, outputs = _common.interleaved(
        {
            "theirs": lambda: relu_theirs(theirs, data, args.relu_steps, args.relu_runs, record),
            "ours": lambda: relu_ours(theirs, data, args.relu_steps, args.relu_runs, record),
        },
        args.repeats,
    )
    with np.errstate(all="ignore"):
        stats = {k: {"log10 test loss": np.log10(v[0])} for k, v in outputs.items()}
    checks, counts = compare_schedules("relu", RELU_SCHEDULES, args.relu_runs, stats["ours"], stats["theirs"])
    return _summary("two-layer ReLU net", RELU, len(RELU_SCHEDULES) * args.relu_runs, args.relu_steps, counts, checks, seconds)


def main(argv=None) -> dict:
    parser = _common.base_parser(__doc__, steps=20_000, runs=16)
    parser.add_argument("--relu-steps", type=int, default=8000, help="ReLU-net steps per run (their notebook: 14126)")
    parser.add_argument("--relu-runs", type=int, default=16, help="ReLU-net seeds per schedule")
    parser.add_argument("--no-relu", action="store_true", help="diagonal nets only")
    parser.add_argument("--no-diag", action="store_true", help="ReLU nets only")
    args = parser.parse_args(argv)
    path = _common.check_checkout(args.authors, "diag_nets.py", "tml-epfl/sgd-sparse-features")
    theirs = import_theirs(path)
    settings = ([] if args.no_diag else [run_diag(theirs, args)]) + ([] if args.no_relu else [run_relu(theirs, args)])
    result = {
        "paper": "large_step_sparse",
        "authors": "tml-epfl/sgd-sparse-features",
        "commit": _common.authors_commit(path),
        "machine": _common.machine(),
        "settings": settings,
    }
    _common.finish(result, args.json)
    return result


if __name__ == "__main__":
    main()
