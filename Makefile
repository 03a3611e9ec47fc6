# Fresh machine -> working bot. Needs python3 (3.11+) with venv; everything else is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LINGUADESK_DATA_DIR ?= $(CURDIR)/.data

.PHONY: install models demo test lint services clean test-vllm

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

# The demo shop page with the widget on it, over the sample FAQ (terminal chat: linguadesk chat).
# The support console's admin key: generated once into .data/demo-admin-key (mode 0600), unless
# LINGUADESK_WEB__ADMIN_API_KEY is set already.
DEMO_KEY := .data/demo-admin-key
demo: models
	$(BIN)/linguadesk kb ingest examples/shop-faq
	@test -s $(DEMO_KEY) || (umask 077; mkdir -p .data; $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(32))" > $(DEMO_KEY))
	@echo "Demo shop: http://127.0.0.1:8000/ (the chat button is in the corner; API docs at /docs). Ctrl+C stops it."
	@echo "Support console: http://127.0.0.1:8000/admin (the admin key is in $(DEMO_KEY))."
	@(sleep 10; $(BIN)/python -m webbrowser -t http://127.0.0.1:8000/ >/dev/null 2>&1 || true) &
	LINGUADESK_WEB__ADMIN_API_KEY="$${LINGUADESK_WEB__ADMIN_API_KEY:-$$(cat $(DEMO_KEY))}" $(BIN)/linguadesk serve --site examples/demo-shop

# Test-only programs from Debian: redis-server (the tests start their own on a free port) and
# Chromium for the widget tests (driven by Playwright; never a downloaded browser).
services:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "Could not install$$missing: the tests that need it will be skipped."; \
	  else echo "Missing:$$missing (apt-get install$$missing): the tests that need it will be skipped."; fi; \
	fi

# Lint and types first (config in pyproject.toml): ruff's checks and format, then mypy.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: models services lint
	$(BIN)/python -m pytest -q -rs

# Opt-in: the end-to-end answer tests against the real vLLM server (CPU build, Qwen2.5-Coder-0.5B,
# ~3.5 GB venv .venv-vllm; see scripts/test_vllm.sh). Not part of `make test`.
test-vllm: models
	bash scripts/test_vllm.sh

clean:
	rm -rf $(VENV) .data .pytest_cache
