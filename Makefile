# PilotGate. `make run`: the portal with demo data; `make test`: the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run install test lint typecheck check-deploy bench worker beat clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit("PilotGate needs Python 3.11 or newer (found %s)" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_demo_vendors
	$(PY) manage.py seed_demo_metrics
	$(PY) manage.py seed_demo_costs
	$(PY) manage.py seed_demo_reviews
	@echo ""
	@echo "PilotGate is at http://$(HOST):$(PORT)/  (stop with Ctrl-C)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

check-deploy: install
	DJANGO_DEBUG=false SECRET_KEY=check-deploy-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
	ALLOWED_HOSTS=pilotgate.example.internal $(PY) manage.py check --deploy --fail-level WARNING

# The API against its OpenAPI schema (schemathesis, every check), on a throwaway SQLite database.
.PHONY: schemathesis
schemathesis: install
	PY=$(PY) bash .ci/schemathesis

bench: install
	$(PY) bench/import_bench.py

worker: install
	$(VENV)/bin/celery -A portal worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A portal beat --loglevel=INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-api
bench-api: install  # the list endpoints against hand-written twins (bench/README.md)
	$(PY) bench/api_bench.py
