"""The demo writes what it says, with numbers a user can check."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd


def test_demo_runs_the_seed_example(tmp_path):
    out = tmp_path / "demo"
    res = subprocess.run(
        [sys.executable, "-m", "scalegen", "demo", "--out", str(out), "--n-samples", "20000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert str(out.resolve()) in res.stdout
    summary = json.loads((out / "summary.json").read_text())["mixture"]
    # the seed's blobs: means (0, 0) and (5, 5), identity covariances, equal weights
    np.testing.assert_allclose(summary["means"], [[0, 0], [5, 5]], atol=0.05)
    np.testing.assert_allclose(summary["weights"], [0.5, 0.5], atol=0.01)
    np.testing.assert_allclose(summary["covariances"], [np.eye(2), np.eye(2)], atol=0.05)
    assert np.loadtxt(out / "mixture_samples.csv", delimiter=",", skiprows=1).shape == (100, 2)
    assert (out / "mixture.png").stat().st_size > 10_000 or "skipped" in summary["picture"]
    # against 5,000 held-out points of the blobs the fitted GMM is as good as the truth
    ev = summary["evaluation"]
    assert abs(ev["mean_log_likelihood"] - ev["true_mean_log_likelihood"]) < 0.02
    assert ev["mmd_p_value"] > 0.001 and abs(ev["mmd2"]) < 1e-3  # its samples look like held-out data
    for key in ("precision", "recall", "density", "coverage"):
        assert abs(ev[f"{key}_gmm"] - ev[f"{key}_truth"]) < 0.05 and ev[f"{key}_gmm"] > 0.9
    # ten components offered to the two blobs: the Dirichlet-process prior keeps two
    bayes = summary["bayesian"]
    assert bayes["n_effective_components"] == 2
    np.testing.assert_allclose(bayes["kept_means"], [[0, 0], [5, 5]], atol=0.15)  # 1,000 points: sd 0.03
    assert (out / "mixture_bayesian.png").stat().st_size > 10_000 or "skipped" in bayes["picture"]
    bn = json.loads((out / "summary.json").read_text())["bayesnet"]
    # B copies A with 10% noise: the learned P(B | A) is near [[0.9, 0.1], [0.1, 0.9]] from 1,000 rows
    np.testing.assert_allclose(bn["chain"]["B"], [[0.9, 0.1], [0.1, 0.9]], atol=0.05)
    assert bn["chain_pgmpy_round_trip"] is True  # pgmpy is a test dependency
    assert "the seed's networkx DiGraph handed to BayesianNetwork(G)" in res.stdout
    assert bn["asia_rows"] == 20000 and bn["max_abs_error"] < 0.1
    assert (out / "asia_learned.bif").exists()
    assert (out / "asia.png").stat().st_size > 10_000 or "skipped" in bn["picture"]
    # held-out rows of 'asia': the learned network's samples and likelihood match the truth's
    ev = bn["evaluation"]
    assert ev["learned_tvd_1"] < 0.02 and ev["learned_tvd_2"] < 0.02
    assert abs(ev["learned_log_likelihood"] - ev["truth_log_likelihood"]) < 0.02
    assert 0 <= ev["kl_truth_learned"] < 0.01
    structure = bn["structure"]
    # ALARM learned back from 20,000 rows: close to the true DAG, and the diagnostic query agrees
    assert structure["shd"] < 35
    edges = structure["edges"]
    assert edges["skeleton"]["f1"] > 0.8 and edges["skeleton"]["f1"] >= edges["directed"]["f1"]
    assert edges["directed"]["true_positives"] + edges["directed"]["false_negatives"] == 46  # ALARM's edges
    assert structure["bic"] >= structure["true_bic"] - 0.01 * abs(structure["true_bic"])
    assert abs(structure["query"]["learned"] - structure["query"]["true"]) < 0.1
    # ALARM with LVFAILURE hidden, learned back by EM: its prior and its children's tables
    latent = bn["latent"]
    assert latent["rows"] == 20000 and latent["converged"]
    np.testing.assert_allclose(latent["prior_learned"], latent["prior_true"], atol=0.02)
    assert latent["children_max_error"] < 0.05
    assert np.all(np.diff(latent["lower_bounds"]) >= -1e-12)
    assert (out / "alarm_em.png").stat().st_size > 10_000 or "skipped" in latent["picture"]
    nn = json.loads((out / "summary.json").read_text())["nn"]
    # the seed's CNN on the held-out digits, and the model it saved predicts the same
    assert nn["held_out_accuracy"] >= 0.95
    assert len(nn["history"]["val_accuracy"]) == nn["epochs"]
    from scalegen.datasets import load_digits
    from scalegen.nn import load_model

    x, y = load_digits()
    model = load_model(out / "digits_cnn.scalegen")
    assert (model.predict(x).argmax(axis=1) == y).mean() >= 0.95
    assert (out / "nn_training.png").stat().st_size > 10_000 or "skipped" in nn["picture"]
    assert "skipped" in nn["onnx"] or (nn["onnx"]["max_abs_diff"] < 1e-5 and nn["onnx"]["same_class"] == 1.0)
    # the VAE and the GAN on the digits: held-out bounds in order, samples a classifier recognises
    gen = nn["generative"]
    assert gen["vae"]["held_out_log_likelihood"] > gen["vae"]["held_out_elbo"] > -40
    for part in ("vae", "gan"):
        assert gen[part]["classes_present"] >= 8 and gen[part]["classifier_confidence"] > 0.6
    # held-out digits in the classifier's features: real training images score near 1 and lowest
    # Fréchet distance; the models' scores are in range
    ev = gen["evaluation"]
    assert ev["n"] == 359  # the held-out fifth of the 1,797 digits
    ref = ev["reference"]
    assert min(ref["f8"], ref["f1_8"], ref["precision"], ref["recall"]) > 0.85
    for part in ("vae", "gan"):
        assert all(0 <= ev[part][k] <= 1 for k in ("f8", "f1_8", "precision", "recall", "coverage"))
        assert ev[part]["frechet"] > ref["frechet"] >= 0
    assert (out / "prd_curves.png").stat().st_size > 10_000 or "skipped" in ev["picture"]
    from scalegen.nn import load_gan, load_vae

    assert load_vae(out / "digits_vae.scalegen").latent_dim == 2
    assert load_gan(out / "digits_gan.scalegen").sample(3, random_state=0).shape == (3, 8, 8, 1)
    # PrivBayes on ALARM: the budget is spent exactly, error falls with epsilon towards the
    # non-private network's
    private = json.loads((out / "summary.json").read_text())["privacy"]
    assert private["rows"] == 20000 and private["privacy_spent"] == [1.0, 0.0]
    errors = list(private["tvd2_by_epsilon"].values())
    assert errors[0] > errors[-1] > private["tvd2_non_private"]
    assert pd.read_csv(out / "alarm_private_synthetic.csv").shape == (20000, 37)
    assert (out / "privacy_tvd.png").stat().st_size > 10_000 or "skipped" in private["picture"]
