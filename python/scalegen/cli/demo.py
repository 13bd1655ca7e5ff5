"""``scalegen demo``: each model family's demonstration, written into one folder."""

from __future__ import annotations

import json
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np

from .demo_evaluation import evaluate_bayesnet, evaluate_mixture, evaluate_structure
from .demo_generative import demo_generative
from .demo_latent import demo_latent
from .demo_privacy import demo_privacy

FAMILIES = {
    "mixture": "Gaussian mixture fitted by EM (the seed's two blobs, scaled up)",
    "bayesnet": "discrete Bayesian networks (the seed's A -> B -> C, then 'asia' at a million rows)",
    "nn": "convolutional networks (the seed's Keras CNN, trained on the 8x8 digits), a VAE and a GAN",
    "privacy": "differentially private synthetic rows (PrivBayes on ALARM)",
}


def run_demo(out: Path, *, n_samples: int = 1_000_000) -> int:
    out.mkdir(parents=True, exist_ok=True)
    print(f"scalegen demo: writing results to {out.resolve()}")
    print("families: " + "; ".join(f"{k}: {v}" for k, v in FAMILIES.items()))
    summary = {
        "mixture": demo_mixture(out, n_samples=n_samples),
        "bayesnet": demo_bayesnet(out, n_rows=n_samples),
        "nn": demo_nn(out),
        "privacy": demo_privacy(out, n_rows=min(n_samples, 100_000)),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"summary written to {out / 'summary.json'}")
    return 0


def demo_mixture(out: Path, *, n_samples: int) -> dict:
    """The seed's example: two 2-D Gaussian blobs, two components, then 100 new samples."""
    from .. import GaussianMixture

    print(f"\n[mixture] two 2-D Gaussian blobs, {n_samples:,} points each, full covariances")
    rng = np.random.default_rng(42)
    centres, cov = [[0, 0], [5, 5]], np.eye(2)
    X = np.vstack([rng.multivariate_normal(c, cov, n_samples) for c in centres])
    gmm = GaussianMixture(n_components=2, covariance_type="full", random_state=0)
    t0 = time.perf_counter()
    gmm.fit(X)
    fit_s = time.perf_counter() - t0
    Z, _ = gmm.sample(100)
    order = np.argsort(gmm.means_[:, 0])
    bic = gmm.bic(X)
    print(f"  fit: {fit_s:.2f} s, {gmm.n_iter_} EM iterations, converged={gmm.converged_}")
    print(f"  weights: {np.round(gmm.weights_[order], 4).tolist()}")
    print(f"  means:   {np.round(gmm.means_[order], 4).tolist()}")
    print(f"  BIC:     {bic:.1f}")
    print(f"  100 new samples, first three: {np.round(Z[:3], 3).tolist()}")
    np.savetxt(out / "mixture_samples.csv", Z, delimiter=",", header="x0,x1", comments="")
    picture = _plot_mixture(out / "mixture.png", X, gmm, Z)
    print(f"  picture: {picture}")
    return {
        "n_points": int(X.shape[0]),
        "fit_seconds": fit_s,
        "n_iter": int(gmm.n_iter_),
        "weights": gmm.weights_[order].tolist(),
        "means": gmm.means_[order].tolist(),
        "covariances": gmm.covariances_[order].tolist(),
        "bic": float(bic),
        "picture": picture,
        "evaluation": evaluate_mixture(gmm, centres, cov),
        "bayesian": _demo_bayesian_mixture(out),
    }


