"""Data bundled with scalegen: no download at run time, and readers for common files users already have."""

from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import zlib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..utils._limits import check_tensor, read_capped
from ..utils._validation import check_int

if TYPE_CHECKING:
    from ..bayesnet import BayesianNetwork

# name -> file in data/
NETWORKS = {"asia": "asia.bif", "alarm": "alarm.bif.gz"}

# IDX type code -> big-endian element type
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_network(name: str) -> BayesianNetwork:
    """A Bayesian network bundled with scalegen (a BIF file, read with ``read_bif``).

    Parameters
    ----------
    name : {'asia', 'alarm'}
        'asia': the chest-clinic network of Lauritzen and Spiegelhalter (1988), 8 binary
        variables with the published probabilities. 'alarm': the ALARM monitoring network
        of Beinlich et al. (1989), 37 variables and 46 edges, with the tables of the bnlearn
        repository's file.

    Returns
    -------
    scalegen.bayesnet.BayesianNetwork
        A new network with every table, ready to sample or query.

    Raises
    ------
    ValueError
        If ``name`` is not one of the bundled networks (listed in ``NETWORKS``).

    Examples
    --------
    >>> from scalegen.datasets import load_network
    >>> asia = load_network("asia")
    >>> asia
    <BayesianNetwork: 8 nodes, 8 edges, 8 tables>
    >>> asia.parents("either"), asia.states["smoke"]
    (['tub', 'lung'], ['yes', 'no'])
    >>> asia.sample(1000, random_state=0).shape
    (1000, 8)
    """
    from ..bayesnet import read_bif  # pandas: only when a network is asked for

    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}: bundled networks are {list(NETWORKS)}")
    with resources.as_file(resources.files(__package__) / "data" / NETWORKS[name]) as path:
        return read_bif(path)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """An array from an IDX file (the format of MNIST), plain or gzipped.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip compression is detected from its content, whatever its name.

    Returns
    -------
    numpy.ndarray
        The array with the file's shape and element type (uint8, int8, int16, int32, float32 or
        float64), in native byte order.

    Raises
    ------
    ValueError
        If the file is not a well-formed IDX file: bad magic number, unknown type code, no
        dimensions, data shorter or longer than the sizes in the header, or broken gzip data.
    scalegen.LimitError
        (a ValueError) If the header declares an array larger than ``max_tensor_bytes``, or
        the gzip data expands past ``max_decompressed_bytes`` (see ``scalegen.set_limits``);
        this is checked before the data is read.

    Examples
    --------
    An IDX file holds a 4-byte magic number (two zero bytes, the type code, the number of
    dimensions), then each size as a big-endian uint32, then the values:

    >>> import gzip
    >>> import struct
    >>> from scalegen.datasets import read_idx
    >>> header = struct.pack(">HBB2I", 0, 0x0B, 2, 2, 3)  # int16, shape (2, 3)
    >>> with gzip.open("table.idx.gz", "wb") as f:
    ...     _ = f.write(header + struct.pack(">6h", 1, 2, 3, -4, -5, -6))
    >>> read_idx("table.idx.gz")
    array([[ 1,  2,  3],
           [-4, -5, -6]], dtype=int16)
    """
    name = os.fspath(path)
    with open(os.path.expanduser(path), "rb") as f:
        if f.peek(2)[:2] != b"\x1f\x8b":
            info = os.fstat(f.fileno())
            size = info.st_size if stat.S_ISREG(info.st_mode) else None  # None: a pipe, say
            return _read_idx_stream(f, name, size, compressed=False)
        try:
            with gzip.GzipFile(fileobj=f) as stream:
                return _read_idx_stream(stream, name, None, compressed=True)
        except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{name}: broken gzip data ({err}); the file is damaged: get it again") from err


TRAILING_COUNTED = 1 << 20  # trailing bytes after IDX data counted exactly in the error message


class _Bounded:
    """At most `left` bytes of a stream."""

    def __init__(self, stream: io.BufferedIOBase, left: int) -> None:
        self.stream, self.left = stream, left

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.stream.read(size) if size else b""
        self.left -= len(data)
        return data


def _read_exact(stream: io.BufferedIOBase | _Bounded, n: int) -> bytes:
    data = b""
    while len(data) < n and (chunk := stream.read(n - len(data))):
        data += chunk
    return data


def _read_into(stream: _Bounded, n: int) -> bytearray:
    """Up to n bytes of a plain file, read into one buffer (no copy of a large array)."""
    data = bytearray(n)
    view, done = memoryview(data), 0
    while done < n and (chunk := stream.read(min(n - done, 1 << 24))):
        view[done : done + len(chunk)] = chunk
        done += len(chunk)
    view.release()
    del data[done:]
    return data


