# Fresh machine -> working bot. Needs python3 (3.11+) with venv; everything else is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LINGUADESK_DATA_DIR ?= $(CURDIR)/.data

.PHONY: install models demo test services clean

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

# Test-only services from Debian: the tests start their own redis-server on a free port.
services:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
	      || echo "Could not install redis-server: the Redis tests will be skipped."; \
	  else echo "redis-server is missing (apt-get install redis-server): the Redis tests will be skipped."; fi; }

test: models services
	$(BIN)/python -m pytest -q -rs

clean:
	rm -rf $(VENV) .data .pytest_cache
