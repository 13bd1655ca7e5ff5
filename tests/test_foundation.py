"""Package foundation: threads, instruction-set levels, fork safety, config and CLI."""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import scalegen
from scalegen import _config, _core

pytestmark = pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")


def test_default_threads_follow_affinity():
    assert scalegen.get_num_threads() == _config.available_cpus()
    assert _config.available_cpus() == min(len(os.sched_getaffinity(0)), os.cpu_count() or 1)


def test_set_num_threads_is_honoured_inside_kernels():
    X = np.random.default_rng(0).standard_normal((200_000, 4))
    old = scalegen.get_num_threads()
    try:
        scalegen.set_num_threads(1)
        scalegen.GaussianMixture(2, max_iter=2, tol=0, random_state=0).fit(X)
        assert _core.last_parallel_threads() == 1
        if _config.available_cpus() >= 2:
            scalegen.set_num_threads(2)
            scalegen.GaussianMixture(2, max_iter=2, tol=0, random_state=0).fit(X)
            assert _core.last_parallel_threads() == 2
    finally:
        scalegen.set_num_threads(old)


def test_n_jobs_wins_over_default_and_probe_sees_teams():
    assert _core.probe_parallel_threads(1) == 1
    if _config.available_cpus() >= 2:
        assert _core.probe_parallel_threads(2) == 2
    X = np.random.default_rng(1).standard_normal((100_000, 3))
    scalegen.GaussianMixture(2, max_iter=1, n_jobs=1, random_state=0).fit(X)
    assert _core.last_parallel_threads() == 1


def test_threads_context_manager_restores_and_is_per_thread():
    before = scalegen.get_num_threads()
    seen = []
    with scalegen.threads(1):
        assert scalegen.get_num_threads() == 1
        t = threading.Thread(target=lambda: seen.append(scalegen.get_num_threads()))
        t.start()
        t.join()
    assert scalegen.get_num_threads() == before
    assert seen == [before]  # another Python thread keeps the default


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_thread_counts(bad):
    with pytest.raises(ValueError, match="at least 1"):
        scalegen.set_num_threads(bad)
    with pytest.raises(TypeError):
        scalegen.set_num_threads(1.5)  # type: ignore[arg-type]


def test_exception_in_parallel_loop_reaches_python():
    for n_threads in (1, 2):
        with pytest.raises(ValueError, match="iteration 17 failed"):
            _core.raise_in_parallel(n_threads, 100, 17)
    assert _core.raise_in_parallel(2, 100, -1) == 100  # still usable afterwards


def test_show_config_reports_openmp_and_threads():
    buf = io.StringIO()
    scalegen.show_config(file=buf)
    text = buf.getvalue()
    assert "OpenMP          : 20" in text
    assert f"threads         : {scalegen.get_num_threads()}" in text
    assert f"instruction set : {_core.LEVEL}" in text
    assert "Eigen           : 3." in text


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


FIT_CODE = """
import numpy as np, scalegen
from scalegen import _core
rng = np.random.default_rng(0)
X = rng.standard_normal((5000, 6)) * [1, 2, 3, 1, 2, 3] + np.repeat([[0.0] * 6, [4.0] * 6], 2500, 0)
g = scalegen.GaussianMixture(3, random_state=0, tol=0, max_iter=15).fit(X)
print(_core.LEVEL)
print(repr(g.lower_bound_))
print(repr(g.means_.ravel().tolist()))
"""


def test_every_runnable_level_gives_the_same_results():
    from scalegen import _cpuinfo

    results = {}
    for level in _core.built_levels():
        if not _cpuinfo.supports(level):
            continue
        out = _run(FIT_CODE, SCALEGEN_ISA=level)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == level  # the override picked that level
        results[level] = (float(lines[1]), np.array(eval(lines[2])))
    assert "baseline" in results
    ref_lb, ref_means = results["baseline"]
    for _level, (lb, means) in results.items():
        assert lb == pytest.approx(ref_lb, rel=1e-12)
        np.testing.assert_allclose(means, ref_means, rtol=1e-9, atol=1e-9)


GENERATIVE_CODE = """
import numpy as np
from scalegen import _core
from scalegen.nn import VAE, Sequential
from scalegen.nn.optimizers import SGD
from scalegen.nn.layers import (Conv2D, Conv2DTranspose, Dense, ELU, GlobalAveragePooling2D, LeakyReLU, PReLU,
                                Reshape, UpSampling2D, ZeroPadding2D, BatchNormalization)
enc = Sequential([Conv2D(8, 3, strides=2, padding="same", activation="gelu", input_shape=(8, 8, 1)),
                  ZeroPadding2D(1), PReLU(shared_axes=[1, 2]), GlobalAveragePooling2D(), Dense(4)], seed=0)
dec = Sequential([Dense(2 * 2 * 16, activation="swish", input_shape=(2,)), Reshape((2, 2, 16)),
                  Conv2DTranspose(8, 3, strides=2, padding="same"), BatchNormalization(), LeakyReLU(0.2),
                  UpSampling2D(interpolation="bilinear"), Conv2DTranspose(1, 2, padding="same"),
                  ELU()], seed=1)
x = np.random.default_rng(0).random((64, 8, 8, 1), dtype=np.float32)
vae = VAE(enc, dec, 2, likelihood="gaussian", seed=0)
vae.compile(SGD(0.01))  # Adam would scale the rounding noise of near-zero gradients up to whole steps
vae.fit(x, epochs=2, batch_size=16, verbose=0)
print(_core.LEVEL)
print(repr(vae.sample(3, random_state=0).ravel().tolist()))
print(repr(np.concatenate([w.ravel() for w in vae.get_weights()])[::7].tolist()))
"""