def _demo_bayesian_mixture(out: Path) -> dict:
    """The seed's blobs at the seed's size (1,000 points each), ten components offered, a
    Dirichlet-process prior: it keeps the two the blobs need. (With far more points the
    unneeded components fade too slowly to vanish in 500 iterations, in scikit-learn too.)"""
    from .. import BayesianGaussianMixture
    from ..mixture._bayesian_mixture import EFFECTIVE_WEIGHT

    print("\n[mixture] the seed's blobs (1,000 points each), BayesianGaussianMixture(n_components=10)")
    rng = np.random.default_rng(42)
    X = np.vstack(
        [rng.multivariate_normal([0, 0], np.eye(2), 1000), rng.multivariate_normal([5, 5], np.eye(2), 1000)]
    )
    model = BayesianGaussianMixture(n_components=10, random_state=0, max_iter=500)
    t0 = time.perf_counter()
    model.fit(X)
    fit_s = time.perf_counter() - t0
    kept = np.flatnonzero(model.weights_ > EFFECTIVE_WEIGHT)
    kept = kept[np.argsort(model.means_[kept, 0])]
    print(f"  fit: {fit_s:.2f} s, {model.n_iter_} iterations, converged={model.converged_}")
    print(f"  {model.n_effective_components_} of 10 components kept (weight > {EFFECTIVE_WEIGHT})")
    print(f"  kept weights: {np.round(model.weights_[kept], 4).tolist()}")
    print(f"  kept means:   {np.round(model.means_[kept], 4).tolist()}")
    picture = _plot_bayesian_mixture(out / "mixture_bayesian.png", X, model, kept)
    print(f"  picture: {picture}")
    return {
        "fit_seconds": fit_s,
        "n_iter": int(model.n_iter_),
        "n_effective_components": int(model.n_effective_components_),
        "weights": model.weights_.tolist(),
        "kept_means": model.means_[kept].tolist(),
        "picture": picture,
    }


def demo_bayesnet(out: Path, *, n_rows: int) -> dict:
    """The seed's chain A -> B -> C learned from data, then the bundled 'asia' network:
    sample n_rows, learn the tables back, compare with the truth."""
    import pandas as pd

    from ..bayesnet import BayesianNetwork
    from ..datasets import load_network

    print("\n[bayesnet] the seed's network A -> B -> C, learned from 1,000 rows")
    rng = np.random.default_rng(0)
    a = rng.integers(2, size=1000)
    b = np.where(rng.random(1000) < 0.9, a, 1 - a)  # B copies A, with 10% noise
    c = (rng.random(1000) < np.where(b == 1, 0.8, 0.3)).astype(int)
    chain = BayesianNetwork(_seed_graph()).fit(pd.DataFrame({"A": a, "B": b, "C": c}))
    for v in chain.nodes:
        print(f"  P({v}{' | ' + ', '.join(map(str, chain.parents(v))) if chain.parents(v) else ''}):")
        print("    " + chain.cpd(v).to_frame().round(3).to_string().replace("\n", "\n    "))
    round_trip = _pgmpy_round_trip(chain)

    truth = load_network("asia")
    print(
        f"\n[bayesnet] 'asia' ({len(truth.nodes)} variables): sample {n_rows:,} rows, learn the tables back"
    )
    t0 = time.perf_counter()
    data = truth.sample(n_rows, random_state=0)
    sample_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    learned = BayesianNetwork(truth.edges, truth.nodes, truth.states).fit(data)
    fit_s = time.perf_counter() - t0
    error = max(float(np.max(np.abs(learned.cpd(v).values - truth.cpd(v).values))) for v in truth.nodes)
    print(f"  sampling: {sample_s:.3f} s, fitting: {fit_s:.3f} s")
    print(f"  largest absolute error of a learned probability: {error:.4f}")
    print(f"  mean log-likelihood per row: {learned.score(data):.4f} (truth: {truth.score(data):.4f})")
    learned.to_bif(out / "asia_learned.bif")
    picture = _plot_dag(out / "asia.png", truth)
    print(f"  learned network: {out / 'asia_learned.bif'}; picture: {picture}")
    return {
        "chain": {v: chain.cpd(v).values.tolist() for v in chain.nodes},
        "chain_pgmpy_round_trip": round_trip,
        "asia_rows": n_rows,
        "sample_seconds": sample_s,
        "fit_seconds": fit_s,
        "max_abs_error": error,
        "picture": picture,
        "evaluation": evaluate_bayesnet(truth, learned),
        "structure": demo_structure(out, n_rows=min(n_rows, 20_000)),
        "latent": demo_latent(out, n_rows=min(n_rows, 100_000)),
    }


