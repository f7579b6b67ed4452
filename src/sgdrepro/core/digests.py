"""Digests of what a results tree *computes*: every NetCDF variable's values and every claim's numbers.

File bytes are not portable evidence: the HDF5 and zlib libraries, provenance attributes (the git
commit) and the plotting stack change them without changing a number. What must be identical on
every x86-64 machine in portable numerics is the numerical content, so each entry digests one
array (its dims, dtype, shape and values, NaNs made canonical) or one claim (measured value,
interval, evidence, margin, verdict). A golden table of these, committed under tests/golden/,
is what a new machine is checked against (``python scripts/golden.py check``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["array_digest", "dataset_digests", "claims_digests", "tree_digests", "compare", "Difference"]

_CLAIM_NUMBERS = ("kind", "relation", "measured", "expected", "tolerance", "ci", "evidence", "n", "margin", "passed")


def array_digest(values: np.ndarray, dims: tuple[str, ...] = ()) -> str:
    """SHA-256 of an array's dims, dtype, shape and values (little-endian, C order; every NaN the
    same bits, so only the values count)."""
    values = np.asarray(values)
    digest = hashlib.sha256()
    digest.update(json.dumps([list(dims), values.dtype.str.lstrip("<>=|"), list(values.shape)]).encode())
    if values.dtype.kind in "OUS":
        digest.update("\x00".join(map(str, values.ravel().tolist())).encode())
    else:
        data = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
        if data.dtype.kind in "fc":
            data = np.where(np.isnan(data), np.nan, data).astype(data.dtype)
        digest.update(data.tobytes())
    return digest.hexdigest()


def _summary(values: np.ndarray) -> float | None:
    """The mean of the finite values (a rough size of a difference when digests differ)."""
    values = np.asarray(values)
    if values.dtype.kind not in "fiub" or values.size == 0:
        return None
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    return float(np.mean(finite, dtype=np.float64)) if finite.size else None


def dataset_digests(path: str | Path, name: str) -> dict[str, dict]:
    """``{"<name>::<variable>": {"sha256": ..., "mean": ...}}`` for every variable and coordinate."""
    import xarray as xr

    entries = {}
    with xr.open_dataset(path, engine="netcdf4") as ds:
        for var in sorted(ds.variables):
            values = ds[var].values
            entries[f"{name}::{var}"] = {"sha256": array_digest(values, ds[var].dims), "mean": _summary(values)}
    return entries


def claims_digests(path: str | Path, name: str) -> dict[str, dict]:
    """``{"<name>::<claim id>": {"sha256": ..., "measured": ...}}`` over each claim's numbers
    (the statement's wording is left out: it is text, not a result)."""
    entries = {}
    for claim in json.loads(Path(path).read_text()):
        numbers = {key: claim.get(key) for key in _CLAIM_NUMBERS}
        text = json.dumps(numbers, sort_keys=True, allow_nan=False)
        entries[f"{name}::{claim['id']}"] = {"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                             "measured": claim.get("measured"), "passed": claim.get("passed")}
    return entries


def tree_digests(results: str | Path) -> dict[str, dict]:
    """Digests of every ``<paper>/data/*.nc`` and ``<paper>/claims.json`` under ``results``."""
    results = Path(results)
    entries: dict[str, dict] = {}
    for path in sorted(results.glob("*/data/*.nc")):
        entries.update(dataset_digests(path, path.relative_to(results).as_posix()))
    for path in sorted(results.glob("*/claims.json")):
        entries.update(claims_digests(path, path.relative_to(results).as_posix()))
    return entries


class Difference(dict):
    """``{"missing": [...], "extra": [...], "changed": {key: (golden entry, new entry)}}``."""

    @property
    def identical(self) -> bool:
        return not (self["missing"] or self["extra"] or self["changed"])


def compare(golden: Mapping[str, Mapping], actual: Mapping[str, Mapping]) -> Difference:
    return Difference(
        missing=sorted(set(golden) - set(actual)),
        extra=sorted(set(actual) - set(golden)),
        changed={key: (golden[key], actual[key]) for key in sorted(set(golden) & set(actual))
                 if golden[key]["sha256"] != actual[key]["sha256"]},
    )


def relative_change(old, new) -> float | None:
    """|new - old| / |old| of two summaries (None where either is missing)."""
    if old is None or new is None or isinstance(old, bool) or isinstance(new, bool):
        return None
    scale = abs(old) if old else 1.0
    return abs(new - old) / scale if math.isfinite(scale) else None
