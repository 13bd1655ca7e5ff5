"""Sphinx configuration: the API reference from the installed package's docstrings, the
gallery from examples/ (run at build time) and the benchmark tables from
bench/results/*.json (written into generated/ at build time)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import scalegen

project = "scalegen"
release = version = scalegen.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
# Attributes sections as fields: autodoc already lists NamedTuple fields and properties, and
# attribute directives would describe them twice
napoleon_use_ivar = True
html_theme = "furo"
html_title = f"scalegen {release}"
exclude_patterns = ["_build"]

# The gallery: examples/plot_*.py run at build time (small sizes: the whole gallery takes
# under a minute), each page with its code, output and figure.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
}

# Links into NumPy's, scikit-learn's, pandas' and pgmpy's docs need their inventories from
# the internet: on with SCALEGEN_DOCS_INTERSPHINX=1 (the development machines have none).
if os.environ.get("SCALEGEN_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "numpy": ("https://numpy.org/doc/stable/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
        "pandas": ("https://pandas.pydata.org/docs/", None),
        "pgmpy": ("https://pgmpy.org/", None),
        "onnxruntime": ("https://onnxruntime.ai/docs/api/python/", None),
    }

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")


def _date(path: Path) -> str:
    """The day the results were last committed (empty outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%cs", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return ""
    return out.stdout.strip()


def _table(rows: list[dict]) -> list[str]:
    """A list-table of the rows' scalar fields (nested per-sample lists left out)."""
    columns: list[str] = []
    for row in rows:
        for key, value in row.items():
            if not isinstance(value, list | dict) and key not in columns:
                columns.append(key)
    lines = [".. list-table::", "   :header-rows: 1", ""]
    lines.append("   * - " + "\n     - ".join(columns))
    for row in rows:
        lines.append("   * - " + "\n     - ".join(_cell(row.get(c, "")) for c in columns))
    return lines


def write_benchmarks(app: object) -> None:
    """generated/benchmarks.rst: one section per bench/results/<name>.json, with the command
    that wrote it and the machine it ran on, so the docs and the README share one source."""
    out = [
        "Benchmarks",
        "==========",
        "",
        "Every table below is ``bench/results/<name>.json`` as the "
        "bench wrote it; ``make bench`` runs them all. The README summarises them.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        rows = data.get("rows") if isinstance(data, dict) else None
        if not rows or not isinstance(rows, list):
            continue
        title = path.stem
        out += [title, "-" * len(title), ""]
        out += [f"``python bench/bench_{path.stem}.py --json bench/results/{path.name}``", ""]
        config = data.get("config", {})
        if isinstance(config, dict) and config:
            facts = ", ".join(f"{k}: {v}" for k, v in config.items() if not isinstance(v, list | dict))
            out += [f"Machine and build: {facts}.", ""]
        committed = _date(path)
        if committed:
            out += [f"Results committed on {committed}.", ""]
        out += [*_table([r for r in rows if isinstance(r, dict)]), ""]
    target = Path(__file__).resolve().parent / "generated" / "benchmarks.rst"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(out) + "\n")


def setup(app: object) -> None:
    app.connect("builder-inited", write_benchmarks)  # type: ignore[attr-defined]
