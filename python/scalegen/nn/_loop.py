"""The epoch loop of the composite models (VAE, GAN): batches, Keras callbacks, the progress
bar and the History, around a ``step`` that trains on one batch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ._callbacks import Callback, CallbackList, History
from ._progress import ProgressBar, format_epoch_line

_BATCHES_PER_BAR_UPDATE = 8


def train_epochs(
    model: Any,
    n: int,
    step: Callable[[np.ndarray], dict[str, float]],
    *,
    batch_size: int,
    epochs: int,
    shuffle: bool,
    verbosity: int,
    callbacks: Sequence[Callback] | None,
    rng: np.random.Generator,
    validate: Callable[[], dict[str, float]] | None = None,
    run_batches: Callable[[np.ndarray, int], list[dict[str, float]]] | None = None,
) -> History:
    """Calls ``step(rows)`` on every batch of row indices of each epoch; logs are the epoch's
    means so far, weighted by batch sizes (Keras' running averages), plus ``validate()``'s
    at the end of each epoch. ``model.stop_training`` ends the loop, as in Keras.

    ``run_batches(order, batch_size)``, when given, trains on the batches of rows ``order`` in
    one call and returns their logs (up to the first that is not finite): used when nothing
    watches single batches (no callbacks; with a progress bar, runs of batches)."""
    steps = math.ceil(n / batch_size)
    history = History()
    cbs = CallbackList([history, *([] if callbacks is None else list(callbacks))])
    cbs.set_model(model)
    cbs.set_params({"epochs": epochs, "steps": steps, "verbose": verbosity})
    model.stop_training = False
    model.history = history
    cbs.on_train_begin()
    # nothing watching single batches: runs of them in one call each (the progress bar still
    # moves at every batch, a run of them at once)
    run = run_batches if not callbacks else None
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        order = rng.permutation(n) if shuffle else np.arange(n)
        bar = ProgressBar(steps) if verbosity == 1 else None
        if bar is not None:
            ProgressBar.epoch_header(epoch + 1, epochs)
        started = time.perf_counter()
        sums: dict[str, float] = {}
        seen = 0
        logs: dict[str, float] = {}
        per_run = steps if bar is None else _BATCHES_PER_BAR_UPDATE
        batches: Iterator[dict[str, float]] = iter(())
        for b in range(steps):
            rows = order[b * batch_size : (b + 1) * batch_size]
            if run is not None:
                if b % per_run == 0:
                    batches = iter(run(order[b * batch_size : (b + per_run) * batch_size], batch_size))
                batch_logs = next(batches)
            else:
                cbs.on_train_batch_begin(b)
                batch_logs = step(rows)
            seen += len(rows)
            for k, v in batch_logs.items():
                sums[k] = sums.get(k, 0.0) + v * len(rows)
            logs = {k: v / seen for k, v in sums.items()}
            if not all(math.isfinite(v) for v in logs.values()):
                raise FloatingPointError(
                    f"the loss became {logs} at epoch {epoch + 1}, batch {b + 1}: lower the learning rate"
                )
            if run is None:
                cbs.on_train_batch_end(b, logs)
            if bar is not None:
                bar.update(b + 1, logs, finalize=False)
            if model.stop_training:
                break
        if validate is not None:
            logs.update({f"val_{k}": v for k, v in validate().items()})
        if bar is not None:
            bar.update(steps, logs, finalize=True)
        elif verbosity == 2:
            ProgressBar.epoch_header(epoch + 1, epochs)
            print(format_epoch_line(logs, time.perf_counter() - started, steps), flush=True)
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end()
    return history
