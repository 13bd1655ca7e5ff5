"""
Judging generative models: precision-recall curves
==================================================

Two models of the same data: a 3-component and a 1-component Gaussian mixture fitted to
draws from three Gaussians. Against held-out draws, :func:`scalegen.metrics.prd_curve`
gives each model's precision-recall curve (Sajjadi et al. 2018) and
:func:`scalegen.metrics.manifold_scores` its k-NN precision, recall, density and coverage.
The single Gaussian puts mass between the clusters, where no data lies: its precision is
lower.
"""

import matplotlib.pyplot as plt
import numpy as np

from scalegen import GaussianMixture, metrics

rng = np.random.default_rng(0)
centers = np.array([[0.0, 0.0], [5.0, 0.0], [2.5, 4.0]])


def draw(n):
    return centers[rng.integers(0, 3, n)] + rng.standard_normal((n, 2)) * 0.7


train, held_out = draw(20_000), draw(2_000)
fig, ax = plt.subplots(figsize=(5.5, 5))
for k in (3, 1):
    gmm = GaussianMixture(n_components=k, random_state=0).fit(train)
    fake, _ = gmm.sample(2_000)
    prd = metrics.prd_curve(held_out, fake, num_clusters=20, random_state=0)
    f8, f1_8 = metrics.f_beta(prd, beta=8)
    scores = metrics.manifold_scores(held_out, fake, k=5)
    print(
        f"{k} component(s): F8 {f8:.3f}, F1/8 {f1_8:.3f};",
        ", ".join(f"{name} {value:.3f}" for name, value in scores._asdict().items()),
    )
    ax.plot(prd.recall, prd.precision, label=f"{k} component(s): F8={f8:.2f}, F1/8={f1_8:.2f}")
ax.set_xlabel("recall")
ax.set_ylabel("precision")
ax.set_xlim(0, 1.02)
ax.set_ylim(0, 1.02)
ax.legend(loc="lower left")
ax.set_title("PRD curves against held-out data")
plt.show()
