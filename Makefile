# Everything a fresh machine with Python 3.11 and pip needs: `make run`, `make test`, `make check`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= $(AWS_REGION)
export SAM_CLI_TELEMETRY := 0

.PHONY: venv runtime run test test-fast check check-types-3.11 check-types-3.13 check-template lint format build deploy bench bench-cold bench-cost bench-cache bench-latency burst soak fuzz env-vars schemas openapi rebuild-order-summaries invariants operator clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@echo "==> .venv: the development environment (about a minute on a fresh machine)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PYTHON) -m tools.pip_progress ".venv" $(BIN)/python -m pip install -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# What localcloud's workers run (see localcloud/lambda_/environment.py): the Lambda runtime's
# own packages in a venv of their own, and the shared layer built as `sam build` builds it
# (pip install -r requirements.txt --target <layer>/python). Rebuilt when either list changes.
LAMBDA_RUNTIME := .localcloud/lambda-runtime
LAMBDA_RUNTIME_STAMP := $(LAMBDA_RUNTIME)/.built

runtime: $(LAMBDA_RUNTIME_STAMP)

# Built beside the old one and swapped in, so a running localcloud's workers never see half a
# runtime (they find modules by path, and the new tree holds the same ones).
$(LAMBDA_RUNTIME_STAMP): localcloud/lambda_/runtime-requirements.txt layers/shared/requirements.txt requirements.lock
	@echo "==> $(LAMBDA_RUNTIME): what the functions run (Lambda's runtime packages, the shared layer)"
	rm -rf $(LAMBDA_RUNTIME).new $(LAMBDA_RUNTIME).old
	$(PYTHON) -m venv $(LAMBDA_RUNTIME).new/venv
	$(PYTHON) -m tools.pip_progress "runtime" \
		$(LAMBDA_RUNTIME).new/venv/bin/python -m pip install --disable-pip-version-check \
		-c requirements.lock -r localcloud/lambda_/runtime-requirements.txt
	$(PYTHON) -m tools.pip_progress "layer" \
		$(LAMBDA_RUNTIME).new/venv/bin/python -m pip install --disable-pip-version-check \
		-c requirements.lock -r layers/shared/requirements.txt \
		--target $(LAMBDA_RUNTIME).new/layers/shared/python
	cp layers/shared/requirements.txt $(LAMBDA_RUNTIME).new/layers/shared/requirements.txt
	touch $(LAMBDA_RUNTIME).new/.built
	if [ -d $(LAMBDA_RUNTIME) ]; then mv $(LAMBDA_RUNTIME) $(LAMBDA_RUNTIME).old; fi
	mv $(LAMBDA_RUNTIME).new $(LAMBDA_RUNTIME)
	rm -rf $(LAMBDA_RUNTIME).old

# RUN_ARGS: more `localcloud run` options, e.g. RUN_ARGS="--parameter-overrides
# SagaCompensationRetryIntervalSeconds=1 SagaCompensationRetryMaxAttempts=1" (README).
run: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## the whole system on this machine, in the foreground
	@echo "==> starting localcloud (full logs: .localcloud/logs/, localcloud logs --follow)"
	$(BIN)/localcloud run --seed seed/demo_catalog.json --feed $(RUN_ARGS)

# The console's browser tests (tests/browser) drive Debian's chromium through chromium-driver
# (Selenium; no browser download). Installed here with apt-get when missing, where this is root
# with apt-get; elsewhere, or when the install fails, those tests skip and say why.
.PHONY: browser
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing chromium and chromium-driver for the console's browser tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium chromium-driver >/dev/null; } \
		|| echo "chromium could not be installed: tests/browser will be skipped"; \
	else echo "chromium and chromium-driver are missing (apt-get as root installs them):" \
		"tests/browser will be skipped"; fi

# Three workers on two cores: with two, the cores sit idle about a quarter of the time, mostly
# while a test waits for AWS's own clock (a schedule's minute, a record's maximum age, retries'
# backoff); a third worker runs other tests meanwhile. Measured on 2 cores, the same tree
# within the hour: 580 s with -n 2; 497 s and 502 s with -n 3.
test: $(STAMP) $(LAMBDA_RUNTIME_STAMP) browser  ## unit, integration, contract, localcloud, end-to-end and browser tests
	$(BIN)/pytest -n 3 --dist loadgroup

fuzz: $(STAMP)  ## Schemathesis on every API operation: 1000 cases per operation and role, a new seed
	API_FUZZ_CASES=1000 API_FUZZ_SEED=random $(BIN)/pytest -p no:cacheprovider -s tests/e2e/test_api_fuzz.py

test-fast: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## everything except the tests that start a whole localcloud
	$(BIN)/pytest -m "not e2e and not sam_build"

# checkov (over the translated template) lives in a venv of its own: its dependencies move
# often and would fight the pinned dev environment. A finding not accepted, with its reason,
# in checkov-baseline.toml fails `make check`.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
TRANSLATED := .aws-sam/translated

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

check: $(STAMP) $(CHECKOV_STAMP)  ## lint, format, types (3.11 and 3.13), template (cfn-lint -c I, sam validate --lint, checkov)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# two at a time (two cores): mypy for 3.13 and 3.11 (~80 and ~60 s), then the template
	$(MAKE) --no-print-directory -j2 check-types-3.13 check-types-3.11 check-template

check-types-3.11 check-types-3.13: check-types-%: $(STAMP)
	$(BIN)/mypy --python-version $*

