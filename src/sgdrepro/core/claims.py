"""Claims: a paper's quantitative statements, measured from stored trajectories.

A claim is a small falsifiable statement. Its measurement is an :class:`Estimate`: the value,
a 95 % interval with the method that gave it, and the per-seed (or per-problem) evidence it
reduces. :class:`Claim` turns an estimate into a verdict in one place, for every paper:

- ``kind``: ``theory`` (against an independent closed form or numerical solution), ``paper``
  (against a number the paper or the authors' code reports) or ``ordering`` (one condition
  against another).
- ``relation``: ``approx`` (``|measured - expected| <= tolerance``), ``<=`` / ``>=`` (a bound),
  or, for orderings, ``<`` / ``>`` (the effect lies strictly on one side of ``expected``, the
  tie, usually 0).
- ``passed``: theory and paper claims pass when the measured value satisfies the relation; an
  ordering passes only when its whole interval lies strictly beyond the tie, never on
  equality. ``None`` when the run is too small to give an interval (``reason`` says why).
- ``margin``: how far the measured value is from failing, in units of its uncertainty (a
  standard error read off the interval on the failing side: its half-width there over 1.96);
  negative when a theory or paper claim fails, below 1.96 when an ordering does; ``None`` for
  an exact (zero-width) interval. A passing claim with ``margin < 2`` is ``fragile``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import InitVar, asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from .store import atomic_path

__all__ = [
    "Claim", "Estimate", "KINDS", "FRAGILE_MARGIN", "write_claims", "read_claims",
    "median_ci", "mean_ci", "paired", "fraction_ci", "slope_ci", "bootstrap_ci", "exact",
    "grid_bracket", "ClaimGroup", "measure_groups",
]

KINDS = ("theory", "paper", "ordering")
_RELATIONS = {"theory": ("approx", "<=", ">="), "paper": ("approx", "<=", ">="), "ordering": ("<", ">")}
LEVEL = 0.95
_Z = stats.norm.ppf(0.5 + LEVEL / 2)  # 1.96: interval half-width per standard error
FRAGILE_MARGIN = 2.0
# Percentile bootstrap: fixed resamples from a fixed seed, so an interval is a pure function of
# the evidence (integer draws and sorting: the same bits on every machine).
N_BOOTSTRAP = 4000
BOOTSTRAP_SEED = 20260101


def _plain(value):
    """JSON-ready value: numpy to Python, floats rounded to 12 significant digits, non-finite to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Estimate:
    """A measured value, its 95 % interval ``ci = (lo, hi)`` by ``method``, and the evidence.

    ``n`` counts the independent units (seeds, problems, grid points) behind the value. An
    estimate whose design has too few units for an interval is not ``assessable`` (its claim
    is neither passed nor failed); one whose runs gave no finite value (diverged) is assessable
    and NaN (its claim fails). ``reason`` says which.
    """

    value: float
    ci: tuple[float, float]
    method: str
    evidence: object
    n: int
    reason: str | None = None
    assessable: bool = True


def _checked(values, n_min: int, method: str, what: str, evidence) -> tuple[np.ndarray, object, Estimate | None]:
    """The values as a flat array, the evidence to report (the values unless given), and an
    estimate without interval in place of the measurement when the design has fewer than
    ``n_min`` units (not assessable), or a failed one (NaN) when any unit is not finite (a
    diverged run counts against the claim); ``None`` when the values can be reduced."""
    values = np.asarray(values, dtype=np.float64).ravel()
    evidence = values if evidence is None else evidence
    if values.size < n_min:
        return values, evidence, Estimate(
            math.nan, (math.nan, math.nan), method, evidence, int(values.size),
            reason=f"{what} needs at least {n_min} units; this run has {values.size}", assessable=False)
    bad = int((~np.isfinite(values)).sum())
    if bad:
        return values, evidence, Estimate(
            math.nan, (math.nan, math.nan), method, evidence, int(values.size),
            reason=f"{bad} of {values.size} units not finite (diverged or undefined)")
    return values, evidence, None


def _median_rank(n: int) -> int:
    """Largest k with P(Binomial(n, 1/2) < k) <= 2.5 %: the order statistics k and n + 1 - k
    bound the median with at least 95 % coverage whatever the distribution (0: no such k)."""
    k = int(stats.binom.ppf((1 - LEVEL) / 2, n, 0.5))
    while k > 0 and stats.binom.cdf(k - 1, n, 0.5) > (1 - LEVEL) / 2:
        k -= 1
    return k


MEDIAN_MIN_UNITS = next(n for n in range(1, 100) if _median_rank(n) >= 1)  # 6


def median_ci(values, evidence=None) -> Estimate:
    """Median with its distribution-free 95 % interval (order statistics, as the sign test):
    needs at least 6 units."""
    method = "median; 95% distribution-free interval (order statistics, sign test)"
    values, evidence, bad = _checked(values, MEDIAN_MIN_UNITS, method, "an interval for a median", evidence)
    if bad is not None:
        return bad
    ordered = np.sort(values)
    k = _median_rank(ordered.size)
    return Estimate(float(np.median(ordered)), (float(ordered[k - 1]), float(ordered[-k])), method, evidence,
                    int(values.size))


