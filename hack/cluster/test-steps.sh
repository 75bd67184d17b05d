# The checks of test-cluster.sh beyond the shared install (sourced after e2e.sh; one
# function per step, each failing with what it saw).

OPERATOR=jwtgate # the chart's Deployment (release jwtgate)
OPERATOR_PODS=app.kubernetes.io/name=jwtgate,app.kubernetes.io/instance=jwtgate,app.kubernetes.io/component=operator
LOAD_RATE=25 # requests per second while the operator or the app rolls
SHUTDOWN_DELAY_S=5 # the operator's --shutdown-delay (its default)

# What `helm uninstall` leaves, as README "Upgrade, removal and compatibility" says:
# one line per object, KIND/NAMESPACE/NAME (no namespace for cluster objects), plus the
# route's Ready condition and the sidecars of running pods. Keep it in step with the README.
UNINSTALL_LEFTOVERS="
customresourcedefinition//jwtauthorizers.auth.jwtgate.io
customresourcedefinition//protectedroutes.auth.jwtgate.io
jwtauthorizer/colors/auth0
protectedroute/colors/colors-api
protectedroute-ready/colors/colors-api=False
configmap/colors/colors-api-jwtgate
role/colors/colors-api-jwtgate
rolebinding/colors/colors-api-jwtgate
pods-with-sidecar/colors/colors-api=2
"

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
at_most() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

check_native_sidecars() {
  step "native sidecar: kubelet started it as a restartable init container"
  local pods pod n=0 policy ready started_
  pods=$(k -n "$NS" get pods -l app=colors-api -o jsonpath='{.items[*].metadata.name}')
  for pod in $pods; do
    policy=$(k -n "$NS" get pod "$pod" -o jsonpath='{.spec.initContainers[?(@.name=="jwtgate-sidecar")].restartPolicy}')
    ready=$(k -n "$NS" get pod "$pod" -o jsonpath='{.status.initContainerStatuses[?(@.name=="jwtgate-sidecar")].ready}')
    started_=$(k -n "$NS" get pod "$pod" -o jsonpath='{.status.initContainerStatuses[?(@.name=="jwtgate-sidecar")].started}')
    say "  $pod: init container jwtgate-sidecar restartPolicy=$policy started=$started_ ready=$ready"
    [[ "$policy" == Always && "$ready" == true ]] || fail "$pod: the sidecar is not a Ready native sidecar"
    n=$((n + 1))
  done
  ((n == 2)) || fail "want 2 colors-api pods, found $n"
}

# The Service's named targetPort resolves to the sidecar's port (15080), not the app's.
check_service_reaches_sidecar() {
  local ports
  ports=$(k -n "$NS" get endpointslices -l kubernetes.io/service-name=colors-api -o jsonpath='{.items[*].ports[*].port}')
  say "  Service colors-api reaches port(s) $ports"
  [[ "$ports" == 15080 ]] || fail "the Service colors-api reaches port(s) '$ports', want only the sidecar's 15080"
}

check_claims_reach_app() {
  local body want='"X-User-Id": ?"alice"'
  body=$(client -format body -H "Authorization: Bearer $plain" "$API/my/profile") || fail "GET /my/profile with a token"
  [[ "$body" =~ $want ]] || fail "the app did not get X-User-Id: alice from the sidecar: $body"
  say "  the app got the verified claims: X-User-Id alice"
}

# wait_enforced STATUS SECONDS: until GET /colors answers STATUS four times in a row (the
# Service spreads calls over both replicas); prints the seconds it took.
wait_enforced() {
  local want="$1" limit="$2" t0 in_a_row=0
  t0=$(now)
  until ((in_a_row == 4)); do
    at_most "$(since "$t0")" "$limit" || fail "GET /colors did not answer $want within ${limit}s"
    if [[ "$(client -format status "$API/colors" 2>/dev/null || true)" == "$want" ]]; then
      in_a_row=$((in_a_row + 1))
    else
      in_a_row=0
    fi
  done
  since "$t0"
}

