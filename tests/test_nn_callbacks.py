"""scalegen.nn callbacks and progress output, driven by hand the way a fit loop calls them."""

from __future__ import annotations

import io
import os
import re
import warnings
from typing import Any

import numpy as np
import pytest

from scalegen.nn import _progress
from scalegen.nn._callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    History,
    ModelCheckpoint,
)
from scalegen.nn._progress import ProgressBar, format_epoch_line, format_time_per_step, format_value


class FakeModel:
    """Records weight and save calls; ``weights`` is a list of arrays that tests change per epoch."""

    def __init__(self) -> None:
        self.stop_training = False
        self.weights: list[np.ndarray] = [np.zeros(3), np.zeros((2, 2))]
        self.set_calls: list[list[np.ndarray]] = []
        self.saved: list[str] = []
        self.saved_weights: list[str] = []

    def get_weights(self) -> list[np.ndarray]:
        return self.weights  # no copy, like a model handing out views of its buffers

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.set_calls.append(weights)
        for dst, src in zip(self.weights, weights, strict=True):
            dst[...] = src

    def save(self, path: str) -> None:
        self.saved.append(path)
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path: str) -> None:
        self.saved_weights.append(path)
        with open(path, "w") as f:
            f.write("weights")


def run_fit(
    callbacks: list[Callback],
    values: list[float],
    *,
    monitor: str = "val_loss",
    model: FakeModel | None = None,
    steps: int = 1,
) -> tuple[FakeModel, list[int]]:
    """A fit loop: one epoch per entry of ``values`` (the monitored value), stopping when asked.

    At epoch e the model's weights are all set to e, so restored weights name their epoch.
    """
    model = model or FakeModel()
    cbs = CallbackList(callbacks, model=model, epochs=len(values), steps=steps)
    ran: list[int] = []
    cbs.on_train_begin()
    for epoch, value in enumerate(values):
        cbs.on_epoch_begin(epoch)
        for batch in range(steps):
            cbs.on_train_batch_begin(batch)
            cbs.on_train_batch_end(batch, {"loss": value})
        for w in model.weights:
            w[...] = epoch
        cbs.on_epoch_end(epoch, {"loss": value + 1.0, monitor: value})
        ran.append(epoch)
        if model.stop_training:
            break
    cbs.on_train_end()
    return model, ran


# ----------------------------------------------------------------------------- Callback / CallbackList


class Recorder(Callback):
    def __init__(self, name: str, calls: list[tuple[str, str]]) -> None:
        super().__init__()
        self.name = name
        self.calls = calls

    def on_train_begin(self, logs: Any = None) -> None:
        self.calls.append((self.name, "train_begin"))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.calls.append((self.name, f"epoch_end {epoch} {dict(logs or {})}"))

    def on_batch_end(self, batch: int, logs: Any = None) -> None:  # legacy alias
        self.calls.append((self.name, f"batch_end {batch}"))

    def on_predict_end(self, logs: Any = None) -> None:
        self.calls.append((self.name, "predict_end"))


def test_callback_defaults_are_noops() -> None:
    cb = Callback()
    assert cb.model is None and cb.params == {}
    for hook in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin"):
        getattr(cb, hook)()
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0, {"loss": 1.0})
    cb.on_train_batch_begin(0)
    cb.on_train_batch_end(0, {"loss": 1.0})
    cb.on_predict_end(logs=None)
    model = FakeModel()
    cb.set_model(model)
    cb.set_params({"epochs": 3})
    assert cb.model is model and cb.params == {"epochs": 3}


def test_callback_list_forwards_in_order() -> None:
    calls: list[tuple[str, str]] = []
    a, b = Recorder("a", calls), Recorder("b", calls)
    model = FakeModel()
    cbs = CallbackList([a, b])
    cbs.set_model(model)
    cbs.set_params({"epochs": 2, "verbose": 0})
    assert a.model is model and b.model is model
    assert b.params == {"epochs": 2, "verbose": 0}
    assert len(cbs) == 2 and list(cbs) == [a, b]
    cbs.on_train_begin()
    cbs.on_train_batch_end(4, {"loss": 0.5})
    cbs.on_epoch_end(1, {"loss": 0.5})
    cbs.on_predict_end()
    cbs.on_train_end()  # a no-op in both
    assert calls == [
        ("a", "train_begin"),
        ("b", "train_begin"),
        ("a", "batch_end 4"),
        ("b", "batch_end 4"),
        ("a", "epoch_end 1 {'loss': 0.5}"),
        ("b", "epoch_end 1 {'loss': 0.5}"),
        ("a", "predict_end"),
        ("b", "predict_end"),
    ]
    c = Recorder("c", calls)
    cbs.append(c)  # joins with the model and params already set
    assert c.model is model and c.params == {"epochs": 2, "verbose": 0}


