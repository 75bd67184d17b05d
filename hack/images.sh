#!/usr/bin/env bash
# Packs jwtgate's images without a container engine (make images): the operator and
# the sidecar from `make build`'s static binaries, plus the development issuer, the
# colors app and a small in-cluster HTTP client, each a single-layer OCI image tarball
# under bin/images/ (hack/imagepack: distroless-like files, non-root user 65532).
# Tag and version label: $VERSION (default `git describe --always --dirty`).
# IMAGES_BIN (default bin) is where the operator's and the sidecar's binaries are and
# the others are built; IMAGES_OUT (default bin/images) where the tarballs go.
# The Dockerfiles build the same images for those who have a container builder.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}"
IMAGE_REGISTRY="${IMAGE_REGISTRY:-ghcr.io/jwtgate}"
BIN_DIR="${IMAGES_BIN:-bin}"
OUT="${IMAGES_OUT:-bin/images}"
say() { echo "images: $*" >&2; }

export CGO_ENABLED=0
# $BIN_DIR/manager and $BIN_DIR/jwtgate-sidecar come from `make build` (a prerequisite).
go build -trimpath -o "$BIN_DIR/" ./hack/devissuer ./hack/colorsapp ./hack/incluster-client
go build -C hack/imagepack -trimpath -o "$(realpath "$BIN_DIR")/imagepack" .
mkdir -p "$OUT"

# pack FILE BINARY IMAGE PORT...: one image, tagged $VERSION.
pack() {
  local file="$1" binary="$2" image="$3"; shift 3
  local ports=()
  for p in "$@"; do ports+=(-port "$p"); done
  "$BIN_DIR/imagepack" -binary "$binary" -ref "$IMAGE_REGISTRY/$image:$VERSION" -out "$OUT/$file.tar" \
    -label org.opencontainers.image.source=https://github.com/jwtgate/jwtgate "${ports[@]}"
  say "$OUT/$file.tar  $IMAGE_REGISTRY/$image:$VERSION"
}
# Ports as the binaries default them (the manager's metrics, probes and webhook; the
# sidecar's clients and probes; the issuer and the colors app as set in their manifests).
pack jwtgate "$BIN_DIR/manager" jwtgate 8080 8081 9443
pack jwtgate-sidecar "$BIN_DIR/jwtgate-sidecar" jwtgate-sidecar 15080 15081
pack devissuer "$BIN_DIR/devissuer" jwtgate-devissuer 5556
pack colorsapp "$BIN_DIR/colorsapp" jwtgate-colorsapp 8080
pack incluster-client "$BIN_DIR/incluster-client" jwtgate-incluster-client
echo "$VERSION" >"$OUT/VERSION"
