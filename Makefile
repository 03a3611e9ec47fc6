# Fresh machine -> working bot. Needs python3 (3.11+) with venv; everything else is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LINGUADESK_DATA_DIR ?= $(CURDIR)/.data

.PHONY: install models demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: the local CPU build. An unpinned torch would pull GBs of CUDA wheels.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

models: install
	$(BIN)/linguadesk models fetch

demo: models
	$(BIN)/linguadesk kb ingest examples/shop-faq
	$(BIN)/linguadesk chat

test: models
	$(BIN)/python -m pytest -q -rs

clean:
	rm -rf $(VENV) .data .pytest_cache