def mean_ci(values, evidence=None) -> Estimate:
    """Mean with its Student-t 95 % interval: needs at least 3 units."""
    method = "mean; 95% Student-t interval"
    values, evidence, bad = _checked(values, 3, method, "a t interval", evidence)
    if bad is not None:
        return bad
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + LEVEL / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return Estimate(mean, (mean - half, mean + half), method, evidence, int(values.size))


def paired(a, b, *, log10: bool = False, statistic: str = "median") -> Estimate:
    """The effect of condition ``a`` against ``b`` on the same units (seeds, problems): the
    per-unit differences ``a - b`` (``log10(a / b)`` with ``log10``), reduced by ``statistic``
    (``median`` or ``mean``) with its interval. Evidence: ``{"a": [...], "b": [...], "effect": [...]}``."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired conditions need the same units, got {a.shape} and {b.shape}")
    with np.errstate(all="ignore"):
        effect = np.log10(a / b) if log10 else a - b
    if log10:
        effect = np.where((a > 0) & (b > 0), effect, np.nan)
    evidence = {"a": a, "b": b, "effect": effect}
    return {"median": median_ci, "mean": mean_ci}[statistic](effect, evidence)


def fraction_ci(flags, evidence=None) -> Estimate:
    """Fraction of true cases with its Clopper-Pearson (exact binomial) 95 % interval."""
    flags = np.asarray(flags, dtype=bool).ravel()
    n, k = flags.size, int(flags.sum())
    method = "fraction; 95% Clopper-Pearson interval"
    if n == 0:
        return Estimate(math.nan, (math.nan, math.nan), method, [], 0, reason="no case to count", assessable=False)
    alpha = 1 - LEVEL
    lo = float(stats.beta.ppf(alpha / 2, k, n - k + 1)) if k > 0 else 0.0
    hi = float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k)) if k < n else 1.0
    return Estimate(k / n, (lo, hi), method, evidence if evidence is not None else flags, n)


def slope_ci(x, y, evidence=None) -> Estimate:
    """Least-squares slope of ``y`` on ``x`` with its Student-t 95 % interval (3 points at least;
    a fit through every point exactly gives a zero-width interval)."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    method = "least-squares slope; 95% Student-t interval from the residuals"
    ev = evidence if evidence is not None else {"x": x, "y": y}
    if x.size < 3:
        return Estimate(math.nan, (math.nan, math.nan), method, ev, int(x.size),
                        reason=f"a slope interval needs at least 3 points; this run has {x.size}", assessable=False)
    if not np.all(np.isfinite(x) & np.isfinite(y)):
        return Estimate(math.nan, (math.nan, math.nan), method, ev, int(x.size), reason="a point is not finite")
    fit = stats.linregress(x, y)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, x.size - 2) * fit.stderr)
    return Estimate(float(fit.slope), (fit.slope - half, fit.slope + half), method, ev, int(x.size))


def bootstrap_ci(units, statistic: Callable[[np.ndarray], float], *, min_units: int = 6, evidence=None,
                 what: str = "statistic") -> Estimate:
    """``statistic`` of the units (the first axis of ``units``: seeds, problems) with its 95 %
    percentile-bootstrap interval over resampled units (fixed seed: reproducible)."""
    units = np.asarray(units, dtype=np.float64)
    method = f"{what}; 95% percentile bootstrap over {units.shape[0] if units.ndim else 0} units ({N_BOOTSTRAP} resamples)"
    ev = evidence if evidence is not None else units
    n = int(units.shape[0]) if units.ndim else 0
    if n < min_units:
        return Estimate(math.nan, (math.nan, math.nan), method, ev, n,
                        reason=f"a bootstrap interval needs at least {min_units} units; this run has {n}",
                        assessable=False)
    value = float(statistic(units))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.integers(0, n, size=(N_BOOTSTRAP, n))
    resampled = np.array([statistic(units[idx]) for idx in draws], dtype=np.float64)
    if not math.isfinite(value) or not np.all(np.isfinite(resampled)):
        return Estimate(math.nan, (math.nan, math.nan), method, ev, n, reason="the statistic is not finite")
    lo, hi = np.quantile(resampled, [(1 - LEVEL) / 2, 0.5 + LEVEL / 2])
    return Estimate(value, (float(lo), float(hi)), method, ev, n)


def exact(value, evidence, method: str = "exact: no randomness enters this number") -> Estimate:
    """A value with no sampling uncertainty (a closed form, an ODE solution): zero-width interval."""
    value = float(value)
    return Estimate(value, (value, value), method, evidence, 1)


