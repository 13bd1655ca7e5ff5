"""What `import scalegen` gives: every family's module on first use, and the exceptions."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import scalegen
from scalegen.exceptions import ConvergenceWarning, InvalidParameterError, LimitError, NotFittedError


def test_submodules_load_on_first_use_and_pandas_only_for_networks() -> None:
    code = (
        "import sys, scalegen\n"
        "assert scalegen.datasets.load_digits and scalegen.metrics.mmd and scalegen.nn.Sequential\n"
        "assert scalegen.exceptions.NotFittedError and scalegen.distributed\n"
        "assert 'pandas' not in sys.modules\n"
        "assert scalegen.bayesnet.BayesianNetwork and 'pandas' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        scalegen.nothing  # noqa: B018


def test_exceptions_catch_what_scalegen_raises() -> None:
    with pytest.raises(NotFittedError):
        scalegen.GaussianMixture(2).predict(np.zeros((3, 2)))
    with pytest.raises(InvalidParameterError):
        scalegen.GaussianMixture(0).fit(np.zeros((3, 2)))
    with scalegen.limits(max_tensor_bytes=1 << 10), pytest.raises(LimitError):
        scalegen.metrics.mmd(np.random.default_rng(0).random((100, 4)), np.zeros((100, 4)), bandwidth=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scalegen.GaussianMixture(2, max_iter=1, random_state=0).fit(np.random.default_rng(0).random((50, 2)))
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
