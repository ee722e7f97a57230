# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PASSGATE := $(VENV)/bin/passgate
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test test-sqlite test-postgres system-deps lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests drive for real (browser, RADIUS peer); installed when missing and root.
system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(PASSGATE) demo

test: install system-deps
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$$DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$DATABASE_URL)"; \
		$(PY) -m pytest $(PYTEST_ARGS); \
	fi

lint: install
	$(VENV)/bin/ruff check src tests sandboxes bench

bench: install
	$(PY) bench/scan.py

clean:
	rm -rf var/test*.sqlite3* .pytest_cache
