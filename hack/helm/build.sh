#!/usr/bin/env bash
# The helm v3 CLI, built from the Go module proxy into ~/.cache (see hack/gotool/build.sh); the ldflags stamp the
# version so `helm version` and chart `kubeVersion` checks work. The last line on stdout is the binary's path.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
exec bash "$(dirname "$0")/../gotool/build.sh" helm helm.sh/helm/v3/cmd/helm "${HELM_VERSION}" \
  "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
