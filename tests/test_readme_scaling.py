"""The README's "Scaling out" example runs as written (a local cluster of two processes)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")
pytest.importorskip("sklearn")

README = Path(__file__).resolve().parents[1] / "README.md"


def scaling_example() -> str:
    text = README.read_text()
    section = text[text.index("## Scaling out") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the Scaling out section has no python block"
    return match.group(1)


def test_scaling_out_example_runs(tmp_path):
    script = tmp_path / "scaling_out.py"
    script.write_text(scaling_example())
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(done.stdout.strip().splitlines()[-1])
    assert accuracy > 0.8  # the CNN trained for three epochs, applied on the workers