def _seed_graph() -> Any:
    """The seed's DiGraph, built as its snippet builds it (its edges when networkx is absent);
    with pgmpy, the fitted chain goes to pgmpy and back."""
    try:
        import networkx as nx
    except ImportError:
        print("  (networkx not installed: the chain from its edges; pip install 'scalegen[graphs]')")
        return [("A", "B"), ("B", "C")]
    G = nx.DiGraph()
    G.add_node("A", label="A")
    G.add_node("B", label="B")
    G.add_node("C", label="C")
    G.add_edge("A", "B")
    G.add_edge("B", "C")
    print("  the seed's networkx DiGraph handed to BayesianNetwork(G) as it is")
    return G


def _pgmpy_round_trip(chain: Any) -> bool | None:
    """The fitted chain converted to pgmpy and back: the same tables (None without pgmpy)."""
    try:
        import pgmpy  # noqa: F401
    except ImportError:
        return None
    back = type(chain).from_pgmpy(chain.to_pgmpy())
    same = all(np.array_equal(back.cpd(v).values, chain.cpd(v).values) for v in chain.nodes)
    print(f"  to pgmpy and back: {'the same tables' if same else 'TABLES DIFFER'}")
    return same


def demo_structure(out: Path, *, n_rows: int) -> dict:
    """ALARM's structure learned back from data sampled from it, then a diagnostic query
    answered by the learned network and by the true one."""
    from ..bayesnet import (
        DiscreteFactor,
        HillClimbSearch,
        VariableElimination,
        structural_hamming_distance,
        structure_score,
    )
    from ..datasets import load_network

    truth = load_network("alarm")
    data = truth.sample(n_rows, random_state=1)
    print(
        f"\n[bayesnet] ALARM ({len(truth.nodes)} variables, {len(truth.edges)} edges): learn the DAG back "
        f"from {n_rows:,} rows (hill climbing with BIC from three starts, then 20 random restarts)"
    )
    t0 = time.perf_counter()
    search = HillClimbSearch().fit(data)
    learn_s = time.perf_counter() - t0
    shd = structural_hamming_distance(search.edges_, truth)
    true_bic = structure_score(truth, data, "bic")
    print(f"  {len(search.edges_)} edges in {learn_s:.3f} s; structural Hamming distance to the truth: {shd}")
    print(f"  BIC of the learned DAG: {search.score_:.1f} (the true DAG: {true_bic:.1f})")
    edges = evaluate_structure(search.edges_, truth)
    learned = search.model_.fit(data)
    evidence: dict[Hashable, str] = {"BP": "LOW", "CVP": "HIGH", "HR": "HIGH"}
    answers = {}
    for name, model in (("learned", learned), ("true", truth)):
        factor = VariableElimination(model).query(["HYPOVOLEMIA"], evidence, joint=True)
        assert isinstance(factor, DiscreteFactor)
        answers[name] = factor.get_value(HYPOVOLEMIA="TRUE")
    print(
        f"  P(HYPOVOLEMIA = TRUE | {', '.join(f'{k}={v}' for k, v in evidence.items())}): "
        f"{answers['learned']:.3f} learned, {answers['true']:.3f} true network"
    )
    learned.to_bif(out / "alarm_learned.bif")
    return {
        "rows": n_rows,
        "learn_seconds": learn_s,
        "shd": shd,
        "edges": edges,
        "bic": search.score_,
        "true_bic": true_bic,
        "query": answers,
    }


