# The two front-door commands: `make test` and `make demo`. Each creates
# .venv with the package and what it needs, so a fresh machine needs only
# Python 3.11, 3.12 or 3.13.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench

.PHONY: test check demo serve bench codegen docs screenshots clean

$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,typing]'
	touch $(STAMP)

## Everything CI checks: the generated code and the documentation site, the
## tests on every supported Python found here (noxfile.py; this one first),
## then typing and style, once.
test: $(STAMP)
	$(BIN)/python -m tools.codegen --check
	$(BIN)/python -m tools.codegen_objects --check
	$(BIN)/python -m tools.codegen_client --check
	$(MAKE) docs
	$(BIN)/nox
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Mirror a fake QuickBooks company through a real server with the simulated Web Connector.
demo: $(STAMP)
	$(BIN)/qbwc-spyne demo

## Keep the demo integration up for a real Web Connector (import demo.qwc).
serve: $(STAMP)
	$(BIN)/qbwc-spyne serve 'examples.customer_mirror:make_app()' --port 8000

## Regenerate qbwc_spyne/server/_service.py from wsdl/QBWebConnectorSvc.wsdl.
codegen: $(STAMP)
	$(BIN)/python -m tools.codegen

## The documentation site in build/site: generated reference pages checked,
## then a strict build, in which a broken link, anchor or docstring is an error
## (never --quiet: it hides the warnings from the count that --strict fails on).
docs: $(STAMP)
	$(BIN)/python -m tools.codegen_docs --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site
	$(BIN)/python -m tools.codegen_docs --inventory build/site/objects.inv

## Retake the site's screenshots of the dashboard (docs/images/) with the
## browser tests; needs Chromium (apt-get install chromium).
screenshots: $(STAMP)
	QBWC_SPYNE_DOCS_IMAGES=docs/images QBWC_SPYNE_REQUIRE_BROWSER=1 \
		$(BIN)/python -m pytest --no-cov -q tests/test_dashboard_browser.py

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

## Benchmarks: figures side by side with floors measured in the same run.
## bench_storage and bench_hosts use PostgreSQL when initdb is on PATH;
## bench_serving measures the peer and granian from the bench extra.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.bench_serving
	$(BIN)/python -m bench.bench_serving --profile
	$(BIN)/python -m bench.bench_server
	$(BIN)/python -m bench.bench_queue
	$(BIN)/python -m bench.bench_backlog
	$(BIN)/python -m bench.bench_storage
	$(BIN)/python -m bench.bench_hosts
	$(BIN)/python -m bench.bench_live
	$(BIN)/python -m bench.bench_dashboard
	$(BIN)/python -m bench.bench_status
	$(BIN)/python -m bench.bench_roundtrips
	$(BIN)/python -m bench.bench_metrics
	$(BIN)/python -m bench.bench_objects

clean:
	rm -rf $(VENV) .nox build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage
