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
    """A size declared by an input exceeds one of scalegen's limits (see scalegen.set_limits)."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Largest allocations scalegen makes from sizes it is given (bytes)."""

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
    """The limits in force."""
    return _current


def set_limits(**limits: int) -> Limits:
    """Change some limits (bytes) for the whole process; returns the previous ones."""
    global _current
    values = _checked(limits)
    with _lock:
        previous = _current
        _current = dataclasses.replace(_current, **values)
        _push(_current)
    return previous


@contextlib.contextmanager
def limits(**values: int) -> Iterator[Limits]:
    """Change some limits inside a block (process-wide, restored on exit)."""
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
