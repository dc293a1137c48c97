# `make run` and `make test` are the only commands a newcomer needs: both create .venv and
# install what is missing.  `make check` runs every check CI cares about.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test check lint typecheck coverage schemas clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[embedded,test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/newsd run

# Four test processes on two cores: most tests wait on subprocesses, brokers and sockets.
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 4

lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check daemon tests bench scripts
	$(BIN)/ruff check daemon tests bench scripts

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy --strict daemon

check: lint typecheck test

# Line coverage of daemon/, including the daemon processes the end-to-end tests start.
coverage: $(VENV)/.installed-test
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -p no:cacheprovider
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

schemas: $(VENV)/.installed-test
	$(BIN)/python -m daemon.schemas

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.*