def demo_nn(out: Path, *, epochs: int = 15) -> dict:
    """The seed's CNN (Keras' Sequential API) on scikit-learn's 8x8 digits, held-out accuracy."""
    from ..nn import Sequential
    from ..nn.layers import Conv2D, Dense, Flatten, MaxPooling2D

    print("\n[nn] the seed's CNN, adapted to 8x8 inputs, trained on the digits with Adam")
    try:
        from ..datasets import load_digits

        x, y = load_digits()
        source = "scikit-learn's digits (1,797 images of 8x8)"
    except ImportError:
        x, y = _synthetic_digits(1797)
        source = "synthetic 8x8 digits (scikit-learn is not installed: pip install scikit-learn)"
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    held = len(x) // 5
    x_train, y_train, x_test, y_test = x[held:], y[held:], x[:held], y[:held]
    print(f"  data: {source}; {len(x_train)} to train on, {held} held out")
    model = Sequential(seed=0)
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(8, 8, 1)))
    model.add(MaxPooling2D((2, 2)))
    model.add(Conv2D(64, (3, 3), activation="relu", padding="same"))  # 'same': 3x3 maps stay 3x3
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary(print_fn=lambda line: print("  " + line))
    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1)
    train_s = time.perf_counter() - start
    predictions = model.predict(x_test)
    accuracy = float((predictions.argmax(axis=1) == y_test).mean())
    print(f"  training: {train_s:.2f} s for {epochs} epochs; held-out accuracy: {accuracy:.4f}")
    model.save(out / "digits_cnn.scalegen")
    picture = _plot_training(out / "nn_training.png", history.history)
    print(f"  model: {out / 'digits_cnn.scalegen'}; training curves: {picture}")
    return {
        "data": source,
        "epochs": epochs,
        "train_seconds": train_s,
        "held_out_accuracy": accuracy,
        "history": history.history,
        "picture": picture,
        "onnx": _demo_onnx(out, model, x_test),
        "generative": demo_generative(out, x_train, x_test, model),
    }


def _demo_onnx(out: Path, model: Any, x: np.ndarray) -> dict:
    """Export the model, run it with onnxruntime, compare answers and timings."""
    try:
        import onnxruntime as ort
    except ImportError:
        print("  ONNX: skipped (pip install 'scalegen[onnx]')")
        return {"skipped": "onnx or onnxruntime is not installed"}
    path = out / "digits_cnn.onnx"
    model.to_onnx(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    theirs, ours = session.run(None, {"input": nchw})[0], model.predict(x, batch_size=len(x))
    times = {}
    for name, run in (
        ("scalegen", lambda: model.predict(x, batch_size=len(x))),
        ("onnxruntime", lambda: session.run(None, {"input": nchw})),
    ):
        run()
        start = time.perf_counter()
        for _ in range(20):
            run()
        times[name] = (time.perf_counter() - start) / 20
    diff = float(np.abs(theirs - ours).max())
    same = float((theirs.argmax(axis=1) == ours.argmax(axis=1)).mean())
    print(f"  ONNX: {path}; onnxruntime agrees to {diff:.1e} (same class for {same:.0%} of {len(x)} images)")
    ms = {name: f"{1e3 * t:.2f} ms" for name, t in times.items()}
    print(f"  {len(x)} images at once: scalegen {ms['scalegen']}, onnxruntime {ms['onnxruntime']}")
    return {"path": str(path), "max_abs_diff": diff, "same_class": same, "seconds": times}


def _synthetic_digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images whose class sets a bright pixel pair, plus noise (when scikit-learn is absent)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    images = 0.3 * rng.random((n, 8, 8, 1)).astype(np.float32)
    images[np.arange(n), labels % 8, labels // 2, 0] += 0.7
    return images, labels


def _plot_training(path: Path, history: dict) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped (matplotlib is not installed: pip install 'scalegen[plot]')"
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[key], marker="o", label=f"training {key}")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], marker="s", label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.suptitle("scalegen.nn: the seed's CNN on the digits")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


