# The two commands of the README's quickstart.
PYTHON ?= python3
SKEWLESS = $(PYTHON) -m skewless.runtime.cli

.PHONY: install demo test bench

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'

# The main job on embedded defaults (files, DuckDB, SQLite): generate events, validate, compile.
demo: install
	$(SKEWLESS) --project features demo

# Everything: unit tests and integration tests (they start their own services).
test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) bench/compile_views.py