# set_colors_rule public|token: the first rule of the route, /colors.
set_colors_rule() {
  local rule='{"path":"/colors","methods":["GET"],"public":true}'
  [[ "$1" == public ]] || rule='{"path":"/colors","methods":["GET"],"authorizer":"auth0"}'
  k -n "$NS" patch protectedroute colors-api --type=json -p="[{\"op\":\"replace\",\"path\":\"/spec/rules/0\",\"value\":$rule}]" >/dev/null
}

route_edit_enforced() {
  step "route edit: /colors now needs a token; timing until both running sidecars enforce it"
  set_colors_rule token
  EDIT_S=$(wait_enforced 401 120)
}

# selected_pod NAME LABEL: a pod in $NS that never runs (a scheduling gate), for what
# admission makes of it: the colors app with its port named as the route protects.
selected_pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $NS, labels: {app: $2, jwtgate-test: probe}}
spec:
  schedulingGates: [{name: jwtgate.io/test-never-scheduled}]
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: colors
      image: $IMAGE_REGISTRY/jwtgate-colorsapp:$VERSION
      imagePullPolicy: Never
      ports: [{name: http, containerPort: 8080}]
YAML
}

# create_selected_pods STOPFILE: creates selected pods one after the other until
# STOPFILE exists; one line each: "created NAME" or "refused NAME: message".
create_selected_pods() {
  local i=0 out
  while [[ ! -e "$1" ]] && ((i < 500)); do
    i=$((i + 1))
    if out=$(selected_pod "failover-$i" colors-api | k create -f - 2>&1); then
      echo "created failover-$i"
    else
      echo "refused failover-$i: $out" | tr '\n' ' '
      echo
    fi
  done
}

created() { wc -l <"$SCRATCH/created.log"; }
created_at_least() { (($(created) >= $1)); }
lease_holder() { k -n "$SYSTEM_NS" get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}'; }
# The route's edit is reconciled: its status and its ConfigMap are at the generation.
route_reconciled() {
  local gen="$1"
  [[ "$(k -n "$NS" get protectedroute colors-api -o jsonpath='{.status.observedGeneration}')" == "$gen" ]] &&
    k -n "$NS" get configmap colors-api-jwtgate -o jsonpath='{.data.config\.json}' | grep -q "\"generation\": $gen\b"
}

leader_failover() {
  step "leader failover: deleting the leader operator pod while selected pods are being created"
  LEASE_S=$(k -n "$SYSTEM_NS" get lease "$LEASE" -o jsonpath='{.spec.leaseDurationSeconds}')
  local holder leader creator t0 gen
  holder=$(lease_holder)
  leader=${holder%%_*}
  k -n "$SYSTEM_NS" get pod "$leader" >/dev/null || fail "the lease holder $holder is not an operator pod"
  create_selected_pods "$SCRATCH/stop-creating" >"$SCRATCH/created.log" &
  creator=$!
  BACKGROUND+=("$creator")
  until_ok 60 "the first selected pod created" grep -q . "$SCRATCH/created.log"
  say "  deleting the leader $leader (lease ${LEASE_S}s; it keeps serving for its ${SHUTDOWN_DELAY_S}s shutdown delay)"
  t0=$(now)
  k -n "$SYSTEM_NS" delete pod "$leader" --wait=false >/dev/null
  until holder=$(lease_holder) && [[ -n "$holder" && "${holder%%_*}" != "$leader" ]]; do
    at_most "$(since "$t0")" 120 || fail "no new leader within 120s of the delete"
    sleep 0.2
  done
  NEW_LEADER_S=$(since "$t0")
  # An edit that only the new leader can reconcile: /colors public again.
  set_colors_rule public
  gen=$(k -n "$NS" get protectedroute colors-api -o jsonpath='{.metadata.generation}')
  until route_reconciled "$gen"; do
    at_most "$(since "$t0")" 120 || fail "the edit made under the new leader not reconciled within 120s of the delete"
    sleep 0.2
  done
  RESUME_S=$(since "$t0")
  say "  new leader ${holder%%_*} after ${NEW_LEADER_S}s; an edit made then reconciled ${RESUME_S}s after the delete"
  # Keep creating until the replacement replica serves too.
  k -n "$SYSTEM_NS" rollout status "deployment/$OPERATOR" --timeout=180s >&2
  local before
  before=$(created)
  until_ok 60 "selected pods created after the replacement operator is Ready" created_at_least $((before + 5))
  touch "$SCRATCH/stop-creating"
  wait "$creator"

  FAILOVER_PODS=$(grep -c '^created' "$SCRATCH/created.log" || true)
  if grep '^refused' "$SCRATCH/created.log" >&2; then
    fail "$(grep -c '^refused' "$SCRATCH/created.log") selected pod(s) refused during the failover (injection failed)"
  fi
  local injected
  injected=$(k -n "$NS" get pods -l jwtgate-test=probe -o jsonpath='{range .items[*]}{.spec.initContainers[*].name}{"\n"}{end}' | grep -c jwtgate-sidecar || true)
  say "  $FAILOVER_PODS selected pods created during the failover, $injected with the sidecar"
  ((injected == FAILOVER_PODS)) || fail "$((FAILOVER_PODS - injected)) selected pod(s) created without the sidecar"
  # A leader that dies without releasing the lease is replaced within its duration; one
  # that is deleted releases it at the end of its shutdown delay.
  at_most "$RESUME_S" $((LEASE_S + SHUTDOWN_DELAY_S)) ||
    fail "reconciling resumed ${RESUME_S}s after the delete, more than the lease's ${LEASE_S}s after the ${SHUTDOWN_DELAY_S}s shutdown delay"
  k -n "$NS" delete pods -l jwtgate-test=probe --wait=false >/dev/null
  wait_enforced 200 120 >/dev/null
}

# try_create NAME LABEL: creates a selected_pod; prints the refusal (status 1) or nothing.
try_create() { selected_pod "$1" "$2" | k create -f - 2>&1 >/dev/null; }

operator_scaled_to_zero() {
  step "operator scaled to zero: the guard refuses selected pods, running pods keep enforcing"
  k -n "$SYSTEM_NS" scale "deployment/$OPERATOR" --replicas=0 >/dev/null
  k -n "$SYSTEM_NS" wait pods -l "$OPERATOR_PODS" --for=delete --timeout=120s >/dev/null
  local t0 msg=""
  t0=$(now)
  # kube-proxy may route to a gone operator for a moment; a pod admitted then (with its
  # sidecar, by an operator still answering) is deleted and the creation tried again.
  while msg=$(try_create guard-probe colors-api); do
    at_most "$(since "$t0")" 60 || fail "a selected pod was still admitted 60s after the operator was scaled to zero"
    k -n "$NS" delete pod guard-probe --wait >/dev/null
  done
  REFUSED_S=$(since "$t0")
  say "  refused: $msg"
  local want
  for want in "ProtectedRoute colors-api selects this pod" "the pod has no jwtgate-sidecar init container" \
    "check that the jwtgate operator is running" "ValidatingAdmissionPolicy 'jwtgate-guard'"; do
    [[ "$msg" == *"$want"* ]] || fail "the refusal does not say \"$want\""
  done

  msg=$(try_create unselected-probe unselected) || fail "a pod no route selects was refused in an opted-in namespace: $msg"
  [[ "$(k -n "$NS" get pod unselected-probe -o jsonpath='{.spec.initContainers[*].name}')" != *jwtgate-sidecar* ]] ||
    fail "the unselected pod got a sidecar with no operator running"
  say "  a pod no route selects was admitted (no sidecar)"
  k -n "$NS" delete pod unselected-probe --wait=false >/dev/null

  step "operator at zero: the walkthrough again, against the running sidecars"
  e2e_walkthrough
  ((WALKTHROUGH_FAILED == 0)) || fail "$WALKTHROUGH_FAILED call(s) answered unexpectedly with the operator at zero"

  step "operator scaled back to 2"
  k -n "$SYSTEM_NS" scale "deployment/$OPERATOR" --replicas=2 >/dev/null
  k -n "$SYSTEM_NS" rollout status "deployment/$OPERATOR" --timeout=180s >&2
  until_ok 120 "the webhook injecting a selected pod again" webhook_injects
}

