"""Saving and loading scalegen.nn models: files, weights, pickles, and corrupt files refused
without unpickling anything."""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nn_models import (
    _no_global_seed,  # noqa: F401  (an autouse fixture)
    compiled,
    same_weights,
    seed_cnn,
    small_cnn,
    small_data,
)
from scalegen.nn import CorruptModelError, Sequential, load_model
from scalegen.nn.layers import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
)


# ---- 11. saving and loading ------------------------------------------------------------------
def trained_model(seed: int = 0) -> tuple[Sequential, np.ndarray, np.ndarray]:
    x, y = small_data(48)
    model = compiled(small_cnn(seed=seed))
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    return model, x, y


def test_save_and_load_model(tmp_path: Path) -> None:
    model, x, y = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "weights.npz"]
        json.loads(z.read("config.json"))
        with np.load(io.BytesIO(z.read("weights.npz")), allow_pickle=False) as npz:
            assert "conv2d/kernel" in npz.files
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    assert same_weights(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.loss == model.loss and loaded.metrics == model.metrics
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer is not None and model.optimizer is not None
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_loaded_model_continues_training_like_the_original(tmp_path: Path) -> None:
    model, x, y = trained_model()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert same_weights(loaded.get_weights(), model.get_weights())

    # without the optimizer state, training restarts Adam's moments: the result differs
    model.save(tmp_path / "bare.keras", include_optimizer=False)
    bare = load_model(tmp_path / "bare.keras")
    model.save(tmp_path / "full.keras")
    full = load_model(tmp_path / "full.keras")
    bare.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    full.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert not same_weights(bare.get_weights(), full.get_weights())


def test_loaded_model_continues_shuffled_training_with_dropout_exactly(tmp_path: Path) -> None:
    x, y = small_data(48)
    layers = [Conv2D(8, 3, activation="relu", input_shape=(8, 8, 1)), MaxPooling2D(2), Flatten()]
    model = compiled(
        Sequential(
            [*layers, Dense(16, activation="relu"), Dropout(0.3), Dense(10, activation="softmax")], seed=3
        )
    )
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)  # shuffled, with dropout
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    loaded.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert same_weights(loaded.get_weights(), model.get_weights())
    # a corrupt random state is refused, not ignored
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        config = json.loads(z.read("config.json"))
        weights = z.read("weights.npz")
    config["random_state"] = {"bit_generator": "MT19937", "state": 3}
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("weights.npz", weights)
    with pytest.raises(CorruptModelError, match="random state"):
        load_model(tmp_path / "bad.keras")


def test_save_and_load_weights(tmp_path: Path) -> None:
    model, x, _ = trained_model()
    model.save_weights(tmp_path / "w.weights.npz")
    other = small_cnn(seed=7)
    assert not same_weights(other.get_weights(), model.get_weights())
    other.load_weights(tmp_path / "w.weights.npz")
    assert same_weights(other.get_weights(), model.get_weights())
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    with pytest.raises(CorruptModelError):
        seed_cnn().load_weights(tmp_path / "w.weights.npz")
    with pytest.raises(FileNotFoundError):
        other.load_weights(tmp_path / "missing.npz")


def test_pickle_round_trip() -> None:
    model, x, _ = trained_model()
    model.n_jobs = 1
    clone = pickle.loads(pickle.dumps(model))
    assert isinstance(clone, Sequential) and clone.n_jobs == 1
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    assert all(layer._model is clone for layer in clone.layers)
    # independent copies
    deep = copy.deepcopy(model)
    deep.layers[0].set_weights([w * 0 for w in deep.layers[0].get_weights()])
    assert not same_weights(deep.get_weights(), model.get_weights())
    unbuilt = pickle.loads(pickle.dumps(Sequential([Dense(2)], name="tiny")))
    assert unbuilt.name == "tiny" and not unbuilt.built and len(unbuilt.layers) == 1


