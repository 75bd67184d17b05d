#!/usr/bin/env bash
# Builds every binary a real single-node cluster needs from pinned Go modules into a
# cache outside the work tree (like hack/envtest-assets.sh), so every clone on this
# machine reuses them. kube-apiserver, etcd and kubectl come from the envtest assets
# (same versions). Prints the directory holding the binaries on stdout; progress goes
# to stderr. Does nothing when everything is already there.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-2.4.2}"
CNI_PLUGINS_VERSION="${CNI_PLUGINS_VERSION:-1.10.0}"
COREDNS_VERSION=1.15.0 # pinned in hack/cluster/coredns/go.mod
CACHE_ROOT="${JWTGATE_CLUSTER_CACHE:-${XDG_DATA_HOME:-$HOME/.local/share}/jwtgate-cluster}"
BIN="$CACHE_ROOT/bin/k8s-$K8S_VERSION-containerd-$CONTAINERD_VERSION-cni-$CNI_PLUGINS_VERSION-coredns-$COREDNS_VERSION"
HERE="$(cd "$(dirname "$0")" && pwd)"

K8S_BINS=(kube-controller-manager kube-scheduler kubelet kube-proxy)
CONTAINERD_BINS=(containerd ctr containerd-shim-runc-v2)
CNI_BINS=(bridge host-local loopback portmap)
ALL=(kube-apiserver etcd kubectl "${K8S_BINS[@]}" "${CONTAINERD_BINS[@]}" "${CNI_BINS[@]/#/cni/}" coredns pause)

say() { echo "cluster-build: $*" >&2; }
have() { for b in "$@"; do [[ -x "$BIN/$b" ]] || return 1; done; }

if have "${ALL[@]}"; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$BIN/cni"
work="$(mktemp -d "${TMPDIR:-/tmp}/jwtgate-cluster-build.XXXXXX")"
progress_pid=""
trap '[[ -n "$progress_pid" ]] && kill "$progress_pid" 2>/dev/null; rm -rf "$work"' EXIT
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
started=$SECONDS

# One line every 30s while a long build runs, so nobody thinks it hung.
progress_start() {
  ( while sleep 30; do say "still building $1 ($((SECONDS - started))s so far)..."; done ) &
  progress_pid=$!
}
progress_stop() { kill "$progress_pid" 2>/dev/null || true; progress_pid=""; }

# newmod DIR NAME IMPORTS...: a throwaway module whose tools.go imports the given
# packages, so `go mod tidy` resolves exactly what they need.
newmod() {
  local dir="$1" name="$2"; shift 2
  mkdir -p "$dir" && cd "$dir"
  go mod init "jwtgate.local/$name" >/dev/null 2>&1
  { echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
    for p in "$@"; do echo "	_ \"$p\""; done; echo ')'; } >tools.go
}

# 1. kube-apiserver, etcd, kubectl: the envtest assets, same versions.
if ! have kube-apiserver etcd kubectl; then
  assets="$(K8S_VERSION="$K8S_VERSION" "$HERE/../envtest-assets.sh")"
  for b in kube-apiserver etcd kubectl; do cp "$assets/$b" "$BIN/$b.tmp" && mv "$BIN/$b.tmp" "$BIN/$b"; done
fi

# 2. The other Kubernetes components, from k8s.io/kubernetes with its staging modules
# pointed at their published tags (as hack/envtest-assets.sh does).
if ! have "${K8S_BINS[@]}"; then
  say "building ${K8S_BINS[*]} v$K8S_VERSION (first time only, ~5-15 min on 2 cores)"
  pkgs=(); for b in "${K8S_BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  newmod "$work/k8s" k8s-build "${pkgs[@]}"
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >"$work/k8s.json"
  gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' "$work/k8s.json")"
  staging=$(grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}')
  {
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    for m in $staging; do echo "replace $m => $m v0.${K8S_VERSION#1.}"; done
  } >>go.mod
  progress_start "Kubernetes components"
  go mod tidy >/dev/null 2>&1 || go mod tidy
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION" \
    -o "$work/out-k8s/" "${pkgs[@]}"
  progress_stop
  mv "$work"/out-k8s/* "$BIN/"
fi

# 3. containerd v2 without the storage drivers that need cgo.
if ! have "${CONTAINERD_BINS[@]}"; then
  say "building containerd v$CONTAINERD_VERSION (~2 min)"
  m=github.com/containerd/containerd/v2
  pkgs=(); for b in "${CONTAINERD_BINS[@]}"; do pkgs+=("$m/cmd/$b"); done
  newmod "$work/containerd" containerd-build "${pkgs[@]}"
  echo "require $m v$CONTAINERD_VERSION" >>go.mod
  progress_start containerd
  go mod tidy >/dev/null 2>&1 || go mod tidy
  go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X $m/version.Version=v$CONTAINERD_VERSION" -o "$work/out-containerd/" "${pkgs[@]}"
  progress_stop
  mv "$work"/out-containerd/* "$BIN/"
fi

# 4. The CNI reference plugins the bridge network needs.
if ! have "${CNI_BINS[@]/#/cni/}"; then
  say "building CNI plugins v$CNI_PLUGINS_VERSION"
  m=github.com/containernetworking/plugins
  pkgs=("$m/plugins/main/bridge" "$m/plugins/ipam/host-local" "$m/plugins/main/loopback" "$m/plugins/meta/portmap")
  newmod "$work/cni" cni-build "${pkgs[@]}"
  echo "require $m v$CNI_PLUGINS_VERSION" >>go.mod
  go mod tidy >/dev/null 2>&1 || go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$work/out-cni/" "${pkgs[@]}"
  mv "$work"/out-cni/* "$BIN/cni/"
fi

# 5. CoreDNS with only the plugins an upstream-less cluster DNS needs, from the pinned
# module in hack/cluster/coredns (its Kubernetes client at the cluster's version).
if ! have coredns; then
  say "building CoreDNS v$COREDNS_VERSION (a few minutes)"
  progress_start CoreDNS
  go build -C "$HERE/coredns" -mod=readonly -trimpath -ldflags "-s -w" -o "$work/coredns-bin" .
  progress_stop
  mv "$work/coredns-bin" "$BIN/coredns"
fi

# 6. The pod sandbox ("pause") program; packed into an image by hack/cluster/up.sh.
if ! have pause; then
  say "building pause"
  (cd "$HERE/../.." && go build -trimpath -ldflags "-s -w" -o "$BIN/pause.tmp" ./hack/cluster/pause)
  mv "$BIN/pause.tmp" "$BIN/pause"
fi

say "cluster binaries ready in $BIN ($((SECONDS - started))s)"
echo "$BIN"
