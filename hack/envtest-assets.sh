#!/usr/bin/env bash
# Builds a real kube-apiserver, etcd and kubectl from Go modules into a cache
# outside the work tree, so every clone on this machine reuses them. There is no
# download site for prebuilt binaries here; the Go module proxy is all we need.
# Prints the directory holding the binaries (for KUBEBUILDER_ASSETS) on stdout;
# progress goes to stderr. Does nothing when the binaries are already there.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.7.0}"
CACHE_ROOT="${JWTGATE_ENVTEST_CACHE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/jwtgate}"
ASSETS="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

say() { echo "envtest-assets: $*" >&2; }

if [[ -x "$ASSETS/kube-apiserver" && -x "$ASSETS/etcd" && -x "$ASSETS/kubectl" ]]; then
  echo "$ASSETS"
  exit 0
fi

mkdir -p "$ASSETS"
work="$(mktemp -d "${TMPDIR:-/tmp}/jwtgate-envtest-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

started=$SECONDS
progress() {
  # One line every 30s while a long build runs, so nobody thinks it hung.
  while sleep 30; do say "still building $1 ($((SECONDS - started))s so far)..."; done
}

if [[ ! -x "$ASSETS/kube-apiserver" || ! -x "$ASSETS/kubectl" ]]; then
  say "building kube-apiserver and kubectl v$K8S_VERSION from k8s.io/kubernetes (first time only, ~5-10 min on 2 cores)"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  go mod init jwtgate.local/k8s-build >/dev/null 2>&1
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >"$work/k8s.json"
  gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' "$work/k8s.json")"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with local directories; outside its repo we point each at its published tag.
  staging=$(grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}')
  {
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    for m in $staging; do echo "replace $m => $m v0.${K8S_VERSION#1.}"; done
  } >>go.mod
  cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  progress kube-apiserver & pid=$!
  go mod tidy >/dev/null 2>&1 || go mod tidy
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION" \
    -o "$ASSETS/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  kill "$pid" 2>/dev/null || true
fi

if [[ ! -x "$ASSETS/etcd" ]]; then
  say "building etcd v$ETCD_VERSION from go.etcd.io/etcd/server/v3"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init jwtgate.local/etcd-build >/dev/null 2>&1
  cat >tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  echo "require go.etcd.io/etcd/server/v3 v$ETCD_VERSION" >>go.mod
  progress etcd & pid=$!
  go mod tidy >/dev/null 2>&1 || go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$ASSETS/etcd" go.etcd.io/etcd/server/v3
  kill "$pid" 2>/dev/null || true
fi

say "control plane ready in $ASSETS ($((SECONDS - started))s)"
echo "$ASSETS"
