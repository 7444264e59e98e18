# Everything a fresh machine with Python 3.11 and pip needs: `make run`, `make test`, `make check`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= $(AWS_REGION)
export SAM_CLI_TELEMETRY := 0

.PHONY: venv run test test-fast check lint format build bench env-vars clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the whole system on this machine, in the foreground
	$(BIN)/localcloud run --seed seed/demo_catalog.json

test: $(STAMP)  ## unit, integration, contract, localcloud and end-to-end tests
	$(BIN)/pytest -n 2 --dist loadgroup

test-fast: $(STAMP)  ## everything except the tests that start a whole localcloud
	$(BIN)/pytest -m "not e2e"

check: $(STAMP)  ## lint, format, types, template
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(AWS_REGION)

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

build: $(STAMP)  ## sam build (offline; pip builder with this machine's python3.11)
	$(BIN)/sam build --region $(AWS_REGION)

bench: $(STAMP)  ## cold/warm start, time to healthy, order to CONFIRMED
	$(BIN)/python -m bench.run

env-vars: $(STAMP)  ## env.json for `sam local invoke --env-vars` against a running localcloud
	$(BIN)/localcloud env-vars > env.json

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
