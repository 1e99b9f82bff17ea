# Every target builds .venv on first use, so a fresh clone needs nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-sqlite test-postgresql bench lint format extract-messages clean

run: $(STAMP)
	$(BIN)/python -m bot

# The suite on SQLite and, at the same time, again on a throwaway PostgreSQL cluster (every
# test that uses the database under test; the others would only repeat themselves). The
# second's output follows the first's. Without PostgreSQL's binaries it says so and skips.
test: lint
	@TEST_DATABASE=postgresql $(BIN)/python -m pytest -p no:cacheprovider \
		> .test-postgresql.log 2>&1 & postgresql=$$!; \
	$(BIN)/python -m pytest; sqlite=$$?; \
	wait $$postgresql; other=$$?; \
	echo "--- the same suite on PostgreSQL:"; cat .test-postgresql.log; \
	rm -f .test-postgresql.log; \
	[ $$sqlite -eq 0 ] && [ $$other -eq 0 ]

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest

test-postgresql: $(STAMP)
	TEST_DATABASE=postgresql $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Pulls new message ids from the code into every catalog; translate them, then `make test`.
# The bot compiles the catalogs itself when it starts.
extract-messages: $(STAMP)
	$(BIN)/pybabel extract -k _:1,1t -k _:1,2 -k __ -k N_ --no-location --sort-output \
		-o locales/messages.pot bot handlers domain
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
