# syntax=docker/dockerfile:1
# The jwtgate sidecar image, injected next to protected workloads: a static
# binary on a distroless base, non-root (the injector also sets runAsNonRoot,
# a read-only root filesystem and drops all capabilities).
#
#   docker build -f sidecar.Dockerfile -t ghcr.io/jwtgate/jwtgate-sidecar:dev .
#
# Not built on the project's development machines or in CI (there is no
# container engine there): the binary it builds is the one `make build`
# produces (bin/jwtgate-sidecar, same flags) and that the tests run.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux TARGETARCH=amd64 VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X github.com/jwtgate/jwtgate/internal/version.Version=${VERSION}" -o /out/jwtgate-sidecar ./cmd/jwtgate-sidecar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jwtgate-sidecar /jwtgate-sidecar
USER 65532:65532
# 15080 serves clients, 15081 /healthz, /readyz and /metrics (sidecar/config).
EXPOSE 15080 15081
ENTRYPOINT ["/jwtgate-sidecar"]
