"""Keras 3 style progress output of ``fit``: the per-batch bar (``verbose=1``) and the
one-line epoch summary (``verbose=2``).

The line looks like Keras 3's::

    938/938 ━━━━━━━━━━━━━━━━━━━━ 2s 2ms/step - loss: 0.2964 - accuracy: 0.9134

While an epoch runs on a terminal the line is redrawn in place (``\\r``) with the time left
(ETA) in place of the elapsed time, as Keras does; on a stream that is not a terminal (a log
file, a pipe, a notebook capture) only the final line of each epoch is written.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["ProgressBar", "format_epoch_line", "format_time_per_step", "format_value"]

_BAR = "━"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _now() -> float:
    """The clock of the progress bar (a module function so that tests can replace it)."""
    return time.monotonic()


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty):
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


def format_value(value: Any) -> str:
    """A metric value as Keras prints it: 4 decimals, or 4-digit scientific below 1e-3 (not 0)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.4e}"
    return f"{v:.4f}"


def format_time_per_step(seconds: float) -> str:
    """``Ns/step`` from 1 s (and for 0), ``Nms/step`` from 1 ms, ``Nus/step`` below."""
    if seconds >= 1 or seconds <= 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _format_eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def _format_metrics(values: Mapping[str, Any]) -> str:
    return "".join(f" - {name}: {format_value(v)}" for name, v in values.items())


def format_epoch_line(values: Mapping[str, Any], seconds: float, steps: int) -> str:
    """The ``verbose=2`` summary of an epoch, without a trailing newline.

    ``"{steps}/{steps} - {seconds}s - {time}/step - loss: 0.1234 - ..."``
    """
    per_step = seconds / steps if steps > 0 else 0.0
    return f"{steps}/{steps} - {seconds:.0f}s - {format_time_per_step(per_step)}{_format_metrics(values)}"


class ProgressBar:
    """The ``verbose=1`` progress line of one epoch, as Keras 3 prints it.

    ``target`` is the number of batches in the epoch (None when unknown: ``"12/Unknown"``
    and no bar). ``stream`` defaults to ``sys.stdout`` as it is when output is written.
    On a terminal the line is redrawn in place at most once per ``interval`` seconds
    (the final update always draws), the remaining part of the bar is dimmed and the time
    shown is the ETA until ``finalize``; elsewhere only the final line is written and the
    remaining part of the bar is blank. The time per step leaves out the first step
    (which includes warm-up) once later steps are known, as Keras does.
    """

    def __init__(
        self, target: int | None, *, stream: TextIO | None = None, width: int = 20, interval: float = 0.05
    ) -> None:
        if target is not None and target < 0:
            raise ValueError(f"target must be non-negative or None, got {target}")
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width}")
        self.target = target
        self.width = width
        self.interval = interval
        self._stream = stream
        self._start = _now()
        self._last_draw = -math.inf
        self._time_after_first_step: float | None = None
        self._prev_width = 0

    @property
    def stream(self) -> TextIO:
        """The output stream (``sys.stdout`` at the time of the call unless one was given)."""
        return self._stream if self._stream is not None else sys.stdout

    def _step_duration(self, step: int, now: float) -> float:
        if step <= 0:
            return 0.0
        if self._time_after_first_step is not None and step > 1:
            per_step = (now - self._time_after_first_step) / (step - 1)
        else:
            per_step = (now - self._start) / step
        if step == 1:
            self._time_after_first_step = now
        return per_step

    def _bar(self, step: int, tty: bool) -> str:
        assert self.target is not None
        fraction = min(1.0, step / self.target) if self.target > 0 else 1.0
        done = int(self.width * max(0.0, fraction))
        rest = self.width - done
        if rest == 0:
            return _BAR * done
        return _BAR * done + (f"{_DIM}{_BAR * rest}{_RESET}" if tty else " " * rest)

    def _line(
        self, step: int, values: Mapping[str, Any], now: float, per_step: float, tty: bool, final: bool
    ) -> str:
        if self.target is None:
            head = f"{step:>7}/Unknown"
        else:
            digits = len(str(self.target))
            head = f"{step:>{digits}}/{self.target} {self._bar(step, tty)}"
        if self.target is not None and not final:
            when = _format_eta(per_step * max(0, self.target - step))
        else:
            when = f"{now - self._start:.0f}s"
        return f"{head} {when} {format_time_per_step(per_step)}{_format_metrics(values)}"

    def update(self, step: int, values: Mapping[str, Any], *, finalize: bool = False) -> None:
        """Show that ``step`` batches are done, with the running means ``values``.

        ``finalize=True`` draws the epoch's final line (elapsed time) and ends it with a newline.
        """
        now = _now()
        per_step = self._step_duration(step, now)
        stream = self.stream
        tty = _isatty(stream)
        if not finalize and (not tty or now - self._last_draw < self.interval):
            return
        line = self._line(step, values, now, per_step, tty, finalize)
        if tty:
            visible = len(_ANSI.sub("", line))
            out = "\r" + line + " " * max(0, self._prev_width - visible)
            self._prev_width = 0 if finalize else visible
        else:
            out = line
        if finalize:
            out += "\n"
        stream.write(out)
        stream.flush()
        self._last_draw = now

    @staticmethod
    def epoch_header(epoch: int, epochs: int, stream: TextIO | None = None) -> None:
        """Write ``Epoch {epoch}/{epochs}`` on its own line; ``epoch`` is 1-based."""
        if epoch < 1:
            raise ValueError(f"epoch is 1-based, got {epoch}")
        out = stream if stream is not None else sys.stdout
        out.write(f"Epoch {epoch}/{epochs}\n")
        out.flush()

    format_epoch_line = staticmethod(format_epoch_line)
