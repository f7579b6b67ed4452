"""dimensionless_odes: Arnaboldi, Stephan, Krzakala, Loureiro, "From high-dimensional & mean-field
dynamics to dimensionless ODEs: a unifying approach to SGD in two-layers networks", COLT 2023
(arXiv 2302.05882).

Reproduced: one-pass SGD of a two-layer erf committee machine (p student units, second layer
fixed to 1/p) learning a k-unit teacher with label noise Delta, against the ODEs for the order
parameters Q = W W^T/d and M = W W*^T/d in the dimensionless time t = steps * gamma / (p d)
(Saad-Solla integrals I3 for the drift; I4 and Delta * J2 for the second-order term, with the
factor gamma/p). Experiments: ``collapse`` (SGD at growing d on the ODE), ``width`` (SGD of
several widths at fixed gamma/p on one curve), ``floor`` (late-time noise floor against gamma and
p), ``phase`` (regions of the (kappa, delta) plane for p = p0 d^kappa, gamma = gamma0 d^-delta,
from the ODE of every cell at its own p and gamma over several d, with SGD spot checks).

Public surface: :func:`theory.risk_erf` (population risk from Q, M, P), :func:`theory.solve_ode`,
:func:`theory.ode_rhs`, :func:`theory.solve_ode_large_p` (the large-width ODE for M and the diagonal
of the orthogonal part of Q, erf and square activations, optional finite-d correction),
:func:`model.sgd_step`.
"""

from __future__ import annotations

from sgdrepro.core import ConfigError, scale_config
from sgdrepro._lazy import lazy_exports

__getattr__ = lazy_exports(
    __name__,
    {"theory": ".theory", "risk_erf": ".theory:risk_erf", "solve_ode": ".theory:solve_ode", "solve_ode_large_p": ".theory:solve_ode_large_p"},
)

__all__ = ["theory", "risk_erf", "solve_ode", "solve_ode_large_p", "check_config"]


def _check_dims(block: dict, key: str, widths, k: int) -> None:
    for i, d in enumerate(block["d"]):
        if d < max(widths) + k:
            raise ConfigError(f"{key}.d[{i}]", d, f"must be >= p + k = {max(widths) + k} (orthonormal frame of p + k vectors)")


def _check_grid(grid: dict, key: str) -> None:
    if grid["max"] <= grid["min"]:
        raise ConfigError(f"{key}.max", grid["max"], f"must be > min ({grid['min']})")


def _check_init(init: dict, key: str) -> None:
    if init["kind"] == "aligned":
        for extra in ("alignment", "q_orth"):
            if extra not in init:
                raise ConfigError(f"{key}.init.{extra}", None, "is required for kind: aligned")


def check_config(config: dict, key_prefix: str) -> None:
    """Semantic checks of the active scale's section (before any job starts)."""
    from .theory import phase_width

    section = scale_config(config, "dimensionless_odes")
    for name in ("collapse", "width", "floor"):
        block = section[name]
        _check_dims(block, f"{key_prefix}.{name}", block["p"], int(block["k"]))
        _check_init(block["init"], f"{key_prefix}.{name}")
    floor = section["floor"]
    if floor["t_late"] > floor["t_max"]:
        raise ConfigError(f"{key_prefix}.floor.t_late", floor["t_late"], f"must be <= t_max ({floor['t_max']})")
    _check_grid(floor["ode_lr_over_p"], f"{key_prefix}.floor.ode_lr_over_p")
    phase = section["phase"]
    _check_init(phase["init"], f"{key_prefix}.phase")
    spot = phase["spot"]
    if phase["t_late"] > spot["t_max"]:
        raise ConfigError(f"{key_prefix}.phase.t_late", phase["t_late"], f"must be <= spot.t_max ({spot['t_max']})")
    k = int(phase["k"])
    for i, (kappa, delta) in enumerate(spot["points"]):
        key = f"{key_prefix}.phase.spot.points[{i}]"
        in_grid = [any(abs(x - v) < 1e-9 for v in phase[name]) for x, name in ((kappa, "kappa"), (delta, "delta"))]
        if not all(in_grid):
            raise ConfigError(key, spot["points"][i], "must be a cell of the phase grid (kappa in phase.kappa, "
                                                       "delta in phase.delta): its ODE region is the reference")
        for j, d in enumerate(spot["d"]):
            p = int(phase_width(phase["p0"], d, kappa))
            if d < p + k:
                raise ConfigError(f"{key_prefix}.phase.spot.d[{j}]", d,
                                  f"must be >= p + k = {p + k} for the spot point (kappa = {kappa})")
