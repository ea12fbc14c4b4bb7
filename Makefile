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

.PHONY: run test bench lint venv migrate seed clean

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

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3* .broker staticfiles
