# The two commands of the README. Each one sets up its own virtual environment first,
# so a fresh machine needs nothing but Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Demo values for `make run` only (target-specific: the tests and benchmarks never see them);
# production sets its own (see README, Settings).
run: export NOTIFIER_API_KEYS ?= {"demo": "demo-secret"}
# the demo key also logs into the console (an environment key holds no ops scope unless named)
run: export NOTIFIER_API_KEY_SCOPES ?= {"demo": "events,recipients,erase,ops"}
run: export NOTIFIER_RULES_DIR ?= examples/rules
run: export NOTIFIER_TEMPLATES_DIR ?= examples/templates
# Links to the citizen pages in the demo's e-mails: `notifier run` points them at its own API
# (NOTIFIER_API_HOST and NOTIFIER_API_PORT) unless NOTIFIER_PUBLIC_URL is set.

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/notifier run

# The page tests drive Debian's chromium and the alert tests run promtool (package prometheus):
# scripts/ensure-test-tools installs both with apt-get when missing (as root), else says how.
test: $(STAMP)
	scripts/ensure-test-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Benchmarks (minutes; not part of the test suite): see bench/README.md. ARGS='--count 2000'
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
