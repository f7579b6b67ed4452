"""Loaders for MNIST (IDX, plain or gzipped) and CIFAR-10 (python batches) on small fake files
written in the real formats: shapes, scaling to [0, 1], pixel order and labels."""

from __future__ import annotations

import gzip
import io
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


# ---------------------------------------------------------------- read safely


def test_read_idx_refuses_a_truncated_file_naming_it(tmp_path):
    from sgdrepro.core.datasets import DatasetCorrupt

    write_idx(tmp_path / "images", np.zeros((4, 28, 28), dtype=np.uint8), gzipped=False)
    data = (tmp_path / "images").read_bytes()
    (tmp_path / "images").write_bytes(data[:-100])
    with pytest.raises(DatasetCorrupt, match=r"images: the header declares dims \(4, 28, 28\) = 3136 bytes.*3036.*truncated"):
        read_idx(tmp_path / "images")


def test_read_idx_refuses_a_bad_header_and_a_truncated_gzip(tmp_path):
    from sgdrepro.core.datasets import DatasetCorrupt

    (tmp_path / "other").write_bytes(b"\x1f\x8b\x08\x00 not an IDX file")
    with pytest.raises(DatasetCorrupt, match="other: not an IDX file of unsigned bytes"):
        read_idx(tmp_path / "other")
    write_idx(tmp_path / "labels.gz", np.arange(1000, dtype=np.uint8) % 10, gzipped=True)
    data = (tmp_path / "labels.gz").read_bytes()
    (tmp_path / "labels.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetCorrupt, match="labels.gz: cannot be read"):
        read_idx(tmp_path / "labels.gz")


class _RunsCode:
    """What a crafted pickle does: name a callable global and its arguments for the unpickler to call."""

    def __init__(self, how: str, marker):
        self.how, self.marker = how, str(marker)

    def __reduce__(self):
        import builtins
        import os

        if self.how == "os.system":
            return os.system, (f"touch {self.marker}",)
        return builtins.exec, (f"open({self.marker!r}, 'w').write('ran')",)


@pytest.mark.parametrize("how", ["os.system", "builtins.exec"])
@pytest.mark.parametrize("protocol", [0, 2, pickle.DEFAULT_PROTOCOL])
def test_a_crafted_cifar_batch_is_refused_and_runs_nothing(tmp_path, how, protocol):
    from sgdrepro.core.datasets import DatasetCorrupt

    write_cifar10(tmp_path)
    marker = tmp_path / "marker"
    batch = {"data": _RunsCode(how, marker)}  # str key: protocols < 3 pickle bytes through _codecs.encode
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").write_bytes(pickle.dumps(batch, protocol=protocol))
    refused = r"data_batch_2: not a readable CIFAR batch .*refused global (posix|os|builtins|__builtin__)\.(system|exec)"
    with pytest.raises(DatasetCorrupt, match=refused):
        load_cifar10(tmp_path)
    assert not marker.exists(), "the crafted pickle ran code"


def test_a_truncated_cifar_batch_names_the_file(tmp_path):
    from sgdrepro.core.datasets import DatasetCorrupt

    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DatasetCorrupt, match="test_batch: not a readable CIFAR batch"):
        load_cifar10(tmp_path)


def test_the_unpickler_allows_exactly_numpy_arrays_and_scalars():
    """The globals a CIFAR batch may name: numpy's array reconstructor, ndarray, dtype, and numpy's
    scalar reconstructor (labels lists re-pickled from numpy hold numpy integers)."""
    from sgdrepro.core.datasets import _CIFAR_GLOBALS

    assert set(_CIFAR_GLOBALS) == {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray")
                                   for n in ("_reconstruct", "scalar")} | {("numpy", "ndarray"), ("numpy", "dtype")}


# ---------------------------------------------------------------- verified against the published MD5


def test_file_md5_is_hashlibs_and_follows_changes(tmp_path):
    import hashlib

    from sgdrepro.core.datasets import file_md5

    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert file_md5(path) == hashlib.md5(b"abc").hexdigest()
    path.write_bytes(b"abcd")  # another size: the remembered digest is not reused
    assert file_md5(path) == hashlib.md5(b"abcd").hexdigest()


def test_a_cifar_file_with_a_wrong_checksum_is_named_with_both_digests(tmp_path):
    from sgdrepro.core.datasets import MD5, DatasetCorrupt, check_dataset, file_md5

    write_cifar10(tmp_path)
    check_dataset("cifar10", tmp_path)  # present: the loaders' check passes
    path = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    with pytest.raises(DatasetCorrupt) as info:
        check_dataset("cifar10", tmp_path, verify=True)
    text = str(info.value)
    assert f"{path} has MD5 {file_md5(path)}, the published file has {MD5['cifar10']['data_batch_1']}" in text
    assert "truncated" in text and "another version" in text and "cifar-10-python.tar.gz" in text
    assert text.startswith(f"config key 'datasets_dir' = {str(tmp_path)!r}: ") and "\n" not in text


