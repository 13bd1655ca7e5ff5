"""Fuzz targets for the Bayesian networks, run by ``isolated.run_cases`` in a child process,
and the builders of the cases test_hardening_bayesnet.py mutates.

Each target takes one case, runs a public entry point on it and returns a small summary; a
refused case raises a ValueError or a TypeError (LimitError, BifSyntaxError and
InvalidParameterError are ValueErrors). A result that is not valid (a table with NaN, an
estimate outside [0, 1]) raises an AssertionError, which fails the fuzz test.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import re
import tempfile
from typing import Any

import numpy as np

BOMB = 2_100_000_000  # bytes the gzip bomb expands to, from about 2 MB
BLOCK = 1 << 24


# ---- the networks the cases start from -------------------------------------------------------
@functools.cache
def base_texts() -> dict[str, str]:
    """BIF text of asia (bundled with scalegen) and alarm (pgmpy's copy when it is installed,
    else scalegen's)."""
    from importlib import resources

    data = resources.files("scalegen.datasets") / "data"
    texts = {
        "asia": (data / "asia.bif").read_text(),
        "alarm": gzip.decompress((data / "alarm.bif.gz").read_bytes()).decode(),
    }
    try:
        import importlib.util

        spec = importlib.util.find_spec("pgmpy")
        if spec is not None and spec.origin is not None:
            path = os.path.join(os.path.dirname(spec.origin), "utils", "example_models", "alarm.bif.gz")
            with open(path, "rb") as f:
                texts["alarm"] = gzip.decompress(f.read()).decode()
    except OSError:
        pass
    return texts


_ROW_RE = re.compile(r"^\s*\([^)\n]*\)[^;\n]*;[ \t]*\n?", re.MULTILINE)
_NUMBER_RE = re.compile(r"(?<![\w.])\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")


def mutate_text(text: str, ops: list[tuple[str, int, Any]]) -> str:
    """Byte flips, insertions (of huge numbers, BIF words), rows turned into ``default`` rows,
    probabilities replaced, variables given many states, deletions and truncations; positions
    are taken modulo the length."""
    for kind, at, arg in ops:
        if not text:
            break
        i = at % len(text)
        if kind == "flip":
            b = bytearray(text.encode("utf-8", "surrogatepass"))
            b[i % len(b)] ^= arg or 1
            text = b.decode("latin-1")
        elif kind == "insert":
            text = text[:i] + str(arg) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + arg :]
        elif kind == "truncate":
            text = text[:i]
        elif kind == "default":
            # the rows after position i (arg of them, in one block) become a 'default' row
            # holding the first one's numbers: a valid file, read through the default path
            rows = [m for m in _ROW_RE.finditer(text) if m.start() >= i] or list(_ROW_RE.finditer(text))
            if not rows:
                continue
            block = text.rfind("probability", 0, rows[0].start())
            same = [m for m in rows if text.rfind("probability", 0, m.start()) == block][: max(1, int(arg))]
            keep = [text[m.start() : m.end()] for m in same]
            for m in reversed(same):
                text = text[: m.start()] + text[m.end() :]
            at = same[0].start()
            text = text[:at] + " default " + keep[0].split(")", 1)[1].strip() + "\n" + text[at:]
        elif kind == "number":
            # the probability after position i replaced (a huge, tiny or malformed number)
            m = _NUMBER_RE.search(text, i) or _NUMBER_RE.search(text)
            if m is not None:
                text = text[: m.start()] + str(arg) + text[m.end() :]
        elif kind == "states":
            # many more states for the variable declared after position i: its children's
            # tables (with a default row) grow by that factor
            decl = text.find("type discrete", i)
            if decl < 0:
                decl = text.find("type discrete")
            if decl < 0:
                continue
            end = text.find(";", decl)
            n = max(1, int(arg))
            text = (
                text[:decl]
                + f"type discrete [ {n} ] {{ {', '.join(f's{k}' for k in range(n))} }}"
                + text[end:]
            )
    return text


