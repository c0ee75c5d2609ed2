# Two commands for a fresh machine: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CDK := node_modules/.bin/cdk
# The stage `make smoke` checks; SMOKE_ARGS adds options (see `python -m smoke --help`).
# `make deploy` deploys STACKS (default every stack) with CONTEXT (`-c key=value` options,
# e.g. the Custom Labels model and the A2I work team; see README "Deploy").
STACKS ?= --all
CONTEXT ?=
STAGE ?= dev
SMOKE_ARGS ?=
# `make up`: the local cloud as a server on PORT (UP_ARGS adds options, e.g. --state .localcloud/state).
PORT ?= 4566
UP_ARGS ?=
# The aws CLI the server's tests drive, in its own environment: awscli v1 pins botocore exactly.
AWSCLI_VENV := .venv-awscli
AWSCLI_STAMP := $(AWSCLI_VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 20,21
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20,21
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install prerequisites test-prerequisites demo test lint synth deploy smoke bench mutation up awscli clean

# What the machine must have; each missing piece stops here with the command that installs it
# (Debian/Ubuntu package names).
prerequisites:
	@command -v $(PYTHON) >/dev/null && $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python 3.11 or newer is required: sudo apt-get install -y python3 python3-venv"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null \
	  || { echo "Python's venv module is missing: sudo apt-get install -y python3-venv"; exit 1; }
	@command -v node >/dev/null && node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
	  || { echo "Node.js 20 or newer is required: sudo apt-get install -y nodejs npm (or https://nodejs.org)"; exit 1; }
	@command -v java >/dev/null && java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])' \
	  || { echo "A Java 17+ runtime is required (PySpark runs the Glue job locally): sudo apt-get install -y openjdk-17-jre-headless"; exit 1; }

test-prerequisites: prerequisites
	@test -x /usr/bin/chromium \
	  || { echo "The review portal's browser test needs Chromium: sudo apt-get install -y chromium"; exit 1; }

install: prerequisites $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt
	@echo "Installing the Python packages into $(VENV) (a few minutes the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --progress-bar off -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@echo "Installing the CDK command line into node_modules..."
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(AWSCLI_STAMP): requirements-awscli.txt
	@echo "Installing the aws CLI into $(AWSCLI_VENV) (the server tests drive it)..."
	$(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet --progress-bar off -r requirements-awscli.txt
	touch $@

awscli: $(AWSCLI_STAMP)

synth: install
	$(CDK) synth --quiet

# The demos show each step's result at once, so their endpoints stay on; the endpoint
# lifecycle (scale-to-zero is the dev default) runs in its own tests and benchmark.
DEMO_CONTEXT = -c comprehend_model_lifecycle:endpointPolicy=always-on \
	-c ticket_classification:endpointPolicy=always-on

demo: install
	$(CDK) synth --quiet $(DEMO_CONTEXT) --output build/demo-assembly
	$(PY) -m localcloud --assembly build/demo-assembly demo all --out demo-output

# The local cloud on one endpoint for the aws CLI and boto3, with the stage the events/ name.
up: install
	$(CDK) synth --quiet -c stage=test
	$(PY) -m localcloud serve --port $(PORT) $(UP_ARGS)

test: test-prerequisites install awscli lint
	$(PY) -m pytest -n 2 --dist loadgroup

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy stacks lambdas localcloud smoke
	$(VENV)/bin/lint-imports --no-cache

deploy: install
	$(CDK) synth --quiet $(CONTEXT)
	$(PY) -m stacks.preflight cdk.out $(STACKS)
	$(CDK) deploy $(STACKS) --app cdk.out --require-approval broadening

smoke: install
	$(PY) -m smoke --stage $(STAGE) $(SMOKE_ARGS)

bench: synth
	$(PY) -m benchmarks

# Mutation testing, not part of `make test`: mutants of lambdas/ (the caption library aside),
# each against the fast tests that call the function it changes; [tool.mutmut] in
# pyproject.toml holds the test selection. One worker. MUTANTS restricts a run to some mutants
# (MUTANTS='lambdas.shared.keys.*'); results stay in mutants/, and a later run tries only
# what changed. See docs/development.md.
MUTMUT := mutmut==3.8.1
MUTANTS ?=
mutation: $(PY_STAMP)
	$(PY) -m pip install --quiet --progress-bar off $(MUTMUT)
	$(PY) -m mutmut run --max-children 1 $(MUTANTS)
	$(PY) -m mutmut results
	$(PY) -m mutmut export-cicd-stats

clean:
	rm -rf cdk.out build .localcloud demo-output $(AWSCLI_VENV)
