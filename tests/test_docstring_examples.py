"""Every public function and class has an Examples section in its docstring, and every
example runs and prints what it shows (doctest, in a temporary folder)."""

from __future__ import annotations

import doctest
import importlib
import inspect
from pathlib import Path

import pytest

MODULES = [
    "scalegen",
    "scalegen.mixture",
    "scalegen.bayesnet",
    "scalegen.nn",
    "scalegen.nn.layers",
    "scalegen.nn.losses",
    "scalegen.nn.optimizers",
    "scalegen.nn.callbacks",
    "scalegen.distributed",
    "scalegen.datasets",
    "scalegen.metrics",
    "scalegen.privacy",
    "scalegen.exceptions",
]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def public_objects() -> dict[str, object]:
    """Each public class and function once, under the first public module that exports it."""
    found: dict[str, object] = {}
    seen: set[int] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")]):
            obj = getattr(module, attr)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            if not getattr(obj, "__module__", "").startswith("scalegen"):
                continue
            seen.add(id(obj))
            found[f"{name}.{attr}"] = obj
    return found


PUBLIC = public_objects()


def test_every_public_name_has_examples() -> None:
    missing = [name for name, obj in PUBLIC.items() if "Examples\n" not in (inspect.getdoc(obj) or "")]
    assert not missing, f"no Examples section: {missing}"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    obj = PUBLIC[name]
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
    examples = [t for t in tests if t.examples]
    assert examples, f"{name}: the Examples section has no >>> lines"
    runner = doctest.DocTestRunner(verbose=False, optionflags=FLAGS)
    for test in examples:
        runner.run(test, out=lambda text: pytest.fail(text, pytrace=False))