def test_fake_files_pass_when_the_table_holds_their_digests(tmp_path, monkeypatch):
    """How tests use fake files: put their digests in the table (the real values stay in the code)."""
    from sgdrepro.core import datasets
    from sgdrepro.core.datasets import DatasetCorrupt, check_dataset, file_md5

    write_cifar10(tmp_path)
    base = tmp_path / "cifar-10-batches-py"
    table = {name: file_md5(base / name) for name in CIFAR10_FILES} | {"batches.meta": "0" * 32}
    monkeypatch.setitem(datasets.MD5, "cifar10", table)
    check_dataset("cifar10", tmp_path, verify=True)  # batches.meta is absent: not read, not required
    (base / "batches.meta").write_bytes(b"another file")
    with pytest.raises(DatasetCorrupt, match="batches.meta has MD5"):  # present: checked
        check_dataset("cifar10", tmp_path, verify=True)


def test_mnist_gz_by_md5_and_uncompressed_by_header_and_size(tmp_path, monkeypatch):
    from sgdrepro.core import datasets
    from sgdrepro.core.datasets import DatasetCorrupt, check_dataset, file_md5

    shapes = {"train-images-idx3-ubyte": (5, 28, 28), "train-labels-idx1-ubyte": (5,),
              "t10k-images-idx3-ubyte": (3, 28, 28), "t10k-labels-idx1-ubyte": (3,)}
    monkeypatch.setattr(datasets, "MNIST_SHAPES", shapes)
    for stem, shape in shapes.items():
        write_idx(tmp_path / stem, np.zeros(shape, dtype=np.uint8), gzipped=False)
    check_dataset("mnist", tmp_path, verify=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8), gzipped=False)
    with pytest.raises(DatasetCorrupt, match=r"t10k-labels-idx1-ubyte declares dims \(4,\) in 12 bytes, the published file \(3,\) in 11"):
        check_dataset("mnist", tmp_path, verify=True)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8), gzipped=True)
    gz = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DatasetCorrupt, match=f"{gz} has MD5 {file_md5(gz)}, the published file has ec29112dd5afa0611ce80d1b7f02629c"):
        check_dataset("mnist", tmp_path, verify=True)
    monkeypatch.setitem(datasets.MD5, "mnist", {**datasets.MD5["mnist"], gz.name: file_md5(gz)})
    check_dataset("mnist", tmp_path, verify=True)


def write_tiny_imagenet(root, wnids=("n01443537", "n01629819"), per_class=2) -> None:
    from PIL import Image

    base = root / "tiny-imagenet-200"
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    lines = []
    for k, wnid in enumerate(wnids):
        (base / "train" / wnid / "images").mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (64, 64), (40 * k, 90, 90)).save(base / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
        Image.new("RGB", (64, 64), (40 * k, 90, 90)).save(base / "val" / "images" / f"val_{k}.JPEG")
        lines.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t64\t64")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")


def test_tiny_imagenet_is_checked_by_its_structure(tmp_path, monkeypatch):
    from sgdrepro.core import datasets
    from sgdrepro.core.datasets import DatasetCorrupt, check_dataset

    write_tiny_imagenet(tmp_path)
    with pytest.raises(DatasetCorrupt, match="wnids.txt names 2 classes, the published one 200"):
        check_dataset("tiny_imagenet", tmp_path, verify=True)
    monkeypatch.setattr(datasets, "TINY_IMAGENET_SHAPE", {"classes": 2, "train_per_class": 2, "val": 2})
    check_dataset("tiny_imagenet", tmp_path, verify=True)
    (tmp_path / "tiny-imagenet-200" / "train" / "n01629819" / "images" / "n01629819_1.JPEG").unlink()
    with pytest.raises(DatasetCorrupt, match="n01629819/images holds 1 JPEG images, the published data set 2"):
        check_dataset("tiny_imagenet", tmp_path, verify=True)


def test_a_python2_style_batch_loads(tmp_path):
    """The published batches were pickled by Python 2 and an old numpy: str (bytes) as BINSTRING
    and numpy.core.multiarray._reconstruct by name; the restricted unpickler reads that form."""
    import struct
    from typing import ClassVar

    class Python2Pickler(pickle._Pickler):
        def save_bytes(self, obj):
            head = pickle.SHORT_BINSTRING + bytes([len(obj)]) if len(obj) < 256 else pickle.BINSTRING + struct.pack("<i", len(obj))
            self.write(head + obj)
            self.memoize(obj)

        dispatch: ClassVar[dict] = {**pickle._Pickler.dispatch, bytes: save_bytes}

    write_cifar10(tmp_path)
    rng = np.random.default_rng(3)
    batch = {b"batch_label": b"training batch 1 of 5", b"data": rng.integers(0, 256, size=(2, 3072), dtype=np.uint8),
             b"labels": [3, 7], b"filenames": [b"a.png", b"b.png"]}
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(batch)
    raw = buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw and b"_codecs" not in raw
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(raw)
    data = load_cifar10(tmp_path)
    np.testing.assert_array_equal(data["y_train"][:2], [3, 7])
    np.testing.assert_allclose(data["x_train"][1, 2, 31, 31], batch[b"data"][1, 3071] / 255.0, rtol=1e-6)
