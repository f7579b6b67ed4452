#!/usr/bin/env python
"""Check this machine against the committed golden digests, or regenerate them.

Usage:
    python scripts/golden.py check                  # run the tiny DAG (portable numerics) in a scratch
                                                    # directory and compare with tests/golden/tiny.json
    python scripts/golden.py check --results DIR    # compare an existing tiny run (DIR/results or DIR)
    python scripts/golden.py write                  # regenerate the table (commit it with the reason)

The table digests the numerical content of every trajectory variable and every claim of the
tiny DAG (config/test.yaml), not file bytes (sgdrepro.core.digests). In portable numerics the
same commit gives the same table on every x86-64 machine with the pinned package versions.
Exit status: 0 identical, 1 different, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from sgdrepro.core.digests import compare, relative_change, tree_digests

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "tiny.json"

WHY = {
    "data": "a trajectory differs: the numerical environment is not the one the table was made in "
            "(compare the versions below), or a CPU code path is not pinned (please report it with this output)",
    "claims": "only claim numbers differ: the claims code or the interval methods changed",
    "missing/extra": "the set of experiments, variables or claims changed: the code is not the commit of the table",
}


def environment() -> dict[str, str]:
    import numpy
    import scipy
    import torch

    return {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
        "scipy": scipy.__version__, "libc": " ".join(platform.libc_ver()), "machine": platform.machine(),
    }


def run_tiny_dag(workdir: Path, cores: int = 2) -> Path:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--cores", str(cores), "--quiet", "rules", "--configfile", str(REPO / "config" / "test.yaml"),
           "--config", "numerics=portable"]
    print("running the tiny DAG:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return workdir / "results"


def results_dir(path: Path) -> Path:
    return path / "results" if (path / "results").is_dir() else path


def report(diff, golden_env: dict, here_env: dict) -> str:
    lines = []
    if diff["missing"] or diff["extra"]:
        lines.append(f"missing here: {len(diff['missing'])}, not in the table: {len(diff['extra'])} ({WHY['missing/extra']})")
        lines += [f"  - {key}" for key in diff["missing"][:10]] + [f"  + {key}" for key in diff["extra"][:10]]
    data = {k: v for k, v in diff["changed"].items() if ".nc::" in k}
    claims = {k: v for k, v in diff["changed"].items() if k not in data}
    if data:
        lines.append(f"{len(data)} trajectory variables differ ({WHY['data']}):")
        for key, (old, new) in list(data.items())[:20]:
            change = relative_change(old.get("mean"), new.get("mean"))
            lines.append(f"  {key}: mean {old.get('mean')} -> {new.get('mean')}"
                         + (f" (relative {change:.2g})" if change is not None else ""))
    if claims:
        lines.append(f"{len(claims)} claims differ" + ("" if data else f" ({WHY['claims']})") + ":")
        for key, (old, new) in list(claims.items())[:20]:
            lines.append(f"  {key}: measured {old.get('measured')} -> {new.get('measured')}, "
                         f"passed {old.get('passed')} -> {new.get('passed')}")
    versions = [f"  {k}: table {golden_env.get(k)}, here {v}" for k, v in here_env.items() if golden_env.get(k) != v]
    if versions:
        lines.append("environment differences (the numbers are promised for the table's package versions):")
        lines += versions
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("check", "write"))
    parser.add_argument("--results", type=Path, help="an existing tiny run (default: run the tiny DAG now)")
    parser.add_argument("--table", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sgdrepro-golden-") as scratch:
        results = results_dir(args.results) if args.results else run_tiny_dag(Path(scratch))
        if not results.is_dir():
            parser.error(f"no results directory at {results}")
        entries = tree_digests(results)
    here = environment()
    if args.action == "write":
        args.table.parent.mkdir(parents=True, exist_ok=True)
        table = {"about": {"what": "digests of the tiny DAG's numbers (config/test.yaml, numerics: portable)",
                           "regenerate": "python scripts/golden.py write", "environment": here},
                 "entries": entries}
        args.table.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(entries)} digests to {args.table}")
        return 0
    if not args.table.exists():
        parser.error(f"no golden table at {args.table}")
    golden = json.loads(args.table.read_text())
    diff = compare(golden["entries"], entries)
    if diff.identical:
        print(f"identical: all {len(entries)} digests match {args.table}")
        return 0
    print(report(diff, golden["about"]["environment"], here))
    return 1


if __name__ == "__main__":
    sys.exit(main())
