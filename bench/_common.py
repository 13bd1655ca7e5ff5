"""Helpers shared by the Bayesian-network benches (run as scripts from this folder)."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any


def timed(fn, repeat: int):  # type: ignore[no-untyped-def]
    """(median seconds of `repeat` calls, the last call's result)."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def pgmpy_examples() -> Path:
    """The folder of BIF networks shipped in pgmpy's wheel."""
    import pgmpy

    return Path(pgmpy.__file__).parent / "utils" / "example_models"


def versions_line(cfg: dict[str, Any]) -> str:
    """scalegen's build and the peers' versions, for the first line of a bench's output."""
    import pgmpy
    import pyagrum

    return (
        f"scalegen {cfg['version']} ({cfg['isa_level']}, {cfg['num_threads']} threads)"
        f" vs pgmpy {pgmpy.__version__} and pyAgrum {pyagrum.__version__}"
    )


def write_json(path: str | None, cfg: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    if not path:
        return
    import pgmpy
    import pyagrum

    with open(path, "w") as f:
        json.dump(
            {"config": cfg, "pgmpy": pgmpy.__version__, "pyagrum": pyagrum.__version__, "rows": rows},
            f,
            indent=2,
        )
