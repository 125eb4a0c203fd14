# Quickstart: `make demo` (runs the app on http://127.0.0.1:8000), `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstall when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
DEMO_ENV := DJANGO_DEBUG=1 CELERY_TASK_ALWAYS_EAGER=1 EMAIL_URL=consolemail://

.PHONY: venv browser demo seed test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel; an unpinned torch would pull gigabytes of CUDA packages.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	mkdir -p var
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo $(if $(RESEED),--reset,)
	$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# Browser tests drive Debian's Chromium (never a downloaded browser); installed here when missing and
# this user may (root + apt). Without it, tests/browser is skipped with the reason.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
		echo "note: /usr/bin/chromium is missing (apt-get install chromium); browser tests will be skipped"

test: venv browser
	bash tests/with_services.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy scoring training monitor_site

bench: venv
	mkdir -p var
	$(PY) -m training bench --out var/bench.json $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
