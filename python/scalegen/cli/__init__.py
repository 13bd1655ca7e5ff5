"""The ``scalegen`` command: demo, bench, info."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scalegen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="run each model family's demonstration")
    p_demo.add_argument("--out", default="scalegen-demo", help="folder for what the demo writes")
    p_demo.add_argument("--n-samples", type=int, default=1_000_000, help="points in the GMM demo")
    sub.add_parser("info", help="version, compiler, OpenMP, SIMD level, threads")
    p_bench = sub.add_parser("bench", help="run the benchmarks of bench/ (from a source checkout)")
    p_bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the bench scripts")
    args = parser.parse_args(argv)

    if args.command == "info":
        from .. import show_config

        show_config()
        return 0
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(Path(args.out), n_samples=args.n_samples)
    bench_dir = Path.cwd() / "bench"
    scripts = sorted(bench_dir.glob("bench_*.py"))
    if not scripts:
        print("scalegen bench runs the scripts in ./bench: start it from a source checkout", file=sys.stderr)
        return 2
    rc = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        rc |= subprocess.call([sys.executable, str(script), *args.args])
    return rc
