"""Model files without pickle: a zip archive holding ``config.json`` (architecture, compile
settings) and ``weights.npz`` (named float32 arrays).

Reading trusts nothing in the file: the zip members' sizes are checked against
``max_decompressed_bytes`` (declared and actual), each array's .npy header is parsed here and
its declared size checked against ``max_tensor_bytes`` / ``max_total_bytes`` before the array
is allocated, its data must be exactly what the header declares, and its values real numbers.
Anything wrong raises ``CorruptModelError`` (or ``scalegen.LimitError`` for a limit), both
ValueErrors."""

from __future__ import annotations

import io
import json
import lzma
import math
import os
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from ..utils._limits import Budget, LimitError, get_limits, read_zip_member, shape_size
from . import losses as _losses
from . import optimizers as _optimizers
from ._model import Sequential
from .layers import LAYERS, Input

FORMAT = "scalegen.nn/1"


class CorruptModelError(ValueError):
    """A model or weights file that cannot be read back: not a scalegen.nn archive, damaged,
    or inconsistent. A ValueError; the message names the file and what is wrong.

    Examples
    --------
    >>> from scalegen.nn import CorruptModelError, load_model
    >>> with open("model.keras", "wb") as f:
    ...     _ = f.write(b"not a model")
    >>> try:
    ...     load_model("model.keras")
    ... except CorruptModelError as e:
    ...     print(isinstance(e, ValueError), "is not a readable scalegen.nn model" in str(e))
    True True
    """


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
            "loss": model.loss
            if isinstance(model.loss, str)
            else {"class_name": type(model.loss).__name__, "config": model.loss.get_config()},
            "metrics": model.metrics,
        }
        if include_optimizer and model.built:
            m, v, step = model._net.get_optimizer_state()
            arrays["optimizer/m"], arrays["optimizer/v"] = m, v
            arrays["optimizer/step"] = np.array(step, dtype=np.int64)
            # where the model's random stream stands (shuffles, dropout seeds): with it a loaded
            # model continues training exactly as the saved one would
            config["random_state"] = model._rng.bit_generator.state
    return config, arrays


def model_from_state(config: Any, arrays: dict[str, np.ndarray]) -> Sequential:
    """Rebuild a model from ``model_state``'s output, checking everything it reads."""
    try:
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            found = config.get("format") if isinstance(config, dict) else type(config).__name__
            raise CorruptModelError(f"not a {FORMAT} model (format {found!r})")
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
            model.compile(_optimizer(compiled["optimizer"]), _loss(compiled["loss"]), compiled["metrics"])
    except (CorruptModelError, LimitError):
        raise
    except _DESCRIPTION_ERRORS as e:
        raise CorruptModelError(f"the model description is invalid: {type(e).__name__}: {e}") from None
    except MemoryError:
        raise CorruptModelError(
            "the model description asks for more memory than there is: its layer sizes are not "
            "those of a model that was saved here"
        ) from None
    if model.built:
        _set_named_weights(model, arrays)
        if "optimizer/m" in arrays and model.compiled:
            _set_optimizer_state(model, arrays)
    if "random_state" in config:
        try:
            model._rng.bit_generator.state = config["random_state"]
        except _DESCRIPTION_ERRORS as e:
            raise CorruptModelError(f"the saved random state is invalid: {type(e).__name__}: {e}") from None
    return model


def _optimizer(entry: Any) -> Any:
    """An optimizer of config.json: its class name and config."""
    cls = {c.__name__: c for c in _optimizers.OPTIMIZERS.values()}.get(entry["class_name"])
    if cls is None:
        raise CorruptModelError(f"unknown optimizer {entry['class_name']!r}")
    return cls(**entry["config"])


def _loss(entry: Any) -> Any:
    """A loss of config.json: its name, or a Loss object's class and config."""
    if isinstance(entry, str):
        return entry
    cls = {c.__name__: c for c in _losses.Loss.__subclasses__()}.get(entry["class_name"])
    if cls is None:
        raise CorruptModelError(f"unknown loss {entry['class_name']!r}")
    return cls.from_config(dict(entry["config"]))


# what a wrong value in config.json can make the constructors raise
_DESCRIPTION_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)


def _set_optimizer_state(model: Sequential, arrays: dict[str, np.ndarray]) -> None:
    try:
        m, v, step = (_real(arrays[k], k) for k in ("optimizer/m", "optimizer/v", "optimizer/step"))
        if step.shape != () or step.dtype.kind not in "iu" or not 0 <= int(step) < 2**63:
            raise ValueError(f"optimizer/step must be one integer >= 0, got {step!r:.100}")
        for name, values in (("optimizer/m", m), ("optimizer/v", v)):
            if not np.isfinite(values).all():
                raise ValueError(f"{name} contains NaN or infinity")
        if (v < 0).any():
            raise ValueError("optimizer/v (squared gradients) holds negative values")
        model._net.set_optimizer_state(m, v, int(step))
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptModelError(f"the optimizer state is invalid: {e}") from None


