"""ONNX export of a fitted mixture: per-component log-densities from the
precision Cholesky factors (rows centred on each mean before the product, as the C++
kernel does), then log-sum-exp (``log_likelihood``, what ``score_samples`` returns) and
softmax (``probabilities``, what ``predict_proba`` returns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..utils._onnx import GraphBuilder, check_opset, finish_model, import_onnx
from ..utils._validation import check_is_fitted

if TYPE_CHECKING:
    from ._base import BaseMixture


def mixture_to_onnx(gmm: BaseMixture, log_weights: np.ndarray, path: Any = None, opset: int = 13) -> Any:
    """``log_weights``: what the kernel adds to each component's log-density (log weights_
    for GaussianMixture, the variational expectations for BayesianGaussianMixture)."""
    onnx = import_onnx()
    check_opset(opset)
    check_is_fitted(gmm, "means_")
    helper = onnx.helper
    dtype = np.dtype(gmm.means_.dtype)
    elem = onnx.TensorProto.DOUBLE if dtype == np.float64 else onnx.TensorProto.FLOAT
    k, d = gmm.means_.shape
    chol = np.asarray(gmm.precisions_cholesky_, dtype=np.float64)
    kind = gmm.covariance_type
    # log det of each component's precision Cholesky factor
    if kind == "full":
        log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    elif kind == "tied":
        log_det = np.full(k, np.log(np.diag(chol)).sum())
    elif kind == "diag":
        log_det = np.log(chol).sum(axis=1)
    else:
        log_det = d * np.log(chol)
    # log w_k + log det_k - d/2 log(2 pi): added to -1/2 * the squared Mahalanobis norms
    offset = log_weights + log_det - 0.5 * d * np.log(2 * np.pi)

    g = GraphBuilder(onnx)

    def const(hint: str, value: Any) -> str:
        return g.const(hint, np.asarray(value).astype(dtype))

    rows_shape = g.const("rows_shape", np.array([-1, 1, d], dtype=np.int64))
    rows = g.op("Reshape", ["X", rows_shape], "rows")  # (n, 1, d)
    centred = g.op("Sub", [rows, const("means", gmm.means_)], "centred")  # (n, k, d)
    if kind == "full":
        by_component = g.op("Transpose", [centred], "by_component", perm=[1, 0, 2])  # (k, n, d)
        scaled_k = g.op("MatMul", [by_component, const("prec_chol", chol)], "scaled_k")
        scaled = g.op("Transpose", [scaled_k], "scaled", perm=[1, 0, 2])
    elif kind == "tied":
        scaled = g.op("MatMul", [centred, const("prec_chol", chol)], "scaled")
    else:
        factors = chol if kind == "diag" else chol[:, None]
        scaled = g.op("Mul", [centred, const("prec_chol", factors)], "scaled")
    squares = g.op("Mul", [scaled, scaled], "squares")
    last_axis = g.const("last_axis", np.array([2], dtype=np.int64))
    maha = g.op("ReduceSum", [squares, last_axis], "mahalanobis", keepdims=0)  # (n, k)
    half = g.op("Mul", [maha, const("minus_half", -0.5)], "minus_half_maha")
    weighted = g.op("Add", [half, const("offset", offset)], "weighted_log_prob")
    g.op("ReduceLogSumExp", [weighted], "", output="log_likelihood", axes=[1], keepdims=0)
    g.op("Softmax", [weighted], "", output="probabilities", axis=1)
    graph = helper.make_graph(
        g.nodes,
        "gaussian_mixture",
        [helper.make_tensor_value_info("X", elem, ["N", d])],
        [
            helper.make_tensor_value_info("probabilities", elem, ["N", k]),
            helper.make_tensor_value_info("log_likelihood", elem, ["N"]),
        ],
        initializer=g.initializers,
    )
    return finish_model(onnx, graph, opset, path)
