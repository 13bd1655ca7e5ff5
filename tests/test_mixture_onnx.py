"""GaussianMixture.to_onnx: onnxruntime gives our predict_proba and score_samples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scalegen import GaussianMixture

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
datasets = pytest.importorskip("sklearn.datasets")


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_onnxruntime_matches(covariance_type: str, dtype: Any, tmp_path: Any) -> None:
    X = datasets.load_wine().data.astype(dtype)
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    path = tmp_path / "gmm.onnx"
    proto = gmm.to_onnx(path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert proto.ir_version == 8
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for rows in (X, X[:1], X + 100.0):  # the wine data are far from 0 in some columns: shifted too
        proba, loglik = session.run(["probabilities", "log_likelihood"], {"X": rows})
        assert proba.dtype == dtype and loglik.dtype == dtype
        rtol = 1e-6 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(loglik, gmm.score_samples(rows), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(proba, gmm.predict_proba(rows), rtol=rtol, atol=rtol)


def test_unfitted_and_bad_opset() -> None:
    with pytest.raises(Exception, match="not fitted"):
        GaussianMixture(2).to_onnx()
    gmm = GaussianMixture(2, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(ValueError, match="opset"):
        gmm.to_onnx(opset=9)
