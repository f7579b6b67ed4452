"""Small loaders for the real data sets (no torchvision): MNIST (IDX), CIFAR-10 and CIFAR-100
(python batches) and Tiny ImageNet (JPEG directory tree, read with Pillow).

All read from a directory the user names in the config (``datasets_dir``) and fail with a
message that names the files expected and where to get them. Tests use scikit-learn's
digits (shipped with the package) through :func:`load_digits`.

Two checks, two places. The loaders check that the files are there and readable (an IDX header
that matches its length; CIFAR pickles through :class:`CifarUnpickler`, which runs no code).
:func:`check_dataset` with ``verify=True`` also checks that they are the published files (MD5
where the publisher lists one, else their structure); the workflow runs it before any job, for
the data sets of the jobs it plans only (:class:`sgdrepro.core.dag.Plan`). So the loaders take small
fakes written in the real formats (tests/core/test_datasets.py); tests of the check itself put
their fakes' digests into :data:`MD5` (monkeypatch), or write uncompressed MNIST files of the
published dims, which are checked by header and size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["DatasetError", "DatasetMissing", "DatasetCorrupt", "DATA_FOLDERS", "MD5", "MNIST_SHAPES",
           "load_mnist", "load_cifar10", "load_cifar100", "load_tiny_imagenet", "load_digits", "load_dataset",
           "expected_files", "check_dataset", "check_datasets", "needed_datasets", "file_md5", "read_idx",
           "CifarUnpickler", "missing_message"]

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

# The publishers' MD5 of each file, as torchvision's MNIST, CIFAR10 and CIFAR100 classes list them.
# MNIST: published for the .gz files only; an uncompressed IDX file is checked by its header and
# size (MNIST_SHAPES), since its MD5 cannot be derived from the .gz one without the gzip stream.
# CIFAR: the extracted python batches; batches.meta / meta are checked when present (not read).
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "cifar10": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    "cifar100": {
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
}
MNIST_SHAPES = {  # the dims in each IDX header: 60000 training and 10000 test images of 28 x 28
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
# Tiny ImageNet: only the zip's MD5 is published (90528d7ca1a48142e341f4ef8d21d0de), not the
# extracted files', so the extracted tree is checked by its structure: 200 classes, 500 training
# images each, 10000 labelled validation images.
TINY_IMAGENET_SHAPE = {"classes": 200, "train_per_class": 500, "val": 10000}


class DatasetError(Exception):
    """A data set in ``datasets_dir`` that cannot be used; the message names the file and what to do."""


class DatasetMissing(DatasetError, FileNotFoundError):
    pass


class DatasetCorrupt(DatasetError, ValueError):
    """The file is there but is not the published one (checksum, header, size) or does not parse."""


def expected_files(name: str) -> list[str]:
    if name == "mnist":
        return list(MNIST_FILES.values())
    files = {"cifar10": CIFAR10_FILES, "cifar100": CIFAR100_FILES, "tiny_imagenet": TINY_IMAGENET_FILES}[name]
    return [f"{DATA_FOLDERS[name]}/{f}" for f in files]


def _where(directory) -> str:
    return f"config key 'datasets_dir' = {json.dumps(directory) if directory is None else repr(str(directory))}"


def _missing(name: str, directory: Path, missing: list[str]) -> DatasetMissing:
    resolved = "" if directory.is_absolute() else f" ({directory.resolve()})"
    return DatasetMissing(
        f"{_where(directory)}: data set '{name}' not found there{resolved}; "
        f"expected {', '.join(expected_files(name))} (missing: {', '.join(missing)}); get {SOURCES[name]}"
    )


def _corrupt(name: str, directory: Path, what: str) -> DatasetCorrupt:
    return DatasetCorrupt(f"{_where(directory)}: data set '{name}': {what}; get {SOURCES[name]} again")


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz", directory / "mnist" / stem, directory / "mnist" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_shape(path: Path, header: bytes) -> tuple[int, ...]:
    """The dims an IDX header declares; raise DatasetCorrupt unless it starts 0, 0, 0x08 (uint8), ndims."""
    if len(header) < 4 or header[:3] != b"\x00\x00\x08" or not 1 <= header[3] <= 4 or len(header) < 4 + 4 * header[3]:
        raise DatasetCorrupt(f"{path}: not an IDX file of unsigned bytes (header {header[:8].hex()}, "
                             "expected 00 00 08 then the number of dims): a truncated or unrelated file")
    return tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(header[3]))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic 0, 0, 0x08 (uint8), ndims, dims as big-endian
    int32, then the uint8 data; a bad header or a data length other than the dims' gives
    DatasetCorrupt naming the file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:  # gzip: BadGzipFile, or EOFError for a truncated stream
        raise DatasetCorrupt(f"{path}: cannot be read ({error}): a truncated download?") from None
    shape = _idx_shape(path, data[:20])
    offset, size = 4 + 4 * len(shape), int(np.prod(shape))
    if len(data) - offset != size:
        raise DatasetCorrupt(f"{path}: the header declares dims {shape} = {size} bytes of data, the file holds "
                             f"{len(data) - offset}: a truncated download?")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


@lru_cache(maxsize=64)
def _md5_of(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def file_md5(path: str | os.PathLike) -> str:
    """MD5 of a file, remembered in memory by (path, size, mtime) so that the workflow's several
    checks of one data set in one Snakemake process hash each file once (~0.35 s per 180 MB)."""
    stat = Path(path).stat()
    return _md5_of(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def _check_md5(name: str, directory: Path, path: Path, expected: str) -> None:
    actual = file_md5(path)
    if actual != expected:
        raise _corrupt(name, directory, f"{path} has MD5 {actual}, the published file has {expected}: "
                       "a truncated or interrupted download, another version of the data set, or a file "
                       "modified or re-compressed since")


def _verify_mnist(directory: Path) -> None:
    for stem, shape in MNIST_SHAPES.items():
        path = _find_idx(directory, stem)
        if path.suffix == ".gz":
            _check_md5("mnist", directory, path, MD5["mnist"][path.name])
            continue
        with open(path, "rb") as handle:
            header = handle.read(4 + 4 * len(shape))
        try:
            found = _idx_shape(path, header)
        except DatasetCorrupt as error:
            raise _corrupt("mnist", directory, str(error)) from None
        size = path.stat().st_size
        if found != shape or size != len(header) + int(np.prod(shape)):
            raise _corrupt("mnist", directory, f"{path} declares dims {found} in {size} bytes, the published file "
                           f"{shape} in {len(header) + int(np.prod(shape))} (no MD5 is published for the "
                           "uncompressed files): a truncated download or another data set")


def _verify_cifar(name: str, directory: Path) -> None:
    base = _nested_dir(directory, name)
    for file, expected in MD5[name].items():
        if (base / file).is_file():  # the meta files are optional (the loaders do not read them)
            _check_md5(name, directory, base / file, expected)


def _verify_tiny_imagenet(directory: Path) -> None:
    base, want = _nested_dir(directory, "tiny_imagenet"), TINY_IMAGENET_SHAPE
    wnids = [line.strip() for line in (base / "wnids.txt").read_text().splitlines() if line.strip()]
    if len(set(wnids)) != want["classes"]:
        raise _corrupt("tiny_imagenet", directory, f"{base / 'wnids.txt'} names {len(set(wnids))} classes, "
                       f"the published one {want['classes']}")
    for wnid in wnids:
        folder = base / "train" / wnid / "images"
        found = len(list(folder.glob("*.JPEG"))) if folder.is_dir() else 0
        if found != want["train_per_class"]:
            raise _corrupt("tiny_imagenet", directory, f"{folder} holds {found} JPEG images, the published "
                           f"data set {want['train_per_class']}: an incomplete extraction?")
    lines = [line.split("\t") for line in (base / "val" / "val_annotations.txt").read_text().splitlines() if line.strip()]
    known = set(wnids)
    if len(lines) != want["val"] or any(len(f) < 2 or f[1] not in known for f in lines):
        raise _corrupt("tiny_imagenet", directory, f"{base / 'val' / 'val_annotations.txt'} holds {len(lines)} "
                       f"lines, the published one {want['val']}, each naming a class of wnids.txt")
    missing = [f[0] for f in lines if not (base / "val" / "images" / f[0]).is_file()]
    if missing:
        raise _corrupt("tiny_imagenet", directory, f"{len(missing)} validation images missing from "
                       f"{base / 'val' / 'images'} (first: {missing[0]}): an incomplete extraction?")


def check_dataset(name: str, directory: str | Path, verify: bool = False) -> None:
    """Raise :class:`DatasetMissing` unless every file of the data set is in ``directory``; with
    ``verify``, also :class:`DatasetCorrupt` unless they are the published files (MD5 where
    published, else header, size or structure: see :data:`MD5`)."""
    if name not in SOURCES:  # digits and the synthetic stand-ins need no files
        return
    if not directory:
        raise DatasetMissing(f"{_where(directory)}: data set '{name}' is read from there: name the directory "
                             f"holding {', '.join(expected_files(name))}")
    directory = Path(directory)
    if name == "mnist":
        missing = [stem for stem in MNIST_FILES.values() if _find_idx(directory, stem) is None]
    elif name in ("cifar10", "cifar100"):
        base = _nested_dir(directory, name)
        missing = [f for f in (CIFAR10_FILES if name == "cifar10" else CIFAR100_FILES) if not (base / f).is_file()]
    else:
        base = _nested_dir(directory, name)
        missing = [f for f in TINY_IMAGENET_FILES if not (base / f).exists()]
    if missing:
        raise _missing(name, directory, missing)
    if verify and name == "mnist":
        _verify_mnist(directory)
    elif verify and name == "tiny_imagenet":
        _verify_tiny_imagenet(directory)
    elif verify:
        _verify_cifar(name, directory)


def needed_datasets(config: Mapping, papers: Iterable[str] | None = None) -> dict[tuple[str, str], str]:
    """``{(paper, experiment): data set}`` for every experiment of ``papers`` (default: the active
    ones), at the active scale, whose ``dataset`` is read from ``datasets_dir`` (the config alone
    decides; no file is read)."""
    scale = config["scale"]
    return {
        (paper, experiment): section["dataset"]
        for paper in (config["papers"] if papers is None else papers)
        for experiment, section in ((config.get(paper) or {}).get(scale) or {}).items()
        if isinstance(section, Mapping) and section.get("dataset") in SOURCES
    }


def check_datasets(config: Mapping, papers: Iterable[str] | None = None, verify: bool = False) -> None:
    """Raise the first :class:`DatasetError` among the data sets the config's experiments read
    (of ``papers`` only, if given), in the config's order."""
    for name in needed_datasets(config, papers).values():
        check_dataset(name, config.get("datasets_dir"), verify=verify)


