"""Small loaders for the real data sets (no torchvision): MNIST (IDX) and CIFAR-10 (python batches).

Both read from a directory the user names in the config (``datasets_dir``) and fail with a
message that names the files expected and where to get them. Tests use scikit-learn's
digits (shipped with the package) through :func:`load_digits`.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

__all__ = ["DatasetMissing", "load_mnist", "load_cifar10", "load_digits", "load_dataset", "expected_files"]

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
SOURCES = {
    "mnist": "the four IDX files from the MNIST page (yann.lecun.com/exdb/mnist or a mirror), optionally .gz",
    "cifar10": "cifar-10-python.tar.gz from www.cs.toronto.edu/~kriz/cifar.html, extracted",
}


class DatasetMissing(FileNotFoundError):
    pass


def expected_files(name: str) -> list[str]:
    return list(MNIST_FILES.values()) if name == "mnist" else ["cifar-10-batches-py/" + f for f in CIFAR10_FILES]


def _missing(name: str, directory: Path, missing: list[str]) -> DatasetMissing:
    return DatasetMissing(
        f"config key 'datasets_dir' = {str(directory)!r}: data set '{name}' not found there; "
        f"expected {', '.join(expected_files(name))} (missing: {', '.join(missing)}); get {SOURCES[name]}"
    )


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz", directory / "mnist" / stem, directory / "mnist" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic, dims as big-endian int32, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    n_dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def check_dataset(name: str, directory: str | Path) -> None:
    """Raise :class:`DatasetMissing` unless every file of the data set is in ``directory``."""
    directory = Path(directory)
    if name == "mnist":
        missing = [stem for stem in MNIST_FILES.values() if _find_idx(directory, stem) is None]
    elif name == "cifar10":
        base = _cifar_dir(directory)
        missing = [f for f in CIFAR10_FILES if not (base / f).is_file()]
    else:
        return
    if missing:
        raise _missing(name, directory, missing)


def load_mnist(directory: str | Path) -> dict[str, np.ndarray]:
    """MNIST as float32 images in [0, 1] of shape [n, 784] and int64 labels."""
    directory = Path(directory)
    check_dataset("mnist", directory)
    arrays = {key: read_idx(_find_idx(directory, stem)) for key, stem in MNIST_FILES.items()}
    return {
        "x_train": arrays["train_images"].reshape(-1, 784).astype(np.float32) / 255.0,
        "y_train": arrays["train_labels"].astype(np.int64),
        "x_test": arrays["test_images"].reshape(-1, 784).astype(np.float32) / 255.0,
        "y_test": arrays["test_labels"].astype(np.int64),
    }


def _cifar_dir(directory: Path) -> Path:
    nested = directory / "cifar-10-batches-py"
    return nested if nested.is_dir() else directory


def load_cifar10(directory: str | Path) -> dict[str, np.ndarray]:
    """CIFAR-10 as float32 images in [0, 1] of shape [n, 3, 32, 32] and int64 labels."""
    directory = Path(directory)
    check_dataset("cifar10", directory)
    base = _cifar_dir(directory)

    def read(name):
        with open(base / name, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        return batch[b"data"].reshape(-1, 3, 32, 32), np.asarray(batch[b"labels"], dtype=np.int64)

    train = [read(f) for f in CIFAR10_FILES[:-1]]
    x_test, y_test = read("test_batch")
    return {
        "x_train": np.concatenate([x for x, _ in train]).astype(np.float32) / 255.0,
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": x_test.astype(np.float32) / 255.0,
        "y_test": y_test,
    }


def load_digits(test_fraction: float = 0.25, image: bool = False) -> dict[str, np.ndarray]:
    """scikit-learn's 8x8 digits (1797 images), a fixed train/test split, pixels in [0, 1]."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))  # fixed split, independent of any run seed
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    if image:
        x = x.reshape(-1, 1, 8, 8)
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def load_dataset(name: str, directory: str | Path | None = None, **kwargs) -> dict[str, np.ndarray]:
    """'digits', 'mnist' or 'cifar10' by name."""
    if name == "digits":
        return load_digits(**kwargs)
    if name == "mnist":
        return load_mnist(directory)
    if name == "cifar10":
        return load_cifar10(directory)
    raise ValueError(f"unknown data set {name!r}")
