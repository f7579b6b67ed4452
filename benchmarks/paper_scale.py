"""Measure every paper-scale training job: wall time, CPU time, peak memory and output size.

Runs the training jobs of ``--config scale=paper`` through the real workflow in a scratch
directory, whole or as the measured slices of benchmarks/paper_scale/slices.yaml (all runs of
the grid, a fraction of the steps), and reads Snakemake's own ``benchmark:`` files
(results/<paper>/benchmarks/train_<experiment>.tsv). A slice's time is extrapolated linearly in
steps, but for the trainer's set-up time read from the job log (other set-up is scaled up with
it: an upper bound); its peak memory is the full job's, plus,
where the number of records grows with the steps (``output_scales``), the missing records.

    python benchmarks/paper_scale.py --workdir /tmp/paper --cores 2 \\
        --papers quadratic_chaos autoencoder_batch --out benchmarks/paper_scale/cpu.json
    python benchmarks/paper_scale.py --table benchmarks/paper_scale/cpu.json   # the markdown table

Jobs that need a data set missing from ``datasets_dir`` are skipped (listed in the output).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sgdrepro.core.config import load_config

from sgdrepro.core.manifest import manifests

ROOT = Path(__file__).resolve().parents[1]
SLICES = ROOT / "benchmarks" / "paper_scale" / "slices.yaml"
APPLIED = "paper_scale_slices.json"  # in a work directory: the slice each job ran as
PAPERS = list(manifests())


def training_jobs(papers: list[str]) -> list[tuple[str, str]]:
    """(paper, experiment) of every training job, from the papers' manifests."""
    return [(paper, exp) for paper in papers for exp in manifests()[paper].experiment_names]


def slice_overlay(slices: dict, jobs) -> dict:
    """The config overlay of the slices of ``jobs`` (deep-merged over the papers' config files)."""
    overlay: dict = {}
    for paper, exp in jobs:
        spec = slices.get(paper, {}).get(exp)
        if spec:
            overlay.setdefault(paper, {}).setdefault("paper", {})[exp] = spec["config"]
    return overlay


def run(workdir: Path, jobs, cores: int, slices: dict, extra_config: list[str], overlays: list[Path],
        dry: bool = False) -> float:
    targets = [f"results/{paper}/data/{exp}.nc" for paper, exp in jobs]
    papers = sorted({paper for paper, _ in jobs}, key=PAPERS.index)
    if not dry:  # what each job of this work directory ran as, for --collect (a job may be rerun whole)
        marker = workdir / APPLIED
        applied = json.loads(marker.read_text()) if marker.exists() else {}
        applied.update({f"{paper}/{exp}": slices.get(paper, {}).get(exp) for paper, exp in jobs})
        marker.write_text(json.dumps(applied, indent=1, sort_keys=True) + "\n")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(slice_overlay(slices, jobs), handle)
    cmd = ["snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", str(cores), "--keep-going",
           "--configfile", handle.name, *map(str, overlays), "--config", "scale=paper", "progress_seconds=30",
           f"papers={json.dumps(papers)}", *extra_config, *(["-n"] if dry else []), "--", *targets]
    print(" ".join(cmd), flush=True)
    start = time.monotonic()
    subprocess.run(cmd, check=False)
    return time.monotonic() - start


_CALL_DONE = re.compile(r"trained \d+ runs .*; runs (\d+)/(\d+) done.* init ([\d.]+) s")


def init_seconds(log: Path) -> float:
    """Seconds the job's trainer calls spent in ``init`` (data, constants): the last chunk line of
    each call (runs N/N done) holds its total. Not scaled by a slice: it does not depend on steps."""
    if not log.exists():
        return 0.0
    done = [m for m in map(_CALL_DONE.search, log.read_text().splitlines()) if m and m.group(1) == m.group(2)]
    return sum(float(m.group(3)) for m in done)


