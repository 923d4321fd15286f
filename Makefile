# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean report-demo report-screenshot bench-predict bench-api bench-api-large bench-import \
        bench-workflows bench-dashboard bench-dashboard-accounts screenshots bench-spark reliability reliability-quick

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/leadscore demo demo-workspace

# Spark, the differential test's second engine, runs on a Java 17+ runtime: Debian's when none is here.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JAVA   := $(VENV)/.java
$(JAVA): $(STAMP)
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; } || \
	  { echo "the Spark tests need Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }; \
	fi
	@java -version 2>&1 | head -1
	touch $(JAVA)

# Postgres, the conformance suite's third engine: Debian's server binaries, started by the tests
# themselves in a temporary directory (tests/pgserver.py; as the `postgres` user when run as root).
PG     := $(VENV)/.postgres
$(PG): $(STAMP)
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends postgresql; } || \
	  { echo "the Postgres tests need a PostgreSQL server (Debian: apt-get install postgresql)"; exit 1; }; \
	fi
	@ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -1
	touch $(PG)

# The dashboard's end-to-end tests drive Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM_OK := $(VENV)/.chromium
$(CHROMIUM_OK): $(STAMP)
	@command -v chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium; } || \
	  { echo "the browser tests need Debian's chromium (apt-get install chromium)"; exit 1; }
	@chromium --version 2>/dev/null
	touch $(CHROMIUM_OK)

test: $(STAMP) $(JAVA) $(PG) $(CHROMIUM_OK)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# Benchmarks: each target is one `leadscore bench` subcommand (the modules of src/leadscore/bench/).
# `leadscore score` (hook and settling included) vs a hand-written query, 1M contacts / 20M events
bench: $(STAMP)
	$(BIN)/leadscore bench score --contacts 1000000 --events 20000000
	$(BIN)/leadscore bench accounts --contacts 1000000 --events 20000000 --companies 100000

# engine spark: `leadscore score --engine spark` on local Spark beside DuckDB on the same Parquet files
# (1M / 20M), then Spark alone at 10M / 200M when the disk has room (docs/scale.md)
bench-spark: $(STAMP) $(JAVA)
	$(BIN)/leadscore bench spark --contacts 1000000 --events 20000000 \
		--large-contacts 10000000 --large-events 200000000

# the HTTP API: a real `leadscore serve` on 100k contacts / 2M events, 4 clients, single events and batches
bench-api: $(STAMP)
	$(BIN)/leadscore bench api --batch 1000

# real time at scale: a real `leadscore serve` on 1M contacts / 20M events (the store is kept in
# BENCH_DIR and reused by the next run), single events alone, beside batches and during a full rescoring
BENCH_DIR ?= /tmp/leadscore-bench-api-large
bench-api-large: $(STAMP)
	$(BIN)/leadscore bench api-large --contacts 1000000 --events 20000000 --dir $(BENCH_DIR)

# imports: 5M events from CSV and Parquet, 1M contacts from CSV, each the best of 5 into fresh stores
bench-import: $(STAMP)
	$(BIN)/leadscore bench import --events 5000000 --repeat 5

# the dashboard: the leads list and the lead page of a real `leadscore serve` at 1M contacts / 20M events
bench-dashboard: $(STAMP)
	$(BIN)/leadscore bench dashboard

# the accounts list and account page on the demo workspace (6,666 companies)
bench-dashboard-accounts: $(STAMP)
	$(BIN)/leadscore bench dashboard-accounts

# predictive scoring: held-out AUC/ECE on Leads.csv (5 folds) + train 100k/2M and predict 1M timings
bench-predict: $(STAMP)
	$(BIN)/leadscore bench predict

# workflows: a whole-base run of 1M contacts / 10M events with and without them, then the worker
bench-workflows: $(STAMP)
	$(BIN)/leadscore bench workflows --contacts 1000000 --events 10000000

# Load, kill -9 faults, a receiver outage, fuzzed models / API requests / CSVs, the security sweep:
# figures printed, exit 1 if any invariant broke (~45 min; docs/reliability.md records a run).
reliability: $(STAMP)
	$(BIN)/python -m tests.reliability.run

# The same scenarios, small (~3 min); `make test` runs it too (tests/reliability/test_quick.py).
reliability-quick: $(STAMP)
	$(BIN)/python -m tests.reliability.run --quick

# The demo scored at four month-ends (so the report can see leads stuck in a tier), then its report.
report-demo: $(STAMP)
	$(BIN)/leadscore demo demo-workspace > /dev/null
	for d in 2025-07-01 2025-08-01 2025-09-01 2025-10-01; do \
		$(BIN)/leadscore score --as-of $$d -w demo-workspace > /dev/null || exit 1; done
	$(BIN)/leadscore report -w demo-workspace --as-of 2025-10-01 --out demo-workspace/report.html --capacity 100

# docs/dashboard/*.png: the dashboard's main pages at 1280 and 390 px, from its own browser tests on a
# demo-sized workspace (docs/dashboard.md shows them)
screenshots: $(STAMP) $(CHROMIUM_OK)
	LEADSCORE_SCREENSHOTS=$(CURDIR)/docs/dashboard $(BIN)/python -m pytest -q tests/web/test_screenshots.py

# docs/report.png from the demo's report with headless Chromium (Debian: apt-get install chromium).
CHROMIUM ?= chromium
report-screenshot: report-demo
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --hide-scrollbars --virtual-time-budget=5000 \
		--screenshot=docs/report.png --window-size=1280,3300 file://$(CURDIR)/demo-workspace/report.html

clean:
	rm -rf $(VENV) demo-workspace