def _read_idx_stream(
    stream: io.BufferedIOBase, name: str, size: int | None, *, compressed: bool
) -> np.ndarray:
    """The array of an IDX stream; `size` is the file's size when known (a plain file)."""
    head = _read_exact(stream, 4)
    if len(head) < 4:
        raise ValueError(f"{name}: truncated IDX file: {len(head)} bytes, less than the 4-byte magic number")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        raise ValueError(f"{name}: bad magic number 0x{head.hex()}: an IDX file starts with 0x0000")
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX file with zero dimensions")
    header = 4 + 4 * ndim
    dims = _read_exact(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, has {4 + len(dims)}"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = IDX_TYPES[code]
    # the declared size, refused above the limits before anything is read or allocated
    expected = check_tensor(shape, dtype.itemsize, f"{name}: the IDX array of shape {shape} ({dtype.name})")
    if size is not None and size - header != expected:
        got = size - header
        if got < expected:
            raise ValueError(f"{name}: truncated IDX data: shape {shape} needs {expected} bytes, got {got}")
        raise ValueError(f"{name}: {got - expected} trailing bytes after the IDX data of shape {shape}")
    bounded = _Bounded(stream, expected + 1)  # one byte more than declared: trailing data shows
    if compressed:
        data = read_capped(bounded, f"{name}: the gzip stream")  # type: ignore[arg-type]
    else:
        data = _read_into(bounded, expected + 1)
    if len(data) < expected:
        raise ValueError(f"{name}: truncated IDX data: shape {shape} needs {expected} bytes, got {len(data)}")
    if len(data) > expected:  # how many, counted up to a bound (the rest of a bomb is not expanded)
        extra = 1 + len(_read_exact(stream, TRAILING_COUNTED))
        count = f"{extra}" if extra <= TRAILING_COUNTED else f"more than {TRAILING_COUNTED}"
        raise ValueError(f"{name}: {count} trailing bytes after the IDX data of shape {shape}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape)  # data is a fresh bytearray: writable
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _find_idx(directory: Path, names: list[str]) -> Path:
    """The first of the files `names` (each also gzipped, with '.gz') present in `directory`."""
    candidates = [n + suffix for n in names for suffix in ("", ".gz")]
    for candidate in candidates:
        if (directory / candidate).is_file():
            return directory / candidate
    raise FileNotFoundError(f"no MNIST file in {os.fspath(directory)!r}: expected one of {candidates}")


def load_mnist(
    path: str | os.PathLike[str], kind: str = "train", *, normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST (or a dataset in the same files, such as Fashion-MNIST) from the IDX files in a directory.

    Parameters
    ----------
    path : str or os.PathLike
        The directory holding the original files, ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``,
        each possibly gzipped with a ``.gz`` suffix, or named with a dot (``train-images.idx3-ubyte``).
        Nothing is downloaded.
    kind : {'train', 'test'}
        The training files or the test ('t10k') files.
    normalize : bool
        Scale the pixels to [0, 1] as float32; otherwise keep the raw uint8 values.

    Returns
    -------
    images : numpy.ndarray
        Shape (n, rows, cols, 1), channels last; float32 in [0, 1], or uint8 if not `normalize`.
    labels : numpy.ndarray
        int64 digits 0..9, shape (n,).

    Raises
    ------
    FileNotFoundError
        If the images or labels file is missing.
    ValueError
        If a file is not a valid IDX file, or the images are not a 3-D array of bytes, the labels
        not a 1-D array of integers in 0..9, or their counts differ; or ``kind`` is neither
        'train' nor 'test'.

    Examples
    --------
    Two 4x4 images and their labels, written in the MNIST files' format:

    >>> import struct
    >>> import numpy as np
    >>> from scalegen.datasets import load_mnist
    >>> pixels = np.arange(32, dtype=np.uint8).reshape(2, 4, 4)
    >>> with open("train-images-idx3-ubyte", "wb") as f:
    ...     _ = f.write(struct.pack(">HBB3I", 0, 0x08, 3, 2, 4, 4) + pixels.tobytes())
    >>> with open("train-labels-idx1-ubyte", "wb") as f:
    ...     _ = f.write(struct.pack(">HBBI", 0, 0x08, 1, 2) + bytes([3, 7]))
    >>> images, labels = load_mnist(".")
    >>> images.shape, images.dtype, round(float(images.max()), 3), labels
    ((2, 4, 4, 1), dtype('float32'), 0.122, array([3, 7]))
    """
    prefixes = {"train": "train", "test": "t10k"}
    if kind not in prefixes:
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    directory = Path(path).expanduser()
    prefix = prefixes[kind]
    images_path = _find_idx(directory, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"])
    labels_path = _find_idx(directory, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"])
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise ValueError(f"{images_path}: images must be 3-D (n, rows, cols), got {images.ndim}-D")
    if images.dtype != np.uint8:
        raise ValueError(f"{images_path}: images must be unsigned bytes (IDX type 0x08), got {images.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: labels must be 1-D (n,), got {labels.ndim}-D")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{labels_path}: labels must be integers, got {labels.dtype}")
    if len(images) != len(labels):
        raise ValueError(
            f"counts must agree: {len(images)} images in {images_path} "
            f"but {len(labels)} labels in {labels_path}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"{labels_path}: labels must be in 0..9, got values from {labels.min()} to {labels.max()}"
        )
    images = images[..., np.newaxis]
    if normalize:
        images = images.astype(np.float32) / np.float32(255)
    return images, labels.astype(np.int64)


def load_digits(*, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, pixel values 0..16).

    Parameters
    ----------
    normalize : bool
        Scale the pixels to [0, 1] (divide by 16); otherwise keep the values 0..16.

    Returns
    -------
    images : numpy.ndarray
        float32, shape (1797, 8, 8, 1), channels last.
    labels : numpy.ndarray
        int64 digits 0..9, shape (1797,).

    Raises
    ------
    ImportError
        If scikit-learn, which holds the data, is not installed.

    Examples
    --------
    >>> from scalegen.datasets import load_digits
    >>> images, labels = load_digits()
    >>> images.shape, images.dtype, float(images.max())
    ((1797, 8, 8, 1), dtype('float32'), 1.0)
    >>> labels[:10].tolist()
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    try:
        from sklearn import datasets
    except ImportError as err:
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn") from err
    digits = datasets.load_digits()
    images = np.asarray(digits.images, dtype=np.float64)
    if normalize:
        images = images / 16
    return images.astype(np.float32)[..., np.newaxis], np.asarray(digits.target, dtype=np.int64)


def _mixture_block(
    index: int, rows: int, centers: np.ndarray, scales: np.ndarray, seed: int, dtype: np.dtype
) -> np.ndarray:
    rng = np.random.default_rng([seed, index])
    labels = rng.integers(0, centers.shape[0], size=rows)
    X = rng.standard_normal((rows, centers.shape[1]))
    X *= scales[labels]
    X += centers[labels]
    return X.astype(dtype, copy=False)


def make_mixture(
    n_samples: int,
    n_features: int = 2,
    n_components: int = 3,
    *,
    chunk_rows: int = 65536,
    dtype: Any = np.float64,
    random_state: int = 0,
    dask: bool = False,
) -> Any:
    """Rows of a random Gaussian mixture, for tests and benchmarks at any size.

    The components have centers drawn uniformly in [-10, 10] and diagonal covariances
    with standard deviations in [0.5, 2] per axis, both from ``random_state``; each row
    picks a component uniformly. Rows are generated block by block of ``chunk_rows``
    rows, block i from the seed ``(random_state, i)``, so the values do not depend on
    where or in which order the blocks are made. The labels are not returned.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int, default 2
        Number of columns.
    n_components : int, default 3
        Number of Gaussian components.
    chunk_rows : int, default 65536
        Rows per block (the chunk size of the dask array).
    dtype : numpy dtype, default numpy.float64
        Element type of the result.
    random_state : int, default 0
        Seed of the components and of the blocks.
    dask : bool, default False
        Return a lazy dask array whose blocks are generated where they are computed (on
        the workers: nothing passes through the client) instead of a NumPy array; both
        hold the same values.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Shape (n_samples, n_features).

    Raises
    ------
    InvalidParameterError
        If a count is not an int of at least 1.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.datasets import make_mixture
    >>> X = make_mixture(1000, n_features=3, chunk_rows=400)
    >>> X.shape, X.dtype
    ((1000, 3), dtype('float64'))
    >>> lazy = make_mixture(1000, n_features=3, chunk_rows=400, dask=True)
    >>> lazy.chunks[0]
    (400, 400, 200)
    >>> bool(np.array_equal(lazy.compute(), X))
    True
    """
    n_samples, n_features, n_components, chunk_rows = (
        check_int(value, name, "make_mixture", low=1)
        for name, value in (
            ("n_samples", n_samples),
            ("n_features", n_features),
            ("n_components", n_components),
            ("chunk_rows", chunk_rows),
        )
    )
    random_state = check_int(random_state, "random_state", "make_mixture", low=0)  # seeds every block
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(random_state)
    centers = rng.uniform(-10, 10, size=(n_components, n_features))
    scales = rng.uniform(0.5, 2.0, size=(n_components, n_features))
    sizes = [min(chunk_rows, n_samples - r0) for r0 in range(0, n_samples, chunk_rows)]
    if not dask:
        return np.concatenate(
            [_mixture_block(i, m, centers, scales, random_state, dtype) for i, m in enumerate(sizes)]
        )
    import dask as _dask
    import dask.array as da

    block = _dask.delayed(_mixture_block, pure=True)
    return da.concatenate(
        [
            da.from_delayed(
                block(i, m, centers, scales, random_state, dtype), shape=(m, n_features), dtype=dtype
            )
            for i, m in enumerate(sizes)
        ]
    )


__all__ = ["IDX_TYPES", "NETWORKS", "load_digits", "load_mnist", "load_network", "make_mixture", "read_idx"]