def test_callback_list_constructor_model_and_params() -> None:
    model = FakeModel()
    h = History()
    CallbackList([h], model=model, epochs=5, steps=10)
    assert h.model is model and h.params == {"epochs": 5, "steps": 10}


@pytest.mark.parametrize("bad", [object(), 3, History])
def test_callback_list_rejects_non_callbacks(bad: Any) -> None:
    with pytest.raises(TypeError, match=type(bad).__qualname__):
        CallbackList([History(), bad])
    with pytest.raises(TypeError, match=type(bad).__qualname__):
        CallbackList().append(bad)


# ----------------------------------------------------------------------------- History


def test_history_records_every_log_value() -> None:
    h = History()
    run_fit([h], [0.9, 0.5, 0.4])
    assert h.epoch == [0, 1, 2]
    assert h.history == {"loss": [1.9, 1.5, 1.4], "val_loss": [0.9, 0.5, 0.4]}


def test_history_resets_on_train_begin() -> None:
    h = History()
    run_fit([h], [0.9, 0.5])
    run_fit([h], [0.3])
    assert h.epoch == [0]
    assert h.history == {"loss": [1.3], "val_loss": [0.3]}


def test_history_metrics_appearing_late() -> None:
    h = History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})
    h.on_epoch_end(2, None)
    assert h.history == {"loss": [1.0, 0.5], "val_loss": [0.7]}
    assert h.epoch == [0, 1, 2]


# ----------------------------------------------------------------------------- EarlyStopping


def test_early_stopping_min_mode_patience() -> None:
    es = EarlyStopping(patience=2)
    model, ran = run_fit([es], [1.0, 0.8, 0.9, 0.85, 0.7, 0.6])
    # epoch 1 is the best; epochs 2 and 3 do not improve -> stop after epoch 3
    assert ran == [0, 1, 2, 3]
    assert model.stop_training is True
    assert es.stopped_epoch == 3
    assert es.best == 0.8 and es.best_epoch == 1 and es.wait == 2


def test_early_stopping_patience_zero_stops_on_first_regression() -> None:
    es = EarlyStopping(monitor="loss", patience=0)
    model = FakeModel()
    cbs = CallbackList([es], model=model)
    cbs.on_train_begin()
    es.on_epoch_end(0, {"loss": 1.0})
    es.on_epoch_end(1, {"loss": 0.5})
    assert not model.stop_training
    es.on_epoch_end(2, {"loss": 0.5})  # equal is not an improvement
    assert model.stop_training and es.stopped_epoch == 2


def test_early_stopping_never_stops_after_first_epoch() -> None:
    # epoch 0 misses the baseline with patience 0, but Keras never stops at epoch 0
    es = EarlyStopping(patience=0, baseline=0.1)
    model, ran = run_fit([es], [1.0])
    assert ran == [0] and not model.stop_training and es.wait == 1
    model, ran = run_fit([es], [1.0, 0.5, 0.4])
    assert ran == [0, 1] and model.stop_training and es.stopped_epoch == 1


def test_early_stopping_max_mode_auto_for_accuracy() -> None:
    es = EarlyStopping(monitor="val_accuracy", patience=2)
    model, ran = run_fit([es], [0.5, 0.7, 0.6, 0.8, 0.75, 0.74, 0.9], monitor="val_accuracy")
    assert es.direction == "max"
    assert ran == [0, 1, 2, 3, 4, 5] and model.stop_training
    assert es.best == 0.8 and es.best_epoch == 3 and es.stopped_epoch == 5


