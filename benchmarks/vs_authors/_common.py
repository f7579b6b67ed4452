"""Shared helpers of the vs_authors scripts: one thread, the checkout check, notebook cells,
interleaved timing, bootstrap spreads and the agreement line.

Importing this module pins OMP/MKL/OpenBLAS to one thread before numpy or torch load, so
import it first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402  (after the thread variables: the BLAS libraries read them when they load)
import torch  # noqa: E402

torch.set_num_threads(1)


def base_parser(doc: str, steps: int, runs: int) -> argparse.ArgumentParser:
    """argparse with the options every script shares."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0], epilog=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authors", required=True, type=Path, help="path of a checkout of the authors' repository")
    parser.add_argument("--steps", type=int, default=steps, help=f"SGD steps per run (default {steps})")
    parser.add_argument("--runs", type=int, default=runs, help=f"independent runs per setting (default {runs})")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, interleaved; medians reported (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the authors' generator (numpy / torch global)")
    parser.add_argument("--json", type=Path, default=None, help="write every number to this JSON file")
    return parser


def check_checkout(path: Path, marker: str, repo: str) -> Path:
    """Exit with one line naming --authors when ``path`` lacks ``marker`` (a file of ``repo``)."""
    if not (path / marker).is_file():
        sys.exit(f"error: --authors {path}: not a checkout of {repo} (no {marker} there)")
    return path


def authors_commit(path: Path) -> str:
    """The checkout's commit if it is a git work tree, else 'unknown (not a git checkout)'."""
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def notebook_namespace(path: Path, defines: list[str], namespace: dict) -> dict:
    """Exec, in ``namespace``, every code cell of the notebook at ``path`` that defines one of
    ``defines`` (``def name(`` or ``class name``) and nothing else of the notebook."""
    cells = json.loads(path.read_text())["cells"]
    found = set()
    for cell in cells:
        source = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
        names = [n for n in defines if f"def {n}(" in source or f"class {n}" in source]
        if names:
            exec(compile(source, f"{path.name}:cell", "exec"), namespace)
            found.update(names)
    missing = set(defines) - found
    if missing:
        sys.exit(f"error: --authors: {path.name} defines none of {sorted(missing)}: not the expected version of the notebook")
    return namespace


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def interleaved(variants: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, list[float]], dict[str, list]]:
    """Run each variant ``repeats`` times, alternating (load changes hit both alike); every
    repeat's seconds and output, per variant."""
    seconds, outputs = {k: [] for k in variants}, {k: [] for k in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            s, out = timed(fn)
            seconds[name].append(s)
            outputs[name].append(out)
            print(f"    {name}: {s:.2f} s", flush=True)
    return seconds, outputs


def bootstrap_se(statistic: Callable[[np.ndarray], float], samples: np.ndarray, n_boot: int = 200, seed: int = 0) -> float:
    """Standard error of ``statistic`` over the runs (rows of ``samples``), resampled with replacement."""
    rng = np.random.default_rng(seed)
    values = [statistic(samples[rng.integers(0, len(samples), len(samples))]) for _ in range(n_boot)]
    return float(np.std(values, ddof=1))


def agreement(name: str, ours: float, theirs: float, se_ours: float, se_theirs: float, z: float = 3.0) -> dict:
    """|ours - theirs| <= z * sqrt(se_ours^2 + se_theirs^2): the two agree within seed noise."""
    tol = z * float(np.hypot(se_ours, se_theirs))
    ok = bool(abs(ours - theirs) <= tol)
    print(
        f"  {name}: ours {ours:.4g} (se {se_ours:.2g}), theirs {theirs:.4g} (se {se_theirs:.2g}), "
        f"|diff| {abs(ours - theirs):.3g} vs tolerance {tol:.3g} ({z:g} combined se): {'AGREE' if ok else 'DISAGREE'}"
    )
    return {"statistic": name, "ours": ours, "theirs": theirs, "se_ours": se_ours, "se_theirs": se_theirs, "tolerance": tol, "agree": ok}


def rates_line(run_steps: int, seconds: dict[str, list[float]]) -> dict:
    """Run-steps per second of every variant (from its median seconds) and the ratio of each
    "ours..." variant to each "theirs..." one: the median over repeats of the ratio within each
    repeat (timed back to back, so a change of the machine's load between repeats cancels)."""
    rates = {k: run_steps / float(np.median(s)) for k, s in seconds.items()}
    ratios = {
        f"{o} / {t}": float(np.median(np.asarray(seconds[t]) / np.asarray(seconds[o])))
        for o in seconds
        if o.startswith("ours")
        for t in seconds
        if t.startswith("theirs")
    }
    print("  throughput (run-steps/s): " + ", ".join(f"{k} {r:,.0f}" for k, r in rates.items()), flush=True)
    print("  ratio (median over repeats): " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()), flush=True)
    return {"seconds": seconds, "run_steps_per_s": rates, "ratio": ratios}


def machine() -> dict:
    """CPU model name (lscpu), core count, date, torch and numpy versions."""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        model = "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": torch.get_num_threads(),
    }


def finish(result: dict, path: Path | None) -> None:
    """Print the verdict and write the JSON file if asked; exit status 1 when any check disagrees."""
    checks = [c for s in result["settings"] for c in s["agreement"]]
    ok = all(c["agree"] for c in checks)
    result["all_agree"] = ok
    if path is not None:
        path.write_text(json.dumps(result, indent=2, default=float))
    print(f"agreement: {sum(c['agree'] for c in checks)}/{len(checks)} statistics within tolerance")
    if not ok:
        sys.exit(1)
