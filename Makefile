PY ?= .venv/bin/python
.PHONY: setup demo test test-fast lint format typecheck bench clean

setup:  ## create .venv with the CPU torch wheel first, then the package and dev tools
	python3 -m venv .venv
	.venv/bin/pip install -q torch==2.13.0
	.venv/bin/pip install -q -e ".[dev,all]"

demo:  ## run the whole flagship pipeline on the embedded default
	$(PY) -m standard_coder demo

test:  ## the whole suite, slow tests included (what CI runs)
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_FLAGS)

test-fast:
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow"

lint:
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m ruff format --check src tests benchmarks examples

format:
	$(PY) -m ruff format src tests benchmarks examples
	$(PY) -m ruff check --fix src tests benchmarks examples

typecheck:
	$(PY) -m mypy

bench:  ## every benchmark prints a table and a last-line JSON
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache standard-coder-demo benchmarks/.work
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