@pytest.mark.parametrize(
    ("monitor", "expected"),
    [
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_mse", "min"),
        ("mean_absolute_error", "min"),
        ("accuracy", "max"),
        ("val_acc", "max"),
        ("val_sparse_categorical_accuracy", "max"),
        ("auc", "max"),
        ("val_auc_1", "max"),
        ("precision", "max"),
        ("val_recall", "max"),
        ("mean_iou", "max"),
    ],
)
def test_auto_mode_from_metric_name(monitor: str, expected: str) -> None:
    assert EarlyStopping(monitor=monitor).direction == expected
    assert ModelCheckpoint("x.keras", monitor=monitor).direction == expected


def test_auto_mode_from_model_metric_direction() -> None:
    class Metric:
        def __init__(self, name: str, direction: str) -> None:
            self.name = name
            self._direction = direction

    model = FakeModel()
    model.metrics = [Metric("my_score", "up")]  # type: ignore[attr-defined]
    es = EarlyStopping(monitor="val_my_score")
    es.set_model(model)
    assert es.direction == "max"


def test_explicit_mode_overrides_name() -> None:
    es = EarlyStopping(monitor="val_accuracy", mode="min", patience=0)
    model, ran = run_fit([es], [0.5, 0.4, 0.6], monitor="val_accuracy")
    assert ran == [0, 1, 2] and es.best == 0.4 and model.stop_training


@pytest.mark.parametrize("cls", [EarlyStopping, lambda mode: ModelCheckpoint("m.keras", mode=mode)])
def test_unknown_mode_is_value_error(cls: Any) -> None:
    with pytest.raises(ValueError, match="mode"):
        cls(mode="maximum")


def test_early_stopping_min_delta() -> None:
    # improvements of 0.05 do not count with min_delta=0.1 (its sign does not matter)
    for delta in (0.1, -0.1):
        es = EarlyStopping(min_delta=delta, patience=2)
        _, ran = run_fit([es], [1.0, 0.95, 0.9, 0.85, 0.5])
        assert es.min_delta == 0.1
        assert ran == [0, 1, 2]
        assert es.best == 1.0
    es = EarlyStopping(min_delta=0.1, patience=1)
    _, ran = run_fit([es], [1.0, 0.85, 0.7, 0.65, 0.6])
    assert ran == [0, 1, 2, 3] and es.best == 0.7


def test_early_stopping_min_delta_max_mode() -> None:
    es = EarlyStopping(monitor="acc", min_delta=0.05, patience=1)
    _, ran = run_fit([es], [0.5, 0.52, 0.6, 0.62], monitor="acc")
    assert ran == [0, 1] and es.best == 0.5


def test_early_stopping_baseline() -> None:
    # values improve every epoch but never beat the baseline: stops after `patience` epochs
    es = EarlyStopping(baseline=0.5, patience=3)
    model, ran = run_fit([es], [1.0, 0.9, 0.8, 0.7, 0.6, 0.4])
    assert ran == [0, 1, 2] and model.stop_training
    assert es.best == 0.8
    # beating the baseline in time resets the patience count
    es = EarlyStopping(baseline=0.5, patience=3)
    model, ran = run_fit([es], [1.0, 0.9, 0.4, 0.45, 0.41, 0.3])
    assert ran == [0, 1, 2, 3, 4, 5] and not model.stop_training
    assert es.best == 0.3


def test_early_stopping_start_from_epoch() -> None:
    es = EarlyStopping(patience=1, start_from_epoch=3)
    # epochs 0-2 get worse but are not monitored
    _, ran = run_fit([es], [0.1, 0.5, 0.9, 1.0, 0.8, 0.85, 0.9, 0.1])
    assert ran == [0, 1, 2, 3, 4, 5]
    assert es.best == 0.8 and es.best_epoch == 4 and es.stopped_epoch == 5


def test_early_stopping_restore_best_weights_on_stop() -> None:
    es = EarlyStopping(patience=2, restore_best_weights=True)
    model, ran = run_fit([es], [1.0, 0.5, 0.7, 0.8, 0.1])
    assert ran == [0, 1, 2, 3]
    assert len(model.set_calls) == 1
    # weights are those at the end of epoch 1, not views of the later weights
    assert all(np.all(w == 1) for w in model.weights)
    assert [w.shape for w in model.weights] == [(3,), (2, 2)]


