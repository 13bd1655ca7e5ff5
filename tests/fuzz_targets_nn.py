"""Targets of the nn fuzz tests, run in a child process by isolated.run_cases."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

# work the predict of a fuzzed model may take: beyond it, the model is only built (a valid
# but huge convolution is slow, not wrong)
MAX_WORK = 2 * 10**8


def _layer(spec: dict[str, Any]) -> Any:
    from scalegen.nn import layers as L

    spec = dict(spec)
    kind = spec.pop("kind")
    make = {
        "conv": L.Conv2D,
        "max": L.MaxPooling2D,
        "avg": L.AveragePooling2D,
        "dense": L.Dense,
        "flatten": L.Flatten,
        "dropout": L.Dropout,
        "batch_norm": L.BatchNormalization,
        "deconv": L.Conv2DTranspose,
        "upsample": L.UpSampling2D,
        "reshape": L.Reshape,
        "zero_pad": L.ZeroPadding2D,
        "prelu": L.PReLU,
        "gap": L.GlobalAveragePooling2D,
        "leaky": L.LeakyReLU,
        "elu": L.ELU,
    }[kind]
    return make(**spec)


def _work(model: Any, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one predict (each output value costs its window or its kernel's fan-in)."""
    shapes = [input_shape, *[tuple(s) for s in model._output_shapes]]
    work = 0
    for layer, before, after in zip(model.layers, shapes, shapes[1:], strict=False):
        fan_in = 1
        if hasattr(layer, "kernel_size"):
            fan_in = math.prod(layer.kernel_size) * before[-1]
        elif hasattr(layer, "pool_size"):
            fan_in = min(layer.pool_size[0], before[0]) * min(layer.pool_size[1], before[1])
        elif hasattr(layer, "units"):
            fan_in = before[-1]
        elif hasattr(layer, "size"):  # up-sampling: up to four cells per output value
            fan_in = 4
        work += math.prod(after) * fan_in
    return work


def build_and_predict(case: dict[str, Any]) -> Any:
    """Builds a Sequential from fuzzed hyper-parameters; predicts when the work is bounded, and
    then every output must be finite."""
    from scalegen.nn import Sequential

    first, *rest = case["layers"]
    layers = [_layer({**first, "input_shape": case["input_shape"]}), *map(_layer, rest)]
    model = Sequential(layers, seed=0)
    if _work(model, case["input_shape"]) > MAX_WORK:
        return ("built", model.output_shape)
    x = np.ones((1, *case["input_shape"]), np.float32)
    y = model.predict(x, verbose=0)
    if not np.isfinite(y).all():
        raise AssertionError(f"non-finite output from {case}")
    return y.shape


def load_sgnn(data: bytes) -> Any:
    """Loads a native file and predicts on ones."""
    from scalegen import _core

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.sgnn")
        with open(path, "wb") as f:
            f.write(data)
        net = _core.Network.load(path)
    shape = net.input_shape
    size = math.prod(shape)
    if size * 4 > 1 << 26:
        return ("loaded", shape)
    y = net.predict(np.ones((1, size), np.float32), 1, 1)
    return y.shape


def limits_in_child(env: dict[str, str]) -> Any:
    """The core's limits in a fresh process started with these environment variables."""
    code = "import scalegen, scalegen._core as c; print(c.get_limits())"
    proc = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise ValueError(proc.stderr.strip().splitlines()[-1])
    return tuple(int(v) for v in proc.stdout.strip("()\n").split(","))