def _plot_dag(path: Path, model) -> str:
    """The DAG in layers by depth (parents above children)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped (matplotlib is not installed: pip install 'scalegen[plot]')"
    depth: dict = {}
    for v in model.topological_order():
        depth[v] = 1 + max((depth[p] for p in model.parents(v)), default=-1)
    layers: dict = {}
    for v, d in depth.items():
        layers.setdefault(d, []).append(v)
    pos = {v: (i - (len(vs) - 1) / 2, -d) for d, vs in layers.items() for i, v in enumerate(vs)}
    fig, ax = plt.subplots(figsize=(7, 5))
    for u, v in model.edges:
        ax.annotate(
            "",
            xy=pos[v],
            xytext=pos[u],
            arrowprops={"arrowstyle": "-|>", "color": "grey", "shrinkA": 18, "shrinkB": 18},
        )
    for v, (x, y) in pos.items():
        ax.text(x, y, str(v), ha="center", va="center", bbox={"boxstyle": "round", "fc": "lightsteelblue"})
    ax.set_xlim(min(x for x, _ in pos.values()) - 1, max(x for x, _ in pos.values()) + 1)
    ax.set_ylim(min(y for _, y in pos.values()) - 0.5, 0.5)
    ax.set_axis_off()
    ax.set_title(
        f"{getattr(model, 'name', 'network')}: {len(model.nodes)} variables, {len(model.edges)} edges"
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


def _mixture_axes() -> Any:
    """A square matplotlib figure and axes, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt.subplots(figsize=(6, 6))


def _ellipses(ax: Any, mean: np.ndarray, cov: np.ndarray, **style: Any) -> None:
    """1, 2 and 3 sigma ellipses of a 2-D Gaussian."""
    from matplotlib.patches import Ellipse

    vals, vecs = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
    for nsig in (1, 2, 3):
        w, h = 2 * nsig * np.sqrt(vals[::-1])
        ax.add_patch(Ellipse((float(mean[0]), float(mean[1])), w, h, angle=angle, fill=False, **style))


def _save(fig: Any, ax: Any, path: Path, title: str) -> str:
    import matplotlib.pyplot as plt

    ax.set_title(title)
    ax.set_aspect("equal")
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


def _scatter_data(ax: Any, X: np.ndarray) -> None:
    idx = np.random.default_rng(0).choice(X.shape[0], size=min(20_000, X.shape[0]), replace=False)
    ax.scatter(X[idx, 0], X[idx, 1], s=1, alpha=0.2, color="grey", label="data (subsample)")


def _plot_mixture(path: Path, X: np.ndarray, gmm, Z: np.ndarray) -> str:
    drawn = _mixture_axes()
    if drawn is None:
        return "skipped (matplotlib is not installed: pip install 'scalegen[plot]')"
    fig, ax = drawn
    _scatter_data(ax, X)
    ax.scatter(Z[:, 0], Z[:, 1], s=12, color="crimson", label="100 new samples")
    for mean, cov in zip(gmm.means_, gmm.covariances_, strict=True):
        _ellipses(ax, mean, cov, color="navy", lw=1)
    return _save(fig, ax, path, "scalegen GaussianMixture: fitted components (1, 2, 3 sigma)")


def _plot_bayesian_mixture(path: Path, X: np.ndarray, model: Any, kept: np.ndarray) -> str:
    drawn = _mixture_axes()
    if drawn is None:
        return "skipped (matplotlib is not installed: pip install 'scalegen[plot]')"
    fig, ax = drawn
    _scatter_data(ax, X)
    for c in range(model.n_components):
        on = c in kept
        style = {"color": "navy", "lw": 1.2} if on else {"color": "darkorange", "lw": 0.6, "ls": "--"}
        _ellipses(ax, model.means_[c], model.covariances_[c], **style)
    ax.plot([], [], color="navy", label=f"kept ({len(kept)}, weight > 0.01)")
    off = model.n_components - len(kept)
    ax.plot([], [], color="darkorange", ls="--", label=f"switched off ({off}): back at the prior")
    return _save(fig, ax, path, "BayesianGaussianMixture(n_components=10): what the prior kept")
