#!/usr/bin/env bash
# End-to-end test on the local cluster (make cluster-up and make cluster-images first; as
# root): installs charts/jwtgate with the packed images, runs the development issuer over
# https in namespace idp (a test CA made here; the JWTAuthorizer trusts it through
# caBundle), the colors API (2 replicas) with its ProtectedRoute in namespace colors, and
# makes the API gateway walkthrough's calls from a client pod through the Service's DNS
# name, with tokens that pod mints from the issuer's Service. Prints the calls as a table
# and fails on any unexpected answer; then edits the route (/colors needs a token) and
# times until both sidecars enforce it. Starts from a clean slate (removes the release and
# the namespaces of an earlier run) and leaves everything running for inspection.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$HERE/lib.sh"
[[ $EUID -eq 0 ]] || die "run as root (make cluster-up first)"
export KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_PATH}"
BIN="$("$HERE/build.sh")"
KUBECTL=("$BIN/kubectl" --cache-dir "$STATE/kubectl-cache")
HELM=(go tool -modfile="$ROOT/hack/tools/go.mod" helm)
[[ -f "$ROOT/bin/images/VERSION" ]] || die "no bin/images/VERSION: run make cluster-images"
VERSION="${VERSION:-$(cat "$ROOT/bin/images/VERSION")}"
IMAGE_REGISTRY="${IMAGE_REGISTRY:-ghcr.io/jwtgate}"
RELEASE=jwtgate
SYSTEM_NS=jwtgate-system
NS=colors # the samples' namespace: the ProtectedRoute and JWTAuthorizer apply as written
IDP_NS=idp
ISSUER=https://devissuer.idp.svc.cluster.local:8443
API=http://colors-api.$NS.svc.cluster.local
started=$SECONDS
step() { say "test-cluster: [$((SECONDS - started))s] $*"; }
fail() { say "test-cluster: FAILED: $*"; exit 1; }
k() { "${KUBECTL[@]}" "$@"; }
# The samples name the image tag `dev` and may pull: here the packed tag, never pulled.
local_images() { sed -e "s|:dev$|:$VERSION|" -e "s|imagePullPolicy: IfNotPresent|imagePullPolicy: Never|" "$@"; }

