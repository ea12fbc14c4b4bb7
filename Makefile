# Two commands matter: `make run` and `make test`. Both create .venv on first use.
# DATABASE_URL and CELERY_BROKER_URL come from the environment; without them: SQLite in
# db.sqlite3 and the embedded broker beside it in db.sqlite3-broker (no server needed).

# The first Python >= 3.11 on PATH (override with `make PYTHON=/path/to/python3.12 ...`).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run test bench lint venv migrate seed clean vendor screenshots

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (none found on PATH)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# gunicorn + a Celery worker with beat; a child that dies is restarted (apps/core/runner.py).
# Static files come from the finders through whitenoise (config/settings/local.py): no collectstatic.
run: seed
	PORT=$(PORT) $(PY) -m apps.core.runner

# Serial on purpose: the live-worker, runner and browser tests start processes and servers
# whose start-up dominates; on two cores xdist gains little. Pass PYTEST_ARGS="-n auto" to try.
test: venv
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) bench/run.py $(BENCH)

# Every main page as PNG at 1280 and 390 px under docs/screenshots/ (demo data on a throwaway
# SQLite database, served locally, shot by Debian's chromium: apps/portal/management/commands/screenshots.py).
screenshots: venv
	$(PY) manage.py screenshots

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Browser libraries, vendored into static/vendor/<name>/ with their licence from the npm registry
# (never a CDN). Needs node and npm; the files are committed, so `make run` and CI need neither.
# The tarball must match the pinned sha512 (the registry's integrity for that version).
LIGHTWEIGHT_CHARTS_VERSION := 5.2.1
LIGHTWEIGHT_CHARTS_SHA512 := 215c282b544b1622cfb9b68a22335bb6358b9e93ccaa20014ab4dacbac2198d6bc2f5fb5f76f7656d1c9f815b23d4b8b0b0174b5c42584459dd422c1d9ad67b1
vendor:
	@command -v npm >/dev/null 2>&1 || { echo "make vendor needs npm (node.js)"; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tgz=lightweight-charts-$(LIGHTWEIGHT_CHARTS_VERSION).tgz; \
	(cd "$$tmp" && npm pack --silent lightweight-charts@$(LIGHTWEIGHT_CHARTS_VERSION) >/dev/null); \
	echo "$(LIGHTWEIGHT_CHARTS_SHA512)  $$tmp/$$tgz" | sha512sum --check --quiet; \
	tar -xzf "$$tmp/$$tgz" -C "$$tmp"; \
	out=static/vendor/lightweight-charts; rm -rf "$$out"; mkdir -p "$$out"; \
	cp "$$tmp/package/dist/lightweight-charts.standalone.production.js" \
	   "$$tmp/package/LICENSE" "$$tmp/package/package.json" "$$out/"; \
	{ sed -n '3,4s/^ \* //p' "$$out/lightweight-charts.standalone.production.js"; \
	  echo "https://www.tradingview.com/"; echo; \
	  echo "lightweight-charts $(LIGHTWEIGHT_CHARTS_VERSION) from the npm registry, Apache-2.0 (LICENSE)."; \
	  echo "The pages that draw a chart credit TradingView with a link (static/js/charts.js)."; \
	} > "$$out/NOTICE"; \
	echo "vendored lightweight-charts $(LIGHTWEIGHT_CHARTS_VERSION) into $$out/"; ls -l "$$out"

clean:
	rm -rf $(VENV) db.sqlite3* .broker staticfiles