def rewrite_zip(src: Path, dst: Path, config: Any = None, weights: bytes | None = None) -> None:
    """A copy of the model file src with config.json and/or weights.npz replaced."""
    with zipfile.ZipFile(src) as z:
        original_config = z.read("config.json")
        original_weights = z.read("weights.npz")
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("config.json", original_config if config is None else json.dumps(config))
        z.writestr("weights.npz", original_weights if weights is None else weights)


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class LeavesAMark:
    """Unpickling this creates the file `path`: proof that a loader ran pickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_corrupt_model_files_are_refused(tmp_path: Path) -> None:
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2)], seed=0)
    model.compile("adam", "mse")
    good = tmp_path / "good.keras"
    model.save(good)
    with zipfile.ZipFile(good) as z:
        config = json.loads(z.read("config.json"))
        with np.load(io.BytesIO(z.read("weights.npz")), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    assert issubclass(CorruptModelError, ValueError)

    (tmp_path / "random.keras").write_bytes(np.random.default_rng(0).bytes(2000))
    (tmp_path / "truncated.keras").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "empty.keras").write_bytes(b"")
    bad_class = copy.deepcopy(config)
    bad_class["model"]["layers"][1]["class_name"] = "Conv3D"
    rewrite_zip(good, tmp_path / "class.keras", config=bad_class)
    bad_arg = copy.deepcopy(config)
    bad_arg["model"]["layers"][0]["config"]["units"] = "four"
    rewrite_zip(good, tmp_path / "arg.keras", config=bad_arg)
    bad_format = copy.deepcopy(config)
    bad_format["format"] = "keras/3"
    rewrite_zip(good, tmp_path / "format.keras", config=bad_format)
    rewrite_zip(good, tmp_path / "list.keras", config=[1, 2])
    with zipfile.ZipFile(tmp_path / "nojson.keras", "w") as z:
        z.writestr("config.json", b"{not json")
        z.writestr("weights.npz", b"")
    with zipfile.ZipFile(tmp_path / "noweights.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
    rewrite_zip(good, tmp_path / "badnpz.keras", weights=b"PK\x03\x04 not an npz")
    for name in (
        "random",
        "truncated",
        "empty",
        "class",
        "arg",
        "format",
        "list",
        "nojson",
        "noweights",
        "badnpz",
    ):
        with pytest.raises(CorruptModelError):
            load_model(tmp_path / f"{name}.keras")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")

    # weights that do not fit the architecture: a wrong shape, a missing array, bad optimizer state
    wrong_shape = dict(arrays, **{"dense/kernel": np.zeros((5, 4), np.float32)})
    rewrite_zip(good, tmp_path / "shape.keras", weights=npz_bytes(wrong_shape))
    with pytest.raises(CorruptModelError, match="shape"):
        load_model(tmp_path / "shape.keras")
    missing = {k: v for k, v in arrays.items() if k != "dense_1/bias"}
    rewrite_zip(good, tmp_path / "lack.keras", weights=npz_bytes(missing))
    with pytest.raises(CorruptModelError, match="dense_1/bias"):
        load_model(tmp_path / "lack.keras")
    nan = dict(arrays, **{"dense/bias": np.full(4, np.nan, np.float32)})
    rewrite_zip(good, tmp_path / "nan.keras", weights=npz_bytes(nan))
    with pytest.raises(CorruptModelError, match="NaN"):
        load_model(tmp_path / "nan.keras")
    bad_state = dict(arrays, **{"optimizer/m": np.zeros(3, np.float32)})
    rewrite_zip(good, tmp_path / "state.keras", weights=npz_bytes(bad_state))
    with pytest.raises(CorruptModelError, match="optimizer"):
        load_model(tmp_path / "state.keras")


def test_loading_never_unpickles(tmp_path: Path) -> None:
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    good = tmp_path / "good.keras"
    model.save(good)
    mark = tmp_path / "unpickled"
    evil = np.empty(1, dtype=object)
    evil[0] = LeavesAMark(os.fspath(mark))
    weights = npz_bytes({"dense/kernel": evil, "dense/bias": np.zeros(2, np.float32)})
    rewrite_zip(good, tmp_path / "evil.keras", weights=weights)
    with pytest.raises(CorruptModelError):
        load_model(tmp_path / "evil.keras")
    (tmp_path / "evil.npz").write_bytes(weights)
    with pytest.raises(CorruptModelError):
        model.load_weights(tmp_path / "evil.npz")
    assert not mark.exists()
    # the same bytes do run code under pickle: the check above is meaningful
    with np.load(io.BytesIO(weights), allow_pickle=True) as npz:
        npz["dense/kernel"]
    assert mark.exists()
