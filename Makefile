# Everything a fresh machine needs: `make demo` and `make test` create the virtualenv
# on first use and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cloudfence-installed
SPEC   := stacks/ai-inference/segments.yaml
CF     := $(VENV)/bin/cloudfence

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[all,test]'
	touch $(STAMP)

# An editable install leaves cloudfence's own modules uncompiled, and where the environment
# sets PYTHONDONTWRITEBYTECODE every process compiles them again (~0.1 s). Writing the
# bytecode as a wheel install does is quick when it is current.
BYTECODE := $(PY) -m compileall -q core providers

# Every target is verified with the settings its stack gives it (Kubernetes needs the
# cluster's clusterCidrs once a flow names a private network), as `pulumi up` would use them.
# One process per command for all the stacks: each provider SDK is imported once.
STACKS := $(foreach stack,$(sort $(wildcard stacks/ai-inference/Pulumi.*.yaml)),--stack $(stack))

demo: $(STAMP)
	@$(BYTECODE) >/dev/null
	$(CF) validate $(SPEC)
	@echo
	$(CF) providers
	@echo
	$(CF) verify $(STACKS)
	@echo
	$(CF) plan $(STACKS) --via-pulumi --format table

# Two workers: the suite is CPU-bound. CLOUDFENCE_CONFORMANCE_DEEP=1 make test is the deep
# run (many more random examples, every mutant).
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS)
	$(VENV)/bin/ruff check .
	$(PY) tools/typecheck.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) tools/typecheck.py

bench: $(STAMP)
	@$(BYTECODE) >/dev/null
	$(PY) benchmarks/verify_scaling.py
	$(PY) benchmarks/networks.py
	$(PY) benchmarks/scale.py --emit-max 100

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build out *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
