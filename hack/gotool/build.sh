#!/usr/bin/env bash
# Build a Go command from the Go module proxy (no binary downloads are possible here) into a per-version cache
# directory outside the repo: `build.sh NAME PACKAGE VERSION [LDFLAGS]`. A second run with the binary present is a
# no-op. Progress goes to stderr; the last line on stdout is the path of the binary (test fixtures read it).
set -euo pipefail

NAME="$1" PACKAGE="$2" VERSION="$3" LDFLAGS="${4:-}"
CACHE_ROOT="${DBMIGRATE_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dbmigrate}/${NAME}"
OUT="${CACHE_ROOT}/${VERSION}"

log() { printf '[%s-build %s] %s\n' "${NAME}" "$(date -u +%H:%M:%S)" "$*" >&2; }
trap 'log "FAILED at line ${LINENO}: ${BASH_COMMAND}"' ERR

if [[ -x "${OUT}/${NAME}" ]]; then
  log "${NAME} ${VERSION} already in ${OUT}; nothing to do"
  echo "${OUT}/${NAME}"
  exit 0
fi

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
go_version="$("${GO}" version)" || { log "no working Go toolchain at ${GO} (set GO=/path/to/go)"; exit 1; }
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" CGO_ENABLED=0
start=$(date +%s)
log "building ${NAME} ${VERSION} with ${go_version} into ${OUT} (a cold build takes a few minutes on 2 cores)"

mkdir -p "${CACHE_ROOT}"
tmp="$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
# `go install pkg@version` builds in module mode with the release's own go.mod.
GOBIN="${tmp}" "${GO}" install -trimpath -ldflags "-s -w ${LDFLAGS}" "${PACKAGE}@${VERSION}"
# Move into place only once built, so a partial build is never "cached".
mkdir -p "${OUT}"
mv -f "${tmp}/${NAME}" "${OUT}/${NAME}"
log "done in $(( $(date +%s) - start ))s"
echo "${OUT}/${NAME}"