def grid_bracket(lo, hi, evidence, what: str = "transition", n: int = 1) -> Estimate:
    """A location found on a grid (e.g. where a phase changes along a step-size sweep): it lies
    between the grid points ``lo <= hi`` around it. Value: the midpoint; interval: ``[lo, hi]``
    (it holds the location whenever the points on either side are classified right; it is not a
    sampling interval). A NaN bound (the transition is not on the grid) gives a failed estimate."""
    lo, hi = float(lo), float(hi)
    method = f"{what}; bracket between the grid points around it"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Estimate(math.nan, (math.nan, math.nan), method, evidence, n, reason=f"the {what} is not on the grid")
    if hi < lo:
        raise ValueError(f"a grid bracket needs lo <= hi, got [{lo}, {hi}]")
    return Estimate(0.5 * (lo + hi), (lo, hi), method, evidence, n)


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    kind: str
    relation: str
    expected: float
    tolerance: float
    measured: float
    ci: list
    ci_method: str
    evidence: object
    n: int
    margin: float | None = field(init=False)
    passed: bool | None = field(init=False)
    fragile: bool = field(init=False)
    reason: str | None = None
    assessable: InitVar[bool] = True

    def __post_init__(self, assessable: bool):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.relation not in _RELATIONS[self.kind]:
            raise ValueError(f"a {self.kind} claim takes relation {_RELATIONS[self.kind]}, got {self.relation!r}")
        for name in ("measured", "expected", "tolerance", "ci", "evidence"):
            object.__setattr__(self, name, _plain(getattr(self, name)))
        passed, margin = self._verdict() if assessable else (None, None)
        object.__setattr__(self, "passed", passed)
        object.__setattr__(self, "margin", _plain(margin))
        object.__setattr__(self, "fragile", bool(passed and margin is not None and margin < FRAGILE_MARGIN))

    def _distance_and_se(self) -> tuple[float, float]:
        """Distance of the measurement to the failing boundary (negative: on the failing side), and
        the standard error read off the interval on that boundary's side (its half-width there,
        or half the whole width if larger, over 1.96)."""
        m, e, tol = self.measured, self.expected, self.tolerance
        lo, hi = self.ci
        if self.relation == "approx":
            distance, side = tol - abs(m - e), (hi - m) if m >= e else (m - lo)
        elif self.relation in ("<=", "<"):
            distance, side = (e + tol) - m, hi - m
        else:
            distance, side = m - (e - tol), m - lo
        return distance, max(side, (hi - lo) / 2) / _Z

    def _verdict(self) -> tuple[bool | None, float | None]:
        if self.measured is None or any(v is None for v in self.ci):
            return False, None
        distance, se = self._distance_and_se()
        lo, hi = self.ci
        if self.relation == "<":
            passed = hi < self.expected  # the whole interval beyond the tie: margin > 1.96
        elif self.relation == ">":
            passed = lo > self.expected
        else:
            passed = distance >= 0
        margin = distance / se if se > 0 else None  # zero width: an exact number
        return bool(passed), margin

    @classmethod
    def _make(cls, id, statement, kind, relation, estimate: Estimate, expected, tolerance=0.0) -> Claim:
        return cls(id=id, statement=statement, kind=kind, relation=relation, expected=expected, tolerance=tolerance,
                   measured=estimate.value, ci=list(estimate.ci), ci_method=estimate.method,
                   evidence=estimate.evidence, n=estimate.n, reason=estimate.reason, assessable=estimate.assessable)

    @classmethod
    def near(cls, id: str, statement: str, estimate: Estimate, expected, tolerance, kind: str = "theory") -> Claim:
        """``|measured - expected| <= tolerance`` (theory or paper value)."""
        return cls._make(id, statement, kind, "approx", estimate, expected, tolerance)

    @classmethod
    def at_most(cls, id: str, statement: str, estimate: Estimate, bound, kind: str = "theory") -> Claim:
        return cls._make(id, statement, kind, "<=", estimate, bound)

    @classmethod
    def at_least(cls, id: str, statement: str, estimate: Estimate, bound, kind: str = "theory") -> Claim:
        return cls._make(id, statement, kind, ">=", estimate, bound)

    @classmethod
    def below(cls, id: str, statement: str, effect: Estimate, tie=0.0) -> Claim:
        """Ordering: the effect (e.g. a paired difference) is below ``tie``; its whole interval must be."""
        return cls._make(id, statement, "ordering", "<", effect, tie)

    @classmethod
    def above(cls, id: str, statement: str, effect: Estimate, tie=0.0) -> Claim:
        """Ordering: the effect is above ``tie``; its whole interval must be."""
        return cls._make(id, statement, "ordering", ">", effect, tie)


@dataclass(frozen=True)
class ClaimGroup:
    """Claims measured together from the experiments they read: ``measure(data, cfg)`` with
    ``data`` the stored trajectories by experiment name and ``cfg`` the paper's config section."""

    reads: tuple[str, ...]
    measure: Callable[[Mapping, Mapping], list[Claim]]


def measure_groups(groups: Iterable[ClaimGroup], data: Mapping, cfg: Mapping,
                   experiments: Iterable[str] | None = None) -> list[Claim]:
    """The claims of every group, in order; with ``experiments``, only of the groups that read
    nothing else (a paper scale where some jobs ran only as slices)."""
    allowed = None if experiments is None else set(experiments)
    return [claim for group in groups if allowed is None or set(group.reads) <= allowed
            for claim in group.measure(data, cfg)]


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
