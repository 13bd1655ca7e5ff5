"""Training the seed's CNN: scalegen.nn against PyTorch on the CPU, same data, same run.

The architecture of the seed article (28x28x1 -> Conv32 3x3 relu -> MaxPool 2 -> Conv64 3x3
relu -> MaxPool 2 -> Flatten -> Dense128 relu -> Dense10 softmax), Adam (lr 1e-3, eps 1e-7 in
both), sparse categorical cross-entropy, on synthetic MNIST-shaped data (class-dependent
blobs plus noise, so both actually learn). Both start from the same weights; PyTorch gets the
images in NCHW once, before timing, and trains with the usual loop (zero_grad, forward,
cross_entropy on the logits, backward, step) over shuffled index batches; scalegen runs
``model.fit(..., epochs=1)``. Both use the same number of threads (torch.set_num_threads).
scalegen's kernels flush subnormal floats to zero; PyTorch does not by default, which slows
it as the loss falls and gradients get tiny, so it runs twice: as it comes, and with
torch.set_flush_denormal(True) ("FTZ"), the fairest comparison of the kernels.
Reported: training samples/s, the median of --repeat epochs (alternating, after a warm-up),
the ratios scalegen / PyTorch, and each one's mean loss over its last epoch (they should agree).

    python bench/bench_nn.py [--samples 8192] [--repeat 5] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

import scalegen
from scalegen.nn import Sequential
from scalegen.nn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from scalegen.nn.optimizers import Adam


def synthetic_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class sets where a bright blob sits, plus uniform noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    yy, xx = np.mgrid[0:28, 0:28]
    centres = [(7 + 7 * (k % 3), 6 + 5 * (k // 3)) for k in range(10)]
    blobs = np.stack([np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0) for cy, cx in centres])
    images = 0.25 * blobs[labels] + 0.75 * rng.random((n, 28, 28))
    return images[..., None].astype(np.float32), labels


def seed_cnn(seed: int, threads: int) -> Sequential:
    model = Sequential(
        [
            Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            MaxPooling2D((2, 2)),
            Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
        n_jobs=threads,
    )
    model.compile(Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_twin(model: Sequential) -> Any:
    """The same network in PyTorch with the same weights (NCHW; Dense rows permuted)."""
    import torch

    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(1600, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    w = model.get_weights()
    dense1 = w[4].reshape(5, 5, 64, 128).transpose(2, 0, 1, 3).reshape(1600, 128)  # HWC -> CHW rows
    with torch.no_grad():
        for layer, kernel, bias in ((0, w[0], w[1]), (3, w[2], w[3])):
            net[layer].weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            net[layer].bias.copy_(torch.from_numpy(bias))
        net[7].weight.copy_(torch.from_numpy(dense1.T.copy()))
        net[7].bias.copy_(torch.from_numpy(w[5]))
        net[9].weight.copy_(torch.from_numpy(w[6].T.copy()))
        net[9].bias.copy_(torch.from_numpy(w[7]))
    return net


def scalegen_epoch(x: np.ndarray, y: np.ndarray, batch: int, threads: int) -> Any:
    """A function running one training epoch of scalegen; returns that epoch's mean loss."""
    model = seed_cnn(0, threads)

    def epoch(n: int) -> float:
        return model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0).history["loss"][-1]

    return epoch


def torch_epoch(x: np.ndarray, y: np.ndarray, batch: int, threads: int, flush: bool) -> Any:
    """The same for PyTorch, from the same initial weights; ``flush`` sets
    torch.set_flush_denormal for its epochs (PyTorch's default is False)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch_twin(seed_cnn(0, threads))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype(np.int64))

    def epoch(n: int) -> float:
        torch.set_flush_denormal(flush)
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / n

    return epoch


def compare(x: np.ndarray, y: np.ndarray, batch: int, repeat: int, threads: int) -> dict[str, float]:
    """Epochs of the three alternate (so a busy machine slows all alike); medians of the rates."""
    runners = {
        "scalegen": scalegen_epoch(x, y, batch, threads),
        "torch": torch_epoch(x, y, batch, threads, flush=False),
        "torch_ftz": torch_epoch(x, y, batch, threads, flush=True),
    }
    for run in runners.values():
        run(8 * batch)  # warm-up
    rates: dict[str, list[float]] = {k: [] for k in runners}
    losses: dict[str, float] = {}
    for _ in range(repeat):
        for name, run in runners.items():
            t0 = time.perf_counter()
            losses[name] = run(len(x))
            rates[name].append(len(x) / (time.perf_counter() - t0))
    row: dict[str, float] = {"batch_size": batch}
    for name in runners:
        row[f"{name}_samples_per_s"] = statistics.median(rates[name])
        row[f"{name}_last_epoch_loss"] = losses[name]
    row["ratio"] = row["scalegen_samples_per_s"] / row["torch_samples_per_s"]
    row["ratio_ftz"] = row["scalegen_samples_per_s"] / row["torch_ftz_samples_per_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import torch

    cfg = scalegen._info.config()
    print(
        f"scalegen {scalegen.__version__} ({cfg['isa_level']}) vs PyTorch {torch.__version__}, "
        f"{args.threads} threads each, {args.samples} samples per epoch"
    )
    x, y = synthetic_mnist(args.samples)
    rows = []
    names = ("batch", "scalegen/s", "torch/s", "ratio", "torch FTZ/s", "ratio", "losses: ours, torch, FTZ")
    print("  ".join(names))
    for batch in args.batches:
        row = compare(x, y, batch, args.repeat, args.threads)
        rows.append(row)
        print(
            f"{batch:>5}  {row['scalegen_samples_per_s']:>10.0f}  {row['torch_samples_per_s']:>7.0f}  "
            f"{row['ratio']:>4.2f}x  {row['torch_ftz_samples_per_s']:>11.0f}  {row['ratio_ftz']:>4.2f}x  "
            f"{row['scalegen_last_epoch_loss']:.4f}, {row['torch_last_epoch_loss']:.4f}, "
            f"{row['torch_ftz_last_epoch_loss']:.4f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            doc = {"config": cfg, "torch": torch.__version__, "args": vars(args), "rows": rows}
            json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
