"""quadratic_chaos: Chen, Balasubramanian, Ghosal, Agrawalla, "From Stability to Chaos: Analyzing Gradient
Descent Dynamics in Quadratic Regression" (TMLR 2024, arXiv 2310.01687).

Reproduced: full-batch GD with a large constant step on phase retrieval and on two-layer networks with
quadratic activation and a fixed outer layer. On orthonormal data GD reduces to the cubic map
``v -> (1 + a) v - a v^3`` with ``a = eta * y`` (derivation in :mod:`.theory`), whose phases are
monotonic, catapult, periodic, chaotic and divergent; on Gaussian data the same phases appear; the
ergodic average of the predictor stabilises the test error in the oscillating phases.

Modules: :mod:`.theory` (cubic map, phase boundaries, :func:`.theory.phase_of`), :mod:`.model` (batched
models and GD), :mod:`.measures` (period detection, Lyapunov exponents, trajectory classifier),
:mod:`.experiments`, :mod:`.figures`, :mod:`.claims`.
"""

from __future__ import annotations

from sgdrepro.core import ConfigError, scale_config
from sgdrepro._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"theory": ".theory", "phase_of": ".theory:phase_of"})

__all__ = ["theory", "phase_of", "check_config"]

_ORTHOGONAL = ("orthogonal", "bifurcation")
_GAUSSIAN = ("gaussian_losses", "gaussian_phase_map", "generalization")


def _n_values(section):
    n = section.get("n", section["d"])
    return n if isinstance(n, list) else [n]


def check_config(config: dict, key_prefix: str) -> None:
    """Semantic checks the schema cannot express (raise ConfigError naming key, value, allowed)."""
    section = scale_config(config, "quadratic_chaos")
    for name, exp in section.items():
        key = f"quadratic_chaos.{key_prefix.split('.', 1)[1]}.{name}"
        d = exp["d"]
        for i, n in enumerate(_n_values(exp)):
            nkey = f"{key}.n" + (f"[{i}]" if isinstance(exp.get("n"), list) else "")
            if name in _ORTHOGONAL and n > d:
                raise ConfigError(nkey, n, f"orthonormal inputs need n <= d ({d})")
            if name in _GAUSSIAN and n < d:
                raise ConfigError(nkey, n, f"Gaussian experiments need n >= d ({d}) so the minimiser is isolated")
        if exp["window"] > exp["n_steps"]:
            raise ConfigError(f"{key}.window", exp["window"], f"must be <= n_steps ({exp['n_steps']})")
        if exp.get("record_early", 0) > exp["n_steps"]:
            raise ConfigError(f"{key}.record_early", exp["record_early"], f"must be <= n_steps ({exp['n_steps']})")
        if "teacher_width" in exp and "width" in exp and exp["teacher_width"] > exp["width"]:
            raise ConfigError(f"{key}.teacher_width", exp["teacher_width"], f"must be <= width ({exp['width']})")
        a = exp["a"]
        if isinstance(a, dict) and not a["max"] > a["min"]:
            raise ConfigError(f"{key}.a.max", a["max"], f"must be > a.min ({a['min']})")
