"""Model files without pickle: a zip archive holding ``config.json`` (architecture, compile
settings) and ``weights.npz`` (named float32 arrays, read with ``allow_pickle=False``)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from . import optimizers as _optimizers
from ._model import Sequential
from .layers import LAYERS, Input

FORMAT = "scalegen.nn/1"


class CorruptModelError(ValueError):
    """A model or weights file that cannot be read back."""


def _weight_names(model: Sequential) -> list[str]:
    return [
        f"{layer.name}/{name}" for i, layer in enumerate(model.layers) for name, *_ in model._layer_slots(i)
    ]


def model_state(
    model: Sequential, *, include_optimizer: bool = True
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON document and the named arrays that describe ``model`` completely."""
    config: dict[str, Any] = {"format": FORMAT, "model": model.get_config(), "seed": model.seed}
    arrays = dict(zip(_weight_names(model), model.get_weights(), strict=True)) if model.built else {}
    if model.compiled and model.optimizer is not None:
        config["compile"] = {
            "optimizer": {
                "class_name": type(model.optimizer).__name__,
                "config": model.optimizer.get_config(),
            },
            "loss": model.loss,
            "metrics": model.metrics,
        }
        if include_optimizer and model.built:
            m, v, step = model._net.get_optimizer_state()
            arrays["optimizer/m"], arrays["optimizer/v"] = m, v
            arrays["optimizer/step"] = np.array(step, dtype=np.int64)
    return config, arrays


def model_from_state(config: Any, arrays: dict[str, np.ndarray]) -> Sequential:
    """Rebuild a model from ``model_state``'s output, checking everything it reads."""
    try:
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise CorruptModelError(f"not a {FORMAT} model (format {config.get('format')!r})")
        spec = config["model"]
        layers = []
        for entry in spec["layers"]:
            cls = LAYERS.get(entry["class_name"])
            if cls is None:
                raise CorruptModelError(f"unknown layer class {entry['class_name']!r}")
            layers.append(cls.from_config(dict(entry["config"])))
        model = Sequential(name=spec["name"], seed=config.get("seed"))
        if spec["input_shape"] is not None:
            model.add(Input(tuple(spec["input_shape"])))
        for layer in layers:
            model.add(layer)
        compiled = config.get("compile")
        if compiled is not None:
            opt_cls = {cls.__name__: cls for cls in _optimizers.OPTIMIZERS.values()}.get(
                compiled["optimizer"]["class_name"]
            )
            if opt_cls is None:
                raise CorruptModelError(f"unknown optimizer {compiled['optimizer']['class_name']!r}")
            model.compile(opt_cls(**compiled["optimizer"]["config"]), compiled["loss"], compiled["metrics"])
    except CorruptModelError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CorruptModelError(f"the model description is invalid: {e}") from None
    if model.built:
        _set_named_weights(model, arrays)
        if "optimizer/m" in arrays and model.compiled:
            try:
                model._net.set_optimizer_state(
                    arrays["optimizer/m"], arrays["optimizer/v"], int(arrays["optimizer/step"])
                )
            except (KeyError, TypeError, ValueError) as e:
                raise CorruptModelError(f"the optimizer state is invalid: {e}") from None
    return model


def _set_named_weights(model: Sequential, arrays: dict[str, np.ndarray]) -> None:
    names = _weight_names(model)
    missing = [n for n in names if n not in arrays]
    if missing:
        raise CorruptModelError(f"the weights lack {', '.join(missing)}")
    try:
        model.set_weights([arrays[n] for n in names])
    except ValueError as e:
        raise CorruptModelError(f"the weights do not fit the model: {e}") from None


def save_model(model: Sequential, path: str | os.PathLike[str], *, include_optimizer: bool = True) -> None:
    config, arrays = model_state(model, include_optimizer=include_optimizer)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(config, indent=1))
        z.writestr("weights.npz", buffer.getvalue())


def _read_npz(data: bytes, where: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise CorruptModelError(f"{where}: the weights cannot be read ({e})") from None


def load_model(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by ``Sequential.save`` (no pickle, so no code runs on loading)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {os.fspath(path)!r}")
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            weights = z.read("weights.npz")
    except (zipfile.BadZipFile, KeyError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptModelError(
            f"{os.fspath(path)!r} is not a readable scalegen.nn model file ({e})"
        ) from None
    return model_from_state(config, _read_npz(weights, os.fspath(path)))


def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    model._require_built()
    with open(path, "wb") as f:
        np.savez(f, **dict(zip(_weight_names(model), model.get_weights(), strict=True)))  # type: ignore[arg-type]


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    model._require_built()
    with open(path, "rb") as f:
        data = f.read()
    _set_named_weights(model, _read_npz(data, os.fspath(path)))