def measurement(workdir: Path, paper: str, exp: str, slices: dict) -> dict:
    bench = workdir / "results" / paper / "benchmarks" / f"train_{exp}.tsv"
    nc = workdir / "results" / paper / "data" / f"{exp}.nc"
    marker = workdir / APPLIED
    applied = json.loads(marker.read_text()) if marker.exists() else {}
    # the slice the job last ran as in this directory (None: whole); else slices.yaml's
    spec = applied[f"{paper}/{exp}"] if f"{paper}/{exp}" in applied else slices.get(paper, {}).get(exp)
    fraction = float(spec["fraction"]) if spec else 1.0
    row = {"paper": paper, "experiment": exp, "workdir": str(workdir), "fraction": fraction,
           "slice": spec["config"] if spec else None}
    if not bench.exists() or not nc.exists():
        return {**row, "status": "failed or not run"}
    with open(bench) as handle:
        record = next(csv.DictReader(handle, delimiter="\t"))
    output_mb = nc.stat().st_size / 1e6
    wall, cpu, rss = float(record["s"]), float(record["cpu_time"]), float(record["max_rss"])
    grows = bool(spec and spec.get("output_scales", False))
    init = min(init_seconds(workdir / "results" / paper / "logs" / f"train_{exp}.log"), wall, cpu)
    return {**row, "status": "measured" if fraction == 1.0 else "slice",
            "wall_s": wall, "cpu_s": cpu, "max_rss_mb": rss, "output_mb": output_mb,
            "init_s": init, "full_wall_s": init + (wall - init) / fraction, "full_cpu_s": init + (cpu - init) / fraction,
            # where the records grow with the steps (output_scales), those of the missing steps,
            # held twice while the file is written; elsewhere the slice records what the job does
            "full_max_rss_mb": rss + 2 * output_mb * (1 / fraction - 1) * grows, "full_output_mb": output_mb * (
                1 / fraction if grows else 1)}


def paper_scale_claims(rows: list[dict]) -> dict:
    """Per paper, the claims of the groups (``claims.CLAIM_GROUPS``) whose experiments all ran
    whole at paper scale (``rows``: the measurements of :func:`measurement`), from the stored
    trajectories and the paper's config section: what the paper's claims rule would say of them."""
    import importlib

    import xarray as xr

    from sgdrepro.core.claims import measure_groups

    config = load_config(ROOT / "config")
    whole: dict[str, dict[str, Path]] = {}
    for row in rows:  # each job's trajectories from the work directory where it ran whole
        nc = Path(row["workdir"]) / "results" / row["paper"] / "data" / f"{row['experiment']}.nc"
        if row.get("status") == "measured" and nc.exists():
            whole.setdefault(row["paper"], {})[row["experiment"]] = nc
    out = {}
    for paper, paths in whole.items():
        groups = importlib.import_module(f"sgdrepro.{paper}.claims").CLAIM_GROUPS
        data = {exp: xr.load_dataset(path) for exp, path in paths.items()}
        reads = {}
        for group in groups:
            for claim in measure_groups([group], data, config[paper]["paper"], experiments=data):
                reads[claim.id] = (claim, group.reads)
        out[paper] = [{"id": cid, "reads": list(r), "kind": c.kind, "passed": c.passed, "fragile": c.fragile,
                       "margin": c.margin, "measured": c.measured, "ci": c.ci, "expected": c.expected,
                       "reason": c.reason} for cid, (c, r) in reads.items()]
    return out


def claims_cell(claims: list[dict], experiment: str) -> str:
    """The table's claims column of one job: how many of the claims that read it pass, and which not."""
    mine = [c for c in claims if experiment in c["reads"]]
    if not mine:
        return ""
    passed = sum(bool(c["passed"]) for c in mine)
    fragile = [c["id"] for c in mine if c["fragile"]]
    failed = [c["id"] for c in mine if c["passed"] is False]
    open_ = [c["id"] for c in mine if c["passed"] is None]
    cell = f"{passed}/{len(mine)} pass"
    if fragile:
        cell += f" ({len(fragile)} fragile: {', '.join(fragile)})"
    if failed:
        cell += f"; fail: {', '.join(failed)}"
    if open_:
        cell += f"; not assessable: {', '.join(open_)}"
    return cell


DEEP = ("deep", "deep_sota", "deep_densenet")


