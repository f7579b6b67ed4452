#!/usr/bin/env python
"""Digest every result file, or compare two result trees, to check the DAG is deterministic.

Usage:
    python scripts/check_determinism.py [RESULTS_DIR]                      # table of SHA-256 digests
    python scripts/check_determinism.py [RESULTS_DIR] --compare OTHER_DIR  # differences; exit 1 if any
    python scripts/check_determinism.py RESULTS_DIR --write digests.txt    # save the table ...
    python scripts/check_determinism.py RESULTS_DIR --compare digests.txt  # ... and compare on another machine

RESULTS_DIR (default ``results``) is a results tree, or a workflow directory holding one. The
files digested are every ``.nc``, ``.pdf``, ``.png``, ``.json`` and ``.html`` under it (logs and
Snakemake's own metadata are not: they hold timings). ``--compare`` takes another results
tree or a digest table written by ``--write`` (or by this script's standard output), so two
machines can be compared by exchanging a small text file. When both trees are at hand, a
differing .nc file is opened to say what differs: attributes only (``git_commit`` when the
code changed, ``device`` between a CPU and a GPU machine) or data (max abs difference). Exit status: 0 when everything
matches, 1 on any difference (a file missing on either side or with another digest), 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

SUFFIXES = (".nc", ".pdf", ".png", ".json", ".html")
HEADER = "# sgdrepro result digests: sha256  path (relative to the results directory)"


def results_root(path: Path) -> Path:
    """``path`` itself, or ``path/results`` when ``path`` is a workflow directory."""
    if (path / "results").is_dir() and not any(p.suffix in SUFFIXES for p in path.iterdir() if p.is_file()):
        return path / "results"
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digests(root: Path) -> dict[str, str]:
    """{relative posix path: sha256} of every result file under ``root`` (temp files skipped)."""
    table = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in SUFFIXES:
            continue
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):  # .snakemake, atomic-write temp files
            continue
        table[rel.as_posix()] = sha256(path)
    return table


def format_table(table: dict[str, str]) -> str:
    lines = [HEADER] + [f"{digest}  {name}" for name, digest in sorted(table.items())]
    return "\n".join(lines) + "\n"


def read_table(path: Path) -> dict[str, str]:
    table = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{path}:{number}: not a digest line ('<sha256>  <path>'): {line!r}")
        table[name] = digest
    return table


def load(path: Path) -> dict[str, str]:
    return read_table(path) if path.is_file() else digests(results_root(path))


def _differing_attrs(a: dict, b: dict) -> list[str]:
    """The keys whose values differ (array-valued attributes compared element by element)."""
    import numpy as np

    return sorted(k for k in set(a) | set(b) if k not in a or k not in b or not np.array_equal(a[k], b[k]))


def explain_netcdf(a: Path, b: Path) -> str:
    """What differs between two NetCDF files: attributes (e.g. git_commit, device) or data."""
    try:
        import numpy as np
        import xarray as xr

        with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
            parts = []
            attrs = _differing_attrs(x.attrs, y.attrs)
            if attrs:
                parts.append("attrs: " + ", ".join(attrs))
            names = sorted(set(x.variables) | set(y.variables))
            data = []
            for name in names:
                if name not in x.variables or name not in y.variables:
                    data.append(f"{name} (only one side)")
                    continue
                u, v = x[name].values, y[name].values
                if u.shape != v.shape:
                    data.append(f"{name} (shape {u.shape} vs {v.shape})")
                elif u.dtype.kind in "fc":
                    if not np.array_equal(u, v, equal_nan=True):
                        with np.errstate(invalid="ignore"):
                            diff = np.nanmax(np.abs(u - v)) if np.isfinite(u - v).any() else float("nan")
                        data.append(f"{name} (max abs diff {diff:.3g})")
                elif not np.array_equal(u, v):
                    data.append(f"{name}")
                elif _differing_attrs(x[name].attrs, y[name].attrs):
                    data.append(f"{name} (attrs)")
            if data:
                parts.append("data: " + ", ".join(data))
            return "; ".join(parts) or "same content, different encoding"
    except Exception as error:  # an unreadable file is itself the explanation
        return f"cannot compare contents: {type(error).__name__}: {error}"


def compare(mine: dict[str, str], theirs: dict[str, str], here: Path | None = None,
            there: Path | None = None) -> list[str]:
    """One line per difference, sorted by path; with both trees at hand, say what differs in a .nc."""
    lines = []
    for name in sorted(set(mine) | set(theirs)):
        a, b = mine.get(name), theirs.get(name)
        if a == b:
            continue
        if a is None:
            lines.append(f"only in other: {name}")
        elif b is None:
            lines.append(f"only here:     {name}")
        else:
            line = f"differs:       {name}  ({a[:12]} != {b[:12]})"
            if here is not None and there is not None and name.endswith(".nc"):
                line += f"  [{explain_netcdf(here / name, there / name)}]"
            lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", default="results", type=Path,
                        help="results directory (or a workflow directory holding results/); default: results")
    parser.add_argument("--compare", type=Path, metavar="OTHER",
                        help="other results directory, or a digest table written by --write")
    parser.add_argument("--write", type=Path, metavar="FILE", help="also write the digest table to FILE")
    args = parser.parse_args(argv)

    if not args.results.is_dir():
        parser.error(f"results directory {str(args.results)!r} does not exist")
    if args.compare is not None and not args.compare.exists():
        parser.error(f"--compare {str(args.compare)!r} does not exist")
    mine = digests(results_root(args.results))
    if not mine:
        parser.error(f"no {'/'.join(SUFFIXES)} files under {str(args.results)!r}")
    if args.write is not None:
        args.write.write_text(format_table(mine))

    if args.compare is None:
        sys.stdout.write(format_table(mine))
        return 0
    try:
        theirs = load(args.compare)
    except ValueError as error:
        parser.error(str(error))
    there = None if args.compare.is_file() else results_root(args.compare)
    differences = compare(mine, theirs, results_root(args.results), there)
    for line in differences:
        print(line)
    same = len(set(mine) & set(theirs)) - sum(line.startswith("differs") for line in differences)
    print(f"{same} identical, {len(differences)} different of {len(set(mine) | set(theirs))} files "
          f"({args.results} vs {args.compare})")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
