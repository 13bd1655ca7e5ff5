"""Inference of the seed's CNN: scalegen, onnxruntime and PyTorch with the same weights.

The seed's CNN (28x28x1 -> Conv32 3x3 relu -> MaxPool 2 -> Conv64 3x3 relu -> MaxPool 2 ->
Flatten -> Dense128 relu -> Dense10 softmax) with one set of weights, run by
  - scalegen: ``model.predict(x, batch_size=len(x))`` (channels-last input);
  - onnxruntime: the model's ``to_onnx()`` export, CPU provider, intra_op_num_threads=2,
    inter_op 1, NCHW input;
  - PyTorch: the same network in eval mode under ``torch.inference_mode()``, 2 threads.
Batch-1 latency: median and 99th percentile of --calls single-image calls (after a
warm-up); batch-256 throughput: images/s, the median of --repeat calls. The three take
turns in 5 rounds (so a busy machine slows them alike), each turn starting with an untimed
call (onnxruntime's and OpenMP's threads spin for a while after their work). Outputs are
compared too.

    python bench/bench_inference.py [--calls 2000] [--repeat 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

import scalegen
from bench_nn import seed_cnn, synthetic_mnist, torch_twin


def runners(threads: int) -> tuple[dict[str, Any], Any]:
    import onnxruntime as ort
    import torch

    torch.set_num_threads(threads)
    model = seed_cnn(0, threads)
    x, y = synthetic_mnist(2048, seed=1)
    model.fit(x, y, epochs=1, verbose=0)  # trained weights, not the initial ones
    net = torch_twin(model).eval()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.to_onnx().SerializeToString(), options, providers=["CPUExecutionProvider"]
    )

    def ours(batch: np.ndarray) -> np.ndarray:
        return model.predict(batch, batch_size=len(batch))

    def onnxruntime(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {"input": batch.transpose(0, 3, 1, 2)})[0]

    def pytorch(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(net(torch.from_numpy(batch.transpose(0, 3, 1, 2))), dim=1).numpy()

    return {"scalegen": ours, "onnxruntime": onnxruntime, "pytorch": pytorch}, x


def timings(run: dict[str, Any], batches: list[np.ndarray], rounds: int = 5) -> dict[str, list[float]]:
    """Per-call seconds. The runtimes take turns in rounds of consecutive calls: per-call
    alternation would time each one while the previous one's threads still spin."""
    out: dict[str, list[float]] = {name: [] for name in run}
    per_round = max(1, len(batches) // rounds)
    for start in range(0, len(batches), per_round):
        for name, fn in run.items():
            fn(batches[start])  # one untimed call after the other runtimes' turn
            for batch in batches[start : start + per_round]:
                t0 = time.perf_counter()
                fn(batch)
                out[name].append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import onnxruntime as ort
    import torch

    cfg = scalegen._info.config()
    print(
        f"scalegen {scalegen.__version__} ({cfg['isa_level']}) vs onnxruntime {ort.__version__} "
        f"and PyTorch {torch.__version__}, {args.threads} threads each"
    )
    run, x = runners(args.threads)
    images = np.ascontiguousarray(x[:256])
    outputs = {name: fn(images) for name, fn in run.items()}
    diffs = {name: float(np.abs(out - outputs["scalegen"]).max()) for name, out in outputs.items()}
    for fn in run.values():  # warm-up
        for i in range(50):
            fn(x[i : i + 1])
    single = timings(run, [x[i % len(x) : i % len(x) + 1] for i in range(args.calls)])
    bulk = timings(run, [images] * args.repeat)
    rows = []
    print(f"{'':12} {'batch 1 median us':>18} {'p99 us':>8} {'batch 256 images/s':>19} {'max diff':>9}")
    for name in run:
        lat = sorted(single[name])
        row = {
            "name": name,
            "batch1_median_us": 1e6 * statistics.median(lat),
            "batch1_p99_us": 1e6 * lat[int(0.99 * (len(lat) - 1))],
            "batch256_images_per_s": 256 / statistics.median(bulk[name]),
            "max_abs_diff_vs_scalegen": diffs[name],
        }
        rows.append(row)
        print(
            f"{name:12} {row['batch1_median_us']:>18.1f} {row['batch1_p99_us']:>8.1f} "
            f"{row['batch256_images_per_s']:>19.0f} {row['max_abs_diff_vs_scalegen']:>9.1e}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "args": vars(args), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
