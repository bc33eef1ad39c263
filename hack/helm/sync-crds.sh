#!/usr/bin/env bash
# Copy the CRDs from crds/ (their source) into the Helm chart, which cannot read files outside its directory.
# tests/packaging/test_chart.py fails until the copies are identical again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHART="${ROOT}/charts/dbmigrate-operator"
cp "${ROOT}/crds/dbmigrate.io_databasemigrations.yaml" "${CHART}/files/crds/"
cp "${ROOT}/crds/kopf-peering.yaml" "${CHART}/crds/"
echo "chart CRDs synced from crds/" >&2