# The images of the upgrade: the same sources, stamped and tagged $VERSION-upgrade
# (built once per version, under the cluster's state directory).
build_upgrade_images() {
  UPGRADE_VERSION="$VERSION-upgrade"
  local dir="$STATE/upgrade-images"
  if [[ "$(cat "$dir/images/VERSION" 2>/dev/null)" != "$UPGRADE_VERSION" ]]; then
    step "packing the images again as $UPGRADE_VERSION"
    rm -rf "$dir"
    mkdir -p "$dir/bin"
    local ldflags="-X github.com/jwtgate/jwtgate/internal/version.Version=$UPGRADE_VERSION"
    (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/bin/" ./cmd/manager ./cmd/jwtgate-sidecar)
    (cd "$ROOT" && VERSION="$UPGRADE_VERSION" IMAGES_BIN="$dir/bin" IMAGES_OUT="$dir/images" hack/images.sh)
  fi
  "$HERE/import-images.sh" "$dir/images/jwtgate.tar" "$dir/images/jwtgate-sidecar.tar"
}

# start_load NAME [incluster-client flags]: GET /my/colors with a token at LOAD_RATE/s
# from the client pod, until stop_load. The load runs while its stdin is open: a FIFO
# that this shell holds open.
start_load() {
  LOAD_NAME="$1"; shift
  mkfifo "$SCRATCH/$LOAD_NAME.in"
  k -n "$NS" exec -i client -- /incluster-client -rate "$LOAD_RATE" -until-stdin-closes -duration 10m "$@" \
    -expect 200 -H "Authorization: Bearer $reader" "$API/my/colors" <"$SCRATCH/$LOAD_NAME.in" >"$SCRATCH/$LOAD_NAME.out" 2>&1 &
  LOAD_PID=$!
  BACKGROUND+=("$LOAD_PID")
  exec {LOAD_FD}>"$SCRATCH/$LOAD_NAME.in"
}

# stop_load: ends the load; sets LOAD_SUMMARY, fails when a request failed.
stop_load() {
  exec {LOAD_FD}>&-
  wait "$LOAD_PID" || true
  LOAD_SUMMARY=$(grep -m1 '^load: [0-9]' "$SCRATCH/$LOAD_NAME.out" | sed 's/^load: //') ||
    fail "$LOAD_NAME: the load gave no summary: $(cat "$SCRATCH/$LOAD_NAME.out")"
  say "  load: $LOAD_SUMMARY"
  [[ "$LOAD_SUMMARY" == *", 0 failed;"* ]] || { cat "$SCRATCH/$LOAD_NAME.out" >&2; fail "$LOAD_NAME: requests failed under load"; }
}

# is CMD... WANT: CMD prints WANT (the last argument); IS_HAVE keeps what it printed.
is() {
  local want="${*: -1}"
  IS_HAVE=$("${@:1:$#-1}")
  [[ "$IS_HAVE" == "$want" ]]
}
existing() { k -n "$NS" get "$@" -o name --ignore-not-found 2>/dev/null; }

operator_images() {
  k -n "$SYSTEM_NS" get pods -l "$OPERATOR_PODS" -o jsonpath='{range .items[*]}{.status.containerStatuses[0].image}{"\n"}{end}' | sort | uniq -c | xargs
}
sidecar_images() {
  k -n "$NS" get pods -l app=colors-api -o jsonpath='{range .items[*]}{.spec.initContainers[?(@.name=="jwtgate-sidecar")].image}{"\n"}{end}' | sort | uniq -c | xargs
}
dry_run_sidecar_image() {
  k -n "$NS" run injection-probe --dry-run=server -o jsonpath='{.spec.initContainers[?(@.name=="jwtgate-sidecar")].image}' \
    --labels=app=colors-api --image="$IMAGE_REGISTRY/jwtgate-colorsapp:$VERSION" --image-pull-policy=Never \
    --overrides='{"spec":{"containers":[{"name":"colors","image":"'"$IMAGE_REGISTRY/jwtgate-colorsapp:$VERSION"'","ports":[{"name":"http","containerPort":8080}]}]}}' 2>/dev/null
}

upgrade_under_load() {
  build_upgrade_images
  step "helm upgrade to $UPGRADE_VERSION while the client calls at ${LOAD_RATE}/s"
  # A token minted now: the first ones may be close to their hour when runs are slow.
  reader=$(client -format body -cacert /ca/ca.crt "$ISSUER/mint?sub=alice&scope=read:colors") || fail "minting a token"
  start_load upgrade
  local t0=$SECONDS
  # As README "Upgrade, removal and compatibility" (the chart upgrades the CRDs too).
  helm_ upgrade "$RELEASE" "$ROOT/charts/jwtgate" -n "$SYSTEM_NS" --reset-then-reuse-values \
    --set-string operator.image.tag="$UPGRADE_VERSION",sidecar.image.tag="$UPGRADE_VERSION" --wait --timeout 5m >/dev/null
  UPGRADE_S=$((SECONDS - t0))
  local want="2 $IMAGE_REGISTRY/jwtgate:$UPGRADE_VERSION"
  until_ok 120 "both operator pods running $IMAGE_REGISTRY/jwtgate:$UPGRADE_VERSION" is operator_images "$want"
  k -n "$NS" wait protectedroute/colors-api --for=condition=Ready --timeout=120s >/dev/null
  until_ok 120 "the webhook injecting the $UPGRADE_VERSION sidecar" \
    is dry_run_sidecar_image "$IMAGE_REGISTRY/jwtgate-sidecar:$UPGRADE_VERSION"
  stop_load
  UPGRADE_LOAD=$LOAD_SUMMARY
  say "  operator pods: $(operator_images)"

  # A new connection per request: the sidecar hears of its pod's end only once the app
  # has exited (native sidecars stop after the app), so it cannot close kept-alive
  # connections while the app still answers; requests on them in between get 502.
  # README "Try it on a real cluster" says more.
  step "colors API rollout restart (new sidecars) while the client calls at ${LOAD_RATE}/s, a connection each"
  start_load restart -keepalive=false
  t0=$SECONDS
  k -n "$NS" rollout restart deployment/colors-api >/dev/null
  k -n "$NS" rollout status deployment/colors-api --timeout=300s >&2
  RESTART_S=$((SECONDS - t0))
  until_ok 120 "the colors API's 2 pods running the $UPGRADE_VERSION sidecar" \
    is sidecar_images "2 $IMAGE_REGISTRY/jwtgate-sidecar:$UPGRADE_VERSION"
  stop_load
  RESTART_LOAD=$LOAD_SUMMARY
}

route_deletion_collects_garbage() {
  step "deleting a ProtectedRoute garbage-collects its ConfigMap, Role, RoleBinding and NetworkPolicy"
  k apply -f - >/dev/null <<YAML
apiVersion: auth.jwtgate.io/v1alpha1
kind: ProtectedRoute
metadata: {name: gc-probe, namespace: $NS}
spec:
  selector: {matchLabels: {app: gc-probe}}
  port: http
  networkPolicy: Enabled
  rules:
  - {path: /, public: true}
YAML
  local objs=(configmap/gc-probe-jwtgate role/gc-probe-jwtgate rolebinding/gc-probe-jwtgate networkpolicy/gc-probe-jwtgate)
  until_ok 120 "the route gc-probe's ${objs[*]}" k -n "$NS" get "${objs[@]}" -o name >/dev/null 2>&1
  local owners
  owners=$(k -n "$NS" get "${objs[@]}" -o jsonpath='{range .items[*]}{.metadata.ownerReferences[?(@.controller==true)].kind}/{.metadata.ownerReferences[?(@.controller==true)].name}{"\n"}{end}' | sort | uniq -c | xargs)
  [[ "$owners" == "4 ProtectedRoute/gc-probe" ]] || fail "want the 4 objects controlled by ProtectedRoute gc-probe, got: $owners"
  local t0
  t0=$(now)
  k -n "$NS" delete protectedroute gc-probe >/dev/null
  until_ok 120 "garbage collection of ${objs[*]}" is existing "${objs[@]}" ""
  GC_S=$(since "$t0")
  say "  ${objs[*]} collected ${GC_S}s after the route's deletion"
}

# ---- helm uninstall: compared with UNINSTALL_LEFTOVERS (README "Upgrade, removal and
# compatibility"). Runs last: it removes the operator.

# leftovers: what jwtgate-related objects exist, one KIND/NAMESPACE/NAME line each,
# sorted: cluster objects named jwtgate*, the CRDs, everything in the operator's
# namespace but what every namespace has, the samples' jwtgate objects, the route's
# Ready condition and how many colors API pods still run a sidecar.
leftovers() {
  local kinds=clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings
  k get "$kinds" -o jsonpath='{range .items[*]}{.kind}//{.metadata.name}{"\n"}{end}' | grep '//jwtgate' || true
  k get crd -o jsonpath='{range .items[?(@.spec.group=="auth.jwtgate.io")]}{.kind}//{.metadata.name}{"\n"}{end}'
  if k get namespace "$SYSTEM_NS" >/dev/null 2>&1; then
    k -n "$SYSTEM_NS" get all,secrets,configmaps,leases,serviceaccounts,roles,rolebindings,poddisruptionbudgets,networkpolicies \
      -o jsonpath='{range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{"\n"}{end}' |
      grep -v -e '^ConfigMap/[^/]*/kube-root-ca.crt$' -e '^ServiceAccount/[^/]*/default$' || true # nothing else is the expected case
  fi
  if k get crd protectedroutes.auth.jwtgate.io >/dev/null 2>&1; then
    k -n "$NS" get jwtauthorizers,protectedroutes -o jsonpath='{range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{"\n"}{end}'
    local ready
    ready=$(k -n "$NS" get protectedroute colors-api -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    [[ -z "$ready" ]] || echo "ProtectedRoute-Ready/$NS/colors-api=$ready"
  fi
  k -n "$NS" get configmaps,roles,rolebindings,networkpolicies -l app.kubernetes.io/managed-by=jwtgate \
    -o jsonpath='{range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{"\n"}{end}'
  echo "Pods-with-sidecar/$NS/colors-api=$(sidecar_images | awk '{print $1 + 0}')"
} 2>/dev/null

uninstall_leaves_what_readme_says() {
  step "helm uninstall: what stays must be what README 'Upgrade, removal and compatibility' lists"
  local t0=$SECONDS
  helm_ uninstall "$RELEASE" -n "$SYSTEM_NS" --wait --timeout 5m >&2
  UNINSTALL_S=$((SECONDS - t0))
  # Objects are deleted in the background: wait until the operator's pods are gone.
  k -n "$SYSTEM_NS" wait pods -l "$OPERATOR_PODS" --for=delete --timeout=120s >/dev/null
  leftovers | tr '[:upper:]' '[:lower:]' | sort -u >"$SCRATCH/leftovers.have"
  tr -s ' \n' '\n' <<<"$UNINSTALL_LEFTOVERS" | sed '/^$/d' | tr '[:upper:]' '[:lower:]' | sort -u >"$SCRATCH/leftovers.want"
  say "  left after helm uninstall:"
  sed 's/^/    /' "$SCRATCH/leftovers.have" >&2
  if ! diff -u "$SCRATCH/leftovers.want" "$SCRATCH/leftovers.have" >"$SCRATCH/leftovers.diff"; then
    cat "$SCRATCH/leftovers.diff" >&2
    fail "helm uninstall left something else than UNINSTALL_LEFTOVERS (- listed, missing; + left, not listed)"
  fi
}
