# syntax=docker/dockerfile:1
# The jwtgate operator image: a static binary on a distroless base, non-root.
#
#   docker build -t ghcr.io/jwtgate/jwtgate:dev .
#
# Not built on the project's development machines or in CI (there is no
# container engine there): the binary it builds is the one `make build`
# produces (bin/manager, same flags) and that the tests run.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first, so source edits do not re-download modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux TARGETARCH=amd64 VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X github.com/jwtgate/jwtgate/internal/version.Version=${VERSION}" -o /out/manager ./cmd/manager

# distroless/static: no shell, no package manager, CA certificates and
# tzdata only; the nonroot tag runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
