# The product on the local cluster, as a user installs it: shared by test-cluster.sh
# and demo-cluster.sh (sourced, not run; lib.sh first). Each function is one step:
#   e2e_init                settings, kubectl and helm, a scratch directory
#   e2e_import_images       the packed images (bin/images) into the cluster's containerd
#   e2e_clean_slate         removes what an earlier run left (release, namespaces, CRDs)
#   e2e_install             helm install of charts/jwtgate with the packed images
#   e2e_samples             dev issuer over https (test CA), JWTAuthorizer with caBundle,
#                           the colors API (2 replicas) and its ProtectedRoute
#   e2e_client              a client pod; client ARGS... runs incluster-client in it
#   e2e_tokens              mints $plain and $reader from the issuer, from that pod
#   e2e_walkthrough         the API gateway walkthrough's calls, printed as a table
# Each step waits on conditions, never on fixed sleeps, and fails with what it saw.

e2e_init() {
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
  ISSUER=https://devissuer.$IDP_NS.svc.cluster.local:8443
  API=http://colors-api.$NS.svc.cluster.local
  LEASE=jwtgate-manager.jwtgate.io
  E2E_STARTED=$SECONDS
  SCRATCH="$(mktemp -d)"
  BACKGROUND=() # pids of what a step runs in the background, stopped on exit
  trap e2e_cleanup EXIT
}
e2e_cleanup() {
  local pid
  for pid in "${BACKGROUND[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$SCRATCH"
}

k() { "${KUBECTL[@]}" "$@"; }
helm_() { "${HELM[@]}" "$@"; }
step() { say "$E2E_NAME: [$((SECONDS - E2E_STARTED))s] $*"; }
fail() { say "$E2E_NAME: FAILED: $*"; exit 1; }
# The samples name the image tag `dev` and may pull: here the packed tag, never pulled.
local_images() { sed -e "s|:dev$|:$VERSION|" -e "s|imagePullPolicy: IfNotPresent|imagePullPolicy: Never|" "$@"; }
# until_ok SECONDS WHAT CMD...: runs CMD until it succeeds; fails naming WHAT after SECONDS.
until_ok() {
  local limit="$1" what="$2" t0=$SECONDS; shift 2
  IS_HAVE=""
  until "$@"; do
    ((SECONDS - t0 < limit)) || fail "$what: not within ${limit}s${IS_HAVE:+ (last seen: $IS_HAVE)}"
    sleep 0.5
  done
}

