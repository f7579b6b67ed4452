"""heavy_tail: Gurbuzbalaban, Simsekli, Zhu, "The Heavy-Tail Phenomenon in SGD", ICML 2021 (arXiv 2006.04740).

Reproduced: online SGD on Gaussian linear regression has a power-law stationary law whose
tail index alpha solves h(alpha) = E||M e_1||^alpha = 1 (:func:`theory.tail_index`); alpha
falls with the step size, the dimension and the data scale and rises with the batch size;
alpha < 2 (infinite variance) occurs with Gaussian data; the finite-data SGD of the authors'
code agrees with the streaming theory, in its iterates and in their ergodic average (the
authors' estimate); a grid point has a stationary law exactly where E log||M e_1|| < 0 (points
without one, whose iterates grow, get no tail index); in bias-free ReLU networks the tail index
of the (averaged) weights falls as eta / b rises. Estimators: :mod:`measures`.
"""

from sgdrepro.core import ConfigError, check_at_most, scale_config
from sgdrepro._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "measures": ".measures", "theory": ".theory",
    "tail_index": ".theory:tail_index", "variance_border_lr": ".theory:variance_border_lr",
})

__all__ = ["check_config", "measures", "tail_index", "theory", "variance_border_lr"]


# training-set sizes (digits: our fixed 75/25 split of scikit-learn's 1797 images)
_TRAIN_SIZES = {"digits": 1348, "mnist": 60000, "cifar10": 50000}


def check_config(config: dict, key_prefix: str) -> None:
    """Semantic checks that the schema cannot express (raise ConfigError naming the key). The data
    set mlp reads is checked by core.config.validate_config, or by the workflow for its jobs only."""
    section = scale_config(config, "heavy_tail")
    for name in ("linreg", "linreg_dim", "linreg_sigma", "linreg_finite"):
        cfg = section[name]
        if cfg["burn_in"] > cfg["n_steps"]:
            raise ConfigError(f"{key_prefix}.{name}.burn_in", cfg["burn_in"], f"must be <= n_steps ({cfg['n_steps']})")
    finite = section["linreg_finite"]
    for key in ("dim", "sigma"):
        if len(finite["grid"][key]) != 1:
            raise ConfigError(f"{key_prefix}.linreg_finite.grid.{key}", finite["grid"][key],
                              "must hold exactly one value (one fixed data set)")
    check_at_most(finite["grid"]["batch_size"], finite["n_data"], f"{key_prefix}.linreg_finite.grid.batch_size", "n_data")
    mlp = section["mlp"]
    n_train = _TRAIN_SIZES[mlp["dataset"]]
    check_at_most(mlp["grid"]["batch_size"], n_train, f"{key_prefix}.mlp.grid.batch_size",
                  f"the {mlp['dataset']} training set size")
    if mlp["n_average"] > mlp["n_steps"]:
        raise ConfigError(f"{key_prefix}.mlp.n_average", mlp["n_average"], f"must be <= n_steps ({mlp['n_steps']})")
    analysis = section["analysis"]
    if min(analysis["block_sizes"]) < 2:
        raise ConfigError(f"{key_prefix}.analysis.block_sizes", analysis["block_sizes"], "every block size must be >= 2")
    lo, hi = analysis["alpha_range"]
    if not lo < hi:
        raise ConfigError(f"{key_prefix}.analysis.alpha_range", analysis["alpha_range"], "must be [low, high] with low < high")
    for which in ("heavy", "light"):
        point = analysis[which]
        for key in ("lr", "batch_size"):
            if point[key] not in section["linreg"]["grid"][key]:
                raise ConfigError(f"{key_prefix}.analysis.{which}.{key}", point[key],
                                  f"must be one of linreg.grid.{key} {section['linreg']['grid'][key]}")
