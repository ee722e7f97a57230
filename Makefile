# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PASSGATE := $(VENV)/bin/passgate
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Extra arguments for the SQLite pass only (CI deselects the browser tests there).
SQLITE_PYTEST_ARGS ?=

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

# For people: SQLite, then PostgreSQL when DATABASE_URL is set. CI calls the two targets itself.
test: test-sqlite
	@if [ -n "$$DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$DATABASE_URL)"; \
		$(MAKE) --no-print-directory test-postgres; \
	fi

test-sqlite: install system-deps
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS) $(SQLITE_PYTEST_ARGS)

test-postgres: install system-deps
	@if [ -z "$$DATABASE_URL" ]; then \
		echo "test-postgres: set DATABASE_URL=postgres://user@host:port/name" >&2; exit 2; \
	fi
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests sandboxes bench

bench: install
	$(PY) bench/scan.py

clean:
	rm -rf var/test*.sqlite3* .pytest_cache
