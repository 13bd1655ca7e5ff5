"""Every python block of the README runs as written, on its own, in an empty folder, and
without warnings: the README cannot drift from the API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def first_line(block: str) -> str:
    return next(line for line in block.splitlines() if line.strip())[:40]


def test_readme_has_the_blocks() -> None:
    assert len(BLOCKS) >= 6, "the README's python blocks were not found"


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_readme_block_runs(block: str, tmp_path: Path) -> None:
    on_dask = "LocalCluster" in block
    if on_dask:
        pytest.importorskip("distributed")
        pytest.importorskip("dask.dataframe")
    script = tmp_path / "block.py"
    script.write_text(block)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert done.returncode == 0, f"{first_line(block)!r}:\n{done.stderr[-3000:]}"
    if on_dask:  # the CNN trained for three epochs, applied on the workers
        assert float(done.stdout.strip().splitlines()[-1]) > 0.8
    else:
        assert "Warning" not in done.stderr, done.stderr[-3000:]
