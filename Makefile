# Two commands do all the set-up on a fresh clone: `make report` and `make test`.
# Each (re)creates .venv when it is missing or older than pyproject.toml, then installs into it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS ?= all,test

.PHONY: report test unit parity venv bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

venv: $(STAMP)

## The main job: every installed adapter on the default grid, results into reports/.
report: $(STAMP)
	$(PY) -m harness run --cases cases/default.yaml --out reports

## The harness's own tests, then the parity run on the smoke grid as pytest items.
test: $(STAMP)
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q -p no:cacheprovider cases/smoke.yaml

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
