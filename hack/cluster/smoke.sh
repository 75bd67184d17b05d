#!/usr/bin/env bash
# Smoke test of the local cluster (make cluster-up and make images first; as root): runs
# the colors API (2 replicas) behind its Service and calls it from a client pod
# through the Service's DNS name. Leaves the namespace for inspection; delete it with
# `kubectl delete namespace jwtgate-smoke`.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$HERE/lib.sh"
export KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_PATH}"
BIN="$("$HERE/build.sh")"
KUBECTL=("$BIN/kubectl" --cache-dir "$STATE/kubectl-cache")
VERSION="${VERSION:-$(cat "$ROOT/bin/images/VERSION")}"
IMAGE_REGISTRY="${IMAGE_REGISTRY:-ghcr.io/jwtgate}"
NS=jwtgate-smoke
started=$SECONDS

# The images this test runs, from `make images` (imported again: cheap, and the tag may be new).
"$HERE/import-images.sh" "$ROOT/bin/images/colorsapp.tar" "$ROOT/bin/images/incluster-client.tar"
"${KUBECTL[@]}" create namespace "$NS" --dry-run=client -o yaml | "${KUBECTL[@]}" apply -f - >/dev/null
sed -e "s|namespace: colors|namespace: $NS|" -e "s|jwtgate-colorsapp:dev|jwtgate-colorsapp:$VERSION|" -e "s|IfNotPresent|Never|" \
  "$ROOT/config/samples/apps/colors-api.yaml" | "${KUBECTL[@]}" apply -f - >/dev/null
"${KUBECTL[@]}" -n "$NS" rollout status deployment/colors-api --timeout=120s >&2

"${KUBECTL[@]}" -n "$NS" delete pod client --ignore-not-found --wait >/dev/null
"${KUBECTL[@]}" -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: client
      image: $IMAGE_REGISTRY/jwtgate-incluster-client:$VERSION
      imagePullPolicy: Never
      # Retries: kube-proxy can program a Service a moment after its endpoints are Ready.
      args: [-retry=30s, -expect=200, "http://colors-api.$NS.svc.cluster.local/colors"]
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
YAML
"${KUBECTL[@]}" -n "$NS" wait pod/client --for=jsonpath='{.status.phase}'=Succeeded --timeout=90s >/dev/null || {
  "${KUBECTL[@]}" -n "$NS" logs client >&2 || true
  echo "smoke: FAILED: the client pod did not succeed" >&2
  exit 1
}
"${KUBECTL[@]}" -n "$NS" logs client
echo "smoke: ok in $((SECONDS - started))s: 2 replicas of colors-api answered through http://colors-api.$NS.svc.cluster.local" >&2