def bomb_bif_gz() -> bytes:
    """A gzip stream (concatenated members) of a BIF header, then BOMB bytes of spaces."""
    header = gzip.compress(b"network bomb {\n}\n", 9)
    block = gzip.compress(b" " * BLOCK, 9)
    return header + block * (BOMB // BLOCK)


def default_bomb(n_parents: int = 8, states: int = 16, children: int = 1) -> str:
    """A short BIF text: `children` variables, each with one ``default`` row and the same
    `n_parents` parents, so each declares a table of states ** (n_parents + 1) cells."""
    names = ", ".join(f"s{k}" for k in range(states))
    kids = [f"x{c}" for c in range(children)]
    out = ["network bomb {\n}\n"]
    for v in (*kids, *(f"p{k}" for k in range(n_parents))):
        out.append(f"variable {v} {{\n  type discrete [ {states} ] {{ {names} }};\n}}\n")
    row = ", ".join([repr(1 / states)] * states)
    for k in range(n_parents):
        out.append(f"probability ( p{k} ) {{\n  table {row};\n}}\n")
    parents = ", ".join(f"p{k}" for k in range(n_parents))
    out.extend(f"probability ( {x} | {parents} ) {{\n  default {row};\n}}\n" for x in kids)
    return "".join(out)


# ---- targets ----------------------------------------------------------------------------------
def _summary(model: Any) -> tuple[int, int, int]:
    cells = sum(cpd.values.size for cpd in model.cpds)
    assert all(np.isfinite(cpd.values).all() and (cpd.values >= 0).all() for cpd in model.cpds)
    if cells <= 1 << 16:  # a model read back must be usable: check_model, sampling, scoring
        try:
            model.check_model()
        except ValueError:
            return (len(model.nodes), len(model.edges), -cells)
        rows = model.sample(5, random_state=0)
        assert not np.isnan(model.score_samples(rows)).any()
    return (len(model.nodes), len(model.edges), cells)


def read_bif_bytes(data: bytes) -> Any:
    """read_bif of a file holding `data` (plain or gzip, detected from its first bytes)."""
    from scalegen.bayesnet import read_bif

    fd, path = tempfile.mkstemp(suffix=".bif")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        model = read_bif(path)
    finally:
        os.unlink(path)
    return _summary(model)


def read_bif_text(case: tuple[str, bool]) -> Any:
    """read_bif of a file of BIF text, gzip-compressed when case[1] is true."""
    data = case[0].encode("utf-8", "surrogatepass")
    return read_bif_bytes(gzip.compress(data, 1) if case[1] else data)


@functools.cache
def _asia() -> tuple[Any, Any]:
    from scalegen.datasets import load_network

    model = load_network("asia")
    return model, model.sample(300, random_state=1)


ENTRY_POINTS = ("fit", "hill_climb", "tree", "score", "sample", "approx", "cpd", "limits")


def bn_float_params(case: tuple[str, dict[str, Any]]) -> Any:
    """One public entry point with the parameters of `case` (the others at their defaults,
    max_iter at 300 so that a tabu search ends soon) on a 300-row sample of asia."""
    from scalegen.bayesnet import (
        ApproximateInference,
        BayesianNetwork,
        HillClimbSearch,
        TabularCPD,
        TreeSearch,
        structure_score,
    )

    entry, params = case
    model, data = _asia()
    if entry == "fit":
        fitted = BayesianNetwork(model.edges, model.nodes, model.states).fit(data, **params)
        assert fitted.check_model()
        return _summary(fitted)
    if entry == "hill_climb":
        hc = HillClimbSearch(**{"max_iter": 300, **params}).fit(data)
        assert math.isfinite(hc.score_) and hc.n_iter_ <= hc.max_iter
        return (len(hc.edges_), hc.n_iter_)
    if entry == "tree":
        return len(TreeSearch(**params).fit(data).edges_)
    if entry == "score":
        value = structure_score(model, data, **params)
        assert math.isfinite(value)
        return value
    if entry == "sample":
        return model.sample(**params).shape
    if entry == "approx":
        out = ApproximateInference(model).query(["lung", "tub"], {"dysp": "yes"}, **params)
        p = out["probability"].to_numpy()
        assert ((p >= 0) & (p <= 1)).all() and np.allclose(out.groupby(level=0)["probability"].sum(), 1)
        return out.shape
    if entry == "cpd":
        cpd = TabularCPD("x", params["values"])
        assert np.isfinite(cpd.values).all() and (cpd.values >= 0).all()
        return cpd.values.shape
    if entry == "limits":  # a fitted model of any size is checked against the limits first
        import scalegen

        with scalegen.limits(**params):
            return _summary(BayesianNetwork(model.edges, model.nodes, model.states).fit(data))
    raise AssertionError(f"unknown entry point {entry!r}")