def test_early_stopping_restore_best_weights_without_stop() -> None:
    # Keras 3 restores at the end of training even when it did not stop early
    es = EarlyStopping(patience=10, restore_best_weights=True)
    model, ran = run_fit([es], [1.0, 0.5, 0.7])
    assert ran == [0, 1, 2] and not model.stop_training
    assert len(model.set_calls) == 1 and all(np.all(w == 1) for w in model.weights)
    # when the last epoch is the best, the model already holds those weights
    es = EarlyStopping(patience=10, restore_best_weights=True)
    model, _ = run_fit([es], [1.0, 0.5, 0.2])
    assert model.set_calls == [] and all(np.all(w == 2) for w in model.weights)


def test_early_stopping_no_restore_by_default() -> None:
    es = EarlyStopping(patience=1)
    model, ran = run_fit([es], [1.0, 0.5, 0.7, 0.8])
    assert ran == [0, 1, 2]
    assert model.set_calls == [] and all(np.all(w == 2) for w in model.weights)
    assert es.best_weights is None


def test_early_stopping_state_resets_between_fits() -> None:
    es = EarlyStopping(patience=1)
    run_fit([es], [1.0, 2.0, 3.0])
    assert es.stopped_epoch == 1
    _, ran = run_fit([es], [5.0, 4.0, 3.0])
    assert ran == [0, 1, 2] and es.stopped_epoch == 0 and es.best == 3.0


def test_early_stopping_missing_monitor_warns() -> None:
    es = EarlyStopping(monitor="val_accuracy", patience=0)
    model = FakeModel()
    es.set_model(model)
    es.on_train_begin()
    with pytest.warns(UserWarning, match=r"val_accuracy.*not available.*loss, val_loss"):
        es.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    with pytest.warns(UserWarning):
        es.on_epoch_end(1, {"loss": 1.0, "val_loss": 2.0})
    assert es.wait == 0 and es.best is None and not model.stop_training


def test_early_stopping_numpy_values() -> None:
    es = EarlyStopping(patience=0)
    es.set_model(FakeModel())
    es.on_train_begin()
    es.on_epoch_end(0, {"val_loss": np.float32(1.0)})
    es.on_epoch_end(1, {"val_loss": np.array(2.0)})
    assert es.model.stop_training and es.best == 1.0


def test_early_stopping_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    es = EarlyStopping(patience=1, verbose=1, restore_best_weights=True)
    run_fit([es], [1.0, 0.5, 0.7, 0.8])
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


# ----------------------------------------------------------------------------- ModelCheckpoint


def test_checkpoint_every_epoch_with_format_fields(tmp_path: Any) -> None:
    path = tmp_path / "ckpt" / "sub" / "model-{epoch:02d}-{val_loss:.2f}.keras"
    ckpt = ModelCheckpoint(path)
    model, _ = run_fit([ckpt], [0.912, 0.5, 0.7])
    names = [os.path.relpath(p, tmp_path) for p in model.saved]
    assert names == [
        os.path.join("ckpt", "sub", n)
        for n in ("model-01-0.91.keras", "model-02-0.50.keras", "model-03-0.70.keras")
    ]
    assert all(os.path.isfile(p) for p in model.saved)
    assert model.saved_weights == []


def test_checkpoint_unknown_field_is_key_error(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.keras"))
    with pytest.raises(KeyError, match="val_acc"):
        run_fit([ckpt], [0.5])


def test_checkpoint_save_best_only(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "m{epoch}.keras"), save_best_only=True)
    model, _ = run_fit([ckpt], [1.0, 0.8, 0.9, 0.8, 0.3])
    assert [os.path.basename(p) for p in model.saved] == ["m1.keras", "m2.keras", "m5.keras"]
    assert ckpt.best == 0.3


