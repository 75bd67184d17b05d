# jwtgate: build, generate, verify, test.
# Tools are pinned in hack/tools/go.mod and run with `go tool`; nothing is installed by hand.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

TOOLS := go tool -modfile=hack/tools/go.mod
CONTROLLER_GEN := $(TOOLS) controller-gen
HELM := $(TOOLS) helm
GOLANGCI_LINT := $(TOOLS) golangci-lint
GO_TEST_FLAGS ?= -count=1
# VERSION stamps the binaries (--version, logs, jwtgate_build_info).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/jwtgate/jwtgate/internal/version.Version=$(VERSION)

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: ## Generate CRDs, RBAC and webhook manifests under config/.
	$(CONTROLLER_GEN) rbac:roleName=jwtgate-manager crd webhook paths=./api/... paths=./internal/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook
	@if [ -d charts/jwtgate ]; then hack/sync-chart-crds.sh; fi
	@go run ./hack/apidocs

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: ## Run golangci-lint (errcheck, gosec, govet, ineffassign, staticcheck, unused; see .golangci.yml).
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

.PHONY: verify
verify: ## Fail when generated files are stale or code is unformatted.
	hack/verify.sh

##@ Build

.PHONY: build
build: ## Build bin/manager, bin/jwtgate-sidecar and bin/jwtgate (the command-line tool).
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/manager ./cmd/manager
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/jwtgate-sidecar ./cmd/jwtgate-sidecar
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/jwtgate ./cmd/jwtgate

.PHONY: images
images: build ## Pack the operator, sidecar, dev issuer, colors app and a client into OCI image tarballs under bin/images/ (no container engine; VERSION=...).
	hack/images.sh

.PHONY: run
run: build ## Run the operator against the kubeconfig in use (no webhook: the API server cannot call back here).
	bin/manager --leader-elect=false --webhook-cert-mode=off

.PHONY: demo
demo: build ## The whole product end to end on a local control plane (DEMO_KEEP=1 keeps it running).
	go run ./hack/demo

##@ Test

.PHONY: envtest
envtest: ## Build the local control plane (first time only) and print its directory.
	@hack/envtest-assets.sh

# KUBEBUILDER_ASSETS: the local control plane (kube-apiserver, etcd, kubectl) built from Go
# modules and cached outside the tree; a failed build stops here rather than failing every suite.
.PHONY: test
test: build ## Run every test: unit, envtest, browser, end-to-end.
	@hack/install-chromium.sh >/dev/null
	@$(HELM) version >/dev/null # build the pinned helm here, not inside a test's timeout
	assets=$$(hack/envtest-assets.sh); KUBEBUILDER_ASSETS="$$assets" go test $(GO_TEST_FLAGS) ./...

.PHONY: test-race
test-race: ## Run the packages with concurrency under the race detector (CI runs it after make test).
	assets=$$(hack/envtest-assets.sh); KUBEBUILDER_ASSETS="$$assets" go test $(GO_TEST_FLAGS) -race \
		./sidecar/... ./internal/controller/... ./internal/certs/... ./internal/webhook/...

# SOAK_DURATION and SOAK_RATE lengthen the load-with-churn test that make test runs for 10 s at 200 req/s.
SOAK_DURATION ?= 10m
SOAK_RATE ?= 500

.PHONY: soak
soak: ## Load with churn for SOAK_DURATION (10m) at SOAK_RATE (500/s): route edits every second, key rotation every 10 s (not in CI).
	JWTGATE_SOAK_DURATION=$(SOAK_DURATION) JWTGATE_SOAK_RATE=$(SOAK_RATE) go test -count=1 -timeout 0 -v -run '^TestLoadWithChurn$$' ./test/fault/

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s; not in CI).
	hack/fuzz.sh

# BENCH_ROUNDS interleaved rounds of BENCH_DURATION runs each (a quick look: BENCH_ROUNDS=1 BENCH_DURATION=2s).
BENCH_ROUNDS ?= 5
BENCH_DURATION ?= 5s

.PHONY: bench
bench: ## Microbenchmarks, then the side-by-side against oauth2-proxy and Apache + mod_auth_openidc on loopback (root for apt-get; not in CI).
	go test -run '^$$' -bench . -benchmem ./sidecar/...
	cd hack/bench && go test -run '^$$' -bench . -benchmem ./...
	BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_DURATION=$(BENCH_DURATION) hack/bench/bench.sh

# ROUTES: the ProtectedRoute totals bench-operator grows to, in order.
ROUTES ?= 1000,10000

.PHONY: bench-operator
bench-operator: ## The operator at scale on the local control plane: ROUTES (1000,10000) over 100 JWTAuthorizers in 100 namespaces (not in CI).
	assets=$$(hack/envtest-assets.sh); KUBEBUILDER_ASSETS="$$assets" go run ./hack/operator-scale -routes $(ROUTES)

##@ Local cluster (root; a real single-node cluster, see README "Installing on a cluster")

.PHONY: cluster-up
cluster-up: ## Build (first time only) and start a real single-node cluster; prints its kubeconfig's path.
	@hack/cluster/up.sh

.PHONY: cluster-images
cluster-images: images ## Pack the images and import them into the running local cluster.
	hack/cluster/import-images.sh bin/images/*.tar

.PHONY: test-cluster
test-cluster: ## End-to-end on the running local cluster (make cluster-images first): install, walkthrough from a pod, leader failover, operator at zero, upgrade under load, GC, uninstall.
	hack/cluster/test-cluster.sh

.PHONY: demo-cluster
demo-cluster: images ## The demo on the local cluster (started if needed): chart, issuer, colors API; prints how to call it (DEMO_KEEP=1 keeps it running).
	hack/cluster/demo-cluster.sh

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and restore the host (CLUSTER_PURGE=1 also deletes its data).
	@JWTGATE_CLUSTER_PURGE=$(CLUSTER_PURGE) hack/cluster/down.sh

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-15s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
