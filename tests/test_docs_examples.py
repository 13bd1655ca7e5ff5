"""The user guide's code blocks run as written (in a temporary folder), each page's blocks
in order in one namespace, as a reader would run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.rst"))


def code_blocks(page: Path) -> list[str]:
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", page.read_text())
    return ["\n".join(line[3:] for line in block.splitlines()) for block in blocks]


def test_every_page_is_collected() -> None:
    assert {p.stem for p in PAGES} >= {"mixtures", "bayesnet", "deep", "evaluation"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_guide_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, code in enumerate(code_blocks(page)):
        exec(compile(code, f"{page.name} block {i + 1}", "exec"), namespace)