def deep_step_seconds(experiment: str, device: str = "cpu", threads: int = 1) -> dict:
    """Seconds per training step of ONE run of a paper-scale deep experiment (batch 256, CIFAR's
    shape, synthetic images: the real data sets are not needed to time a step), from two runs of
    the real trainer that differ by two steps only (2 and 4 steps; evaluation sets of 256 images),
    and the full job extrapolated: steps = epochs x 50000 / batch per run, one evaluation per epoch
    on the configured evaluation sets (from the two runs' remainder, scaled by set size)."""
    import torch

    from sgdrepro.core.entry import RunContext
    from sgdrepro.large_step_sparse import deep_runs, experiments

    torch.set_num_threads(threads)
    full = load_config(ROOT / "config")["large_step_sparse"]["paper"][experiment]
    ctx = RunContext("large_step_sparse", experiment, torch.device(device), torch.float32)
    # one CPU thread: its CPU time (on a shared machine the wall time made the 2-step run slower
    # than the 4-step one: a negative time per step); a GPU or several threads: wall time
    clock = time.process_time if device == "cpu" and threads == 1 else time.monotonic
    seconds, nbytes = {}, {}
    for n_train in (512, 1024):
        cfg = {**full, "dataset": "synthetic_cifar", "synthetic_n_train": n_train, "synthetic_n_test": 256,
               "n_eval_train": 256, "n_eval_test": 256, "n_sparsity": 256, "epochs": 1,
               "large_phase": full["large_phase"][:1], "lr": full["lr"][:1], "n_seeds": 1}
        start = clock()
        ds = deep_runs.run(cfg, ctx, experiments._label)
        seconds[n_train] = clock() - start
        nbytes[n_train] = ds.nbytes
    per_step = (seconds[1024] - seconds[512]) / 2
    # what is left of the 2-step run: start-up plus two evaluations of 3 x 256 images
    per_eval_image = max(0.0, seconds[512] - 2 * per_step) / (2 * 3 * 256)
    n_runs = len(full["large_phase"]) * full["n_seeds"]
    steps = full["epochs"] * (50000 // full["batch_size"])
    eval_images = full["n_eval_train"] + full["n_eval_test"] + full["n_sparsity"]
    total = n_runs * (steps * per_step + (full["epochs"] + 1) * eval_images * per_eval_image)
    # the slice's run records 2 evaluations (before training, after its epoch); the job records
    # epochs + 1 per run: the output scales with those (an upper bound, coordinates counted in)
    output = nbytes[1024] * n_runs * (full["epochs"] + 1) / 2
    return {"experiment": experiment, "device": device, "threads": threads, "slice_seconds": seconds,
            "step_seconds": per_step, "eval_seconds_per_image": per_eval_image, "runs": n_runs,
            "steps_per_run": steps, "full_wall_s": total, "full_output_mb": output / 1e6,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def deep_two_runs_peak(experiment: str, device: str = "cpu", threads: int = 1) -> float:
    """Peak resident MB of two steps of TWO batched runs (otherwise as :func:`deep_step_seconds`)."""
    import torch

    from sgdrepro.core.entry import RunContext
    from sgdrepro.large_step_sparse import deep_runs, experiments

    torch.set_num_threads(threads)
    full = load_config(ROOT / "config")["large_step_sparse"]["paper"][experiment]
    cfg = {**full, "dataset": "synthetic_cifar", "synthetic_n_train": 512, "synthetic_n_test": 256,
           "n_eval_train": 256, "n_eval_test": 256, "n_sparsity": 256, "epochs": 1,
           "large_phase": full["large_phase"][:1], "lr": full["lr"][:1], "n_seeds": 2}
    deep_runs.run(cfg, RunContext("large_step_sparse", experiment, torch.device(device), torch.float32), experiments._label)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# CIFAR's 60,000 images of 3 x 32 x 32, held as uint8 and as float32 (an upper bound); the slices
# hold 1,280 synthetic ones
CIFAR_BYTES = (60_000 - 1_280) * 3 * 32 * 32 * (1 + 4)


def deep_steps_in_child(experiment: str, device: str, threads: int) -> dict:
    """:func:`deep_step_seconds` and :func:`deep_two_runs_peak`, each in a fresh process so that its
    peak memory is its own; the job's peak extrapolated linearly in the runs of one chunk (every
    run of the job: an upper bound) plus the real data set's size."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        row = pool.apply(deep_step_seconds, (experiment, device, threads))
    with context.Pool(1) as pool:
        two = pool.apply(deep_two_runs_peak, (experiment, device, threads))
    per_run = max(0.0, two - row["max_rss_mb"])
    return {**row, "two_runs_max_rss_mb": two,
            "full_max_rss_mb": row["max_rss_mb"] + (row["runs"] - 1) * per_run + CIFAR_BYTES / 1e6}


MEMORY_MARGIN, RUNTIME_MARGIN = 1.5, 1.5


def requests(row: dict) -> dict:
    """SLURM requests from a measurement: memory 1.5x the (extrapolated) peak, rounded up to
    500 MB; runtime 1.5x the (extrapolated) CPU time of the job's one thread, rounded up to 10
    minutes (CPU time, not wall time: the measuring machine was shared, so its wall time includes
    waiting for a core).
    The chunks of a job are sized from its mem_mb, so a request below the peak measured under the
    old 4000 MB request still fits: the job makes smaller chunks."""
    mem = 500 * math.ceil(MEMORY_MARGIN * row["full_max_rss_mb"] / 500)
    runtime = 10 * math.ceil(RUNTIME_MARGIN * row["full_cpu_s"] / 600)
    return {"mem_mb": int(mem), "runtime": int(runtime)}


def resources_yaml(rows: list[dict]) -> str:
    """``resources.scales.paper`` entries for each paper's config/<paper>.yaml."""
    lines = []
    for row in rows:
        if "full_wall_s" in row:
            req = requests(row)
            lines.append(f"      {row['paper']}_train_{row['experiment']}: {{mem_mb: {req['mem_mb']}, "
                         f"runtime: {req['runtime']}}}")
    return "\n".join(lines)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def table(results: dict) -> str:
    claims = results.get("claims", {})
    lines = ["| job | measured | wall | CPU | peak RSS | output | full job: CPU | peak RSS | output | request "
             "| claims at paper scale |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in results["jobs"]:
        name = f"{row['paper']}_train_{row['experiment']}"
        if "wall_s" not in row:
            lines.append(f"| {name} | {row['status']} | | | | | | | | | |")
            continue
        how = "whole" if row["fraction"] == 1.0 else f"{row['fraction']:g} of the steps"
        if row["status"] != "measured":
            verdicts = "not run whole"
        elif row["paper"] in claims:
            verdicts = (claims_cell(claims[row["paper"]], row["experiment"])
                        or "none measured: its claims read a job not run whole too")
        else:
            verdicts = ""
        lines.append(f"| {name} | {how} | {row['wall_s']:.0f} s | {row['cpu_s']:.0f} s | {row['max_rss_mb']:.0f} MB | "
                     f"{row['output_mb']:.1f} MB | {_hours(row['full_cpu_s'])} | {row['full_max_rss_mb']:.0f} MB | "
                     f"{row['full_output_mb']:.0f} MB | {requests(row)['mem_mb']} MB, {requests(row)['runtime']} min "
                     f"| {verdicts} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sgdrepro-paper-scale"))
    parser.add_argument("--papers", nargs="+", default=PAPERS, choices=PAPERS)
    parser.add_argument("--jobs", nargs="*", help="paper/experiment pairs (default: every training job of --papers)")
    parser.add_argument("--whole", action="store_true", help="ignore the slices: run every job whole")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--config", nargs="*", default=[], help="more --config pairs (e.g. device=cuda)")
    parser.add_argument("--overlay", nargs="*", type=Path, default=[], help="more config files, merged after the slices")
    parser.add_argument("-n", "--dry-run", action="store_true")
    parser.add_argument("--deep-steps", action="store_true",
                        help="time one step of each deep experiment (synthetic CIFAR-shaped data) and stop")
    parser.add_argument("--collect", type=Path, nargs="+",
                        help="measure the finished jobs of these work directories (no run) into --out")
    parser.add_argument("--claims", action="store_true",
                        help="with --collect: measure the claims of the jobs that ran whole (claims.CLAIM_GROUPS)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", type=Path, nargs="+", help="print the markdown table and the requests of results files and stop")
    args = parser.parse_args(argv)
    if args.table:
        results = [json.loads(path.read_text()) for path in args.table]
        rows = [row for result in results for row in result["jobs"]]
        claims = {paper: c for result in results for paper, c in result.get("claims", {}).items()}
        print(table({"jobs": rows, "claims": claims}))
        print("\n# resources.scales.paper (config/<paper>.yaml)\n" + resources_yaml(rows))
        return 0
    if args.deep_steps:
        device = next((pair.split("=")[1] for pair in args.config if pair.startswith("device=")), "cpu")
        rows = [deep_steps_in_child(exp, device, args.cores) for exp in DEEP]
        for row in rows:
            print(f"{row['experiment']}: {row['step_seconds']:.1f} s per step of one run, "
                  f"full job ~{_hours(row['full_wall_s'])} on {device} ({args.cores} threads), peak "
                  f"{row['full_max_rss_mb']:.0f} MB, output ~{row['full_output_mb']:.1f} MB", flush=True)
        if args.out:
            args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "deep": rows}, indent=1) + "\n")
        return 0
    slices = {} if args.whole else yaml.safe_load(SLICES.read_text())
    if args.collect:
        rows = [measurement(workdir, paper, exp, slices) for workdir in args.collect
                for paper, exp in training_jobs(PAPERS)
                if (workdir / "results" / paper / "benchmarks" / f"train_{exp}.tsv").exists()]
        results = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
                   "command": " ".join(sys.argv), "jobs": rows,
                   "claims": paper_scale_claims(rows) if args.claims else {}}
        print(table(results))
        if args.out:
            args.out.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    jobs = [tuple(j.split("/")) for j in args.jobs] if args.jobs else training_jobs(args.papers)
    args.workdir.mkdir(parents=True, exist_ok=True)
    elapsed = run(args.workdir, jobs, args.cores, slices, args.config, args.overlay, args.dry_run)
    if args.dry_run:
        return 0
    results = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
               f"{args.cores} cores", "command": " ".join(sys.argv), "elapsed_s": elapsed,
               "jobs": [measurement(args.workdir, paper, exp, slices) for paper, exp in jobs]}
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
