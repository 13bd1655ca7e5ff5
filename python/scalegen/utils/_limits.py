"""Limits on what a file, a configuration or a layer may make scalegen allocate.

Sizes that come from outside (a BIF file's tables, a model's layer sizes, an IDX header, a
zip member, an ONNX initializer) are multiplied out in Python integers (no overflow) and
compared with these limits *before* anything is allocated. The limits are process-wide:
``scalegen.set_limits(...)``, ``with scalegen.limits(...)``, or the environment variables
``SCALEGEN_MAX_TENSOR_BYTES``, ``SCALEGEN_MAX_TOTAL_BYTES`` and
``SCALEGEN_MAX_DECOMPRESSED_BYTES`` (bytes; suffixes K, M, G, T allowed) read at import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ._validation import check_int, is_int

GiB = 1 << 30


class LimitError(ValueError):
    """A size declared by an input is above one of scalegen's limits (see ``set_limits``).

    Raised before anything is allocated, when a file header, a BIF table, a layer or a
    requested sample asks for more bytes than ``max_tensor_bytes`` (one array),
    ``max_total_bytes`` (one model or file together) or ``max_decompressed_bytes`` (one
    gzip stream or zip member once expanded). The message names the limit and how to
    raise it for trusted input. A subclass of ``ValueError``.

    Examples
    --------
    An IDX header that declares 2**20 float64 values (8 MiB), with a 1 MiB limit:

    >>> import struct
    >>> import scalegen
    >>> from scalegen.datasets import read_idx
    >>> with open("big.idx", "wb") as f:
    ...     _ = f.write(struct.pack(">HBBI", 0, 0x0E, 1, 1 << 20))
    >>> try:
    ...     with scalegen.limits(max_tensor_bytes=1 << 20):
    ...         read_idx("big.idx")
    ... except scalegen.LimitError as err:
    ...     print(str(err).split(";")[0])
    big.idx: the IDX array of shape (1048576,) (float64) needs 8 MiB (8388608 bytes), above the limit
    max_tensor_bytes=1 MiB (1048576 bytes)
    """


@dataclasses.dataclass(frozen=True)
class Limits:
    """The largest allocations scalegen makes from sizes its inputs declare, in bytes.

    A frozen dataclass: ``get_limits`` returns the one in force and ``set_limits`` or
    ``limits`` replace it. The defaults below can be changed before import with the
    environment variables ``SCALEGEN_MAX_TENSOR_BYTES``, ``SCALEGEN_MAX_TOTAL_BYTES`` and
    ``SCALEGEN_MAX_DECOMPRESSED_BYTES`` (a byte count, or with a suffix K, M, G or T).

    Parameters
    ----------
    max_tensor_bytes : int, default 1 GiB
        One tensor, table or array that a loader or a layer creates.
    max_total_bytes : int, default 2 GiB
        Everything one model or one file creates together.
    max_decompressed_bytes : int, default 1 GiB
        One gzip stream or zip member, once expanded.

    Examples
    --------
    >>> from scalegen import Limits, get_limits
    >>> Limits()
    Limits(max_tensor_bytes=1073741824, max_total_bytes=2147483648, max_decompressed_bytes=1073741824)
    >>> isinstance(get_limits(), Limits)
    True
    """

    max_tensor_bytes: int = GiB  # one tensor, table or array a loader or layer creates
    max_total_bytes: int = 2 * GiB  # everything one model or file creates together
    max_decompressed_bytes: int = GiB  # one gzip stream or zip member, once expanded


_FIELDS = tuple(f.name for f in dataclasses.fields(Limits))
_SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _parse_bytes(text: str, what: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = _SUFFIXES.get(t[-1:], 1)
    if scale != 1:
        t = t[:-1]
    try:
        n = int(t) * scale
    except ValueError:
        raise ValueError(f"{what} must be a byte count such as 1073741824 or 1G, got {text!r}") from None
    if n < 1:
        raise ValueError(f"{what} must be positive, got {text!r}")
    return n


def _from_environment() -> Limits:
    values = {}
    for name in _FIELDS:
        var = "SCALEGEN_" + name.upper()
        if os.environ.get(var):
            values[name] = _parse_bytes(os.environ[var], var)
    return Limits(**values)


_lock = threading.Lock()
_current = _from_environment()


def _checked(values: dict[str, Any]) -> dict[str, int]:
    out = {}
    for name, v in values.items():
        if name not in _FIELDS:
            raise TypeError(f"unknown limit {name!r}: the limits are {', '.join(_FIELDS)}")
        message = f"the limit {name} must be a positive int (bytes), got {v!r}"
        out[name] = check_int(v, name, "set_limits", low=1, message=message)
    return out


def _push(limits: Limits) -> None:
    """The C++ core checks the same limits (network construction, native files)."""
    from .. import _core

    _core.set_limits(limits.max_tensor_bytes, limits.max_total_bytes)


def get_limits() -> Limits:
    """The limits in force in this process.

    Returns
    -------
    Limits
        The current limits (bytes); a frozen value, unchanged by later ``set_limits`` calls.

    Examples
    --------
    >>> import scalegen
    >>> with scalegen.limits(max_total_bytes=4 << 30):
    ...     print(scalegen.get_limits().max_total_bytes)
    4294967296
    """
    return _current


def set_limits(**limits: int) -> Limits:
    """Change some of the limits, for the whole process (every thread).

    The limits not named keep their values; the C++ core is given the new ones too.

    Parameters
    ----------
    **limits : int
        New values in bytes, by the names of the fields of ``Limits``:
        ``max_tensor_bytes``, ``max_total_bytes``, ``max_decompressed_bytes``.

    Returns
    -------
    Limits
        The limits in force before the call, to restore them later.

    Raises
    ------
    TypeError
        If a name is not one of the limits.
    InvalidParameterError
        If a value is not an int of at least 1.

    See Also
    --------
    limits : the same for one block of code, restored on exit.

    Examples
    --------
    >>> import dataclasses
    >>> import scalegen
    >>> previous = scalegen.set_limits(max_tensor_bytes=4 << 30)
    >>> scalegen.get_limits().max_tensor_bytes
    4294967296
    >>> _ = scalegen.set_limits(**dataclasses.asdict(previous))  # restore all of them
    """
    global _current
    values = _checked(limits)
    with _lock:
        previous = _current
        _current = dataclasses.replace(_current, **values)
        _push(_current)
    return previous


@contextlib.contextmanager
def limits(**values: int) -> Iterator[Limits]:
    """A context manager: change some limits inside the ``with`` block.

    The change is process-wide (not per thread, unlike ``threads``), and all the limits in
    force before the block are restored on exit, also when the block raises.

    Parameters
    ----------
    **values : int
        New values in bytes, by name, as for ``set_limits``.

    Yields
    ------
    Limits
        The limits in force inside the block.

    Raises
    ------
    TypeError
        If a name is not one of the limits.
    InvalidParameterError
        If a value is not an int of at least 1.

    Examples
    --------
    >>> import scalegen
    >>> before = scalegen.get_limits()
    >>> with scalegen.limits(max_decompressed_bytes=8 << 30) as inside:
    ...     print(inside.max_decompressed_bytes)
    8589934592
    >>> scalegen.get_limits() == before
    True
    """
    previous = set_limits(**values)
    try:
        yield _current
    finally:
        set_limits(**dataclasses.asdict(previous))


def _refuse(limit: str, what: str, asked: int, verb: str = "needs") -> LimitError:
    allowed = getattr(_current, limit)
    return LimitError(
        f"{what} {verb} {_human(asked)}, above the limit {limit}={_human(allowed)}; if the input is "
        f"trusted, raise it with scalegen.set_limits({limit}=...) or SCALEGEN_{limit.upper()}"
    )


def _human(n: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit} ({n} bytes)"
    return f"{n} bytes"


def shape_size(shape: Iterable[Any], what: str) -> int:
    """The number of elements of a declared shape (exact integers); sizes must be >= 0."""
    dims = tuple(shape)
    for d in dims:
        if not is_int(d):
            raise ValueError(f"{what}: the shape {dims!r} holds a non-integer size {d!r}")
        if d < 0:
            raise ValueError(f"{what}: the shape {dims!r} holds a negative size")
    return math.prod(int(d) for d in dims)


def check_tensor(shape: Iterable[Any], itemsize: int, what: str) -> int:
    """The byte size of a tensor of `shape`, refused above max_tensor_bytes."""
    nbytes = shape_size(shape, what) * int(itemsize)
    if nbytes > _current.max_tensor_bytes:
        raise _refuse("max_tensor_bytes", what, nbytes)
    return nbytes


class Budget:
    """Bytes allocated so far by one model or file, refused above max_total_bytes."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.used = 0

    def add(self, shape: Iterable[Any], itemsize: int, what: str) -> int:
        """Checks one tensor against both limits and counts it; returns its byte size."""
        nbytes = check_tensor(shape, itemsize, what)
        self.used += nbytes
        if self.used > _current.max_total_bytes:
            raise _refuse("max_total_bytes", f"{self.what} (with {what})", self.used)
        return nbytes


def read_capped(stream: IO[bytes], what: str) -> bytearray:
    """All of a (decompressing) stream, refused as soon as it passes max_decompressed_bytes."""
    cap = _current.max_decompressed_bytes
    data = bytearray()
    while chunk := stream.read(min(1 << 20, cap + 1 - len(data))):
        data += chunk
        if len(data) > cap:
            raise _refuse("max_decompressed_bytes", what, cap, "expands to more than")
    return data


def read_zip_member(archive: zipfile.ZipFile, name: str, what: str) -> bytearray:
    """One member of a zip file: its declared size checked first, then its actual size."""
    info = archive.getinfo(name)
    if info.file_size > _current.max_decompressed_bytes:
        raise _refuse("max_decompressed_bytes", f"{what} ({name})", info.file_size, "declares")
    with archive.open(info) as f:
        data = read_capped(f, f"{what} ({name})")
    if len(data) != info.file_size:
        raise ValueError(
            f"{what}: the member {name} holds {len(data)} bytes where its header says {info.file_size}"
        )
    return data
