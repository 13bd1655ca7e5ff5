"""
Gaussian mixture: components as ellipses
========================================

Fit :class:`scalegen.GaussianMixture` by EM on 60,000 rows drawn from three anisotropic
Gaussians, then draw each fitted component's 1, 2 and 3 sigma ellipses over the data and
compare the fitted weights with the true ones.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from scalegen import GaussianMixture

rng = np.random.default_rng(0)
weights = np.array([0.5, 0.3, 0.2])
means = np.array([[0.0, 0.0], [6.0, 2.0], [2.0, 7.0]])
covariances = np.array([[[2.0, 1.2], [1.2, 1.5]], [[0.6, -0.3], [-0.3, 1.0]], [[3.0, 0.0], [0.0, 0.3]]])
component = rng.choice(3, size=60_000, p=weights)
X = np.vstack(
    [rng.multivariate_normal(means[k], covariances[k], size=(component == k).sum()) for k in range(3)]
)

gmm = GaussianMixture(n_components=3, covariance_type="full", random_state=0).fit(X)
print("fitted weights:", gmm.weights_.round(3), "true:", weights)
print(f"{gmm.n_iter_} EM iterations, mean log-likelihood {gmm.score(X):.4f}")

fig, ax = plt.subplots(figsize=(6, 6))
ax.scatter(X[::20, 0], X[::20, 1], s=2, color="grey", alpha=0.4, label="data (every 20th row)")
for k, (mean, cov) in enumerate(zip(gmm.means_, gmm.covariances_, strict=True)):
    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    for n_sigma in (1, 2, 3):
        width, height = 2 * n_sigma * np.sqrt(values[::-1])
        ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, color=f"C{k}", lw=1.5))
    ax.plot(*mean, "x", color=f"C{k}", ms=10, mew=3, label=f"component {k}: weight {gmm.weights_[k]:.2f}")
ax.set_aspect("equal")
ax.legend(loc="upper left")
ax.set_title("scalegen.GaussianMixture, 3 full-covariance components")
plt.show()
