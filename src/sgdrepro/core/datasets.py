"""Small loaders for the real data sets (no torchvision): MNIST (IDX), CIFAR-10 and CIFAR-100
(python batches) and Tiny ImageNet (JPEG directory tree, read with Pillow).

All read from a directory the user names in the config (``datasets_dir``) and fail with a
message that names the files expected and where to get them. Tests use scikit-learn's
digits (shipped with the package) through :func:`load_digits`.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

__all__ = ["DatasetMissing", "DATA_FOLDERS", "load_mnist", "load_cifar10", "load_cifar100", "load_tiny_imagenet", "load_digits",
           "load_dataset", "expected_files"]

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR100_FILES = ["train", "test"]
TINY_IMAGENET_FILES = ["wnids.txt", "train/", "val/val_annotations.txt", "val/images/"]
SOURCES = {
    "mnist": "the four IDX files from the MNIST page (yann.lecun.com/exdb/mnist or a mirror), optionally .gz",
    "cifar10": "cifar-10-python.tar.gz from www.cs.toronto.edu/~kriz/cifar.html, extracted",
    "cifar100": "cifar-100-python.tar.gz from www.cs.toronto.edu/~kriz/cifar.html, extracted",
    "tiny_imagenet": "tiny-imagenet-200.zip from cs231n.stanford.edu (or a mirror), extracted",
}
# the folder each archive extracts to, looked for inside ``datasets_dir``
DATA_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python", "tiny_imagenet": "tiny-imagenet-200"}


class DatasetMissing(FileNotFoundError):
    pass


def expected_files(name: str) -> list[str]:
    if name == "mnist":
        return list(MNIST_FILES.values())
    files = {"cifar10": CIFAR10_FILES, "cifar100": CIFAR100_FILES, "tiny_imagenet": TINY_IMAGENET_FILES}[name]
    return [f"{DATA_FOLDERS[name]}/{f}" for f in files]


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
    elif name in ("cifar10", "cifar100"):
        base = _nested_dir(directory, name)
        missing = [f for f in (CIFAR10_FILES if name == "cifar10" else CIFAR100_FILES) if not (base / f).is_file()]
    elif name == "tiny_imagenet":
        base = _nested_dir(directory, name)
        missing = [f for f in TINY_IMAGENET_FILES if not (base / f).exists()]
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


def _nested_dir(directory: Path, name: str) -> Path:
    """The data set's own folder inside ``directory`` if there is one, else ``directory`` itself."""
    nested = directory / DATA_FOLDERS[name]
    return nested if nested.is_dir() else directory


def _read_cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR batch: uint8 images [n, 3, 32, 32] and int64 labels (``label_key``)."""
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    return batch[b"data"].reshape(-1, 3, 32, 32), np.asarray(batch[label_key], dtype=np.int64)


def load_cifar10(directory: str | Path) -> dict[str, np.ndarray]:
    """CIFAR-10 as float32 images in [0, 1] of shape [n, 3, 32, 32] and int64 labels."""
    directory = Path(directory)
    check_dataset("cifar10", directory)
    base = _nested_dir(directory, "cifar10")
    train = [_read_cifar_batch(base / f, b"labels") for f in CIFAR10_FILES[:-1]]
    x_test, y_test = _read_cifar_batch(base / "test_batch", b"labels")
    return {
        "x_train": np.concatenate([x for x, _ in train]).astype(np.float32) / 255.0,
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": x_test.astype(np.float32) / 255.0,
        "y_test": y_test,
    }


def load_cifar100(directory: str | Path) -> dict[str, np.ndarray]:
    """CIFAR-100 (the 100 fine labels) as float32 images in [0, 1] of shape [n, 3, 32, 32] and int64 labels."""
    directory = Path(directory)
    check_dataset("cifar100", directory)
    base = _nested_dir(directory, "cifar100")
    x_train, y_train = _read_cifar_batch(base / "train", b"fine_labels")
    x_test, y_test = _read_cifar_batch(base / "test", b"fine_labels")
    return {"x_train": x_train.astype(np.float32) / 255.0, "y_train": y_train,
            "x_test": x_test.astype(np.float32) / 255.0, "y_test": y_test}


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:  # a few Tiny ImageNet images are grayscale
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def load_tiny_imagenet(directory: str | Path) -> dict[str, np.ndarray]:
    """Tiny ImageNet (200 classes, 64x64 RGB) as float32 images in [0, 1] of shape [n, 3, 64, 64]
    and int64 labels: the 500 training images per class (``train/<wnid>/images/*.JPEG``) and the
    labelled validation split (``val/images`` with ``val/val_annotations.txt``) as the test set.
    Class k is the k-th line of ``wnids.txt``; files are read in sorted order."""
    directory = Path(directory)
    check_dataset("tiny_imagenet", directory)
    base = _nested_dir(directory, "tiny_imagenet")
    wnids = [line.strip() for line in (base / "wnids.txt").read_text().splitlines() if line.strip()]
    index = {wnid: k for k, wnid in enumerate(wnids)}
    train = [(path, k) for wnid, k in index.items() for path in sorted((base / "train" / wnid / "images").glob("*.JPEG"))]
    test = []
    for line in (base / "val" / "val_annotations.txt").read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 2:
            test.append((base / "val" / "images" / fields[0], index[fields[1]]))
    if not train or not test:
        raise _missing("tiny_imagenet", directory, ["train/<wnid>/images/*.JPEG" if not train else "val annotations"])

    def stack(items):
        x = np.stack([_read_rgb(path) for path, _ in items]).transpose(0, 3, 1, 2)
        return x.astype(np.float32) / 255.0, np.asarray([k for _, k in items], dtype=np.int64)

    x_train, y_train = stack(train)
    x_test, y_test = stack(test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


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
    """'digits', 'mnist', 'cifar10', 'cifar100' or 'tiny_imagenet' by name."""
    if name == "digits":
        return load_digits(**kwargs)
    if name == "mnist":
        return load_mnist(directory)
    if name == "cifar10":
        return load_cifar10(directory)
    if name == "cifar100":
        return load_cifar100(directory)
    if name == "tiny_imagenet":
        return load_tiny_imagenet(directory)
    raise ValueError(f"unknown data set {name!r}")
