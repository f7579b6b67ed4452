r"""The cubic map that full-batch GD on quadratic regression reduces to, and its phases.

Reduction (phase retrieval, one quadratic neuron). Loss
:math:`L(w) = \tfrac14 \sum_i ((w^\top x_i)^2 - y_i)^2`, gradient
:math:`\nabla L = \sum_i ((w^\top x_i)^2 - y_i)(w^\top x_i)\,x_i`, GD :math:`w \leftarrow w - \eta \nabla L`.
With orthonormal inputs (:math:`x_i^\top x_j = \delta_{ij}`) project the update on :math:`x_i`:
the coordinate :math:`c_i = w^\top x_i` only sees its own term,

.. math:: c_i \leftarrow c_i - \eta (c_i^2 - y_i) c_i = c_i\,(1 - \eta (c_i^2 - y_i)),

and the part of :math:`w` orthogonal to the data never moves. With :math:`v = c_i / \sqrt{y_i}` and
the *normalised step* :math:`a = \eta y_i`:

.. math:: v \leftarrow (1 + a)\,v - a\,v^3 =: f_a(v),

a cubic map with fixed points :math:`0, \pm 1`; the minimiser :math:`v = 1` has multiplier
:math:`f_a'(1) = 1 - 2a`. The rescaling :math:`u = v \sqrt{a / (1 + a)}` turns it into the
antisymmetric cubic map :math:`u \leftarrow r (u - u^3)` with :math:`r = 1 + a`.

Reduction (two-layer network, fixed outer layer). Prediction :math:`f(x) = \tfrac1m \sum_j (w_j^\top x)^2`
(outer weights fixed at :math:`1/m`, only the :math:`w_j` train), same loss. The gradient in :math:`w_j` is
:math:`\tfrac1m \sum_i (f(x_i) - y_i)(w_j^\top x_i)\,x_i`, so with orthonormal inputs every
:math:`c_{ij} = w_j^\top x_i` (all neurons :math:`j` alike) is multiplied by the same factor

.. math:: c_{ij} \leftarrow c_{ij}\,\bigl(1 - \tfrac{\eta}{m}(f(x_i) - y_i)\bigr), \qquad
          f(x_i) = \tfrac1m \textstyle\sum_j c_{ij}^2 .

Squaring and averaging over :math:`j`: :math:`f(x_i) \leftarrow f(x_i)\,(1 - \tfrac{\eta}{m}(f(x_i) - y_i))^2`.
With :math:`t_i = \sqrt{f(x_i) / y_i} \ge 0` and the normalised step :math:`a = \eta y_i / m`:

.. math:: t_i \leftarrow t_i\,\lvert 1 + a - a t_i^2 \rvert = \lvert f_a(t_i) \rvert ,

the same cubic map up to the sign, with the step scaled by :math:`1/m` (each neuron's gradient carries
the outer weight :math:`1/m`, while :math:`f`, an average over the neurons, moves like one neuron's
square). Since
:math:`f_a` is odd, :math:`\lvert f_a \rvert^k(\lvert v \rvert) = \lvert f_a^k(v) \rvert`: :math:`t_i` is
:math:`\lvert v \rvert` of a cubic-map orbit, so the loss :math:`\tfrac14 \sum_i y_i^2 (t_i^2 - 1)^2`, the
convergence, the turn-backs (:math:`t` overshoots 1 iff :math:`v` does), the Lyapunov exponent along the
orbit (:math:`\lvert f_a' \rvert` is even) and divergence are the map's, and every phase boundary below holds
at the same :math:`a`. (The period of :math:`\lvert v \rvert` is half a cycle's that maps :math:`v \to -v`;
the cycles of the period-doubling cascade lie in :math:`v > 0`.) Directions orthogonal to the data and
rotations :math:`W \to WQ` of the neurons do not change :math:`f`: the GD Jacobian has neutral
directions, so the two-layer net's top exponent is 0, not negative, on cycles. Tested in
``tests/quadratic_chaos/test_quadratic_chaos_theory.py`` (one GD step = one map step) and
``test_quadratic_chaos_gd.py`` (the bifurcation runs' boundaries and late iterates).

In both cases :math:`a = \eta\,\lambda_{\max}(\nabla^2 L(w^*)) / 2` at a global minimiser :math:`w^*`
(for orthonormal data :math:`\nabla^2 L(w^*) = 2 \sum_i y_i x_i x_i^\top / m`), which is how the
experiments define the normalised step on any data.

Phases of :math:`f_a` from a generic initial point in the bounded basin
(:math:`|v| < \sqrt{(1+a)/a}`):

- ``monotonic``, :math:`0 < a \le 1/2`: multiplier :math:`1 - 2a \in [0, 1)`, the iterate approaches 1
  without crossing it;
- ``catapult``, :math:`1/2 < a \le 1`: multiplier in :math:`[-1, 0)`, the iterate overshoots the
  minimiser and converges while oscillating around it;
- ``periodic``, :math:`1 < a < a_\infty`: period doubling at :math:`a = 1` (:math:`r = 2`), a period-2 orbit
  until :math:`a = \sqrt5 - 1` (:math:`r = \sqrt5`), period 4, 8, ... accumulating at
  :math:`a_\infty = 1.3022834627...` (Feigenbaum cascade; value computed below);
- ``chaotic``, :math:`a_\infty \le a \le 2`: positive Lyapunov exponent, except in periodic windows
  (the largest is the period-3 window near :math:`a = 1.45`). At :math:`a_m = 3\sqrt3/2 - 1 = 1.598...`
  (:math:`r = 3\sqrt3/2`, where :math:`\max_{[0,1]} r(u - u^3) = 2r/(3\sqrt3)` reaches 1) the chaotic bands of
  :math:`v > 0` and :math:`v < 0` merge (symmetry-restoring crisis): orbits start to visit both signs,
  but they stay bounded;
- ``divergent``, :math:`a > 2` (:math:`r > 3`): the bounded basin is :math:`|v| \le \sqrt{(a+2)/a}`, the
  symmetric 2-cycle :math:`v \to -v`. It is invariant iff the critical value :math:`2r/(3\sqrt3)` (in
  :math:`u`) stays below :math:`u_s = \sqrt{(r+1)/r}`, i.e. :math:`4r^3 \le 27(r+1)`, i.e. :math:`r \le 3`.
  Beyond, almost every orbit escapes to infinity.

Note: the paper card placed divergence at :math:`r > 3\sqrt3/2` because :math:`[-1, 1]` stops being
invariant there; :math:`[-u_s, u_s]` is the invariant interval, so that value is the band-merging
crisis instead, and divergence starts at :math:`a = 2` (tested; the trajectories agree).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "PHASES",
    "A_MONOTONIC",
    "A_CATAPULT",
    "A_PERIOD4",
    "A_FEIGENBAUM",
    "A_MERGE",
    "A_ESCAPE",
    "BOUNDARIES",
    "cubic_map",
    "cubic_map_derivative",
    "basin_radius",
    "map_orbit",
    "lyapunov_map",
    "phase_of",
    "phases_of",
    "superstable_parameters",
    "phase_of_gd",
]

PHASES = ("monotonic", "catapult", "periodic", "chaotic", "divergent")

A_MONOTONIC = 0.5  # end of monotonic convergence: multiplier 1 - 2a reaches 0
A_CATAPULT = 1.0  # end of convergence: multiplier reaches -1, first period doubling (r = 2)
A_PERIOD4 = math.sqrt(5.0) - 1.0  # period 2 -> 4 (r = sqrt 5)
# Accumulation of the period-doubling cascade, r_inf - 1. Computed from the superstable
# parameters R_k (f_r^{2^k}(1/sqrt3) = 1/sqrt3, k <= 11) with Feigenbaum's extrapolation
# R_inf = R_k + (R_k - R_{k-1}) / (delta - 1); superstable_parameters() reproduces it (tested).
A_FEIGENBAUM = 1.302283462700715
A_MERGE = 1.5 * math.sqrt(3.0) - 1.0  # r = 3 sqrt(3) / 2: the v > 0 and v < 0 chaotic bands merge
A_ESCAPE = 2.0  # r = 3: the invariant interval [-u_s, u_s] breaks, orbits escape
BOUNDARIES = {
    "monotonic|catapult": A_MONOTONIC,
    "catapult|periodic": A_CATAPULT,
    "periodic|chaotic": A_FEIGENBAUM,
    "chaotic|divergent": A_ESCAPE,
}

_GENERIC_V0 = 0.1234567  # a generic point in the basin (not on a preimage of 0 or +-1)


def cubic_map(v, a):
    """:math:`f_a(v) = (1 + a) v - a v^3`."""
    return (1.0 + a) * v - a * v**3


def cubic_map_derivative(v, a):
    """:math:`f_a'(v) = 1 + a - 3 a v^2`."""
    return 1.0 + a - 3.0 * a * v**2


def basin_radius(a):
    """Orbits with :math:`|v_0| < \\sqrt{(a+2)/a}` (inside the symmetric 2-cycle) stay bounded for :math:`a \\le 2`."""
    a = np.asarray(a, dtype=float)
    return np.sqrt((a + 2.0) / a)


def map_orbit(a, v0=_GENERIC_V0, n_steps: int = 1000) -> np.ndarray:
    """Orbit ``[..., n_steps + 1]`` of :math:`f_a` for an array of ``a`` (inf/NaN after escape, silently)."""
    a = np.asarray(a, dtype=float)
    v = np.broadcast_to(np.asarray(v0, dtype=float), a.shape).copy()
    out = np.empty(a.shape + (n_steps + 1,))
    out[..., 0] = v
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(n_steps):
            v = np.where(np.abs(v) < 1e100, cubic_map(v, a), np.inf)
            out[..., k + 1] = v
    return out


def lyapunov_map(a, v0=_GENERIC_V0, n_transient: int = 1000, n_average: int = 8000) -> np.ndarray:
    """Lyapunov exponent :math:`\\lim \\frac1N \\sum_k \\log |f_a'(v_k)|` per ``a`` (nats/step).

    Orbits that escape give ``+inf`` (divergent); an orbit landing exactly on a critical point
    (``f' = 0``) gives ``-inf`` (superstable). The sum is accumulated as a product of derivatives,
    renormalised by its exponent every step (``frexp``), so one ``log`` per orbit suffices.
    """
    shape = np.shape(a)
    a = np.asarray(a, dtype=float).reshape(-1)
    v = np.broadcast_to(np.asarray(v0, dtype=float), shape).reshape(-1).copy()
    one_plus_a = 1.0 + a
    mantissa, exponent = np.ones(a.shape), np.zeros(a.shape)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(n_transient):
            v = v * (one_plus_a - a * v * v)
            np.clip(v, -1e10, 1e10, out=v)
        for _ in range(n_average):
            vv = v * v
            mantissa *= np.abs(one_plus_a - 3.0 * a * vv)
            mantissa, e = np.frexp(mantissa)
            exponent += e
            v = v * (one_plus_a - a * vv)
            np.clip(v, -1e10, 1e10, out=v)
        total = np.log(mantissa) + exponent * math.log(2.0)
        escaped = ~np.isfinite(v) | (np.abs(v) > basin_radius(a))
        lam = np.where(escaped, np.inf, total / n_average)
    return lam.reshape(shape)


def phases_of(a, resolve_windows: bool = True, **lyapunov_kw) -> np.ndarray:
    """Vectorised :func:`phase_of`: array of phase names."""
    a = np.asarray(a, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"normalised step a = eta * y must be finite and > 0, got {a[(~np.isfinite(a)) | (a <= 0)]}")
    out = np.empty(a.shape, dtype=object)
    out[a <= A_MONOTONIC] = "monotonic"
    out[(a > A_MONOTONIC) & (a <= A_CATAPULT)] = "catapult"
    out[(a > A_CATAPULT) & (a < A_FEIGENBAUM)] = "periodic"
    chaos = (a >= A_FEIGENBAUM) & (a <= A_ESCAPE)
    out[chaos] = "chaotic"
    if resolve_windows and chaos.any():
        lam = lyapunov_map(a[chaos], **lyapunov_kw)
        out[np.flatnonzero(chaos)[lam < 0]] = "periodic"
    out[a > A_ESCAPE] = "divergent"
    return out


def phase_of(a: float, resolve_windows: bool = True) -> str:
    """Phase of GD at normalised step ``a = eta * y`` on the cubic map, from a generic initial point.

    Boundaries: 1/2, 1, :data:`A_FEIGENBAUM`, :data:`A_ESCAPE` (see the module docstring).
    In the chaotic range, ``resolve_windows`` checks the sign of the map's Lyapunov exponent so
    that a step inside a periodic window (e.g. the period-3 window) is reported ``"periodic"``.
    """
    return str(phases_of(np.asarray([a], dtype=float), resolve_windows=resolve_windows)[0])


def phase_of_gd(a_values, resolve_windows: bool = True) -> str:
    """Phase of GD on orthonormal data whose directions have normalised steps ``a_values``.

    The directions evolve independently, so the trajectory shows the most severe of their
    phases (order monotonic < catapult < periodic < chaotic < divergent).
    """
    names = phases_of(np.atleast_1d(np.asarray(a_values, dtype=float)), resolve_windows=resolve_windows)
    return max(names, key=PHASES.index)


def superstable_parameters(max_doublings: int = 11) -> tuple[np.ndarray, float]:
    """Superstable parameters :math:`R_k` of the period-:math:`2^k` orbits of :math:`r(u - u^3)` and the
    Feigenbaum extrapolation of their limit, returned as normalised steps ``a = r - 1``.

    :math:`R_k` solves :math:`f_r^{2^k}(u_c) = u_c` with :math:`u_c = 1/\\sqrt3` the critical point, searched
    just beyond :math:`R_{k-1}` at the spacing the Feigenbaum constant predicts.
    """
    from scipy.optimize import brentq

    uc = 1.0 / math.sqrt(3.0)
    delta = 4.669201609102990

    def g(r, p):
        u = np.full_like(np.asarray(r, dtype=float), uc)
        for _ in range(p):
            u = r * (u - u**3)
        return u - uc

    found = [1.5]  # period 1: r (2 / (3 sqrt 3)) = 1 / sqrt 3
    for k in range(1, max_doublings + 1):
        p = 2**k
        if k == 1:
            lo, hi = 1.6, 2.3
        else:
            gap = found[-1] - found[-2] if len(found) > 1 else 0.5
            lo, hi = found[-1] + 0.5 * gap / delta, found[-1] + 1.6 * gap / delta
        grid = np.linspace(lo, hi, 4001)
        vals = g(grid, p)
        idx = np.flatnonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))
        found.append(brentq(lambda r, p: float(g(r, p)), grid[idx[0]], grid[idx[0] + 1], args=(p,), xtol=1e-15))
    r = np.asarray(found)
    r_inf = r[-1] + (r[-1] - r[-2]) / (delta - 1.0)
    return r - 1.0, float(r_inf - 1.0)
