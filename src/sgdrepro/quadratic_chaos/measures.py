"""Measurements on trajectories: period detection, Lyapunov exponents, phase classification,
measured phase boundaries and the ergodic average's fluctuation.

Phase classifier (:func:`classify_trajectory`), from what the trainer stores for each run:

1. ``divergent`` if the run left every bound (the trainer's divergence flag);
2. the observables over the late window (the loss over its initial value ``L/L_0`` and a random
   linear probe of the residuals over ``2 sqrt(L_0)``; the loss alone can be constant on a cycle
   when two data directions oscillate in anti-phase) are tested for the smallest period
   ``p <= max_period`` with ``max_k |x_{k+p} - x_k| <= period_rtol``;
3. ``p == 1`` (the loss stopped changing): converged to a minimiser; ``monotonic`` if consecutive
   GD steps never turned back (``<Delta_k, Delta_{k-1}> >= 0`` whenever both steps are larger than
   ``1e-9 |W|``), else ``catapult`` (the iterate overshot the minimiser and came back);
4. ``p >= 2``: ``periodic`` with period ``p``;
5. no period found: ``chaotic`` if the Lyapunov exponent exceeds ``chaos_threshold``; else the
   orbit is still converging slowly, to a minimiser if the best-fitting period is 1 (then as in 3.),
   else to a cycle (``periodic`` with the period of best fit, e.g. next to a period doubling).
   Without a Lyapunov exponent (NaN) a non-periodic orbit is ``chaotic``.

Step 5 reads the Lyapunov exponent, so a claim *about* the exponent must not select its runs with
this classifier: :func:`periodicity_dataset` gives the period test alone (period, best period and
its mismatch), from which an orbit is ``aperiodic`` when it misses every period by far more than a
slowly converging orbit does (:data:`APERIODIC_MISMATCH`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .theory import BOUNDARIES, PHASES, cubic_map, cubic_map_derivative

__all__ = [
    "PHASE_CODES",
    "detect_period",
    "detect_periods",
    "classify_trajectory",
    "classify_map",
    "lyapunov_from_cumulative",
    "classify_dataset",
    "periodicity_dataset",
    "transition_brackets",
    "hull",
    "hull_brackets",
    "band_merging_bracket",
    "measured_boundaries",
    "phase_extent_bracket",
    "fluctuation",
    "late_fluctuation_ratio",
]

PHASE_CODES = {name: i for i, name in enumerate(PHASES)}

PERIOD_RTOL = 1e-6
MAX_PERIOD = 64
CHAOS_THRESHOLD = 0.01  # nats/step; far above the finite-window noise of a periodic orbit's exponent
# An orbit still converging to a cycle misses it by <= 1e-4 at the late window (a = 1 on Gaussian data,
# the slowest: 1e-5); a chaotic orbit misses every period <= 64 by order one (>= 0.1 on our runs).
APERIODIC_MISMATCH = 1e-2


def period_mismatch(x: np.ndarray, max_period: int = MAX_PERIOD) -> np.ndarray:
    """``[R, P]``: ``max_k |x_{k+p} - x_k|`` over the window for ``p = 1..P`` (inf where not finite)."""
    x = np.asarray(x, dtype=float)
    max_period = min(max_period, x.shape[1] // 2)
    with np.errstate(invalid="ignore"):
        mismatch = np.stack([np.abs(x[:, p:] - x[:, :-p]).reshape(len(x), -1).max(axis=1)
                             for p in range(1, max_period + 1)], axis=1)
    return np.where(np.isfinite(mismatch), mismatch, np.inf)


def detect_periods(x: np.ndarray, atol: float, max_period: int = MAX_PERIOD) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`detect_period` over runs: ``x [R, T, k]`` -> ``(period [R], best [R])``."""
    mismatch = period_mismatch(x, max_period)
    ok = mismatch <= atol
    period = np.where(ok.any(axis=1), ok.argmax(axis=1) + 1, 0)
    return period, mismatch.argmin(axis=1) + 1


