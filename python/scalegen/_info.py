"""show_config(): what was built, what was picked at import, how many threads run."""

from __future__ import annotations

import platform
import sys
from typing import Any, TextIO

from . import _config, _core


def config() -> dict[str, Any]:
    """The facts show_config prints, as a dict."""
    from . import __version__

    info = dict(_core.build_info())
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "isa_level": _core.LEVEL,
        "isa_levels_built": _core.built_levels(),
        "compiler": info["compiler"],
        "openmp": info["openmp"],
        "simd": info["simd"],
        "eigen": info["eigen"],
        "num_threads": _config.get_num_threads(),
        "available_cpus": _config.available_cpus(),
    }


def show_config(file: TextIO | None = None) -> None:
    """Print scalegen's version, the machine (x86_64 builds three instruction-set levels,
    other machines the baseline only), compiler, OpenMP, SIMD level picked, Eigen and threads."""
    c = config()
    out = file or sys.stdout
    lines = [
        f"scalegen {c['version']} (Python {c['python']}, {c['machine']})",
        f"  instruction set : {c['isa_level']} (built: {', '.join(c['isa_levels_built'])}; "
        f"force a lower one with SCALEGEN_ISA=...)",
        f"  SIMD            : {' '.join(c['simd']) or 'none'}",
        f"  compiler        : {c['compiler']}",
        f"  OpenMP          : {c['openmp']}",
        f"  Eigen           : {c['eigen']}",
        f"  threads         : {c['num_threads']} (cores available: {c['available_cpus']})",
    ]
    print("\n".join(lines), file=out)
