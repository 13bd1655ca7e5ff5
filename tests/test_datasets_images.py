"""Image dataset loaders: MNIST IDX files written here, and scikit-learn's bundled digits."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from scalegen.datasets import load_digits, load_mnist, read_idx

CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def write_idx(path: Path, array: np.ndarray, code: int | None = None, *, gz: bool = False) -> Path:
    """Write `array` as an IDX file with type `code` (guessed from its dtype if None)."""
    if code is None:
        code = next(c for c, t in CODES.items() if np.dtype(t).newbyteorder("=") == array.dtype)
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=CODES[code]).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def mnist_dir(
    directory: Path,
    kind: str,
    n: int = 7,
    rows: int = 5,
    cols: int = 4,
    *,
    gz: bool = False,
    dot: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Random images and labels written as the MNIST files of `kind` in `directory`."""
    rng = np.random.default_rng([len(kind), n, gz, dot])
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    prefix = {"train": "train", "test": "t10k"}[kind]
    sep = "." if dot else "-"
    suffix = ".gz" if gz else ""
    write_idx(directory / f"{prefix}-images{sep}idx3-ubyte{suffix}", images, gz=gz)
    write_idx(directory / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels, gz=gz)
    return images, labels


@pytest.mark.parametrize("kind", ["train", "test"])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dot", [False, True])
def test_mnist_round_trip(tmp_path: Path, kind: str, gz: bool, dot: bool) -> None:
    images, labels = mnist_dir(tmp_path, kind, gz=gz, dot=dot)
    x, y = load_mnist(tmp_path, kind)
    assert x.shape == (7, 5, 4, 1) and x.dtype == np.float32
    assert y.shape == (7,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x[..., 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, labels)

    raw, y2 = load_mnist(str(tmp_path), kind=kind, normalize=False)
    assert raw.shape == (7, 5, 4, 1) and raw.dtype == np.uint8
    np.testing.assert_array_equal(raw[..., 0], images)
    np.testing.assert_array_equal(y2, labels)


def test_mnist_train_and_test_side_by_side(tmp_path: Path) -> None:
    train = mnist_dir(tmp_path, "train", n=9, gz=True)
    test = mnist_dir(tmp_path, "test", n=3)
    for kind, (images, labels) in (("train", train), ("test", test)):
        x, y = load_mnist(tmp_path, kind, normalize=False)
        np.testing.assert_array_equal(x[..., 0], images)
        np.testing.assert_array_equal(y, labels)


def test_mnist_bad_kind(tmp_path: Path) -> None:
    mnist_dir(tmp_path, "train")
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        load_mnist(tmp_path, "validation")


def test_mnist_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*train-images\.idx3-ubyte\.gz"):
        load_mnist(tmp_path)
    mnist_dir(tmp_path, "train")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, "test")


@pytest.mark.parametrize("code", sorted(CODES))
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_all_types(tmp_path: Path, code: int, gz: bool) -> None:
    rng = np.random.default_rng(code)
    dtype = np.dtype(CODES[code]).newbyteorder("=")
    shape = (3, 4, 2)
    if dtype.kind == "f":
        array = rng.standard_normal(shape).astype(dtype) * 1e3
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a.idx", array, code, gz=gz))
    assert out.dtype == dtype and out.dtype.isnative
    assert out.shape == shape
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 0  # a writable copy, not a view of the file's bytes


def test_read_idx_one_and_four_dims(tmp_path: Path) -> None:
    a = np.arange(5, dtype=np.int32) - 2
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a", a)), a)
    b = np.arange(2 * 3 * 1 * 2, dtype=np.float64).reshape(2, 3, 1, 2) / 7
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b", b)), b)
    empty = np.zeros((0, 28, 28), dtype=np.uint8)
    assert read_idx(write_idx(tmp_path / "c", empty)).shape == (0, 28, 28)


