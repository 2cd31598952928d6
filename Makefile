# The two commands of the README's quickstart.
PYTHON ?= python3
SKEWLESS = $(PYTHON) -m skewless.runtime.cli

.PHONY: install demo test lint bench fuzz faults

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'

# The main job on embedded defaults (files, DuckDB, SQLite): generate events, validate, compile.
demo: install
	$(SKEWLESS) --project features demo

# Everything: lint, then unit tests and integration tests (they start their own services).
test: install lint
	$(PYTHON) -m pytest -q

lint: install
	$(PYTHON) -m ruff check compiler runtime api tests bench tools
	$(PYTHON) tools/typecheck.py

bench: install
	$(PYTHON) bench/compile_views.py

# The differential fuzzer with 10x the CI budget (10,000 generated views against Postgres).
fuzz: install
	SKEWLESS_FUZZ_EXAMPLES=1000 $(PYTHON) -m pytest -q -s tests/fuzz

# The fault suite alone (also part of `make test`): poison events, SIGKILLs, outages, hostile inputs.
faults: install
	$(PYTHON) -m pytest -q -s -m faults tests/faults
