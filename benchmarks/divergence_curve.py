"""Measure how often a paper-scale step size diverges, to choose the large step sizes from data.

The large-step experiments of large_step_sparse sit near the edge of stability: the authors' step
sizes were tuned on their one data draw, and on other draws they diverge (benchmarks/paper_scale).
This runs one of them through the real workflow at the paper's sizes over a grid of step sizes, on
``--seeds`` data draws held out from the ones the figures and claims use (another ``root_seed``),
and prints, per step size and decay schedule, how many draws diverged. The chosen step is the
largest one of the grid at which no held-out draw diverges under the constant schedule (the whole
run at the large step, the most demanding schedule), with every smaller one stable too.

    python benchmarks/divergence_curve.py --experiment diagonal_sgd --lr 0.2 0.21 ... 0.3 \\
        --decay-at 1.0 0.5 --seeds 16 --workdir /tmp/divergence --out diagonal_sgd.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import xarray as xr
import yaml

from sgdrepro.core.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paper_scale import ROOT, run

PAPER = "large_step_sparse"
EXPERIMENTS = ("diagonal_sgd", "diagonal_gd", "relu_teacher_student")


def overlay(experiment: str, lrs: list[float], decay_at: list[float], seeds: int) -> dict:
    """Paper-scale config of ``experiment`` with the grid of step sizes and the decay schedules
    (their factors from config.yaml, matched by decay_at)."""
    paper = load_config(ROOT / "config")[PAPER]["paper"][experiment]
    factor = dict(zip(paper["decay_at"], paper["decay_factor"]))
    missing = [at for at in decay_at if at not in factor]
    if missing:
        raise SystemExit(f"--decay-at {missing}: not in {experiment}'s paper decay_at {paper['decay_at']}")
    section = {experiment: {"lr": lrs, "decay_at": decay_at, "decay_factor": [factor[a] for a in decay_at],
                            "n_seeds": seeds}}
    if experiment.startswith("diagonal_"):  # SGD and GD share their problems: the config checks equal seeds
        section.update({other: {"n_seeds": seeds} for other in ("diagonal_sgd", "diagonal_gd") if other != experiment})
    return {PAPER: {"paper": section}}


def divergence_table(ds: xr.Dataset) -> dict:
    """Draws diverged per (decay_at, lr): {decay_at: {lr: k}}, and the number of draws."""
    diverged = ds["diverged_step"] >= 0
    counts = diverged.sum("seed")
    return {"draws": int(ds.sizes["seed"]),
            "diverged": {f"{float(at):g}": {f"{float(lr):g}": int(counts.sel(lr=lr, decay_at=at))
                                            for lr in ds["lr"].values} for at in ds["decay_at"].values},
            "first_divergence_step": {f"{float(at):g}": {f"{float(lr):g}": int(ds["diverged_step"].sel(
                lr=lr, decay_at=at).where(diverged.sel(lr=lr, decay_at=at)).min(skipna=True).fillna(-1))
                for lr in ds["lr"].values} for at in ds["decay_at"].values}}


def largest_stable(counts: dict[str, int]) -> float | None:
    """The largest step with no divergence such that every smaller step of the grid has none either."""
    chosen = None
    for lr in sorted(counts, key=float):
        if counts[lr]:
            break
        chosen = float(lr)
    return chosen


def markdown(result: dict) -> str:
    schedules = list(result["diverged"])
    lrs = sorted(result["diverged"][schedules[0]], key=float)
    head = "| step size | " + " | ".join("constant" if s == "1" else f"decayed at {s}" for s in schedules) + " |"
    rows = [head, "|" + "---|" * (len(schedules) + 1)]
    for lr in lrs:
        rows.append(f"| {lr} | " + " | ".join(f"{result['diverged'][s][lr]}/{result['draws']}" for s in schedules) + " |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", choices=EXPERIMENTS, required=True)
    parser.add_argument("--lr", type=float, nargs="+", required=True)
    parser.add_argument("--decay-at", type=float, nargs="+", default=[1.0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--root-seed", type=int, default=1, help="held out: the figures and claims use root_seed 0")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sgdrepro-divergence"))
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(overlay(args.experiment, sorted(args.lr), sorted(args.decay_at, reverse=True), args.seeds), handle)
    elapsed = run(args.workdir, [(PAPER, args.experiment)], args.cores, {}, [f"root_seed={args.root_seed}"],
                  [Path(handle.name)])
    nc = args.workdir / "results" / PAPER / "data" / f"{args.experiment}.nc"
    if not nc.exists():
        raise SystemExit(f"the workflow did not write {nc}: see its output above")
    with xr.open_dataset(nc) as ds:
        result = divergence_table(ds.load())
    constant = result["diverged"].get("1")
    result.update(experiment=args.experiment, root_seed=args.root_seed, date=time.strftime("%Y-%m-%d"),
                  elapsed_s=elapsed, command=" ".join(sys.argv),
                  largest_stable_constant=largest_stable(constant) if constant else None)
    print(markdown(result))
    print(f"largest step with no held-out draw diverged (constant schedule): {result['largest_stable_constant']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
