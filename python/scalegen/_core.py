"""Loads the compiled core built for the best instruction-set level this CPU runs.

The package ships one build of the core per level (``_core_baseline``, ``_core_v3`` with
AVX2/FMA, ``_core_v4`` with AVX-512). ``SCALEGEN_ISA=baseline|v3|v4`` forces a level, for
example to compare levels or to run below what the CPU offers.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from . import _cpuinfo

LEVELS = ("v4", "v3", "baseline")
ENV_VAR = "SCALEGEN_ISA"


def built_levels() -> list[str]:
    """Levels whose module is installed, best first."""
    return [lvl for lvl in LEVELS if importlib.util.find_spec(f"scalegen._core_{lvl}") is not None]


def _choose_level() -> str:
    built = built_levels()
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced:
        if forced not in LEVELS:
            raise ImportError(f"{ENV_VAR}={forced!r} is not a level: use one of {', '.join(LEVELS)}")
        if forced not in built:
            raise ImportError(f"{ENV_VAR}={forced!r}: this install has only {', '.join(built)}")
        if not _cpuinfo.supports(forced):
            raise ImportError(f"{ENV_VAR}={forced!r}: this CPU cannot run that level")
        return forced
    for level in built:
        if _cpuinfo.supports(level):
            return level
    raise ImportError("no build of scalegen's core can run on this CPU")


LEVEL: str = _choose_level()
_module = importlib.import_module(f"scalegen._core_{LEVEL}")
globals().update({name: getattr(_module, name) for name in dir(_module) if not name.startswith("__")})
