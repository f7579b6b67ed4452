"""large_step_sparse: "SGD with Large Step Sizes Learns Sparse Features" (Andriushchenko, Varre,
Pillaud-Vivien, Flammarion; ICML 2023, arXiv 2210.05337).

Reproduced: loss stabilization under large step sizes and the sparsity it induces, in
- diagonal linear networks on sparse regression (SGD and GD, step-size decay at several times),
  :mod:`.diagonal`;
- two-layer ReLU networks (teacher-student, 1-D regression) with the feature sparsity
  coefficient over training, :mod:`.relu`;
- ResNets (a small one on scikit-learn's digits at quick scale, ResNet-18 on CIFAR-10 at paper
  scale) with the length of the large-step phase swept, :mod:`.deep`.

Public surface: ``diagonal.train(X, y, lr, steps, batch_size, seed)`` -> final predictor beta.
"""

from __future__ import annotations

from sgdrepro.core import ConfigError
from sgdrepro._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"diagonal": ".diagonal"})

__all__ = ["diagonal", "check_config"]

DIGITS_TRAIN = 1348  # training images of core.datasets.load_digits (75 % of 1797)


def _paired(section: dict, key: str, other: str, prefix: str) -> None:
    if len(section[key]) != len(section[other]):
        raise ConfigError(f"{prefix}.{key}", section[key], f"must have one entry per {other} ({len(section[other])})")


def check_config(config: dict, key_prefix: str) -> None:
    """Semantic checks the schema cannot express (raised before any job starts)."""
    scale = config["large_step_sparse"][config["scale"]]
    for name in ("diagonal_sgd", "diagonal_gd"):
        section, prefix = scale[name], f"{key_prefix}.{name}"
        if section["sparsity"] > section["d"]:
            raise ConfigError(f"{prefix}.sparsity", section["sparsity"], f"must be <= d ({section['d']})")
        _paired(section, "decay_factor", "decay_at", prefix)
    for name in ("relu_teacher_student", "relu_1d"):
        _paired(scale[name], "decay_factor", "decay_at", f"{key_prefix}.{name}")
    ts = scale["relu_teacher_student"]
    if ts["batch_size"] > ts["n"]:
        raise ConfigError(f"{key_prefix}.relu_teacher_student.batch_size", ts["batch_size"], f"must be <= n ({ts['n']})")
    deep_cfg, prefix = scale["deep"], f"{key_prefix}.deep"
    _paired(deep_cfg, "lr", "large_phase", prefix)
    if len(deep_cfg["blocks"]) != len(deep_cfg["widths"]):
        raise ConfigError(f"{prefix}.blocks", deep_cfg["blocks"], f"must have one entry per stage in widths ({len(deep_cfg['widths'])})")
    if deep_cfg["dataset"] == "digits" and deep_cfg["batch_size"] > DIGITS_TRAIN:
        raise ConfigError(f"{prefix}.batch_size", deep_cfg["batch_size"], f"must be <= the {DIGITS_TRAIN} digits training images")
    if deep_cfg["dataset"] == "synthetic_cifar" and deep_cfg["batch_size"] > deep_cfg["synthetic_n_train"]:
        raise ConfigError(f"{prefix}.batch_size", deep_cfg["batch_size"],
                          f"must be <= synthetic_n_train ({deep_cfg['synthetic_n_train']})")
    if deep_cfg["dataset"] == "cifar10":
        from sgdrepro.core.datasets import check_dataset

        directory = config.get("datasets_dir")
        if not directory:
            raise ConfigError("datasets_dir", directory, f"{prefix}.dataset is cifar10: name the directory holding cifar-10-batches-py")
        check_dataset("cifar10", directory)
