"""Private synthetic data: scalegen's PrivBayes against DataSynthesizer's correlated-attribute
mode (its PrivBayes, in pure Python) at the same epsilon and degree.

Data: rows sampled from ALARM (--rows training rows, as many held-out) and scikit-learn's
digits with each pixel cut into 3 levels (1,000 training rows, 797 held out). Utility is
the mean total-variation distance of all 1- and 2-way marginals between --rows synthetic
rows and the held-out rows (lower is better); 'floor' is the training rows' own distance,
what a perfect model would get. Times are fit + sample (medians). Utility figures are
medians over --seeds noise seeds (each seed one private run) for scalegen, and for
DataSynthesizer on digits; on ALARM DataSynthesizer runs once per epsilon (seed 0), since
each run takes minutes. DataSynthesizer runs at degree 1: at degree 2 its greedy
search would take hours on ALARM (it joins the parents' values as strings for every
candidate); scalegen also runs at degree 2, without a peer.

    python bench/bench_privacy.py [--rows 100000] [--seeds 3] [--eps 0.1,0.4,1.6] [--skip-peer]
                                  [--data alarm,digits] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import pandas as pd


def alarm_rows(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from scalegen.datasets import load_network

    alarm = load_network("alarm")
    return alarm.sample(n, random_state=0), alarm.sample(n, random_state=1)


def digits_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.datasets import load_digits

    pixels = np.digitize(load_digits().data, [1, 9])  # 0 | 1-8 | 9-16
    order = np.random.default_rng(0).permutation(len(pixels))
    df = pd.DataFrame(pixels[order], columns=[f"p{i}" for i in range(pixels.shape[1])])
    df = df.astype(pd.CategoricalDtype([0, 1, 2]))
    return df.iloc[:1000].reset_index(drop=True), df.iloc[1000:].reset_index(drop=True)


def utility(held_out: pd.DataFrame, synthetic: pd.DataFrame) -> tuple[float, float]:
    from scalegen.metrics import marginal_tvd

    return marginal_tvd(held_out, synthetic, order=1), marginal_tvd(held_out, synthetic, order=2)


def ours(train: pd.DataFrame, n: int, eps: float, degree: int, seed: int) -> tuple[float, pd.DataFrame]:
    from scalegen.privacy import PrivBayes

    t0 = time.perf_counter()
    synthetic = PrivBayes(eps, degree=degree, random_state=seed).fit(train).sample(n, random_state=seed)
    return time.perf_counter() - t0, synthetic


def datasynthesizer(
    train: pd.DataFrame, n: int, eps: float, degree: int, seed: int
) -> tuple[float, pd.DataFrame]:
    """DataSynthesizer on the same rows, every value prefixed so that its CSV reader keeps
    them as strings; the prefix is removed from the synthetic rows."""
    from DataSynthesizer.DataDescriber import DataDescriber
    from DataSynthesizer.DataGenerator import DataGenerator

    text = train.astype(str).apply(lambda c: "s_" + c)
    with tempfile.TemporaryDirectory() as tmp:
        csv, desc = os.path.join(tmp, "train.csv"), os.path.join(tmp, "description.json")
        text.to_csv(csv, index=False)
        columns = list(train.columns)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            describer = DataDescriber(category_threshold=1000)
            describer.describe_dataset_in_correlated_attribute_mode(
                csv,
                k=degree,
                epsilon=eps,
                attribute_to_datatype={c: "String" for c in columns},
                attribute_to_is_categorical={c: True for c in columns},
                seed=seed,
            )
            describer.save_dataset_description_to_file(desc)
            generator = DataGenerator()
            generator.generate_dataset_in_correlated_attribute_mode(n, desc, seed=seed)
        seconds = time.perf_counter() - t0
    synthetic = generator.synthetic_dataset.apply(lambda c: c.str.slice(2))
    for c in columns:  # back to the training rows' values and categories
        values = pd.Series(train[c].cat.categories)
        lookup = dict(zip(values.astype(str), values, strict=True))
        synthetic[c] = pd.Categorical(synthetic[c].map(lookup), categories=train[c].cat.categories)
    return seconds, synthetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eps", default="0.1,0.4,1.6")
    parser.add_argument("--skip-peer", action="store_true", help="scalegen only")
    parser.add_argument("--data", default="alarm,digits", help="the datasets, comma-separated")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import scalegen
    from scalegen._info import config

    warnings.simplefilter("ignore")
    cfg = config()
    epsilons = [float(e) for e in args.eps.split(",")]
    peer = ""
    if not args.skip_peer:
        from importlib.metadata import version

        peer = f" vs DataSynthesizer {version('DataSynthesizer')}"
    print(f"scalegen {scalegen.__version__} ({cfg['isa_level']}, {cfg['num_threads']} threads){peer}")
    head = f"{'data':>7} {'eps':>5} {'deg':>3} {'tool':>16} {'tvd1':>7} {'tvd2':>7} {'floor2':>7}"
    print(f"{head} {'s':>8} {'x':>6}")
    results = []
    loaders = {"alarm": lambda: alarm_rows(args.rows), "digits": digits_rows}
    for name in args.data.split(","):
        train, held_out = loaders[name]()
        n = len(held_out)
        floor = utility(held_out, train)
        for eps in epsilons:
            for degree in (1, 2):
                runs = [ours(train, n, eps, degree, seed) for seed in range(args.seeds)]
                seconds = statistics.median(t for t, _ in runs)
                tvds = [utility(held_out, s) for _, s in runs]
                row = {
                    "data": name,
                    "epsilon": eps,
                    "degree": degree,
                    "scalegen_s": seconds,
                    "scalegen_tvd1": statistics.median(t[0] for t in tvds),
                    "scalegen_tvd2": statistics.median(t[1] for t in tvds),
                    "floor_tvd2": floor[1],
                }
                line = f"{name:>7} {eps:>5} {degree:>3}"
                print(
                    f"{line} {'scalegen':>16} {row['scalegen_tvd1']:>7.4f} {row['scalegen_tvd2']:>7.4f}"
                    f" {floor[1]:>7.4f} {seconds:>8.2f}"
                )
                if degree == 1 and not args.skip_peer:
                    peer_runs = [
                        datasynthesizer(train, n, eps, degree, seed)
                        for seed in range(1 if name == "alarm" else args.seeds)
                    ]
                    peer_s = statistics.median(t for t, _ in peer_runs)
                    peer_tvds = [utility(held_out, s) for _, s in peer_runs]
                    peer_tvd = [statistics.median(t[i] for t in peer_tvds) for i in (0, 1)]
                    row.update(peer_s=peer_s, peer_tvd1=peer_tvd[0], peer_tvd2=peer_tvd[1])
                    print(
                        f"{line} {'DataSynthesizer':>16} {peer_tvd[0]:>7.4f} {peer_tvd[1]:>7.4f}"
                        f" {floor[1]:>7.4f} {peer_s:>8.1f} {peer_s / seconds:>6.0f}"
                    )
                results.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "rows": results}, f, indent=2)


if __name__ == "__main__":
    main()
