# dlsuite developer commands. Every target creates .venv and installs the project on first use
# (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: demo test test-fast bench lint format install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dlsuite demo

# Tests run on TEST_WORKERS processes (pytest-xdist; each test file stays on one worker, so a
# file's module fixtures are built once). TEST_WORKERS=0 runs them in this process.
# The 25 slowest tests are listed after every run, so the slow ones stay visible.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)
	$(PYTEST) --durations=25

# The suite without the tests marked @pytest.mark.slow: the quick check while editing.
test-fast: $(STAMP)
	$(PYTEST) -m "not slow" --durations=25

bench: $(STAMP)
	$(PY) -m bench

# What CI checks: formatting, lint rules and types (configured in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m mypy

# Rewrites the tree: ruff's formatting, then ruff's safe automatic fixes (import order, ...).
format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) models reports .pytest_cache .mypy_cache .ruff_cache
