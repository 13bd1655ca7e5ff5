"""scalegen.nn inference over a dask array of images, the model built once per worker."""

from __future__ import annotations

import hashlib
import pickle
import threading
from typing import Any

import numpy as np

from ..utils._dask import is_dask_collection
from ..utils._validation import check_int
from ._tasks import task_context

# Models built in this process, by the digest of their pickled state; a worker keeps
# the few it used last.
_models: dict[str, Any] = {}
_models_lock = threading.Lock()
_MAX_MODELS = 4
models_built = 0  # how many models this process has built (read by the tests)


def _model(digest: str, payload: bytes) -> Any:
    global models_built
    with _models_lock:
        model = _models.pop(digest, None)  # re-inserted below: the dict is in order of use
        if model is None:
            model = pickle.loads(payload)
            models_built += 1
            if len(_models) >= _MAX_MODELS:
                _models.pop(next(iter(_models)))
        _models[digest] = model
        return model


def predict_block(images: np.ndarray, digest: str, payload: bytes, batch_size: int) -> np.ndarray:
    """The model's outputs for one block of images (runs on a worker)."""
    model = _model(digest, payload)
    with task_context():
        return model.predict(images, batch_size=batch_size)


def predict_batches(model: Any, images: Any, batch_size: int = 256) -> Any:
    """``model.predict`` over a dask array of images, block by block on the workers.

    The images are split along the first axis only (other axes are rechunked whole).
    The model travels to each worker once (one key of the graph, its pickled state) and
    is built once per worker process, then reused by every block and by later calls
    with the same model. Works on any dask scheduler, a cluster or none.

    Parameters
    ----------
    model : scalegen.nn.Sequential
        A built model (fitted, or given an input shape).
    images : dask.array.Array
        The inputs, shape ``(n, *model.input_shape[1:])``; blocks of unknown size are
        measured first.
    batch_size : int, default 256
        Rows per batch of ``model.predict`` inside each block.

    Returns
    -------
    dask.array.Array
        Lazy float32 outputs of shape ``(n, *model.output_shape[1:])``, one block per
        block of images; nothing is computed until ``.compute()`` (or persist).

    Raises
    ------
    TypeError
        If ``model`` is not a ``scalegen.nn.Sequential`` or ``images`` not a dask array.
    ValueError
        If the model is not built or ``images`` has fewer than two axes.
    InvalidParameterError
        If ``batch_size`` is not an int of at least 1.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from scalegen.nn import Sequential
    >>> from scalegen.nn.layers import Dense, Flatten
    >>> from scalegen.distributed import predict_batches
    >>> model = Sequential([Flatten(input_shape=(8, 8, 1)), Dense(10, activation="softmax")])
    >>> images = da.zeros((100, 8, 8, 1), dtype=np.float32, chunks=25)
    >>> out = predict_batches(model, images, batch_size=32)
    >>> out.shape, out.numblocks
    ((100, 10), (4, 1))
    >>> probabilities = out.compute()
    >>> probabilities.dtype, bool(np.allclose(probabilities.sum(axis=1), 1))
    (dtype('float32'), True)
    """
    import dask
    import dask.array as da

    from ..nn import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a scalegen.nn.Sequential, got {type(model).__name__}")
    if not model.built:
        raise ValueError("the model is not built: fit it or give it an input shape first")
    if not is_dask_collection(images, "dask.array"):
        raise TypeError(f"images must be a dask array, got {type(images).__name__}")
    if images.ndim < 2:
        raise ValueError(f"images must have a batch axis and image axes, got shape {images.shape}")
    batch_size = check_int(batch_size, "batch_size", "predict_batches", low=1)
    if any(np.isnan(c) for c in images.chunks[0]):
        images = images.compute_chunk_sizes()
    images = images.rechunk({i: -1 for i in range(1, images.ndim)})
    payload = pickle.dumps(model)
    digest = hashlib.sha256(payload).hexdigest()
    shared = dask.delayed(payload, pure=True)  # one key: sent once to each worker
    outputs = model.output_shape[1:]
    step = dask.delayed(predict_block, pure=True)
    blocks = [
        da.from_delayed(step(block, digest, shared, batch_size), shape=(n, *outputs), dtype=np.float32)
        for block, n in zip(images.to_delayed().ravel(), images.chunks[0], strict=True)
    ]
    return da.concatenate(blocks, axis=0)
