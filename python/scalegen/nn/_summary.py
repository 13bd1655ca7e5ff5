"""Keras' model summary: a table of the layers' names, types, output shapes and parameter
counts, then the totals in parameters and float32 bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._model import Sequential


def summary_lines(model: Sequential) -> list[str]:
    rows = [("Layer (type)", "Output Shape", "Param #")]
    for i, layer in enumerate(model.layers):
        shape = str((None, *model._output_shapes[i])) if model.built else "?"
        params = f"{layer.count_params():,}" if model.built else "?"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))
    widths = [max(len(r[k]) for r in rows) + 2 for k in range(3)]
    rule = "─" * sum(widths)
    lines = [f'Model: "{model.name}"', rule]
    for j, (a, b, c) in enumerate(rows):
        lines.append(a.ljust(widths[0]) + b.ljust(widths[1]) + c.rjust(widths[2]))
        lines.append("═" * sum(widths) if j == 0 else rule)
    if not model.built:
        return [*lines, " (not built: the parameter counts need the input shape)"]
    trainable = sum(w.size for layer in model.layers if model.trainable for w in layer.trainable_weights)
    frozen = int(model._net.get_params().size + model._net.get_state().size) - trainable
    for label, count in (
        ("Total params", trainable + frozen),
        ("Trainable params", trainable),
        ("Non-trainable params", frozen),
    ):
        lines.append(f" {label}: {count:,} ({_size(4 * count)})")
    return lines


def _size(n_bytes: int) -> str:
    value = float(n_bytes)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} GB"
