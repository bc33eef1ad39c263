#!/usr/bin/env bash
# The kustomize CLI, built from the Go module proxy into ~/.cache (see hack/gotool/build.sh), to build the
# examples as `kubectl apply -k` would. The last line on stdout is the binary's path.
set -euo pipefail
exec bash "$(dirname "$0")/../gotool/build.sh" kustomize sigs.k8s.io/kustomize/kustomize/v5 "${KUSTOMIZE_VERSION:-v5.7.1}"