def test_checkpoint_save_best_only_max_mode_and_threshold(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(
        str(tmp_path / "m{epoch}.keras"),
        monitor="val_accuracy",
        save_best_only=True,
        initial_value_threshold=0.6,
    )
    model, _ = run_fit([ckpt], [0.5, 0.7, 0.65, 0.9], monitor="val_accuracy")
    assert [os.path.basename(p) for p in model.saved] == ["m2.keras", "m4.keras"]


def test_checkpoint_save_weights_only(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "w" / "{epoch}.weights.h5"), save_weights_only=True)
    model, _ = run_fit([ckpt], [1.0, 0.5])
    assert model.saved == []
    assert [os.path.basename(p) for p in model.saved_weights] == ["1.weights.h5", "2.weights.h5"]
    assert (tmp_path / "w" / "2.weights.h5").read_text() == "weights"


def test_checkpoint_save_freq_batches_across_epochs(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.keras"), monitor="loss", save_freq=3)
    model, _ = run_fit([ckpt], [1.0, 0.9, 0.8], steps=4)
    # 12 batches of 4 per epoch: saves after batches 3, 6, 9 and 12 overall (1-based in the names)
    assert [os.path.basename(p) for p in model.saved] == [
        "e1-b3.keras",
        "e2-b2.keras",
        "e3-b1.keras",
        "e3-b4.keras",
    ]


def test_checkpoint_save_freq_best_only_uses_batch_logs(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "m.keras"), monitor="loss", save_freq=1, save_best_only=True)
    model = FakeModel()
    ckpt.set_model(model)
    ckpt.on_train_begin()
    ckpt.on_epoch_begin(0)
    for batch, loss in enumerate([1.0, 0.5, 0.7, 0.2]):
        ckpt.on_train_batch_end(batch, {"loss": loss})
    ckpt.on_epoch_end(0, {"loss": 0.6})  # no save at epoch end with an int save_freq
    assert len(model.saved) == 3 and ckpt.best == 0.2


@pytest.mark.parametrize("bad", ["batch", "2", 1.5, 0, -3, True, None])
def test_checkpoint_bad_save_freq(bad: Any) -> None:
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("m.keras", save_freq=bad)


def test_checkpoint_missing_monitor_warns_and_skips(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "m.keras"), monitor="val_auc", save_best_only=True)
    model = FakeModel()
    ckpt.set_model(model)
    with pytest.warns(UserWarning, match="val_auc"):
        ckpt.on_epoch_end(0, {"loss": 1.0})
    assert model.saved == []
    assert not (tmp_path / "m.keras").exists()


def test_checkpoint_missing_monitor_ignored_without_best_only(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "m.keras"), monitor="val_auc")
    model = FakeModel()
    ckpt.set_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ckpt.on_epoch_end(0, {"loss": 1.0})
    assert len(model.saved) == 1


def test_checkpoint_verbose(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True, verbose=1)
    run_fit([ckpt], [1.0, 2.0])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from inf to 1.00000, saving model to" in out
    assert "Epoch 2: val_loss did not improve from 1.00000" in out


# ----------------------------------------------------------------------------- progress output


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(_progress, "_now", c)
    return c


def test_format_value() -> None:
    assert format_value(0.123456) == "0.1235"
    assert format_value(12.5) == "12.5000"
    assert format_value(0.0) == "0.0000"
    assert format_value(2.5e-4) == "2.5000e-04"
    assert format_value(-2.5e-5) == "-2.5000e-05"
    assert format_value(np.float32(0.5)) == "0.5000"


def test_format_time_per_step() -> None:
    assert format_time_per_step(2.4) == "2s/step"
    assert format_time_per_step(0.0123) == "12ms/step"
    assert format_time_per_step(0.000456) == "456us/step"
    assert format_time_per_step(0.0) == "0s/step"


def test_progress_not_tty_prints_only_final_line(clock: Clock) -> None:
    out = io.StringIO()
    bar = ProgressBar(100, stream=out)
    for step in range(1, 101):
        clock.t += 0.01
        bar.update(step, {"loss": 0.5 / step, "accuracy": 0.9876543})
    assert out.getvalue() == ""
    clock.t += 1.0
    bar.update(100, {"loss": 0.1234321, "accuracy": 0.9876543}, finalize=True)
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    assert "\r" not in text and "\x1b" not in text
    assert text == "100/100 ━━━━━━━━━━━━━━━━━━━━ 2s 20ms/step - loss: 0.1234 - accuracy: 0.9877\n"


