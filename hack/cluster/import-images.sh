#!/usr/bin/env bash
# Imports OCI image tarballs (made by hack/imagepack) into the local cluster's
# containerd, in the k8s.io namespace where the kubelet looks, and pins them: nothing
# can be pulled here, so an image garbage-collected would be gone for good.
# Usage: hack/cluster/import-images.sh IMAGE.tar...
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
[[ $EUID -eq 0 ]] || die "run as root (containerd's socket is root's)"
(($# > 0)) || die "usage: $0 IMAGE.tar..."
alive containerd || die "the cluster's containerd is not running (make cluster-up)"
BIN="$("$HERE/build.sh")"
CTR=("$BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io)

for tarball in "$@"; do
  # The name is in the layout's index (io.containerd.image.name), as imagepack writes it.
  name="$(tar -xOf "$tarball" index.json | grep -o '"io.containerd.image.name": *"[^"]*"' | cut -d'"' -f4 || true)"
  [[ -n "$name" ]] || die "$tarball: no io.containerd.image.name in its index.json"
  # ctr warns on every call that cgroup v1 is deprecated: show its output on failure only.
  out="$("${CTR[@]}" images import --platform linux/amd64 "$tarball" 2>&1)" || die "import $tarball: $out"
  out="$("${CTR[@]}" images label "$name" io.cri-containerd.pinned=pinned 2>&1)" || die "pin $name: $out"
  say "imported $name"
done
