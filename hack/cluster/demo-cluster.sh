#!/usr/bin/env bash
# The demo on the local cluster (make demo-cluster; as root): starts the cluster unless
# it runs, imports the packed images, installs charts/jwtgate with them, the dev issuer
# over https and the colors API with its ProtectedRoute (the steps test-cluster.sh
# runs, from e2e.sh), makes the walkthrough's calls from a pod, then mints a token from
# this machine with bin/jwtgate token (kubectl port-forward to the issuer) and calls the
# API through its Service's address. Prints how to do the same by hand.
# DEMO_KEEP=1 leaves everything running; otherwise the demo removes what it installed
# and stops the cluster if it started it.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$HERE/lib.sh"
source "$HERE/e2e.sh"
E2E_NAME=demo-cluster

started_cluster=false
if ! { alive kube-apiserver && alive kubelet; }; then
  started_cluster=true
fi
"$HERE/up.sh" >/dev/null
e2e_init
e2e_import_images
e2e_clean_slate
e2e_install
e2e_samples
e2e_client
e2e_tokens
e2e_walkthrough
((WALKTHROUGH_FAILED == 0)) || fail "$WALKTHROUGH_FAILED call(s) answered unexpectedly"

# The test CA outlives the run: the commands printed below need it.
CA="$STATE/demo/ca.crt"
mkdir -p "$STATE/demo"
cp "$SCRATCH/ca.crt" "$CA"
API_IP=$(k -n "$NS" get service colors-api -o jsonpath='{.spec.clusterIP}')
JWTGATE="$ROOT/bin/jwtgate"

step "from this machine: a token through kubectl port-forward, the API at its Service's address"
# A free local port (":8443"), on 127.0.0.1 only: the machine may be shared.
k -n "$IDP_NS" port-forward --address 127.0.0.1 service/devissuer :8443 >"$SCRATCH/port-forward.log" 2>&1 &
forward=$!
BACKGROUND+=("$forward")
forward_port() { sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$SCRATCH/port-forward.log"; }
forwarding() { [[ -n "$(forward_port)" ]]; }
until_ok 30 "kubectl port-forward to the issuer" forwarding
mint() { SSL_CERT_FILE="$CA" "$JWTGATE" token --issuer "https://localhost:$(forward_port)/" --sub alice --scope read:colors 2>/dev/null; }
until_ok 30 "a token through kubectl port-forward" mint >/dev/null
token=$(mint)
kill "$forward"
got=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$API_IP/my/colors") || true
[[ "$got" == 200 ]] || fail "GET http://$API_IP/my/colors from this machine with a token answered $got, want 200"
say "  GET http://$API_IP/my/colors with a token from bin/jwtgate token: $got"

cat <<EOF

jwtgate runs on the local cluster: operator in namespace $SYSTEM_NS (2 replicas), the
development issuer in $IDP_NS, the colors API (2 replicas, each with its sidecar) in $NS.

  export KUBECONFIG=$KUBECONFIG PATH=\$PATH:$BIN   # the cluster's kubectl, if you have none
  kubectl get -n $NS jwta,proute,pods                 # READY True, GUARDED True

The API through its Service, from this machine (the Service range is routed to the cluster):
  curl -i http://$API_IP/colors                         # 200, public
  curl -i http://$API_IP/my/profile                     # 401, needs a token

A token from the development issuer (through its Service; it trusts only the demo's test CA):
  kubectl -n $IDP_NS port-forward service/devissuer 8443 &
  TOKEN=\$(SSL_CERT_FILE=$CA bin/jwtgate token --issuer https://localhost:8443/ --sub alice --scope read:colors)
  curl -i -H "Authorization: Bearer \$TOKEN" http://$API_IP/my/colors    # 200

Or from a pod, by the Service's DNS name (the client pod mints from the issuer's Service):
  TOKEN=\$(kubectl -n $NS exec client -- /incluster-client -format body -cacert /ca/ca.crt '$ISSUER/mint?sub=alice&scope=read:colors')
  kubectl -n $NS exec client -- /incluster-client -H "Authorization: Bearer \$TOKEN" $API/my/colors

Or forward the Service to this machine: kubectl -n $NS port-forward service/colors-api 8080:80
EOF

if [[ "${DEMO_KEEP:-}" == 1 ]]; then
  say "$E2E_NAME: left running (DEMO_KEEP=1); stop it with: make cluster-down"
  exit 0
fi
if $started_cluster; then
  step "stopping the cluster (DEMO_KEEP=1 leaves it running)"
  "$HERE/down.sh"
else
  step "removing the demo (the cluster ran before it and keeps running; DEMO_KEEP=1 keeps the demo)"
  e2e_clean_slate
fi
