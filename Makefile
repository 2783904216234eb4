# certify — every entry point a developer or CI needs. `make run` and `make test` do all set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
PACKAGES := $(patsubst %/pyproject.toml,%,$(wildcard libs/*/pyproject.toml services/*/pyproject.toml))
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
STAMP := $(VENV)/.installed
SYSTEM_STAMP := .tools/.system-installed
CHECKOV_STAMP := .tools/checkov/.installed
SRC_DIRS := $(wildcard libs/*/src services/*/src)
MYPY_PACKAGES := $(foreach d,$(SRC_DIRS),$(addprefix -p ,$(notdir $(wildcard $(d)/certify_*))))
empty :=
space := $(empty) $(empty)
PYTEST_ARGS ?=
# pytest-xdist processes of `make test` (0: one process). Two overlap the waits on service processes: about
# 8.5 min instead of 12-16. Each worker is a pytest session of its own (own databases, Redis prefixes, ports);
# a proxy with queue workers runs on a database of its own (the testkit's `databases`), so no module's workers
# take another's jobs.
TEST_WORKERS ?= 2
BENCH_ARGS ?=
comma := ,
# Product code: every package's sources but the test kit's (a pytest plugin) and the development stack's (the
# launcher of `make run`). Coverage measures these (absolute paths, so services started as processes from any
# folder agree; scripts/coverage_gate.py holds the thresholds).
PRODUCT_SRC_DIRS := $(filter-out libs/testkit/src libs/devstack/src,$(SRC_DIRS))
COVERAGE_SOURCES := $(subst $(space),$(comma),$(abspath $(PRODUCT_SRC_DIRS)))

.PHONY: help install system run demo test test-unit test-integration test-e2e test-deploy lint format bench constraints config-docs clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: $(STAMP) $(SYSTEM_STAMP) $(CHECKOV_STAMP) ## create .venv with every package (editable) and the dev tools; idempotent
	@$(PY) -m compileall -q -j 0 $(SRC_DIRS) > /dev/null

# Bytecode is compiled at install (site-packages) and by `install` (the editable sources, only what changed): where
# PYTHONDONTWRITEBYTECODE is set (this machine sets it), imports cache nothing, and every process a test or `make run`
# starts would compile its sources again (the proxy's imports: 6.7 s without bytecode, 3.9 s with). Python reads
# up-to-date .pyc files whatever that variable says, and recompiles a changed source in memory.

$(STAMP): constraints.txt requirements.in $(PYPROJECTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) && $(UV) --version | grep -q "$(UV_VERSION)" || $(PY) -m pip install -q "uv==$(UV_VERSION)"
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -c constraints.txt -r requirements.in $(addprefix -e ,$(PACKAGES))
	@touch $@

$(SYSTEM_STAMP): scripts/install-system.sh
	scripts/install-system.sh
	@mkdir -p .tools && touch $@

# checkov in its own virtualenv (its dependency tree conflicts with the project's pins), from hash-pinned files.
$(CHECKOV_STAMP): tools/checkov/requirements.txt $(STAMP)
	@test -x .tools/checkov/bin/python || $(PYTHON) -m venv .tools/checkov
	$(UV) pip install --quiet --python .tools/checkov/bin/python --require-hashes -r tools/checkov/requirements.txt
	@touch $@

system: ## install the system peers (zbar-tools, MCP Inspector)
	scripts/install-system.sh

constraints: ## recompile constraints.txt (pins + hashes, no index URLs) from requirements.in
	@test -x $(UV) || $(MAKE) install
	$(UV) pip compile requirements.in --python-version 3.11 --generate-hashes --no-header --no-annotate -o constraints.txt
	$(UV) pip compile tools/checkov/requirements.in --python-version 3.11 --generate-hashes --no-header --no-annotate -o tools/checkov/requirements.txt

run: install ## start the stack (DATABASE_URL / REDIS_URL when set, else embedded defaults) and keep it running (Ctrl-C stops it)
	$(PY) -m certify_devstack run

demo: install ## start the stack, run the main job once, stop; exit status tells
	$(PY) -m certify_devstack demo

test: install ## unit, integration, e2e and deployment tests (PostgreSQL/Redis from DATABASE_URL/REDIS_URL), then the coverage gates
	rm -f .coverage .coverage.*
	COVERAGE_FILE=$(CURDIR)/.coverage $(VENV)/bin/coverage run --source=$(COVERAGE_SOURCES) -m pytest libs services tests \
		-n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)
	$(VENV)/bin/coverage combine --quiet
	$(PY) scripts/coverage_gate.py

test-deploy: install ## images install and start, chart renders/validates/lints, policy scan, workflows (no cluster)
	$(PY) -m pytest tests/deploy $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest libs services -m "not integration and not e2e"

# bandit: product code and the development stack in full; the test kit is a pytest plugin whose asserts are test
# verdicts (B101 skipped).
lint: install ## ruff, mypy strict, hadolint, bandit
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MYPYPATH=$(subst $(space),:,$(SRC_DIRS)) $(VENV)/bin/mypy $(MYPY_PACKAGES)
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/bandit --quiet --recursive $(PRODUCT_SRC_DIRS) libs/devstack/src
	$(VENV)/bin/bandit --quiet --recursive --skip B101 libs/testkit/src

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

config-docs: install ## rewrite README's configuration tables from the settings classes
	$(PY) scripts/config_docs.py --write

bench: install ## benchmarks that print figures and issue 14's targets (never fail on timing); BENCH_ARGS=--quick for a short run
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tools .test-logs .coverage .coverage.*
