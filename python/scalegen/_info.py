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
    """Print how this scalegen was built and how it runs here, for bug reports.

    The lines give the version with the Python version and machine; the instruction-set
    level of the C++ kernels picked at import and the levels built (x86_64 builds three,
    other machines the baseline only; ``SCALEGEN_ISA`` forces a lower one); the SIMD
    extensions of that level; the compiler, OpenMP and Eigen versions; and the default
    thread count with the cores this process may use.

    Parameters
    ----------
    file : text stream, optional
        Where to write; None (the default) writes to ``sys.stdout``.

    Examples
    --------
    The values depend on the machine and the build:

    >>> import scalegen
    >>> scalegen.show_config()
    scalegen ... (Python ..., ...)
      instruction set : ... (built: ...)
      SIMD            : ...
      compiler        : ...
      OpenMP          : ...
      Eigen           : ...
      threads         : ... (cores available: ...)
    >>> import io
    >>> text = io.StringIO()
    >>> scalegen.show_config(file=text)
    >>> len(text.getvalue().splitlines())
    7
    """
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
