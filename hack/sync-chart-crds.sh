#!/usr/bin/env bash
# Regenerates the chart's derived files (the CRD templates, operator RBAC, webhook name and
# path, the admission guard) from config/. Called by `make manifests`;
# `make verify` fails when the committed chart differs from its output.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./hack/chartsync