def test_progress_not_tty_partial_bar_is_blank(clock: Clock) -> None:
    out = io.StringIO()
    bar = ProgressBar(8, stream=out)
    clock.t += 0.4
    bar.update(4, {"loss": 1.0}, finalize=True)  # e.g. an interrupted epoch
    assert out.getvalue() == "4/8 " + "━" * 10 + " " * 10 + " 0s 100ms/step - loss: 1.0000\n"


def test_progress_tty_updates_in_place(clock: Clock) -> None:
    out = FakeTTY()
    bar = ProgressBar(10, stream=out)
    for step in range(1, 11):
        clock.t += 0.1
        bar.update(step, {"loss": 1.0 / step}, finalize=step == 10)
    text = out.getvalue()
    lines = text.split("\r")
    assert lines[0] == ""
    assert len(lines) == 11  # one redraw per step (0.1 s apart > interval)
    assert text.endswith("\n") and text.count("\n") == 1
    # in progress: dimmed remainder and ETA
    assert lines[3] == f" 3/10 {'━' * 6}\x1b[2m{'━' * 14}\x1b[0m 1s 100ms/step - loss: 0.3333"
    assert lines[-1] == f"10/10 {'━' * 20} 1s 100ms/step - loss: 0.1000\n"


def test_progress_tty_throttles_redraws(clock: Clock) -> None:
    out = FakeTTY()
    bar = ProgressBar(1000, stream=out, interval=0.05)
    for step in range(1, 1001):
        clock.t += 0.002
        bar.update(step, {"loss": 0.5}, finalize=step == 1000)
    redraws = out.getvalue().count("\r")
    assert 38 <= redraws <= 42  # every 0.05 s over 2 s, plus the final line
    assert out.getvalue().endswith(" 2s 2ms/step - loss: 0.5000\n")


def test_progress_tty_pads_shorter_lines(clock: Clock) -> None:
    out = FakeTTY()
    bar = ProgressBar(None, stream=out, interval=0)
    clock.t += 1
    bar.update(1, {"loss": 1.0, "extra_metric": 2.0})
    first = out.getvalue()
    clock.t += 1
    bar.update(2, {"loss": 1.0}, finalize=True)
    second = out.getvalue()[len(first) :]
    assert first.startswith("\r      1/Unknown 1s 1s/step")
    assert len(second.rstrip("\n")) == len(first)  # old tail blanked out
    assert second.endswith(" \n")


def test_progress_first_step_excluded_from_step_time(clock: Clock) -> None:
    out = io.StringIO()
    bar = ProgressBar(3, stream=out)
    clock.t += 5.0  # first step includes warm-up
    bar.update(1, {})
    clock.t += 0.01
    bar.update(2, {})
    clock.t += 0.01
    bar.update(3, {}, finalize=True)
    assert out.getvalue() == "3/3 ━━━━━━━━━━━━━━━━━━━━ 5s 10ms/step\n"


def test_progress_stream_defaults_to_current_stdout(clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    bar = ProgressBar(2)
    bar.update(2, {"loss": 0.25}, finalize=True)
    assert capsys.readouterr().out == "2/2 ━━━━━━━━━━━━━━━━━━━━ 0s 0s/step - loss: 0.2500\n"


def test_epoch_header(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    ProgressBar.epoch_header(1, 10, stream=out)
    ProgressBar.epoch_header(10, 10, stream=out)
    assert out.getvalue() == "Epoch 1/10\nEpoch 10/10\n"
    ProgressBar.epoch_header(3, 5)
    assert capsys.readouterr().out == "Epoch 3/5\n"
    with pytest.raises(ValueError, match="1-based"):
        ProgressBar.epoch_header(0, 5)


def test_format_epoch_line() -> None:
    line = format_epoch_line({"loss": 0.123456, "accuracy": 0.5, "val_loss": 4e-4}, 2.4, 300)
    assert line == "300/300 - 2s - 8ms/step - loss: 0.1235 - accuracy: 0.5000 - val_loss: 4.0000e-04"
    assert ProgressBar.format_epoch_line({}, 30.0, 10) == "10/10 - 30s - 3s/step"
    assert re.fullmatch(r"0/0 - 0s - 0s/step", format_epoch_line({}, 0.0, 0))