e2e_import_images() {
  step "images $VERSION: importing"
  "$HERE/import-images.sh" "$ROOT"/bin/images/*.tar
}

# The release, the namespaces and the CRDs of an earlier run (also a half-done one,
# and what an uninstall deliberately leaves), so every run starts the same way.
e2e_clean_slate() {
  step "removing what an earlier run left"
  if helm_ status "$RELEASE" -n "$SYSTEM_NS" >/dev/null 2>&1; then
    helm_ uninstall "$RELEASE" -n "$SYSTEM_NS" --wait --timeout 5m >&2
  fi
  k delete namespace "$NS" "$IDP_NS" "$SYSTEM_NS" --ignore-not-found --wait --timeout=180s >/dev/null
  k delete crd jwtauthorizers.auth.jwtgate.io protectedroutes.auth.jwtgate.io --ignore-not-found --wait --timeout=120s >/dev/null
}

# e2e_install [helm flags...]: 2 operator replicas, the webhook's self-managed certificate.
e2e_install() {
  step "helm install $RELEASE (2 operator replicas, webhook certMode self)"
  local t0=$SECONDS
  helm_ install "$RELEASE" "$ROOT/charts/jwtgate" -n "$SYSTEM_NS" --create-namespace \
    --set-string operator.image.tag="$VERSION" --set-string sidecar.image.tag="$VERSION" \
    --set operator.replicas=2 --set webhook.certMode=self "$@" --wait --timeout 5m >/dev/null
  HELM_INSTALL_S=$((SECONDS - t0))
  k -n "$SYSTEM_NS" get pods -o wide >&2
}

# A test CA and the issuer's certificate for its Service's DNS names, made on the spot
# (no private key is in the repository); the CA goes to ConfigMap idp-ca in $NS.
e2e_test_ca() {
  step "test CA and the issuer's certificate for its Service name"
  (
    cd "$SCRATCH"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
      -subj "/CN=jwtgate test CA" -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=devissuer" \
      -keyout tls.key -out tls.csr 2>/dev/null
    # localhost too: the demo mints tokens from this machine through kubectl port-forward.
    printf 'subjectAltName=DNS:devissuer.%s.svc.cluster.local,DNS:devissuer.%s.svc,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$IDP_NS" "$IDP_NS" >ext.cnf
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out tls.crt 2>/dev/null
  )
  k apply -f "$ROOT/config/samples/00-namespace.yaml" >/dev/null
  k create namespace "$IDP_NS" --dry-run=client -o yaml | k apply -f - >/dev/null
  k -n "$IDP_NS" create secret tls devissuer-tls --cert="$SCRATCH/tls.crt" --key="$SCRATCH/tls.key" >/dev/null
  k -n "$NS" create configmap idp-ca --from-file=ca.crt="$SCRATCH/ca.crt" >/dev/null
}

# A selected pod, created as a server-side dry run: what admission makes of it.
# Prints its init containers' names.
dry_run_selected_pod() {
  k -n "$NS" run injection-probe --dry-run=server -o jsonpath='{.spec.initContainers[*].name}' \
    --labels=app=colors-api --image="$IMAGE_REGISTRY/jwtgate-colorsapp:$VERSION" --image-pull-policy=Never \
    --overrides='{"spec":{"containers":[{"name":"colors","image":"'"$IMAGE_REGISTRY/jwtgate-colorsapp:$VERSION"'","ports":[{"name":"http","containerPort":8080}]}]}}' 2>/dev/null
}
webhook_injects() { [[ "$(dry_run_selected_pod)" == *jwtgate-sidecar* ]]; }

e2e_samples() {
  e2e_test_ca
  step "dev issuer (https) and its JWTAuthorizer with caBundle"
  local_images "$ROOT/config/samples/apps/devissuer.yaml" | k apply -f - >/dev/null
  k -n "$IDP_NS" rollout status deployment/devissuer --timeout=180s >&2
  # The operator fetches discovery and keys through the Service, trusting only the test CA.
  k -n "$NS" wait jwtauthorizer/auth0 --for=condition=Ready --timeout=180s >/dev/null ||
    { k -n "$NS" describe jwtauthorizer auth0 >&2; fail "JWTAuthorizer auth0 is not Ready"; }

  step "ProtectedRoute colors-api"
  k apply -f "$ROOT/config/samples/auth_v1alpha1_protectedroute.yaml" >/dev/null
  # The webhook's Service can have Ready endpoints a moment before kube-proxy programs
  # them, and failurePolicy Ignore would then admit a pod without its sidecar (which
  # the guard refuses): wait until a dry run of a selected pod comes back injected.
  until_ok 120 "the webhook injecting a selected pod (server-side dry run)" webhook_injects

  step "colors API (2 replicas, Service with a named targetPort)"
  local t0=$SECONDS
  local_images "$ROOT/config/samples/apps/colors-api.yaml" | k apply -f - >/dev/null
  k -n "$NS" rollout status deployment/colors-api --timeout=300s >&2
  ROLLOUT_S=$((SECONDS - t0))
  k -n "$NS" wait protectedroute/colors-api --for=condition=Ready --timeout=120s >/dev/null ||
    { k -n "$NS" describe protectedroute colors-api >&2; fail "ProtectedRoute colors-api is not Ready"; }
}

e2e_client() {
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
      # No URLs: it waits, and each call is a kubectl exec of it.
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
}
client() { k -n "$NS" exec client -- /incluster-client "$@"; }

e2e_tokens() {
  step "minting tokens from $ISSUER (from the client pod)"
  # -retry: kube-proxy can program a Service a moment after its endpoints are Ready.
  plain=$(client -retry 30s -format body -cacert /ca/ca.crt "$ISSUER/mint?sub=alice") || fail "minting a token"
  reader=$(client -format body -cacert /ca/ca.crt "$ISSUER/mint?sub=alice&scope=read:colors") || fail "minting a token"
  client -retry 30s -format status "$API/colors" >/dev/null || true
}

# e2e_walkthrough: the walkthrough's calls through the Service; prints the table and
# sets WALKTHROUGH_FAILED (the unexpected answers) and WALKTHROUGH_ROWS.
e2e_walkthrough() {
  step "the API gateway walkthrough through $API"
  local t0=$SECONDS
  WALKTHROUGH_FAILED=0
  WALKTHROUGH_ROWS=()
  call 200 "public route, no token" GET /colors
  call 401 "no token" GET /my/profile
  call 200 "valid token" GET /my/profile -H "Authorization: Bearer $plain"
  call 403 "token without read:colors" GET /my/colors -H "Authorization: Bearer $plain"
  call 200 "token with read:colors" GET /my/colors -H "Authorization: Bearer $reader"
  call 404 "no rule matches" GET /admin -H "Authorization: Bearer $reader"
  call 400 "ambiguous path" GET /my/../colors
  call 204 "CORS preflight from the SPA" OPTIONS /my/profile \
    -H "Origin: http://localhost:3000" -H "Access-Control-Request-Method: GET" -H "Access-Control-Request-Headers: authorization"
  CALLS_S=$((SECONDS - t0))
  print_table "${WALKTHROUGH_ROWS[@]}"
}

print_table() {
  echo
  printf '%-7s %-14s %-32s %4s %4s\n' METHOD PATH CALL WANT GOT
  printf '%s\n' "$@"
  echo
}

# call WANT NAME METHOD PATH [incluster-client flags...]: one row of the table.
call() {
  local want="$1" name="$2" method="$3" path="$4"; shift 4
  local got
  # Exit status 1 only says the answer was 400 or more; the status line says which.
  got=$(client -format status -X "$method" "$@" "$API$path" 2>"$SCRATCH/call.err") || true
  [[ -n "$got" ]] || got="error: $(tail -1 "$SCRATCH/call.err")"
  local mark=""
  [[ "$got" == "$want" ]] || { mark="  <-- unexpected"; WALKTHROUGH_FAILED=$((WALKTHROUGH_FAILED + 1)); }
  WALKTHROUGH_ROWS+=("$(printf '%-7s %-14s %-32s %4s %4s%s' "$method" "$path" "$name" "$want" "$got" "$mark")")
}
