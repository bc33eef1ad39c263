#!/usr/bin/env bash
# Build the helm v3 CLI from the Go module proxy (no binary downloads are possible here)
# into a per-version cache directory outside the repo. A second run with the binary
# present is a no-op. Progress goes to stderr; the last line on stdout is the path of
# the helm binary (the test fixture reads it).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${DBMIGRATE_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dbmigrate/helm}"
OUT="${CACHE_ROOT}/${HELM_VERSION}"

log() { printf '[helm-build %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
trap 'log "FAILED at line ${LINENO}: ${BASH_COMMAND}"' ERR

if [[ -x "${OUT}/helm" ]]; then
  log "helm ${HELM_VERSION} already in ${OUT}; nothing to do"
  echo "${OUT}/helm"
  exit 0
fi

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
go_version="$("${GO}" version)" || { log "no working Go toolchain at ${GO} (set GO=/path/to/go)"; exit 1; }
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" CGO_ENABLED=0
start=$(date +%s)
log "building helm ${HELM_VERSION} with ${go_version} into ${OUT} (a cold build takes a few minutes on 2 cores)"

mkdir -p "${CACHE_ROOT}"
tmp="$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
# `go install pkg@version` builds in module mode with the release's own go.mod; the
# ldflags stamp the version so `helm version` and chart `kubeVersion` checks work.
GOBIN="${tmp}" "${GO}" install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
  "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
# Move into place only once built, so a partial build is never "cached".
mkdir -p "${OUT}"
mv -f "${tmp}/helm" "${OUT}/helm"
"${OUT}/helm" version --short >&2
log "done in $(( $(date +%s) - start ))s"
echo "${OUT}/helm"
