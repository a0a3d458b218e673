# Two commands do all the set-up on a fresh clone: `make report` and `make test`.
# Each (re)creates .venv when it is missing or older than pyproject.toml, then installs into it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS ?= all,test

.PHONY: report test unit parity venv bench clean upgrade-demo upgrade-demo-tf gate portability

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

venv: $(STAMP)

## The main job: every installed adapter on the default grid, results into reports/.
report: $(STAMP)
	$(PY) -m harness run cases/default.yaml --out reports

## The harness's own tests, then cross-framework parity on the smoke and default grids as pytest
## items (known divergences in cases/expectations.yaml are strict xfails).
test: $(STAMP)
	$(PY) -m pytest -q -n auto tests
	$(PY) -m pytest -q -rfE -p no:cacheprovider cases/smoke.yaml cases/default.yaml

## The framework-upgrade workflow, demonstrated: paddle $(OLD_PADDLE) in its own virtualenv, side
## by side with the pinned paddle in one run; the report gets "What changed between versions".
OLD_PADDLE ?= 3.2.2
ALT_VENV   := .venv-alt/paddle-$(OLD_PADDLE)

$(ALT_VENV)/.installed: ALT_PACKAGE = paddlepaddle==$(OLD_PADDLE)

upgrade-demo: $(STAMP) $(ALT_VENV)/.installed
	$(PY) -m harness run --frameworks paddle,paddle@$(OLD_PADDLE) \
	    --python paddle@$(OLD_PADDLE)=$(ALT_VENV)/bin/python --out reports/upgrade-paddle

## The same with TensorFlow $(OLD_TF) (tf.nn, and keras on that TensorFlow) against the pinned one.
OLD_TF    ?= 2.20.0
ALT_TF    := .venv-alt/tf-$(OLD_TF)

$(ALT_TF)/.installed: ALT_PACKAGE = tensorflow-cpu==$(OLD_TF)

## One virtualenv per other version, holding only that framework (ALT_PACKAGE, set per target).
.venv-alt/%/.installed:
	$(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet --upgrade pip
	$(@D)/bin/python -m pip install --quiet '$(ALT_PACKAGE)'
	@touch $@

upgrade-demo-tf: $(STAMP) $(ALT_TF)/.installed
	$(PY) -m harness run --frameworks tf.nn,tf.nn@$(OLD_TF),keras,keras@tf$(OLD_TF) \
	    --python tf.nn@$(OLD_TF)=$(ALT_TF)/bin/python --python keras@tf$(OLD_TF)=$(ALT_TF)/bin/python \
	    --out reports/upgrade-tensorflow

## The regression gate against the committed baseline.
gate: $(STAMP)
	$(PY) -m harness gate --baseline reports/baseline.json --results reports/results.json

## Verdicts do not depend on the CPU: the default grid as a lesser machine of this kind would
## dispatch (AVX-512 off, or down to the baseline ISA), gated against the committed baseline.
portability: $(STAMP)
	$(PY) -m harness.portability cases/default.yaml --out reports/portability

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
