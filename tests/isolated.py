"""Runs untrusted-input cases in a child process under a memory limit, so that a crash, a
hang or a memory blow-up fails the test instead of killing pytest.

``run_cases("fuzz_targets_nn:load_sgnn", cases)`` pickles the cases to a child
(``fuzz_worker.py``) that calls the target on each in turn under ``RLIMIT_AS`` (3 GiB)
and a per-case alarm (30 s), and returns what each call gave: ``("ok", repr)`` or
``("error", type name, message)``. A child that dies, hangs or raises an exception type
other than the documented ones makes the test fail, naming the case.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

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


# Values a numeric parameter is fuzzed with: NaN, infinities, the ends of float64, huge
# integers, wrong types, complex numbers and numpy scalars.
ODD = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0, 0.0, -1, 1, 2, 2**31, 2**63, 10**30,
       True, None, "1", 1 + 1j, np.float64("nan"), np.int64(3), np.float32(1e38)]  # fmt: skip
odd_values = st.one_of(
    st.sampled_from(ODD),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
)


@contextmanager
def peak_memory(limit: int) -> Iterator[None]:
    """Fails if the block allocates more than `limit` bytes at once (Python and NumPy)."""
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < limit, f"peak allocation {peak} bytes"


TALLY: Counter[str] = Counter()  # outcomes of run_batch over the session, printed with -s


def run_batch(target: str, bases: list[Any], cases: list[Any]) -> list[Any]:
    """run_cases on the unchanged inputs first (they must succeed), then the others; the
    outcomes are counted in TALLY by target and exception type."""
    results = run_cases(target, [*bases, *cases])
    assert all(r[0] == "ok" for r in results[: len(bases)]), results[: len(bases)]
    name = target.split(":")[1]
    TALLY.update(f"{name} {r[0] if r[0] == 'ok' else r[2].split(':')[0]}" for r in results)
    return results