def _real(values: np.ndarray, name: str) -> np.ndarray:
    """`values` if they are an array of real numbers (bool, integer or floating point)."""
    if not isinstance(values, np.ndarray):
        raise CorruptModelError(f"{name} is a {type(values).__name__}, not an array")
    _check_real(values.dtype, name)
    return values


def _check_real(dtype: np.dtype, name: str) -> None:
    if dtype.kind not in "biuf":
        raise CorruptModelError(
            f"{name} holds {dtype} values, not real numbers: weights are float32, and complex or "
            "non-numeric arrays are refused rather than cast"
        )


def _set_named_weights(model: Sequential, arrays: dict[str, np.ndarray]) -> None:
    names = _weight_names(model)
    missing = [n for n in names if n not in arrays]
    if missing:
        raise CorruptModelError(f"the weights lack {', '.join(missing)}")
    try:
        model.set_weights([_real(arrays[n], n) for n in names])
    except ValueError as e:
        raise CorruptModelError(f"the weights do not fit the model: {e}") from None


def save_model(model: Sequential, path: str | os.PathLike[str], *, include_optimizer: bool = True) -> None:
    _write_archive(path, *model_state(model, include_optimizer=include_optimizer))


def _write_archive(
    path: str | os.PathLike[str], config: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(config, indent=1))
        z.writestr("weights.npz", buffer.getvalue())


def _read_npz(source: Any, where: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive (bytes or a binary file). Each is refused before it
    is allocated if its header is malformed, its size above the limits (all of them together
    too), its type not real numbers or its data not exactly what its header declares."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
    except _ZIP_ERRORS as e:
        raise CorruptModelError(f"the weights are not an .npz archive ({type(e).__name__}: {e})") from None
    budget = Budget(f"{where}: the weights")
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key == info.filename or key in arrays:
                problem = "is not an .npy array" if key == info.filename else "appears twice"
                raise CorruptModelError(f"the weights member {info.filename!r} {problem}")
            try:
                arrays[key] = _read_npy(archive, info, budget, where, f"the weights array {key!r}")
            except (CorruptModelError, LimitError):
                raise
            except _ZIP_ERRORS as e:
                raise CorruptModelError(
                    f"the weights array {key!r} cannot be read ({type(e).__name__}: {e})"
                ) from None
    return arrays


def _read_npy(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, where: str, what: str
) -> np.ndarray:
    """One .npy member: its header first, checked against the limits, then exactly its data."""
    if info.file_size > get_limits().max_decompressed_bytes:
        read_zip_member(archive, info.filename, f"{where}: {what}")  # the LimitError of its declared size
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unknown .npy format version {version}")
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(f)
        except Exception as e:  # numpy's header parser: ValueError, SyntaxError, TokenError, BadZipFile...
            raise CorruptModelError(f"{what}: unreadable .npy header ({type(e).__name__}: {e})") from None
        _check_real(dtype, what)
        try:
            shape_size(shape, what)
        except ValueError as e:  # a negative size
            raise CorruptModelError(str(e)) from None
        nbytes = budget.add(shape, dtype.itemsize, f"{where}: {what}")
        start = f.tell()
        if info.file_size != start + nbytes:
            raise CorruptModelError(
                f"{what}: its header declares {shape} {dtype} ({nbytes} bytes of data), but "
                f"{info.file_size - start} bytes follow the header"
            )
        array = np.empty(math.prod(shape), dtype)
        view, done = array.view(np.uint8).data, 0
        while done < nbytes:
            chunk = f.read(min(nbytes - done, 1 << 20))
            if not chunk:
                raise CorruptModelError(f"{what}: the data ends after {done} of {nbytes} bytes")
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


# what a damaged zip archive (or member) makes zipfile raise while it is read
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
    KeyError,  # a missing member
    RuntimeError,  # an encrypted member
    NotImplementedError,  # a compression method zipfile lacks
    struct.error,
    OverflowError,
)
_DAMAGED = "the file is damaged or was not written by scalegen.nn: save the model again from its source"


