"""large_step_sparse: "SGD with Large Step Sizes Learns Sparse Features" (Andriushchenko, Varre,
Pillaud-Vivien, Flammarion; ICML 2023, arXiv 2210.05337).

Reproduced: loss stabilization under large step sizes and the sparsity it induces, in
- diagonal linear networks on sparse regression (SGD and GD, step-size decay at several times),
  :mod:`.diagonal`;
- two-layer ReLU networks (teacher-student, 1-D regression) with the feature sparsity
  coefficient over training, :mod:`.relu`;
- a three-layer ReLU teacher-student setup with per-layer feature sparsity, :mod:`.mlp`;
- ResNets (a small one on scikit-learn's digits at quick scale, ResNet-18 on CIFAR-10 at paper
  scale) with the length of the large-step phase swept, :mod:`.deep`; the same in the
  state-of-the-art setting (momentum, weight decay, augmentation) and DenseNets
  (DenseNet-BC-100-12 at paper scale), :mod:`.densenet`, all trained by :mod:`.deep_runs`.

Public surface: ``diagonal.train(X, y, lr, steps, batch_size, seed)`` -> final predictor beta.
"""

from __future__ import annotations

from sgdrepro.core import ConfigError, scale_config
from sgdrepro._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"diagonal": ".diagonal"})

__all__ = ["diagonal", "check_config"]

DIGITS_TRAIN = 1348  # training images of core.datasets.load_digits (75 % of 1797)


def _paired(section: dict, key: str, other: str, prefix: str) -> None:
    if len(section[key]) != len(section[other]):
        raise ConfigError(f"{prefix}.{key}", section[key], f"must have one entry per {other} ({len(section[other])})")


def check_config(config: dict, key_prefix: str) -> None:
    """Semantic checks the schema cannot express (raised before any job starts). The data sets the
    deep nets read are checked by core.config.validate_config, or by the workflow for its jobs only."""
    scale = scale_config(config, "large_step_sparse")
    for name in ("diagonal_sgd", "diagonal_gd"):
        section, prefix = scale[name], f"{key_prefix}.{name}"
        if section["sparsity"] > section["d"]:
            raise ConfigError(f"{prefix}.sparsity", section["sparsity"], f"must be <= d ({section['d']})")
        _paired(section, "decay_factor", "decay_at", prefix)
    if scale["diagonal_gd"]["n_seeds"] != scale["diagonal_sgd"]["n_seeds"]:  # the claims pair GD and SGD per problem
        raise ConfigError(f"{key_prefix}.diagonal_gd.n_seeds", scale["diagonal_gd"]["n_seeds"],
                          f"must equal diagonal_sgd.n_seeds ({scale['diagonal_sgd']['n_seeds']}): GD and SGD are compared on the same problems")
    for name in ("relu_teacher_student", "relu_1d"):
        _paired(scale[name], "decay_factor", "decay_at", f"{key_prefix}.{name}")
    three, prefix = scale["relu_three_layer"], f"{key_prefix}.relu_three_layer"
    _paired(three, "lr", "large_phase", prefix)
    _paired(three, "decay_factor", "large_phase", prefix)
    if three["batch_size"] > three["n"]:
        raise ConfigError(f"{prefix}.batch_size", three["batch_size"], f"must be <= n ({three['n']})")
    ts = scale["relu_teacher_student"]
    if ts["batch_size"] > ts["n"]:
        raise ConfigError(f"{key_prefix}.relu_teacher_student.batch_size", ts["batch_size"], f"must be <= n ({ts['n']})")
    for name in ("deep", "deep_sota", "deep_densenet"):
        _check_deep(scale[name], f"{key_prefix}.{name}")


def _check_deep(deep_cfg: dict, prefix: str) -> None:
    _paired(deep_cfg, "lr", "large_phase", prefix)
    if deep_cfg["architecture"] == "resnet" and len(deep_cfg["blocks"]) != len(deep_cfg["widths"]):
        raise ConfigError(f"{prefix}.blocks", deep_cfg["blocks"], f"must have one entry per stage in widths ({len(deep_cfg['widths'])})")
    if deep_cfg["architecture"] == "densenet":
        from .layout import layers_per_block

        dense = deep_cfg["densenet"]
        try:
            layers_per_block(dense["depth"], dense["bottleneck"])
        except ValueError as error:
            raise ConfigError(f"{prefix}.densenet.depth", dense["depth"], str(error).replace(f"depth {dense['depth']} ", "")) from None
    if deep_cfg["dataset"] == "digits" and deep_cfg["batch_size"] > DIGITS_TRAIN:
        raise ConfigError(f"{prefix}.batch_size", deep_cfg["batch_size"], f"must be <= the {DIGITS_TRAIN} digits training images")
    if deep_cfg["dataset"] == "synthetic_cifar" and deep_cfg["batch_size"] > deep_cfg["synthetic_n_train"]:
        raise ConfigError(f"{prefix}.batch_size", deep_cfg["batch_size"],
                          f"must be <= synthetic_n_train ({deep_cfg['synthetic_n_train']})")