def raw_idx(path: Path, data: bytes, *, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


GOOD = struct.pack(">HBBII", 0, 0x08, 2, 2, 3) + bytes(range(6))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (GOOD[:-1], r"truncated IDX data: shape \(2, 3\) needs 6 bytes, got 5"),
        (GOOD + b"\x00\x01", r"2 trailing bytes"),
        (GOOD[:10], r"truncated IDX header"),
        (GOOD[:3], r"truncated IDX file"),
        (b"", r"truncated IDX file"),
        (b"\x00\x01" + GOOD[2:], r"bad magic number 0x00010802"),
        (b"P5\n" + GOOD[3:], r"bad magic number"),
        (struct.pack(">HBBI", 0, 0x0A, 1, 1) + b"\x00", r"unknown IDX type code 0x0A"),
        (struct.pack(">HBB", 0, 0x08, 0) + b"\x00", r"zero dimensions"),
        (struct.pack(">HBBI", 0, 0x0E, 1, 2) + bytes(12), r"needs 16 bytes, got 12"),
    ],
)
def test_read_idx_errors(tmp_path: Path, data: bytes, match: str, gz: bool) -> None:
    path = raw_idx(tmp_path / "bad-idx", data, gz=gz)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert "bad-idx" in str(info.value)


def test_read_idx_broken_gzip(tmp_path: Path) -> None:
    path = raw_idx(tmp_path / "x.gz", gzip.compress(GOOD)[:-6])
    with pytest.raises(ValueError, match=r"x\.gz: broken gzip data"):
        read_idx(path)


def test_read_idx_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing")


def test_mnist_invalid_files(tmp_path: Path) -> None:
    images, labels = mnist_dir(tmp_path, "train")
    img = tmp_path / "train-images-idx3-ubyte"
    lab = tmp_path / "train-labels-idx1-ubyte"

    write_idx(lab, labels[:-1])
    with pytest.raises(
        ValueError,
        match=r"counts must agree: 7 images in .*train-images-idx3-ubyte but 6 labels in .*train-labels",
    ):
        load_mnist(tmp_path)

    bad = labels.copy()
    bad[2] = 10
    write_idx(lab, bad)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: labels must be in 0\.\.9.* to 10"):
        load_mnist(tmp_path)
    write_idx(lab, labels.astype(np.int8) - 1)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9, got values from -1"):
        load_mnist(tmp_path)

    write_idx(lab, labels.reshape(7, 1))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: labels must be 1-D .*got 2-D"):
        load_mnist(tmp_path)
    write_idx(lab, labels.astype(np.float32))
    with pytest.raises(ValueError, match=r"labels must be integers, got float32"):
        load_mnist(tmp_path)
    write_idx(lab, labels)

    write_idx(img, images.reshape(7, 20))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: images must be 3-D .*got 2-D"):
        load_mnist(tmp_path)
    write_idx(img, images[..., None])
    with pytest.raises(ValueError, match=r"images must be 3-D .*got 4-D"):
        load_mnist(tmp_path)
    write_idx(img, images.astype(np.int16))
    with pytest.raises(ValueError, match=r"images must be unsigned bytes"):
        load_mnist(tmp_path)

    raw_idx(img, GOOD[:-1])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated"):
        load_mnist(tmp_path)

    write_idx(img, images)
    x, y = load_mnist(tmp_path, normalize=False)
    np.testing.assert_array_equal(x[..., 0], images)
    np.testing.assert_array_equal(y, labels)


def test_mnist_labels_of_other_integer_types(tmp_path: Path) -> None:
    _, labels = mnist_dir(tmp_path, "test")
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels.astype(np.int32))
    _, y = load_mnist(tmp_path, "test")
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)


def test_load_digits() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    x, y = load_digits()
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(y, ref.target)
    np.testing.assert_array_equal(x[..., 0], ref.images / 16)

    raw, y2 = load_digits(normalize=False)
    assert raw.shape == (1797, 8, 8, 1) and raw.dtype == np.float32
    assert raw.max() == 16.0
    np.testing.assert_array_equal(raw[..., 0], ref.images)
    np.testing.assert_array_equal(raw.reshape(1797, 64), ref.data)
    np.testing.assert_array_equal(y2, y)


def test_load_digits_without_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits()


def test_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mnist").mkdir()
    images, labels = mnist_dir(tmp_path / "mnist", "train")
    x, y = load_mnist("~/mnist", normalize=False)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(x[..., 0], images)
    np.testing.assert_array_equal(read_idx("~/mnist/train-labels-idx1-ubyte"), labels)