def _outputs_and_weights_at_every_level(code: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Runs ``code`` (printing its level, then two lists) at every level this CPU runs."""
    from scalegen import _cpuinfo

    results = {}
    for level in _core.built_levels():
        if not _cpuinfo.supports(level):
            continue
        out = _run(code, SCALEGEN_ISA=level)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == level  # the override picked that level
        results[level] = (np.array(eval(lines[1])), np.array(eval(lines[2])))
    assert "baseline" in results
    return results


def test_every_runnable_level_trains_the_same_generative_model():
    """The decoder layers' kernels at each level (our GEMM on AVX-512 and AVX2, Eigen on the baseline)."""
    results = _outputs_and_weights_at_every_level(GENERATIVE_CODE)
    ref_samples, ref_weights = results["baseline"]
    for samples, weights in results.values():
        np.testing.assert_allclose(samples, ref_samples, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(weights, ref_weights, rtol=1e-3, atol=1e-5)


CNN_CODE = """
import numpy as np
from scalegen import _core
from scalegen.nn import Sequential
from scalegen.nn.layers import Conv2D, Dense, Flatten, MaxPooling2D
m = Sequential([Conv2D(32, 3, activation="relu", input_shape=(12, 12, 1)), MaxPooling2D(),
                Conv2D(64, 3, activation="relu"), Flatten(), Dense(32, activation="relu"),
                Dense(10, activation="softmax")], seed=0)
m.compile("adam", "sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
x, y = rng.random((40, 12, 12, 1), dtype=np.float32), rng.integers(0, 10, 40)
m.fit(x, y, epochs=2, batch_size=8, verbose=0)
print(_core.LEVEL)
print(repr(m.predict(x[:5]).ravel().tolist()))
print(repr(np.concatenate([w.ravel() for w in m.get_weights()])[::97].tolist()))
"""


def test_every_runnable_level_trains_the_same_cnn():
    """Each level has its own GEMM (AVX-512 and AVX2 register tiles, Eigen on the baseline)."""
    results = _outputs_and_weights_at_every_level(CNN_CODE)
    ref_out, ref_weights = results["baseline"]
    for outputs, weights in results.values():
        np.testing.assert_allclose(outputs, ref_out, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(weights, ref_weights, rtol=1e-3, atol=1e-5)


def test_best_level_is_picked_and_bad_override_is_refused():
    from scalegen import _cpuinfo

    best = next(lvl for lvl in _core.built_levels() if _cpuinfo.supports(lvl))
    assert _core.LEVEL == best or os.environ.get("SCALEGEN_ISA")
    out = _run("import scalegen", SCALEGEN_ISA="avx9000")
    assert out.returncode != 0 and "is not a level" in out.stderr


def _child_fit(queue):
    X = np.random.default_rng(2).standard_normal((50_000, 4))
    g = scalegen.GaussianMixture(2, max_iter=3, tol=0, random_state=0).fit(X)
    queue.put((_core.in_forked_child(), float(g.lower_bound_)))


@pytest.mark.parametrize("method", [None, "fork", "spawn"])
def test_child_process_runs_kernels_after_parent_did(method):
    if method is not None and method not in mp.get_all_start_methods():
        pytest.skip(f"{method} not available")
    X = np.random.default_rng(2).standard_normal((50_000, 4))
    parent = scalegen.GaussianMixture(2, max_iter=3, tol=0, random_state=0).fit(X)  # warms the pool
    ctx = mp.get_context(method)
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_fit, args=(queue,))
    proc.start()
    proc.join(timeout=120)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the child process hung running a kernel")
    assert proc.exitcode == 0
    forked, lower_bound = queue.get(timeout=5)
    assert forked == (ctx.get_start_method() == "fork")
    assert lower_bound == pytest.approx(parent.lower_bound_, rel=1e-12)


def test_cli_info_and_module_entry_point():
    for cmd in (
        [sys.executable, "-m", "scalegen", "info"],
        [os.path.join(os.path.dirname(sys.executable), "scalegen"), "info"],
    ):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "OpenMP" in out.stdout and scalegen.__version__ in out.stdout


def test_stub_is_current():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "tools", "gen_stubs.py")
    out = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