check-template: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/cfn-lint --include-checks I -- template.yaml
	$(BIN)/sam validate --lint --region $(AWS_REGION)
	$(BIN)/python -m tools.translate_template $(TRANSLATED)/template.json
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov --quiet --compact --soft-fail \
		--skip-download --framework cloudformation -o json -f $(TRANSLATED)/template.json \
		> $(TRANSLATED)/checkov.json
	$(BIN)/python -m tools.checkov_gate $(TRANSLATED)/checkov.json checkov-baseline.toml

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# pip-audit, in a venv of its own (as checkov): it asks a vulnerability service (PyPI's JSON API,
# or OSV with AUDIT_SERVICE=osv) about every pin of requirements.lock, so run it where that
# service is reachable (docs/security.md); without the network it fails and says so.
PIP_AUDIT_VERSION := 2.10.1
AUDIT_VENV := .venv-audit
AUDIT_STAMP := $(AUDIT_VENV)/.installed-$(PIP_AUDIT_VERSION)
AUDIT_SERVICE ?= pypi

$(AUDIT_STAMP):
	rm -rf $(AUDIT_VENV)
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip-audit==$(PIP_AUDIT_VERSION)
	touch $@

.PHONY: audit lock
audit: $(AUDIT_STAMP)  ## pip-audit of requirements.lock (needs its vulnerability service: docs/security.md)
	$(AUDIT_VENV)/bin/pip-audit --strict --disable-pip --no-deps --progress-spinner off \
		--vulnerability-service $(AUDIT_SERVICE) -r requirements.lock

lock: $(STAMP)  ## rewrite requirements.lock: the installed closure of shop-serverless[dev] (tools/lock.py)
	$(BIN)/python -m tools.lock

build: $(STAMP)  ## sam build: python3.13 arm64 artefacts from any local Python (makefile build methods)
	$(BIN)/sam build --region $(AWS_REGION)

ENV ?= dev
DEPLOY_SETTINGS ?=
deploy: build  ## make deploy ENV=dev|prod DEPLOY_SETTINGS="PaymentProviderBaseUrl=https://... NotificationSenderEmail=... OperatorAlertEmail=..."
	$(BIN)/sam deploy --config-env $(ENV) --parameter-overrides \
		$$($(BIN)/python -m tools.samconfig_overrides $(ENV)) $(DEPLOY_SETTINGS)

bench: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## every benchmark, then docs/performance.md (tables, plots)
	$(BIN)/python -m bench.cold_start $(if $(REFERENCE),--reference $(REFERENCE))
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.cost
	$(BIN)/python -m bench.catalog_cache
	$(BIN)/python -m bench.run

bench-cost: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## $ per 1,000 orders by service, STANDARD/EXPRESS x arm64/x86_64
	$(BIN)/python -m bench.cost
	$(BIN)/python -m bench.run --page-only

bench-cache: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## catalog reads with and without the API stage cache: hit ratio, latency
	$(BIN)/python -m bench.catalog_cache
	$(BIN)/python -m bench.run --page-only

bench-latency: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## p50/p95/p99 per API route under steady load, POST -> CONFIRMED
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.run --page-only

# REFERENCE=<a clone of aws-samples/aws-serverless-ecommerce-platform>, outside this project,
# to time its create_order in the same run (bench/cold_start.py).
bench-cold: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## cold init of every function against boto3's floor and the reference
	$(BIN)/python -m bench.cold_start $(if $(REFERENCE),--reference $(REFERENCE))

N ?= 1000
soak: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## N orders (default 1000) under bench/faults/soak.json, then every invariant
	PYTHONPATH=$(PROJECT_PYTHONPATH) $(BIN)/python -m bench.soak --orders $(N)

burst: $(STAMP) $(LAMBDA_RUNTIME_STAMP)  ## 200 orders from 16 threads (issue 8's burst)
	$(BIN)/python -m bench.burst

# The import roots Lambda gives each function (the shared layer, every service folder), so the
# schema generator imports each functions/<service>/<service>/events.py as the tests do.
EMPTY :=
PROJECT_PYTHONPATH := $(subst $(EMPTY) $(EMPTY),:,layers/shared $(patsubst %/,%,$(wildcard functions/*/)))

schemas: $(STAMP)  ## regenerate schemas/events/** and the README's Events table from events.py
	PYTHONPATH=$(PROJECT_PYTHONPATH) $(BIN)/python -m tools.event_schemas

openapi: $(STAMP)  ## regenerate functions/api_docs/openapi.json from every API function's resolver
	$(BIN)/python -m tools.openapi

LOCALCLOUD_AWS_URL ?= http://127.0.0.1:4566

rebuild-order-summaries: $(STAMP)  ## rebuild the orders read model from the event store (running localcloud)
	AWS_ENDPOINT_URL=$(LOCALCLOUD_AWS_URL) AWS_ACCESS_KEY_ID=localcloud AWS_SECRET_ACCESS_KEY=localcloud \
	PYTHONPATH=layers/shared:functions/orders $(BIN)/python -m rebuild_order_summaries \
		--orders-table OrdersTable --summaries-table OrderSummariesTable

# The operator's tools (ops/): against the localcloud of `make run` by default; `AWS_URL=` (empty)
# for the stack on AWS (credentials and AWS_ENDPOINT_URL from the environment). README, "Operating it".
AWS_URL ?= $(LOCALCLOUD_AWS_URL)
OPS := PYTHONPATH=$(PROJECT_PYTHONPATH) $(BIN)/python -m

invariants: $(STAMP)  ## judge the invariants of a running shop: make invariants ARGS="--json"
	$(OPS) ops.invariants $(if $(AWS_URL),--aws-url $(AWS_URL)) $(ARGS)

operator: $(STAMP)  ## the operator's tools: make operator ARGS="attention"
	$(OPS) ops.operator $(if $(AWS_URL),--aws-url $(AWS_URL)) $(ARGS)

env-vars: $(STAMP)  ## env.json for `sam local invoke --env-vars` against a running localcloud
	$(BIN)/localcloud env-vars > env.json

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
