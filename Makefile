# Two commands: `make demo` (build, load and serve the demo city) and `make test` (run the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= demo
EVENTS ?= 200000
PORT   ?= 8501

.PHONY: demo test install install-test system-packages bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/minqing demo --dir $(DEMO_DIR) --events $(EVENTS) --port $(PORT)

system-packages:
	@bash .ci/system-packages

test: install-test system-packages
	$(BIN)/python -m pytest -n 2  # both cores; the tests synchronise by files and pipes, never by time

bench: install-test
	$(BIN)/python bench/etl.py

# Refresh the lock file from the current environment after changing pyproject.toml.
lock: install-test
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) $(DEMO_DIR) tests/artifacts .pytest_cache
