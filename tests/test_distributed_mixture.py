"""DaskGaussianMixture and predict_batches on a local cluster of worker processes."""

from __future__ import annotations

import os
import signal
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from scalegen import _core  # noqa: E402
from scalegen.datasets import make_mixture  # noqa: E402
from scalegen.distributed import DaskBayesianGaussianMixture, DaskGaussianMixture, predict_batches  # noqa: E402
from scalegen.mixture import BayesianGaussianMixture, GaussianMixture  # noqa: E402

COVS = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return make_mixture(12_000, 5, 3, chunk_rows=4000, random_state=5)


def workers_of(stream, name: str) -> set[str]:
    return {t["worker"] for t in stream.data if name in str(t["key"])}


def fitted(g: GaussianMixture) -> list[np.ndarray]:
    return [g.weights_, g.means_, g.covariances_, g.precisions_cholesky_]


@pytest.mark.parametrize("cov", COVS)
def test_dask_fit_equals_the_local_fit(dask_client, data, cov):
    kw = dict(covariance_type=cov, random_state=0, max_iter=12, tol=0.0)
    w = np.random.default_rng(0).uniform(0.5, 2, len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = GaussianMixture(3, **kw).fit(data, sample_weight=w)
        dX = da.from_array(data, chunks=(1500, 5))
        with distributed.get_task_stream(dask_client) as stream:
            got = DaskGaussianMixture(3, client=dask_client, **kw).fit(
                dX, sample_weight=da.from_array(w, 1500)
            )
    for a, b in zip(fitted(ref), fitted(got), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
    assert got.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(got.lower_bounds_, ref.lower_bounds_, rtol=1e-12)
    # the E-steps ran in two worker processes, neither of them this one
    ran = workers_of(stream, "gmm_e_step_block")
    assert len(ran) == 2
    pids = dask_client.run(os.getpid)
    assert all(pids[w] != os.getpid() for w in ran)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_dask_variational_fit_equals_the_local_fit(dask_client, data, cov):
    kw = dict(n_components=4, covariance_type=cov, random_state=0, max_iter=12, tol=0.0)
    w = np.random.default_rng(1).uniform(0.5, 2, len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = BayesianGaussianMixture(**kw).fit(data, sample_weight=w)
        got = DaskBayesianGaussianMixture(client=dask_client, **kw).fit(
            da.from_array(data, chunks=(1500, 5)), sample_weight=da.from_array(w, 1500)
        )
    for name in (
        "weights_",
        "means_",
        "covariances_",
        "mean_prior_",
        "covariance_prior_",
        "degrees_of_freedom_",
    ):
        np.testing.assert_allclose(
            getattr(got, name), getattr(ref, name), rtol=1e-9, atol=1e-12, err_msg=name
        )
    np.testing.assert_allclose(got.lower_bounds_, ref.lower_bounds_, rtol=1e-10)
    local = got.to_local()
    assert (
        type(local) is BayesianGaussianMixture
        and local.n_effective_components_ == ref.n_effective_components_
    )
    np.testing.assert_allclose(
        got.predict_proba(da.from_array(data, 3000)).compute(), ref.predict_proba(data), atol=1e-9
    )


def test_dask_predictions_are_dask_arrays(dask_client, data):
    dX = da.from_array(data, chunks=(5000, 5))
    g = DaskGaussianMixture(3, random_state=0, client=dask_client).fit(dX)
    local = g.to_local()
    assert type(local) is GaussianMixture
    np.testing.assert_array_equal(local.means_, g.means_)
    assert "client" not in local.get_params()
    for method in ("predict", "predict_proba", "score_samples"):
        out = getattr(g, method)(dX)
        assert isinstance(out, da.Array)
        np.testing.assert_allclose(out.compute(), getattr(local, method)(data), rtol=1e-12)
    assert isinstance(g.score(dX), float)
    assert g.score(dX) == pytest.approx(local.score(data), rel=1e-12)
    np.testing.assert_array_equal(g.fit_predict(dX).compute(), local.predict(data))
    np.testing.assert_array_equal(g.predict(data), local.predict(data))  # NumPy in, NumPy out
    unknown = dX[dX[:, 0] > -np.inf]  # every row, in blocks of unknown length
    assert np.isnan(unknown.shape[0])
    assert g.bic(unknown) == pytest.approx(local.bic(data), rel=1e-12)
    assert g.aic(unknown) == pytest.approx(local.aic(data), rel=1e-12)


def test_data_larger_than_a_worker_fits_without_restarts(dask_client):
    """~500 MiB generated on two workers of 200 MiB each: read from its graph at every pass."""
    pids = dask_client.run(os.getpid)
    n, d, k = 500 * 2**20 // (8 * 8), 8, 4
    X = make_mixture(n, d, k, chunk_rows=65536, random_state=1, dask=True)
    assert X.nbytes > 2 * 200 * 2**20
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = DaskGaussianMixture(
            k, covariance_type="diag", max_iter=2, random_state=0, client=dask_client
        ).fit(X)
    client_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert client_peak < 64 << 20  # the data never came to the client
    assert dask_client.run(os.getpid) == pids  # no worker was restarted
    rng = np.random.default_rng(1)  # the generator's centers
    centers = rng.uniform(-10, 10, size=(k, d))
    order = np.argsort(g.means_[:, 0])
    np.testing.assert_allclose(g.means_[order], centers[np.argsort(centers[:, 0])], atol=0.02)


def test_a_worker_killed_during_the_fit_does_not_change_the_result(dask_client):
    X = make_mixture(400_000, 8, 3, chunk_rows=25_000, random_state=2, dask=True)  # 25 MB, persisted
    kw = dict(covariance_type="full", max_iter=15, tol=0.0, random_state=0, client=dask_client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = DaskGaussianMixture(3, **kw).fit(X)
        pids = dask_client.run(os.getpid)
        victim = sorted(pids)[0]
        result: dict[str, object] = {}

        def run() -> None:
            try:
                result["model"] = DaskGaussianMixture(3, **kw).fit(X)
            except BaseException as e:  # reported below
                result["error"] = e

        start = time.time()
        thread = threading.Thread(target=run)
        thread.start()
        # kill once E-steps have started on the workers
        while time.time() - start < 60 and not [
            t for t in dask_client.get_task_stream(start=start) if "gmm_e_step_block" in str(t["key"])
        ]:
            time.sleep(0.05)
        assert thread.is_alive(), "the fit ended before the worker could be killed"
        os.kill(pids[victim], signal.SIGKILL)
        thread.join(timeout=120)
    assert not thread.is_alive()
    dask_client.wait_for_workers(2, timeout=60)
    assert "error" not in result, result.get("error")
    assert pids[victim] not in dask_client.run(os.getpid).values()  # it really died
    got = result["model"]
    for a, b in zip(fitted(ref), fitted(got), strict=True):  # type: ignore[arg-type]
        np.testing.assert_array_equal(b, a)


def _kernel_threads() -> tuple[int, str | None]:
    from scalegen.distributed._tasks import task_context

    X = np.random.default_rng(0).normal(size=(50_000, 4))
    with task_context():
        GaussianMixture(2, max_iter=1, random_state=0).fit(X)
    return _core.last_parallel_threads(), os.environ.get("OMP_NUM_THREADS")


def test_kernels_use_the_workers_threads():
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        threads, omp = client.submit(_kernel_threads, pure=False).result()
    assert omp == "1"  # what Dask sets, and what we do not follow
    assert threads == 2


def _e_step_in_worker() -> tuple[bool, float]:
    X = np.random.default_rng(0).normal(size=(20_000, 3))
    g = GaussianMixture(2, max_iter=3, random_state=0).fit(X)
    return _core.in_forked_child(), float(g.lower_bound_)


def test_forked_workers_do_not_hang():
    import dask

    GaussianMixture(2, random_state=0).fit(np.random.default_rng(1).normal(size=(20_000, 3)))  # OpenMP is up
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        with (
            distributed.LocalCluster(
                n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            forked, bound = client.submit(_e_step_in_worker, pure=False).result(timeout=60)
    assert forked
    assert bound == pytest.approx(_e_step_in_worker()[1], rel=1e-12)


def _models_built() -> int:
    from scalegen.distributed import _nn

    return _nn.models_built


def test_predict_batches_builds_the_model_once_per_worker(dask_client):
    from scalegen.nn import Sequential, set_random_seed
    from scalegen.nn.layers import Conv2D, Dense, Flatten, MaxPooling2D

    set_random_seed(0)
    model = Sequential(
        [
            Conv2D(4, (3, 3), activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(10, activation="softmax"),
        ]
    )
    images = np.random.default_rng(0).random((300, 8, 8, 1), dtype=np.float32)
    before = sum(dask_client.run(_models_built).values())
    dimages = da.from_array(images, chunks=(40, 8, 8, 1))
    with distributed.get_task_stream(dask_client) as stream:
        out = predict_batches(model, dimages, batch_size=16)
        assert isinstance(out, da.Array) and out.shape == (300, 10)
        got = out.compute()
        again = predict_batches(model, dimages).compute()
    np.testing.assert_allclose(got, model.predict(images), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(again, got)
    ran = workers_of(stream, "predict_block")
    built = sum(dask_client.run(_models_built).values()) - before
    assert 1 <= built <= len(ran)  # once per worker that predicted, not per block or call


def test_bad_input(dask_client, data):
    with pytest.raises(TypeError, match=r"dask\.array"):
        DaskGaussianMixture(2).fit(data)
    with pytest.raises(ValueError, match="persist"):
        DaskGaussianMixture(2, persist="sometimes").fit(da.from_array(data))
    with pytest.raises(ValueError, match="2D"):
        DaskGaussianMixture(2).fit(da.zeros(10))
    bad = data.copy()
    bad[7000, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DaskGaussianMixture(2, client=dask_client, means_init=data[:2], random_state=0).fit(
            da.from_array(bad, chunks=(3000, 5))
        )
    with pytest.raises(TypeError, match="Sequential"):
        predict_batches(object(), da.zeros((4, 8, 8, 1)))
    from scalegen.nn import Sequential
    from scalegen.nn.layers import Dense

    with pytest.raises(TypeError, match="dask array"):
        predict_batches(Sequential([Dense(2, input_shape=(3,))]), np.zeros((4, 3)))


def test_make_mixture_needs_an_integer_seed():
    with pytest.raises(ValueError, match="random_state"):
        make_mixture(10, random_state=None)


def test_worker_model_cache_keeps_the_models_used_last():
    import pickle

    from scalegen.distributed import _nn

    _nn._models.clear()
    payloads = {str(i): pickle.dumps(i) for i in range(5)}
    for digest in "0123":
        _nn._model(digest, payloads[digest])
    _nn._model("0", payloads["0"])  # used again: now the most recent
    _nn._model("4", payloads["4"])  # evicts the least recently used, "1"
    assert list(_nn._models) == ["2", "3", "0", "4"]
    _nn._models.clear()
