# dlqadmin developer commands. `make test` and `make run` set up everything they need.
SHELL := /bin/sh
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-dates run demo screenshots migrate venv bench clean

# A virtualenv with the pinned requirements, rebuilt when they change.
$(STAMP): requirements.txt requirements-dev.txt
	@PYTHON_BIN=$$(scripts/find-python) || exit 1; \
	  if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then \
	    rm -rf $(VENV); echo "Creating $(VENV) with $$PYTHON_BIN"; $$PYTHON_BIN -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

## Run the whole test suite (real Postgres, real Redis, real Chromium).
test: $(STAMP)
	@scripts/ensure-chromium
	$(PY) -m pytest $(PYTEST_ARGS)

## The suite again under libfaketime: a year ahead, and just before midnight on 29 February.
test-dates: $(STAMP)
	@scripts/ensure-chromium
	PY=$(PY) scripts/test-dates

migrate: $(STAMP)
	$(PY) manage.py ensure_database
	$(PY) manage.py migrate --noinput

## Run the dashboard against an existing asynq Redis (ASYNQ_REDIS_URL) on PORT (default 8000).
run: migrate
	$(PY) manage.py runserver 127.0.0.1:$${PORT:-8000}

## The whole demo in one command: embedded Postgres + Redis (unless DATABASE_URL /
## ASYNQ_REDIS_URL are set) under var/demo/, demo users and data, web + scheduler.
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): $(STAMP) requirements-demo.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-demo.txt
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) scripts/demo.py

## A PNG of every page each demo role reaches, light and dark, desktop and phone, into
## screenshots/ (starts and stops the demo; PORT as for `make demo`).
screenshots: $(DEMO_STAMP)
	@scripts/ensure-chromium
	$(PY) scripts/screenshots.py

## Benchmarks (figures in bench/README.md).
bench: $(STAMP)
	$(PY) bench/bench_list_archived.py
	$(PY) bench/bench_masking.py
	$(PY) bench/bench_redrive.py
	$(PY) bench/bench_search.py
	$(PY) bench/bench_check_round.py

clean:
	rm -rf $(VENV) .pytest_cache staticfiles
