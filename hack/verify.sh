#!/usr/bin/env bash
# Fails when generated files (deepcopy, CRDs, RBAC, webhook manifests, the
# chart files hack/chartsync derives) are stale, when Go code is not gofmt-clean,
# when go.mod is untidy, or when go vet or golangci-lint (make lint) finds anything.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^hack/tools/') 2>/dev/null || true)
if [[ -n "$unformatted" ]]; then
  echo "verify: gofmt needed on:"; echo "$unformatted"; status=1
fi

# Regenerate into the work tree, then compare against what git has.
make -s generate manifests >/dev/null
stale=$(git status --porcelain -- api config charts/jwtgate docs/api.md 2>/dev/null || true)
if [[ -n "$stale" ]]; then
  echo "verify: generated files are stale; run 'make generate manifests' and commit:"
  echo "$stale"
  git --no-pager diff --stat -- api config charts/jwtgate docs/api.md || true
  status=1
fi

cp go.mod /tmp/jwtgate-verify-go.mod; cp go.sum /tmp/jwtgate-verify-go.sum
go mod tidy
if ! git diff --quiet -- go.mod go.sum; then
  echo "verify: go.mod/go.sum are not tidy; run 'go mod tidy' and commit"; status=1
fi

go vet ./... || status=1
make -s lint || status=1
[[ $status -eq 0 ]] && echo "verify: ok"
exit $status
