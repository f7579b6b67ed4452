"""Loaders for MNIST (IDX, plain or gzipped) and CIFAR-10 (python batches) on small fake files
written in the real formats: shapes, scaling to [0, 1], pixel order and labels."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from sgdrepro.core.datasets import CIFAR10_FILES, DatasetMissing, load_cifar10, load_dataset, load_mnist, read_idx


def write_idx(path, array: np.ndarray, gzipped: bool) -> None:
    """IDX: two zero bytes, type 0x08 (uint8), the number of dims, dims as big-endian int32, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if gzipped else open
    with opener(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trips_plain_and_gzipped(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for gzipped, name in ((False, "a"), (True, "a.gz")):
        write_idx(tmp_path / name, array, gzipped)
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_mnist_loader_flattens_scales_and_keeps_labels(tmp_path):
    rng = np.random.default_rng(0)
    images = {"train": rng.integers(0, 256, size=(5, 28, 28)), "t10k": rng.integers(0, 256, size=(3, 28, 28))}
    labels = {"train": rng.integers(0, 10, size=5), "t10k": rng.integers(0, 10, size=3)}
    folder = tmp_path / "mnist"  # the loader also looks in a mnist/ subfolder
    folder.mkdir()
    for split in ("train", "t10k"):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images[split], gzipped=True)
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels[split], gzipped=False)
    data = load_mnist(tmp_path)
    assert data["x_train"].shape == (5, 784) and data["x_test"].shape == (3, 784)
    assert data["x_train"].dtype == np.float32 and data["y_train"].dtype == np.int64
    np.testing.assert_allclose(data["x_test"][2], images["t10k"][2].reshape(-1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data["y_train"], labels["train"])


def write_cifar10(root, n_per_batch: int = 3) -> dict:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {}
    for name in CIFAR10_FILES:
        batches[name] = {b"data": rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8),
                         b"labels": list(rng.integers(0, 10, size=n_per_batch))}
        with open(base / name, "wb") as handle:
            pickle.dump(batches[name], handle)
    return batches


def test_cifar10_loader_concatenates_the_five_batches_in_order(tmp_path):
    batches = write_cifar10(tmp_path)
    data = load_dataset("cifar10", tmp_path)
    assert data["x_train"].shape == (15, 3, 32, 32) and data["x_test"].shape == (3, 3, 32, 32)
    assert 0 <= data["x_train"].min() and data["x_train"].max() <= 1
    # row-major 3072 bytes: 1024 red, then green, then blue, each 32 x 32
    np.testing.assert_allclose(data["x_train"][4, 1, 0, :2], batches["data_batch_2"][b"data"][1, 1024:1026] / 255.0,
                               rtol=1e-6)
    np.testing.assert_array_equal(data["y_train"][3:6], batches["data_batch_2"][b"labels"])
    np.testing.assert_array_equal(data["y_test"], batches["test_batch"][b"labels"])


def test_cifar10_with_a_batch_missing_names_it(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetMissing, match="data_batch_3"):
        load_cifar10(tmp_path)
