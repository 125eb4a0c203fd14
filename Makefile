# Quickstart: `make demo` (runs the app on http://127.0.0.1:8000), `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstall when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
DEMO_ENV := DJANGO_DEBUG=1 CELERY_TASK_ALWAYS_EAGER=1 EMAIL_URL=consolemail://

.PHONY: gpu-check gpu-vendor venv browser services demo seed test test-fast faults lint bench bench-model bench-loop load-set bench-pages loadtest clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel; an unpinned torch would pull gigabytes of CUDA packages.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# Serves first: the clinic is written (seconds), then the starter model is trained and every session
# scored by a second seed_demo in the background (minutes; var/demo-setup.log) while the site answers.
demo: venv
	mkdir -p var
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo --no-train $(if $(RESEED),--reset,)
	$(DEMO_ENV) nohup $(PY) manage.py seed_demo > var/demo-setup.log 2>&1 &
	# Static files as production serves them: content-hashed names, gzip/brotli copies, cached for a year
	# (monitor_site/static_storage.py); --nostatic lets whitenoise serve them instead of runserver.
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) $(PY) manage.py runserver --nostatic 127.0.0.1:8000

# Browser tests drive Debian's Chromium (never a downloaded browser); installed here when missing and
# this user may (root + apt). Without it, tests/browser is skipped with the reason.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }; } || \
		echo "note: /usr/bin/chromium is missing (apt-get install chromium); browser tests will be skipped"

# PostgreSQL and Redis server packages, installed when missing and this user may (root + apt); otherwise
# a message names them. tests/with_services.sh then uses running servers or starts throwaway ones.
services:
	@bash tests/install_services.sh

test: venv browser services
	bash tests/with_services.sh $(PY) -m pytest $(PYTEST_ARGS)

# The inner loop (under 3 minutes on 2 cores): everything but the fault tests and the tests marked slow
# (end-to-end training, real workers and servers, the browser); stops at the first failure.
test-fast: venv services
	bash tests/with_services.sh $(PY) -m pytest -q -x -m "not faults and not slow" $(PYTEST_ARGS)

# The fault tests alone (marked `faults`; they are part of `make test` too): worker SIGKILL, Redis and
# PostgreSQL restarted under arriving sessions, broker and database unreachable, Claude and SMTP failing.
faults: venv services
	bash tests/with_services.sh $(PY) -m pytest -m faults $(PYTEST_ARGS)

# ruff, mypy with the Django and DRF plugins, and the layout tests (no import cycles, layering).
# mypy's Django plugin imports the settings, which refuse to start with DEBUG off and no key: DEBUG on.
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DJANGO_DEBUG=1 $(PY) -m mypy scoring training monitor_site
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layout.py tests/test_layering.py

# `make bench`: the model (tokens/s), the clinician pages (ms at p95 on 5,000 patients x 365 days) and the
# learning loop's decisions at a clinic's size.
bench: bench-model bench-pages bench-loop

# The learning loop's decisions on simulated clinics of 30, 100 and 300 patients (minutes on 2 cores).
bench-loop: venv
	mkdir -p var
	$(PY) -m training benchmark loop --patients 30,100,300 --out var/loop.json $(BENCH_LOOP_ARGS)

# On a CUDA machine (< 5 minutes on one 80-141 GB GPU): Qwen3.5-27B of the real shape, random weights, bf16,
# scoring tokens/s and LoRA steps beside the memory plan -> var/gpu_check.json. Uses the python and torch
# already installed there (GPU_PYTHON), the repository and var/gpu-vendor (make gpu-vendor) on PYTHONPATH;
# without CUDA it prints what it would run and exits 0. Where python3 has no torch (a laptop with this
# project's venv), the venv's python runs it.
GPU_PYTHON ?= $(shell if python3 -c 'import torch' 2>/dev/null || ! test -x $(PY); then echo python3; else echo $(PY); fi)
gpu-check:
	mkdir -p var
	PYTHONPATH=.:var/gpu-vendor $(GPU_PYTHON) -m training.bench.gpu_check $(GPU_CHECK_ARGS)

# The packages gpu-check needs beyond torch, at this venv's versions, installed into var/gpu-vendor (ignored;
# carry it to a GPU host that has torch but nothing else). transformers, peft and huggingface_hub are pure
# Python; safetensors, tokenizers, regex and PyYAML are compiled and must match that host's Python.
GPU_VENDOR_PACKAGES = transformers|peft|huggingface[-_]hub|safetensors|tokenizers|regex|pyyaml|packaging|filelock|tqdm|fsspec|typing[-_]extensions|hf[-_]xet|httpx|httpcore|h11|anyio|sniffio|idna|certifi|typer|click|shellingham
gpu-vendor: venv
	rm -rf var/gpu-vendor && mkdir -p var/gpu-vendor
	$(PY) -m pip freeze | grep -iE '^($(GPU_VENDOR_PACKAGES))==' > var/gpu-vendor.txt
	$(PY) -m pip install --quiet --no-deps --target var/gpu-vendor -r var/gpu-vendor.txt

bench-model: venv
	mkdir -p var
	$(PY) -m training bench --out var/bench.json $(BENCH_ARGS)

# Local measuring runs have DEBUG off like production, so they need a key and hosts of their own: a fresh
# key per make run unless the environment sets one (nothing they sign outlives the run).
LOCAL_SECRETS := DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')} DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}

# The load set lives in its own PostgreSQL database (built once, ~6 minutes, 3.2 GB; kept afterwards).
LOAD_DB_NAME ?= phq9_load
LOAD_DB ?= postgres://postgres@127.0.0.1:5432/$(LOAD_DB_NAME)

load-set: venv
	createdb -h 127.0.0.1 -U postgres $(LOAD_DB_NAME) 2>/dev/null || true
	$(LOCAL_SECRETS) DATABASE_URL=$(LOAD_DB) $(PY) manage.py migrate --noinput -v0
	$(LOCAL_SECRETS) DATABASE_URL=$(LOAD_DB) $(PY) manage.py make_load_set --if-missing $(LOAD_ARGS)

bench-pages: load-set
	mkdir -p var
	$(LOCAL_SECRETS) DATABASE_URL=$(LOAD_DB) $(PY) manage.py bench_pages --out var/bench_pages.json $(BENCH_PAGES_ARGS)

# `make loadtest`: POST /api/v1/sessions under load (gunicorn + a scoring worker, loopback only, ~2 minutes)
# in a PostgreSQL database and a Redis database of their own; trains a small starter model the first time.
LOADTEST_DB_NAME ?= phq9_loadtest
LOADTEST_DB ?= postgres://postgres@127.0.0.1:5432/$(LOADTEST_DB_NAME)
LOADTEST_BROKER ?= redis://127.0.0.1:6379/5
LOADTEST_ENV := $(LOCAL_SECRETS) DATABASE_URL=$(LOADTEST_DB) CELERY_BROKER_URL=$(LOADTEST_BROKER) MODEL_STORE_DIR=$(CURDIR)/var/loadtest-models

loadtest: venv
	mkdir -p var
	createdb -h 127.0.0.1 -U postgres $(LOADTEST_DB_NAME) 2>/dev/null || true
	$(LOADTEST_ENV) $(PY) manage.py migrate --noinput -v0
	$(LOADTEST_ENV) $(PY) manage.py loadtest --starter-model --purge-queue $(LOADTEST_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
