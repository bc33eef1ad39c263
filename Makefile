# dbmigrate — every target installs what it needs; caches live under ~/.cache, never in the repo.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= /tmp/dbmigrate-demo.sqlite3

.PHONY: demo test lint services controlplane helm cluster bench image clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

## demo: apply the sample migrations to an embedded SQLite database and print the report
demo: $(STAMP)
	rm -rf $(DEMO_DB) $(DEMO_DB).dbmigrate-lock $(DEMO_DB)-backups
	$(BIN)/dbmigrate up --database sqlite:///$(DEMO_DB) --dir examples/demo/migrations \
		--backup-policy create --backup-dir $(DEMO_DB)-backups
	$(BIN)/dbmigrate status --database sqlite:///$(DEMO_DB) --dir examples/demo/migrations

## services: install (if missing) and start PostgreSQL 15, MariaDB 10.11 and PgBouncer (both modes) on loopback
services:
	bash scripts/services.sh

## controlplane: build etcd, kube-apiserver and kube-controller-manager into ~/.cache (no-op when built)
controlplane:
	bash hack/controlplane/build.sh

## helm: build helm from the Go module proxy into ~/.cache (no-op when built)
helm:
	bash hack/helm/build.sh

## cluster: run the local control plane until Ctrl-C and print its kubeconfig
cluster: $(STAMP) controlplane
	$(BIN)/python -m tests.fixtures.controlplane

lint: $(STAMP) helm
	$(BIN)/ruff check operator tests bench hack
	$(BIN)/ruff format --check operator tests bench hack
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$$(bash hack/helm/build.sh) lint --strict charts/dbmigrate-operator

## test: lint, then every test on real databases and the real control plane
test: $(STAMP) services controlplane lint
	$(BIN)/pytest

bench: $(STAMP) services
	$(BIN)/python bench/run.py

## image: build the dbmigrate image (needs a Docker engine)
image:
	docker build -t ghcr.io/dbmigrate/dbmigrate:$$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml) .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