step "images $VERSION: importing"
"$HERE/import-images.sh" "$ROOT"/bin/images/*.tar

step "removing what an earlier run left"
if "${HELM[@]}" status "$RELEASE" -n "$SYSTEM_NS" >/dev/null 2>&1; then
  "${HELM[@]}" uninstall "$RELEASE" -n "$SYSTEM_NS" --wait --timeout 5m >&2
fi
k delete namespace "$NS" "$IDP_NS" --ignore-not-found --wait --timeout=180s >/dev/null

step "helm install $RELEASE (2 operator replicas, webhook certMode self)"
t0=$SECONDS
"${HELM[@]}" install "$RELEASE" "$ROOT/charts/jwtgate" -n "$SYSTEM_NS" --create-namespace \
  --set-string operator.image.tag="$VERSION" --set-string sidecar.image.tag="$VERSION" \
  --set operator.replicas=2 --set webhook.certMode=self --wait --timeout 5m >/dev/null
helm_s=$((SECONDS - t0))
k -n "$SYSTEM_NS" get pods -o wide >&2

step "test CA and the issuer's certificate for its Service name"
pki="$(mktemp -d)"
trap 'rm -rf "$pki"' EXIT
(
  cd "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=jwtgate test CA" -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=devissuer" \
    -keyout tls.key -out tls.csr 2>/dev/null
  printf 'subjectAltName=DNS:devissuer.%s.svc.cluster.local,DNS:devissuer.%s.svc\nextendedKeyUsage=serverAuth\n' "$IDP_NS" "$IDP_NS" >ext.cnf
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out tls.crt 2>/dev/null
)
k apply -f "$ROOT/config/samples/00-namespace.yaml" >/dev/null
k create namespace "$IDP_NS" --dry-run=client -o yaml | k apply -f - >/dev/null
k -n "$IDP_NS" create secret tls devissuer-tls --cert="$pki/tls.crt" --key="$pki/tls.key" >/dev/null
k -n "$NS" create configmap idp-ca --from-file=ca.crt="$pki/ca.crt" >/dev/null

step "dev issuer (https) and its JWTAuthorizer with caBundle"
local_images "$ROOT/config/samples/apps/devissuer.yaml" | k apply -f - >/dev/null
k -n "$IDP_NS" rollout status deployment/devissuer --timeout=180s >&2
# The operator fetches discovery and keys through the Service, trusting only the test CA.
k -n "$NS" wait jwtauthorizer/auth0 --for=condition=Ready --timeout=180s >/dev/null ||
  { k -n "$NS" describe jwtauthorizer auth0 >&2; fail "JWTAuthorizer auth0 is not Ready"; }

step "ProtectedRoute colors-api"
k apply -f "$ROOT/config/samples/auth_v1alpha1_protectedroute.yaml" >/dev/null
# The webhook's Service can have Ready endpoints a moment before kube-proxy programs them,
# and failurePolicy Ignore would then admit a pod without its sidecar: wait until a
# server-side dry run of a selected pod comes back injected.
probe_pod() {
  k -n "$NS" run injection-probe --dry-run=server -o jsonpath='{.spec.initContainers[*].name}' \
    --labels=app=colors-api --image="$IMAGE_REGISTRY/jwtgate-colorsapp:$VERSION" --image-pull-policy=Never \
    --overrides='{"spec":{"containers":[{"name":"colors","image":"'"$IMAGE_REGISTRY/jwtgate-colorsapp:$VERSION"'","ports":[{"name":"http","containerPort":8080}]}]}}' 2>/dev/null
}
deadline=$((SECONDS + 120))
until [[ "$(probe_pod)" == *jwtgate-sidecar* ]]; do
  ((SECONDS < deadline)) || fail "the webhook did not inject a selected pod (server-side dry run) within 120s"
  sleep 1
done

step "colors API (2 replicas, Service with a named targetPort)"
t0=$SECONDS
local_images "$ROOT/config/samples/apps/colors-api.yaml" | k apply -f - >/dev/null
k -n "$NS" rollout status deployment/colors-api --timeout=300s >&2
rollout_s=$((SECONDS - t0))
k -n "$NS" wait protectedroute/colors-api --for=condition=Ready --timeout=120s >/dev/null ||
  { k -n "$NS" describe protectedroute colors-api >&2; fail "ProtectedRoute colors-api is not Ready"; }

step "native sidecar: kubelet started it as a restartable init container"
pods=$(k -n "$NS" get pods -l app=colors-api -o jsonpath='{.items[*].metadata.name}')
n=0
for pod in $pods; do
  policy=$(k -n "$NS" get pod "$pod" -o jsonpath='{.spec.initContainers[?(@.name=="jwtgate-sidecar")].restartPolicy}')
  ready=$(k -n "$NS" get pod "$pod" -o jsonpath='{.status.initContainerStatuses[?(@.name=="jwtgate-sidecar")].ready}')
  started_=$(k -n "$NS" get pod "$pod" -o jsonpath='{.status.initContainerStatuses[?(@.name=="jwtgate-sidecar")].started}')
  say "  $pod: init container jwtgate-sidecar restartPolicy=$policy started=$started_ ready=$ready"
  [[ "$policy" == Always && "$ready" == true ]] || fail "$pod: the sidecar is not a Ready native sidecar"
  n=$((n + 1))
done
((n == 2)) || fail "want 2 colors-api pods, found $n"

step "client pod"
k -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: $IMAGE_REGISTRY/jwtgate-incluster-client:$VERSION
      imagePullPolicy: Never
      # No URLs: it waits, and each call below is a kubectl exec of it.
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
      volumeMounts:
        - {name: ca, mountPath: /ca, readOnly: true}
  volumes:
    - name: ca
      configMap: {name: idp-ca}
YAML
k -n "$NS" wait pod/client --for=condition=Ready --timeout=120s >/dev/null
client() { k -n "$NS" exec client -- /incluster-client "$@"; }

step "minting tokens from $ISSUER (from the client pod)"
# -retry: kube-proxy can program a Service a moment after its endpoints are Ready.
plain=$(client -retry 30s -format body -cacert /ca/ca.crt "$ISSUER/mint?sub=alice") || fail "minting a token"
reader=$(client -format body -cacert /ca/ca.crt "$ISSUER/mint?sub=alice&scope=read:colors") || fail "minting a token"
client -retry 30s -format status "$API/colors" >/dev/null || true

step "the API gateway walkthrough through $API"
t0=$SECONDS
failed=0
rows=()
# call WANT NAME METHOD PATH [incluster-client flags...]
call() {
  local want="$1" name="$2" method="$3" path="$4"; shift 4
  local got
  # Exit status 1 only says the answer was 400 or more; the status line says which.
  got=$(client -format status -X "$method" "$@" "$API$path" 2>"$pki/call.err") || true
  [[ -n "$got" ]] || got="error: $(tail -1 "$pki/call.err")"
  local mark=""
  [[ "$got" == "$want" ]] || { mark="  <-- unexpected"; failed=$((failed + 1)); }
  rows+=("$(printf '%-7s %-14s %-32s %4s %4s%s' "$method" "$path" "$name" "$want" "$got" "$mark")")
}
call 200 "public route, no token" GET /colors
call 401 "no token" GET /my/profile
call 200 "valid token" GET /my/profile -H "Authorization: Bearer $plain"
call 403 "token without read:colors" GET /my/colors -H "Authorization: Bearer $plain"
call 200 "token with read:colors" GET /my/colors -H "Authorization: Bearer $reader"
call 404 "no rule matches" GET /admin -H "Authorization: Bearer $reader"
call 400 "ambiguous path" GET /my/../colors
call 204 "CORS preflight from the SPA" OPTIONS /my/profile \
  -H "Origin: http://localhost:3000" -H "Access-Control-Request-Method: GET" -H "Access-Control-Request-Headers: authorization"
calls_s=$((SECONDS - t0))
echo
printf '%-7s %-14s %-32s %4s %4s\n' METHOD PATH CALL WANT GOT
printf '%s\n' "${rows[@]}"
echo
((failed == 0)) || fail "$failed call(s) answered unexpectedly"

step "route edit: /colors now needs a token; timing until both running sidecars enforce it"
k -n "$NS" patch protectedroute colors-api --type=json \
  -p='[{"op":"replace","path":"/spec/rules/0","value":{"path":"/colors","methods":["GET"],"authorizer":"auth0"}}]' >/dev/null
t0=$SECONDS
# Several 401s in a row: the Service spreads calls over both replicas.
in_a_row=0
until ((in_a_row == 4)); do
  ((SECONDS - t0 < 120)) || fail "the edited route was not enforced within 120s"
  if [[ "$(client -format status "$API/colors" 2>/dev/null || true)" == 401 ]]; then
    in_a_row=$((in_a_row + 1))
  else
    in_a_row=0
  fi
done
edit_s=$((SECONDS - t0))
say "test-cluster: ok in $((SECONDS - started))s (helm install --wait ${helm_s}s, colors-api rollout ${rollout_s}s, ${#rows[@]} calls ${calls_s}s, route edit enforced after ${edit_s}s)"
say "test-cluster: left running; remove with: helm uninstall $RELEASE -n $SYSTEM_NS; kubectl delete namespace $NS $IDP_NS"
