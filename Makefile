# Two commands for a fresh machine: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 20,21
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20,21
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test lint synth deploy bench clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || (echo "Node.js 20 or newer is required"; exit 1)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: install
	$(CDK) synth --quiet

demo: synth
	$(PY) -m localcloud demo all --out demo-output

test: install lint
	$(PY) -m pytest -n 2 --dist loadgroup

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy stacks lambdas localcloud

deploy: synth
	$(CDK) deploy --all --require-approval broadening

bench: synth
	$(PY) -m benchmarks

clean:
	rm -rf cdk.out build .localcloud demo-output