def load_model(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by ``Sequential.save`` (no pickle, so no code runs on loading).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Sequential
        With its weights and compile settings; unless saved with ``include_optimizer=False``,
        also its optimizer state and random stream (training goes on as the saved one's would).

    Raises
    ------
    FileNotFoundError
        If there is no file.
    CorruptModelError
        For a file that is not such a model (a ValueError).
    scalegen.LimitError
        For one that declares more memory than the limits allow (see ``scalegen.set_limits``).

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers, load_model
    >>> model = Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")], seed=0)
    >>> model.compile(optimizer="adam", loss="categorical_crossentropy")
    >>> model.save("model.keras")
    >>> again = load_model("model.keras")
    >>> x = np.random.default_rng(0).normal(size=(4, 3))
    >>> again.loss, bool(np.array_equal(again.predict(x), model.predict(x)))
    ('categorical_crossentropy', True)
    """
    return _read_archive(path, lambda config, arrays: model_from_state(config, arrays))


def _read_archive(path: str | os.PathLike[str], build: Any) -> Any:
    """build(config, arrays) from the checked members of a model archive."""
    where = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {where!r}")
    with open(path, "rb") as f:  # an unreadable file is an OSError, not a corrupt model
        try:
            try:
                with zipfile.ZipFile(f) as z:
                    config_text = read_zip_member(z, "config.json", f"{where}: the model file")
                    weights = read_zip_member(z, "weights.npz", f"{where}: the model file")
            except (CorruptModelError, LimitError):
                raise
            except _ZIP_ERRORS as e:
                raise CorruptModelError(f"not a readable model archive ({type(e).__name__}: {e})") from None
            return build(_parse_config(config_text), _read_npz(weights, where))
        except CorruptModelError as e:
            raise CorruptModelError(
                f"{where!r} is not a readable scalegen.nn model: {e}; {_DAMAGED}"
            ) from None


def save_composite(
    path: str | os.PathLike[str],
    kind: str,
    settings: dict[str, Any],
    parts: dict[str, Sequential],
    optimizers: dict[str, Any],
    rng: np.random.Generator,
) -> None:
    """A model made of Sequentials (a VAE, a GAN): its settings and each part's state, the
    arrays of part p named "p/...", in one archive like ``save_model``'s. Once compiled
    (``optimizers``: compile's keyword -> optimizer), also the optimizers, every part's
    moments and the position of the model's random stream (``rng``), so that a loaded model
    continues training exactly as the saved one would."""
    config: dict[str, Any] = {"format": f"{FORMAT}/{kind}", "settings": settings, "parts": {}}
    arrays: dict[str, np.ndarray] = {}
    for name, model in parts.items():
        config["parts"][name], part_arrays = model_state(model)
        arrays.update({f"{name}/{k}": v for k, v in part_arrays.items()})
    if all(o is not None for o in optimizers.values()):
        config["compile"] = {
            k: {"class_name": type(o).__name__, "config": o.get_config()} for k, o in optimizers.items()
        }
        config["random_state"] = rng.bit_generator.state
        for name, model in parts.items():
            if model.built:
                m, v, step = model._net.get_optimizer_state()
                arrays[f"{name}/optimizer/m"], arrays[f"{name}/optimizer/v"] = m, v
                arrays[f"{name}/optimizer/step"] = np.array(step, dtype=np.int64)
    _write_archive(path, config, arrays)


def load_composite(path: str | os.PathLike[str], kind: str, cls: Any) -> Any:
    """``cls(**parts, **settings)`` from a file ``save_composite`` wrote for ``kind``,
    compiled as it was saved, with its optimizers' moments and random stream."""

    def build(config: Any, arrays: dict[str, np.ndarray]) -> Any:
        try:
            if config.get("format") != f"{FORMAT}/{kind}":
                raise CorruptModelError(f"not a {kind} file (format {config.get('format')!r})")
            own = {
                name: {k.removeprefix(f"{name}/"): v for k, v in arrays.items() if k.startswith(f"{name}/")}
                for name in config["parts"]
            }
            parts = {name: model_from_state(part, own[name]) for name, part in config["parts"].items()}
            model = cls(**parts, **dict(config["settings"]))
            if "compile" in config:
                model.compile(**{k: _optimizer(entry) for k, entry in config["compile"].items()})
                for name, part in parts.items():
                    if "optimizer/m" in own[name] and part.built:
                        _set_optimizer_state(part, own[name])
                model._rng.bit_generator.state = config["random_state"]
            return model
        except (CorruptModelError, LimitError):
            raise
        except _DESCRIPTION_ERRORS as e:
            raise CorruptModelError(
                f"{os.fspath(path)!r} does not describe a {kind}: {type(e).__name__}: {e}"
            ) from None

    return _read_archive(path, build)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a model description holds")


def _parse_config(text: bytes | bytearray) -> Any:
    try:
        return json.loads(bytes(text), parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise CorruptModelError(f"config.json is not valid JSON ({type(e).__name__}: {e})") from None


def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    model._require_built()
    with open(path, "wb") as f:
        np.savez(f, **dict(zip(_weight_names(model), model.get_weights(), strict=True)))  # type: ignore[arg-type]


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    model._require_built()
    where = os.fspath(path)
    try:
        with open(path, "rb") as f:
            arrays = _read_npz(f, where)
        _set_named_weights(model, arrays)
    except CorruptModelError as e:
        raise CorruptModelError(
            f"{where!r} is not a readable weights file: {e}; the file is damaged or was not written "
            "by save_weights: save the weights again"
        ) from None
