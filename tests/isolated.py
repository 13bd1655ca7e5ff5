"""Runs untrusted-input cases in a child process under a memory limit, so that a crash, a
hang or a memory blow-up fails the test instead of killing pytest.

``run_cases("fuzz_targets_nn:load_sgnn", cases)`` pickles the cases to a child
(``fuzz_worker.py``) that calls the target on each in turn under ``RLIMIT_AS`` (3 GiB)
and a per-case alarm (30 s), and returns what each call gave: ``("ok", repr)`` or
``("error", type name, message)``. A child that dies, hangs or raises an exception type
other than the documented ones makes the test fail, naming the case.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MEMORY_LIMIT = 3 << 30
CASE_SECONDS = 30
DOCUMENTED = ("ValueError", "TypeError")  # LimitError, CorruptModelError and ParseError are ValueErrors


def run_cases(
    target: str, cases: list[Any], *, memory: int = MEMORY_LIMIT, seconds: int = CASE_SECONDS
) -> list:
    """Results of target(case) for each case, computed in one child process."""
    payload = pickle.dumps((target, cases, memory, seconds))
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("SCALEGEN_NUM_THREADS", "2")
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_worker.py")],
        input=payload,
        capture_output=True,
        env=env,
        timeout=seconds * len(cases) + 120,
    )
    lines = proc.stdout.decode(errors="replace").splitlines()
    started = [line for line in lines if line.startswith("CASE ")]
    if proc.returncode != 0:
        last = int(started[-1].split()[1]) if started else -1
        case = cases[last] if 0 <= last < len(cases) else None
        raise AssertionError(
            f"{target}: the child process ended with code {proc.returncode} on case {last}: {case!r:.2000}\n"
            f"stderr:\n{proc.stderr.decode(errors='replace')[-4000:]}"
        )
    results = pickle.loads(proc.stdout[proc.stdout.index(b"RESULTS\n") + len(b"RESULTS\n") :])
    for i, r in enumerate(results):
        if r[0] == "error" and r[1] not in DOCUMENTED:
            raise AssertionError(f"{target}: case {i} raised {r[1]}: {r[2]}\ncase: {cases[i]!r:.2000}")
    return results
