"""Networks read from BIF files (the parser is _bif; this builds the model from its result)."""

from __future__ import annotations

import os

from . import _bif
from ._cpd import TabularCPD
from ._model import BayesianNetwork


def from_bif(net: _bif.BifNetwork) -> BayesianNetwork:
    """A network with the tables of a parsed BIF file."""
    edges = [(p, v) for v in net.states for p in net.parents[v]]
    model = BayesianNetwork(edges, nodes=list(net.states), states=dict(net.states.items()))
    # the parser checked the tables (shape, finite, non-negative): shared, not copied, so
    # that a file within the limits takes memory for its tables once
    model.add_cpds(
        *(
            TabularCPD._trusted(
                v, net.values[v], list(net.parents[v]), {u: list(net.states[u]) for u in [v, *net.parents[v]]}
            )
            for v in net.states
        )
    )
    model.name = net.name
    return model


def read_bif(path: str | os.PathLike[str]) -> BayesianNetwork:
    """Read a network from a BIF file, the format of pgmpy's and bnlearn's networks.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip compression is detected from its first bytes, whatever its name.
        Text is read as UTF-8 (latin-1 when it is not).

    Returns
    -------
    BayesianNetwork
        The variables in the order of the file, each with its states and table; ``name``
        is the file's network name. Column sums are not checked (``check_model`` does).

    Raises
    ------
    BifSyntaxError
        If the text is not valid BIF (with the line and column), declares no variable,
        misses a table or row, has a negative or non-finite probability, or a cycle.
    LimitError
        If the tables, or the gzip data once expanded, are above scalegen's limits.
    OSError
        If the file cannot be read; ``ValueError`` for broken gzip data.

    Examples
    --------
    >>> from scalegen.bayesnet import read_bif
    >>> with open("coin.bif", "w") as f:
    ...     _ = f.write('''
    ... network coin { }
    ... variable toss { type discrete [ 2 ] { heads, tails }; }
    ... variable call { type discrete [ 2 ] { right, wrong }; }
    ... probability ( toss ) { table 0.5, 0.5; }
    ... probability ( call | toss ) { (heads) 0.7, 0.3; (tails) 0.4, 0.6; }
    ... ''')
    >>> net = read_bif("coin.bif")
    >>> net.name, net.edges, net.states["call"]
    ('coin', [('toss', 'call')], ['right', 'wrong'])
    >>> net.cpd("call").values[:, 1].tolist()  # P(call | toss=tails)
    [0.4, 0.6]
    """
    return from_bif(_bif.read_bif(path))
