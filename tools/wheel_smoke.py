"""Installs a built wheel into a fresh virtual environment, binary packages only (so no
compiler can be used), and runs a small fit of each family there, outside the source tree.
Prints the wheel's size, the install time and the smoke test's time, then installs the
extras the README's first example imports and runs that example. With --installed,
only the smoke test, in this interpreter (cibuildwheel has installed the wheel there).

    python tools/wheel_smoke.py dist/scalegen-*.whl [--max-mb 40]
    python tools/wheel_smoke.py --installed
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

SMOKE = """
import time
t0 = time.perf_counter()
import numpy as np
import pandas as pd
import scalegen
scalegen.show_config()
from scalegen.mixture import GaussianMixture
X = np.random.default_rng(0).normal(size=(500, 3))
assert GaussianMixture(2, random_state=0).fit(X).converged_
from scalegen.bayesnet import BayesianNetwork, HillClimbSearch
truth = BayesianNetwork([("a", "b"), ("b", "c")], states={v: ["no", "yes"] for v in "abc"})
rng = np.random.default_rng(1)
a = rng.random(2000) < 0.3
b = np.where(a, rng.random(2000) < 0.9, rng.random(2000) < 0.2)
c = np.where(b, rng.random(2000) < 0.8, rng.random(2000) < 0.1)
data = pd.DataFrame({k: np.where(v, "yes", "no") for k, v in zip("abc", (a, b, c))})
learned = HillClimbSearch().fit(data).model_.fit(data)
assert learned.sample(10, random_state=0).shape == (10, 3)
from scalegen.nn import Sequential
from scalegen.nn.layers import Dense
model = Sequential([Dense(8, activation="relu", input_shape=(3,)), Dense(1)], seed=0)
model.compile("adam", "mse")
model.fit(X, X[:, :1], epochs=2, batch_size=64, verbose=0)
print(f"smoke test passed in {time.perf_counter() - t0:.1f} s (level {scalegen._core.LEVEL})")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, nargs="?")
    parser.add_argument("--max-mb", type=float, default=40.0, help="fail above this wheel size")
    parser.add_argument("--installed", action="store_true", help="test the scalegen this Python has")
    args = parser.parse_args()
    if args.installed:
        with tempfile.TemporaryDirectory() as tmp:  # not the source tree's scalegen
            subprocess.run([sys.executable, "-c", SMOKE], check=True, cwd=tmp)
        return
    if args.wheel is None:
        parser.error("give the wheel, or --installed")
    wheel = args.wheel.resolve()
    size_mb = wheel.stat().st_size / 2**20
    print(f"{wheel.name}: {size_mb:.1f} MiB")
    if size_mb > args.max_mb:
        sys.exit(f"the wheel is larger than {args.max_mb} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        env_dir = Path(tmp) / "env"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        t0 = time.perf_counter()
        pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "--only-binary=:all:", wheel], check=True)
        print(f"installed in {time.perf_counter() - t0:.1f} s (binary packages only)")
        subprocess.run([python, "-c", SMOKE], check=True, cwd=tmp)
        # what a new user does next: the README's first example, with the extras it imports
        t0 = time.perf_counter()
        subprocess.run([*pip, "--only-binary=:all:", f"{wheel}[onnx,datasets]"], check=True)
        print(f"extras onnx and datasets installed in {time.perf_counter() - t0:.1f} s")
        readme = Path(__file__).resolve().parent.parent / "README.md"
        first = re.search(r"```python\n(.*?)```", readme.read_text(), re.S)
        assert first, "the README has no python block"
        t0 = time.perf_counter()
        subprocess.run([python, "-c", first.group(1)], check=True, cwd=tmp, stdout=subprocess.DEVNULL)
        print(f"the README's first example ran in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
