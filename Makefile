# The two commands: `make run` starts the product, `make test` runs every test.
SHELL := bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Tests run against the real PostgreSQL and Redis; override these to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install run test bench migrate demo schema clean-var

# The settings default to production (DEBUG off: a real SECRET_KEY, EMAIL_URL and SITE_URL
# required, https enforced). These development commands turn DEBUG on for themselves unless
# DEBUG is already set; the test suite does the same in pyproject.toml (pytest-env).
migrate demo run bench schema: export DEBUG ?= true

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet ".[test]"
	touch $@

install: $(BIN)/.installed

migrate: install
	mkdir -p var
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py seed_demo

# Web + Celery worker + beat together (honcho runs Procfile.dev); Ctrl-C stops all three.
run: demo
	$(BIN)/python manage.py collectstatic --no-input -v0
	@echo ""
	@echo "  Open http://$(HOST):$(PORT)/            patient app   (invitation code DEMO2345)"
	@echo "       http://$(HOST):$(PORT)/coordinator/  care team     (coordinator / prepare-demo-2026)"
	@echo "       http://$(HOST):$(PORT)/admin/        admin         (lead / prepare-demo-2026, then a code printed above)"
	@echo "       http://$(HOST):$(PORT)/api/docs/     API docs"
	@echo ""
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} HOST=$(HOST) PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/honcho -f Procfile.dev start --port $(PORT)

# The security linter first (each `nosec` in the code says why), then every test.
test: install
	$(BIN)/bandit -q -c pyproject.toml -r prepapp checklists frontend config bench
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/pytest $(PYTEST_ARGS)

# Every benchmark (about 15 minutes, the 100,000-patient morning peak included); BENCH_ARGS=--quick runs them all small and short, as a check.
# Lighthouse, for the app's part, is pinned in bench/lighthouse/package-lock.json (npm ci).
bench: install bench/lighthouse/node_modules/.installed
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/python -m bench $(BENCH_ARGS)

bench/lighthouse/node_modules/.installed: bench/lighthouse/package-lock.json
	npm ci --no-audit --no-fund --prefix bench/lighthouse
	touch $@

# The OpenAPI schema as a file, validated, with no warning allowed (as tests/test_api_schema.py checks).
schema: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file openapi.yaml