def detect_period(x: np.ndarray, atol: float, max_period: int = MAX_PERIOD) -> tuple[int, int]:
    """``(period, best)`` of a series ``x [T]`` or ``[T, k]``: the smallest ``p`` with
    ``max|x[p:] - x[:-p]| <= atol`` (0 if none) and the ``p`` of smallest mismatch."""
    x = np.asarray(x, dtype=float)
    x = x.reshape(1, x.shape[0], -1)
    period, best = detect_periods(x, atol, max_period)
    return int(period[0]), int(best[0])


def classify_trajectory(
    observables: np.ndarray,
    diverged: bool,
    turned_back: bool,
    lyapunov: float = float("nan"),
    period_rtol: float = PERIOD_RTOL,
    max_period: int = MAX_PERIOD,
    chaos_threshold: float = CHAOS_THRESHOLD,
    periods: tuple[int, int] | None = None,
) -> tuple[str, int]:
    """``(phase, period)`` of one trajectory (see the module docstring); period 0 if not periodic.

    ``observables``: late-window series ``[T]`` or ``[T, k]``, each normalised to order one.
    """
    observables = np.asarray(observables, dtype=float)
    if diverged or not np.all(np.isfinite(observables)):
        return "divergent", 0
    period, best = periods if periods is not None else detect_period(observables, period_rtol, max_period)
    if period == 1:
        return ("catapult" if turned_back else "monotonic"), 1
    if period >= 2:
        return "periodic", period
    if np.isfinite(lyapunov) and lyapunov <= chaos_threshold:
        if best == 1:  # still converging slowly to a minimiser
            return ("catapult" if turned_back else "monotonic"), 1
        return "periodic", best
    return "chaotic", 0


def classify_map(a: float, v0: float = 0.1234567, n_steps: int = 4000, window: int = 1024,
                 **kw) -> tuple[str, int, float]:
    """Run the cubic map and classify (loss :math:`(v^2 - 1)^2 / 4`, v) like a GD trajectory.

    Returns ``(phase, period, lyapunov)``; the exponent is averaged over the late window.
    """
    v, prev_step = float(v0), 0.0
    obs, log_deriv, turned_back = [], [], False
    loss0 = 0.25 * (v * v - 1.0) ** 2
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(n_steps):
            new = float(cubic_map(v, a))
            if not np.isfinite(new) or abs(new) > 1e100:
                return "divergent", 0, float("inf")
            step = new - v
            if step * prev_step < 0 and min(abs(step), abs(prev_step)) > 1e-9 * abs(v):
                turned_back = True
            if k >= n_steps - window:
                log_deriv.append(np.log(abs(cubic_map_derivative(v, a))))
                obs.append((0.25 * (new * new - 1.0) ** 2 / loss0, new))
            v, prev_step = new, step
    lyapunov = float(np.mean(log_deriv))
    phase, period = classify_trajectory(np.asarray(obs), False, turned_back, lyapunov, **kw)
    return phase, period, lyapunov


def lyapunov_from_cumulative(log_growth: np.ndarray, steps: np.ndarray, start: int) -> np.ndarray:
    """Mean log growth per step over ``[start, last step]`` from cumulative sums ``[..., T]``."""
    steps = np.asarray(steps)
    i0 = int(np.searchsorted(steps, start))
    with np.errstate(invalid="ignore"):
        return (log_growth[..., -1] - log_growth[..., i0]) / float(steps[-1] - steps[i0])


