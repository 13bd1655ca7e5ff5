"""The shared parameter checks: check_int and check_real."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from scalegen import InvalidParameterError
from scalegen.utils._validation import check_int, check_real


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (np.int64(3), 3), (np.uint8(0), 0), (2**70, 2**70), (None, None)],
)
def test_check_int_accepts(value: Any, expected: Any) -> None:
    got = check_int(value, "n", "f", low=0, allow_none=True)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value", [True, False, 3.0, np.float64(3.0), "3", -1, 11, None, math.nan])
def test_check_int_refuses(value: Any) -> None:
    with pytest.raises(
        InvalidParameterError, match=r"The 'n' parameter of f must be an int in the range \[0, 10\]"
    ):
        check_int(value, "n", "f", low=0, high=10)


@pytest.mark.parametrize(("value", "expected"), [(0.5, 0.5), (0, 0.0), (np.float32(0.25), 0.25)])
def test_check_real_accepts(value: Any, expected: float) -> None:
    got = check_real(value, "rate", "f", low=0.0, high=1.0, closed="left")
    assert got == expected and type(got) is float


@pytest.mark.parametrize("value", [True, None, "0.5", 1.0, -0.1, math.nan, math.inf, 10**400])
def test_check_real_refuses(value: Any) -> None:
    with pytest.raises(InvalidParameterError, match=r"must be a float in the range \[0\.0, 1\.0\)"):
        check_real(value, "rate", "f", low=0.0, high=1.0, closed="left")


def test_errors_are_value_and_type_errors_with_the_callers_message() -> None:
    with pytest.raises(ValueError, match=r"^n must be positive, got 0$"):
        check_int(0, "n", "f", low=1, message="n must be positive, got 0")
    with pytest.raises(TypeError):
        check_int(1.5, "n", "f")
    assert check_int(-(2**80), "n", "f") == -(2**80)  # unbounded ends, no float conversion
