"""Trajectory store: xarray Datasets as NetCDF-4, atomic and byte-reproducible.

HDF5 stamps object creation/modification times into every dataset header unless told not
to; netCDF-C turns that tracking off since 4.4 (``H5Pset_obj_track_times(..., 0)``), which
the tests check by writing the same dataset twice and comparing bytes. What else could vary
between writes is under our control: attrs are sorted, and provenance holds nothing that
changes between two runs of the same code and config (no dates, no host names).
"""

from __future__ import annotations

import glob
import os
import subprocess
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

from .config import config_digest
from .numerics import describe

__all__ = ["write_dataset", "read_dataset", "provenance", "git_commit", "atomic_path"]

_COMPRESSION = {"zlib": True, "complevel": 4, "shuffle": True}


@lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the source tree the package runs from, '+dirty' if modified, or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            # ':/src' is the repository's src/ (a plain 'src' would be relative to this directory)
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":/src"],
            cwd=here, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def provenance(paper: str, experiment: str, cfg: Mapping, scale: str, root_seed: int, device: str,
               numerics: str = "portable") -> dict:
    """Provenance attrs for a trajectory file (all deterministic)."""
    from sgdrepro import __version__

    seeds = cfg.get("n_seeds", cfg.get("seeds"))
    return {
        "paper": paper,
        "experiment": experiment,
        "scale": scale,
        "config_digest": config_digest(cfg),
        "config_json": __import__("json").dumps(dict(cfg), sort_keys=True, default=str),
        "package_version": __version__,
        "git_commit": git_commit(),
        "root_seed": int(root_seed),
        "seeds": str(seeds) if seeds is not None else "see seed coordinate",
        "device": device,
        "numerics": numerics,
        "numerics_env": describe(numerics),
    }


class atomic_path:
    """Context manager yielding a temp path beside ``path``; renamed onto it only on success."""

    def __init__(self, path: str | os.PathLike, suffix: str | None = None):
        self.path = Path(path)
        self.suffix = suffix if suffix is not None else self.path.suffix

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a write of this file killed earlier (SIGKILL, power loss) left its temp file behind;
        # the workflow runs one job per output, so such a file is never another live write
        for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp{glob.escape(self.suffix)}"):
            stale.unlink(missing_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp" + self.suffix, dir=self.path.parent
        )
        os.close(handle)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def _encoding(ds: xr.Dataset) -> dict:
    encoding = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in "fiub" and var.ndim > 0:
            encoding[name] = dict(_COMPRESSION)
            if var.dtype.kind == "f":
                encoding[name]["_FillValue"] = np.nan
        elif var.dtype.kind in "fiub":
            encoding[name] = {"_FillValue": None}
    return encoding


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, attrs: Mapping | None = None) -> Path:
    """Write ``ds`` (plus ``attrs``) as compressed NetCDF-4, atomically: temp file, then rename."""
    ds = ds.copy()
    ds.attrs = dict(sorted({**ds.attrs, **(attrs or {})}.items()))
    for var in ds.variables.values():
        var.attrs = dict(sorted(var.attrs.items()))
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds))
    return Path(path)


def read_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Load a trajectory file fully into memory (and close it)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
