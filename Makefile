# Developer entry points: `make run` starts the portal, `make test` runs the test suite.
# Needs only python3 (>= 3.11); uv is installed into .venv when it is not on PATH.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
UV_VERSION ?= 0.13.9
BENCH_SECONDS ?= 8
BENCH_SCALE ?=

# Keep uv inside the checkout: the venv, its cache, and no interpreter downloads.
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_CACHE_DIR ?= $(CURDIR)/var/cache/uv
export UV_PYTHON := $(CURDIR)/$(PY)
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install run test lint check demo-client bench soak fuzz cluster

help:
	@echo "make run      install, migrate, create the signing key, serve on 127.0.0.1:8000"
	@echo "              with the task worker (manage.py db_worker) in the background"
	@echo "make test     install, then run the tests (ARGS='...' passes pytest arguments)"
	@echo "make bench    benchmarks under wrk, results in bench/results/ (BENCH_SECONDS=2: quick)"
	@echo "make lint     ruff check + ruff format --check + lint-imports (app layers)"
	@echo "make check    missing migrations + Django system checks"
	@echo "make install  create .venv and install the locked dependencies"
	@echo "make soak     SOAK_CLIENTS (50) clients for SOAK_SECONDS (600) against gunicorn"
	@echo "make fuzz     the property and schema fuzzers at FUZZ_EXAMPLES (5000) examples"
	@echo "make cluster  3 production-profile nodes behind HAProxy on 127.0.0.1:8080 (CLUSTER_PORT)"
	@echo "              with their own database and Redis DB /9; Ctrl-C stops them and drops it"
	@echo "make demo-client  a demo relying party on 127.0.0.1:8001 (DEMO_PORT) for the portal"
	@echo "                  at PORTAL_URL (http://127.0.0.1:8000); start \`make run\` first"

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	@uv="$$(command -v uv || true)"; \
	if [ -z "$$uv" ]; then \
		uv="$(VENV)/bin/uv"; \
		if [ ! -x "$$uv" ]; then \
			echo "uv not on PATH: installing uv $(UV_VERSION) into $(VENV)"; \
			$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --default-pip >/dev/null; \
			$(PY) -m pip install --quiet --no-cache-dir --disable-pip-version-check \
				"uv==$(UV_VERSION)" || exit 1; \
		fi; \
	fi; \
	echo "$$uv sync --frozen"; \
	"$$uv" sync --frozen

run: install
	DJANGO_ENV=development $(MANAGE) migrate --noinput
	DJANGO_ENV=development $(MANAGE) ensure_signing_key
	@echo
	@echo "To create an admin account, run in another terminal:"
	@echo "    DJANGO_ENV=development $(PY) manage.py createsuperuser"
	@echo
	@# The task worker (outbox deliveries) runs beside the server and stops when it stops.
	DJANGO_ENV=development $(MANAGE) db_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	DJANGO_ENV=development $(MANAGE) runserver 127.0.0.1:8000

test: install
	$(PY) -m tests.run $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

check: install
	DJANGO_ENV=test $(MANAGE) makemigrations --check --dry-run
	DJANGO_ENV=test $(MANAGE) check

# Registers the public PKCE client "Demo client" on the first run (var/demo_client.json),
# then serves the relying party in sso/demo_client.py; `make run` serves the portal.
demo-client: install
	DJANGO_ENV=development $(MANAGE) migrate --noinput
	DJANGO_ENV=development $(MANAGE) ensure_signing_key
	DJANGO_ENV=development $(MANAGE) demo_client_register
	$(PY) -m sso.demo_client

# Benchmarks (bench/README.md): BENCH_SECONDS per measurement (default 8; 2 = quick mode),
# BENCH_SCALE=full for the real 10M sign-in events. Installs Debian's wrk when missing.
bench: install
	@if ! command -v wrk >/dev/null; then \
		sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi; \
		$$sudo apt-get update -q && $$sudo apt-get install -y -q wrk; \
	fi
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_SCALE=$(BENCH_SCALE) $(PY) -m bench.run

SOAK_SECONDS ?= 600
SOAK_CLIENTS ?= 50
FUZZ_EXAMPLES ?= 5000

soak: install
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) $(PY) -m tests.hardening.soak

# FUZZ_EXAMPLES: examples per parser property, and linked-call scenarios per identity for the
# stateful schemathesis run (CI runs 200 and 40).
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m tests.run tests/hardening/test_parsers.py \
		tests/api/test_schemathesis.py tests/hardening/test_schemathesis_stateful.py $(ARGS)

# Three production-profile gunicorn nodes behind HAProxy (tests/hardening/cluster.py, what
# tests/hardening/test_cluster.py runs): a database of its own on the Postgres of DATABASE_URL
# (127.0.0.1:5432 by default), Redis DB /9 (flushed), HAProxy on CLUSTER_PORT and its stats page
# on the next port. Ctrl-C stops HAProxy and every node and drops the database. Installs
# Debian's haproxy when missing (as .ci/run does for the cluster test).
CLUSTER_PORT ?= 8080

cluster: install
	@if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then \
		sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi; \
		$$sudo apt-get update -q && $$sudo apt-get install -y -q haproxy; \
	fi
	CLUSTER_PORT=$(CLUSTER_PORT) $(PY) -m tests.hardening.cluster
