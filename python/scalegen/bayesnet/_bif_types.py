"""The values the BIF reader and writer exchange: a parsed network and the syntax error."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class BifSyntaxError(ValueError):
    """A BIF text that cannot be read, located as ``source:line:column: reason``.

    Raised by ``read_bif`` (and ``scalegen.datasets.load_network``); a ``ValueError``.
    The parts of the message are kept as the attributes ``source`` (the file name),
    ``line`` and ``column`` (from 1) and ``reason``.

    Examples
    --------
    A table whose probabilities do not end with ``;``:

    >>> from scalegen.bayesnet import BifSyntaxError, read_bif
    >>> text = "variable rain { type discrete [ 2 ] { yes, no }; }"
    >>> text += " probability ( rain ) { table 0.2, 0.8 }"
    >>> with open("broken.bif", "w") as f:
    ...     _ = f.write(text)
    >>> try:
    ...     read_bif("broken.bif")
    ... except BifSyntaxError as err:
    ...     print(err)
    ...     print(err.line, err.column)
    broken.bif:1:90: expected ',' or ';' after a probability, found '}'
    1 90
    """

    def __init__(self, source: str, line: int, column: int, reason: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {reason}")
        self.source = source
        self.line = line
        self.column = column
        self.reason = reason

    def __reduce__(self) -> tuple[type[BifSyntaxError], tuple[str, int, int, str]]:
        return type(self), (self.source, self.line, self.column, self.reason)


@dataclass(eq=False)
class BifNetwork:
    """A discrete Bayesian network as written in a BIF file.

    ``values[x]`` has pgmpy's ``TabularCPD`` layout: shape ``(card(x), card(p1), card(p2), ...)``
    for ``parents[x] == [p1, p2, ...]``, and ``values[x][s, i, j] = P(x=s | p1=i, p2=j)``.
    ``properties`` maps a variable (or :data:`NETWORK_PROPERTIES`) to its ``property`` lines;
    only blocks that have some are present.  Equality is exact: same order of variables,
    states and parents, and bitwise-identical float64 values.
    """

    name: str
    states: dict[str, list[str]]
    parents: dict[str, list[str]]
    values: dict[str, np.ndarray]
    properties: dict[str, list[str]] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BifNetwork):
            return NotImplemented
        return (
            self.name == other.name
            and list(self.states.items()) == list(other.states.items())
            and list(self.parents.items()) == list(other.parents.items())
            and self.properties == other.properties
            and list(self.values) == list(other.values)
            and all(_same_array(a, other.values[k]) for k, a in self.values.items())
        )

    def __repr__(self) -> str:
        return f"BifNetwork(name={self.name!r}, {len(self.states)} variables)"


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
