"""Claims: a paper's quantitative statements, measured from stored trajectories.

Each claim is ``{id, statement, measured, expected, tolerance, relation, passed}``; the
relation says how measured is compared with expected (``passed`` is derived, never given):

- ``"approx"``: ``|measured - expected| <= tolerance``
- ``"<="`` / ``">="``: ``measured <= expected + tolerance`` / ``measured >= expected - tolerance``
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .store import atomic_path

__all__ = ["Claim", "write_claims", "read_claims"]

_RELATIONS = ("approx", "<=", ">=")


def _plain(value):
    """JSON-ready value: numpy scalars to Python, floats rounded to 12 significant digits."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    measured: float
    expected: float
    tolerance: float = 0.0
    relation: str = "approx"
    passed: bool = field(init=False)

    def __post_init__(self):
        if self.relation not in _RELATIONS:
            raise ValueError(f"relation must be one of {_RELATIONS}, got {self.relation!r}")
        object.__setattr__(self, "measured", _plain(self.measured))
        object.__setattr__(self, "expected", _plain(self.expected))
        object.__setattr__(self, "tolerance", _plain(self.tolerance))
        object.__setattr__(self, "passed", self._check())

    def _check(self) -> bool:
        m, e, tol = self.measured, self.expected, self.tolerance
        if m is None or not isinstance(m, (int, float)):
            return False
        if self.relation == "approx":
            return abs(m - e) <= tol
        if self.relation == "<=":
            return m <= e + tol
        return m >= e - tol

    @classmethod
    def approx(cls, id: str, statement: str, measured, expected, tolerance) -> "Claim":
        return cls(id, statement, measured, expected, tolerance, "approx")

    @classmethod
    def at_most(cls, id: str, statement: str, measured, bound, tolerance=0.0) -> "Claim":
        return cls(id, statement, measured, bound, tolerance, "<=")

    @classmethod
    def at_least(cls, id: str, statement: str, measured, bound, tolerance=0.0) -> "Claim":
        return cls(id, statement, measured, bound, tolerance, ">=")

    @classmethod
    def holds(cls, id: str, statement: str, fraction_true: float, required: float = 1.0) -> "Claim":
        """A statement checked over many cases: ``fraction_true`` of them must hold."""
        return cls(id, statement, fraction_true, required, 0.0, ">=")


def write_claims(claims: Iterable[Claim], path: str | os.PathLike) -> Path:
    """Write claims as a JSON list (stable order and formatting), atomically."""
    claims = list(claims)
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate claim ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps([asdict(c) for c in claims], indent=2, allow_nan=False) + "\n")
    return Path(path)


def read_claims(path: str | os.PathLike) -> list[dict]:
    return json.loads(Path(path).read_text())