def missing_message(problems: Mapping[str, DatasetError], needed_by: Mapping[str, str], asked: bool = False) -> str:
    """The message that stops the workflow: each unusable data set with what needs it, then the way out.
    ``asked``: a target named on the command line needs it (allow_missing_datasets cannot help)."""
    lines = [f"sgdrepro data set error: {problem}\n    needed by {needed_by[name]}" for name, problem in problems.items()]
    if asked:
        lines.append("Nothing was run. The target asked for needs this data set: put its files in datasets_dir "
                     "(or point --config datasets_dir=... at them); allow_missing_datasets=true leaves such jobs "
                     "out of the default target and results/report.html only.")
    else:
        lines.append("Nothing was run. Put the files in datasets_dir (or point --config datasets_dir=... at them), "
                     "or build everything else with --config allow_missing_datasets=true: the figures and claims "
                     "above are then left out and listed as not built in results/report.html.")
    return "\n".join(lines)


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


# numpy's reconstructors, under the module names old (numpy.core, the published files) and new
# numpy (numpy._core) pickle them by; taken from numpy itself so that they are numpy's own objects
_RECONSTRUCT, _SCALAR = np.ndarray.__reduce__(np.zeros(0))[0], np.int64(0).__reduce__()[0]
_CIFAR_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # numpy integer scalars: a labels list re-pickled from numpy (our tests' fakes) holds them
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
}


class CifarUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR's python batches hold: dicts, lists, bytes, str, ints and numpy
    arrays. A pickle runs code by naming a callable global (``os.system``, ``builtins.exec``) for
    the unpickler to call; every global but numpy's array and scalar reconstructors is refused."""

    def find_class(self, module: str, name: str):
        try:
            return _CIFAR_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name} (a CIFAR batch holds only dicts, "
                                         "lists, bytes, ints and numpy arrays)") from None


# what unpickling a truncated, crafted or unrelated file raises (the refusals are UnpicklingError)
_UNREADABLE = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
               OverflowError, MemoryError)


def _read_cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR batch: uint8 images [n, 3, 32, 32] and int64 labels (``label_key``)."""
    try:
        with open(path, "rb") as handle:
            batch = CifarUnpickler(handle, encoding="bytes").load()
        data, labels = batch[b"data"], np.asarray(batch[label_key], dtype=np.int64)
    except _UNREADABLE as error:  # a truncated, crafted or unrelated file: say which, not a raw traceback
        raise DatasetCorrupt(f"{path}: not a readable CIFAR batch ({type(error).__name__}: {error}): "
                             "a truncated download or another file") from None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072
            and labels.shape == (len(data),)):
        raise DatasetCorrupt(f"{path}: not a CIFAR batch (expected uint8 data [n, 3072] and n labels under "
                             f"{label_key!r})")
    return data.reshape(-1, 3, 32, 32), labels


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