def _late_observables(ds: xr.Dataset):
    """``(grid_dims, shape, obs [R, T_late, 2], diverged [R])``: the late-window observables of every run."""
    start = int(ds.attrs["late_start"])
    late = ds["step"].values >= start
    grid_dims = [d for d in ds["loss"].dims if d != "step"]
    loss = ds["loss"].transpose(*grid_dims, "step").values
    shape = loss.shape[:-1]
    loss = loss.reshape(-1, loss.shape[-1])
    probe = ds["probe"].transpose(*grid_dims, "step").values.reshape(len(loss), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = np.stack([loss / loss[:, :1], probe / (2.0 * np.sqrt(loss[:, :1]))], axis=-1)
    diverged = ds["diverged_step"].transpose(*grid_dims).values.reshape(-1) >= 0
    return grid_dims, shape, obs[:, late], diverged


def periodicity_dataset(ds: xr.Dataset, period_rtol: float = PERIOD_RTOL, max_period: int = MAX_PERIOD) -> xr.Dataset:
    """The period test alone (no Lyapunov exponent enters) for every run of a trajectory file:
    ``period`` (0: none within ``period_rtol``), ``mismatch`` (of the best-fitting period, NaN for
    a diverged run), ``diverged``, and ``aperiodic``: not diverged, no period, and every period
    ``<= max_period`` missed by more than :data:`APERIODIC_MISMATCH`."""
    grid_dims, shape, obs, diverged = _late_observables(ds)
    mismatch = period_mismatch(obs, max_period)
    ok = mismatch <= period_rtol
    period = np.where(ok.any(axis=1) & ~diverged, ok.argmax(axis=1) + 1, 0)
    best = np.where(diverged, np.nan, mismatch.min(axis=1))
    aperiodic = ~diverged & (period == 0) & (best > APERIODIC_MISMATCH)
    return xr.Dataset({"period": (grid_dims, period.reshape(shape)), "mismatch": (grid_dims, best.reshape(shape)),
                       "diverged": (grid_dims, diverged.reshape(shape)),
                       "aperiodic": (grid_dims, aperiodic.reshape(shape))},
                      coords={d: ds[d] for d in grid_dims})


def classify_dataset(ds: xr.Dataset, **kw) -> xr.Dataset:
    """Phase code, period and Lyapunov exponent of every run of a trajectory file.

    Uses the records from ``ds.attrs['late_start']`` on (the late window): ``loss / loss[step 0]``
    and ``probe / (2 sqrt(loss[step 0]))``, the cumulative turn-back count and log growth, and
    ``diverged_step``.
    """
    start = int(ds.attrs["late_start"])
    steps = ds["step"].values
    grid_dims, shape, obs, diverged = _late_observables(ds)
    n_runs = len(obs)
    turns = np.nan_to_num(ds["turn_backs"].transpose(*grid_dims, "step").values.reshape(n_runs, -1), nan=0.0)
    turned = turns.max(axis=-1) > 0
    if "log_growth" in ds:
        growth = ds["log_growth"].transpose(*grid_dims, "step").values.reshape(n_runs, -1)
        lyap = lyapunov_from_cumulative(growth, steps, start)
    else:
        lyap = np.full(n_runs, np.nan)
    codes, periods = np.zeros(n_runs, dtype=np.int64), np.zeros(n_runs, dtype=np.int64)
    found, best = detect_periods(obs, kw.get("period_rtol", PERIOD_RTOL), kw.get("max_period", MAX_PERIOD))
    for i in range(n_runs):
        phase, period = classify_trajectory(obs[i], bool(diverged[i]), bool(turned[i]),
                                            float(lyap[i]), periods=(int(found[i]), int(best[i])), **kw)
        codes[i], periods[i] = PHASE_CODES[phase], period
    lyap = np.where(diverged, np.nan, lyap)
    coords = {d: ds[d] for d in grid_dims}
    return xr.Dataset(
        {
            "phase": (grid_dims, codes.reshape(shape), {"flag_values": list(range(len(PHASES))),
                                                          "flag_meanings": " ".join(PHASES)}),
            "period": (grid_dims, periods.reshape(shape)),
            "lyapunov": (grid_dims, lyap.reshape(shape), {"units": "nats per step"}),
        },
        coords=coords,
    )


def transition_brackets(a: np.ndarray, codes: np.ndarray) -> dict[str, tuple[float, float]]:
    """Boundary between phase k and k+1: the grid points ``(lo, hi)`` around it, ``hi`` the first
    ``a`` whose phase rank exceeds k and ``lo`` the point before (NaN when the transition is not
    on the grid).

    ``a`` must be sorted; the first exceedance makes periodic windows inside chaos irrelevant.
    """
    a, codes = np.asarray(a, dtype=float), np.asarray(codes)
    out = {}
    for k, name in enumerate(BOUNDARIES):
        above = np.flatnonzero(codes > k)
        if above.size == 0 or above[0] == 0:
            out[name] = (float("nan"), float("nan"))
        else:
            out[name] = (float(a[above[0] - 1]), float(a[above[0]]))
    return out


def hull(brackets) -> tuple[float, float]:
    """Smallest bracket holding every one of ``brackets`` [(lo, hi), ...] (NaN if one is NaN)."""
    lo, hi = np.asarray(brackets, dtype=float).reshape(-1, 2).T
    if not np.all(np.isfinite(lo) & np.isfinite(hi)):
        return float("nan"), float("nan")
    return float(lo.min()), float(hi.max())


def hull_brackets(a: np.ndarray, codes: np.ndarray) -> dict[str, tuple[float, float]]:
    """:func:`transition_brackets` of every row of ``codes [..., len(a)]`` (e.g. one per seed), joined
    by :func:`hull`."""
    per_row = [transition_brackets(a, row) for row in np.asarray(codes).reshape(-1, len(a))]
    return {name: hull([b[name] for b in per_row]) for name in BOUNDARIES}


def band_merging_bracket(a: np.ndarray, v_late: np.ndarray) -> tuple[float, float]:
    """Where the late iterates of a signed coordinate (phase retrieval's ``v``) first visit both signs:
    ``(lo, hi)`` grid points around the first such ``a`` (NaN if none or the first). ``v_late [len(a), T]``;
    a diverged run (non-finite) counts as one sign. On the cubic map this is the band-merging crisis
    ``a = 3 sqrt(3)/2 - 1``: below it a bounded orbit keeps its sign (:mod:`.theory`)."""
    v = np.asarray(v_late, dtype=float)
    with np.errstate(invalid="ignore"):
        both = np.all(np.isfinite(v), axis=1) & (v.min(axis=1) < 0) & (v.max(axis=1) > 0)
    first = np.flatnonzero(both)
    if first.size == 0 or first[0] == 0:
        return float("nan"), float("nan")
    return float(a[first[0] - 1]), float(a[first[0]])


def measured_boundaries(a: np.ndarray, codes: np.ndarray) -> dict[str, float]:
    """Midpoints of :func:`transition_brackets`."""
    return {name: 0.5 * (lo + hi) for name, (lo, hi) in transition_brackets(a, codes).items()}


def phase_extent_bracket(a: np.ndarray, codes: np.ndarray, code: int) -> tuple[float, float]:
    """Bounds on the length of the part of the swept range ``[a_0, a_end]`` in phase ``code``.

    Each maximal run of consecutive grid points ``a_i..a_j`` in that phase covers at least
    ``a_j - a_i`` (zero for a single point) and at most ``a_{j+1} - a_{i-1}`` (its neighbours,
    clipped to the grid's ends); the bounds add over the runs. ``a`` must be sorted.
    """
    a, inside = np.asarray(a, dtype=float), np.asarray(codes) == code
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    lo = float(np.sum(a[ends] - a[starts]))
    hi = float(np.sum(a[np.minimum(ends + 1, len(a) - 1)] - a[np.maximum(starts - 1, 0)]))
    return lo, hi


def fluctuation(series: np.ndarray, axis: int = -1) -> np.ndarray:
    """Standard deviation along ``axis`` (NaN-aware, silent on all-NaN slices)."""
    with np.errstate(invalid="ignore"), _quiet():
        return np.nanstd(series, axis=axis)


def late_fluctuation_ratio(averaged: np.ndarray, last: np.ndarray) -> np.ndarray:
    r"""``std(averaged) / std(last)`` over the second half of the last axis (the late window's).

    ``averaged``: the test error of the running average of the predictor started at the window's
    start (a burn-in of everything before), so over the second half it averages at least half the
    window. References for a window of :math:`W` steps: an i.i.d. sequence gives about
    :math:`0.38/\sqrt W` (0.014 at W = 750), a stationary one with correlation time :math:`\tau`
    about :math:`\sqrt\tau` times that, a cycle of period :math:`p` about :math:`p/W`; a
    sequence that drifts linearly gives exactly 1/2 whatever its rate (its running average drifts at
    half the rate), a predictor drifting linearly 1/4 (the error is quadratic in it).
    """
    half = averaged.shape[-1] // 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return fluctuation(averaged[..., half:]) / fluctuation(last[..., half:])


class _quiet:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
