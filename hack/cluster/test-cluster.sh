#!/usr/bin/env bash
# End-to-end test on the local cluster (make cluster-up and make cluster-images first; as
# root), as a user runs jwtgate. Starts from a clean slate (removes an earlier run's
# release, namespaces and CRDs), then:
#   1. helm install of charts/jwtgate with the packed images (2 operator replicas), the
#      dev issuer over https from a test CA that the JWTAuthorizer trusts (caBundle), the
#      colors API (2 replicas) with its ProtectedRoute (e2e.sh, shared with the demo);
#   2. every selected pod runs a Ready native sidecar, the Service reaches the sidecar's
#      port and not the app's, the walkthrough's calls from a client pod through the
#      Service's DNS name give the documented answers, and the claims reach the app;
#   3. a route edit: time until both sidecars enforce it;
#   4. leader failover (test-steps.sh): the leader operator pod is deleted while
#      selected pods are being created;
#   5. the operator scaled to zero: the guard refuses a selected pod, running pods keep
#      enforcing, an unselected pod is admitted;
#   6. helm upgrade to a new image tag, then a rollout of the colors API, each under load;
#   7. deleting a ProtectedRoute garbage-collects its objects;
#   8. helm uninstall leaves exactly what the README says (last: nothing runs after it).
# Prints the walkthrough as a table and every measured figure; fails on the first
# unexpected result. What the last step leaves stays for inspection.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$HERE/lib.sh"
source "$HERE/e2e.sh"
source "$HERE/test-steps.sh"
E2E_NAME=test-cluster
e2e_init

e2e_import_images
e2e_clean_slate
e2e_install
e2e_samples
check_native_sidecars
check_service_reaches_sidecar
e2e_client
e2e_tokens
e2e_walkthrough
((WALKTHROUGH_FAILED == 0)) || fail "$WALKTHROUGH_FAILED call(s) answered unexpectedly"
check_claims_reach_app
route_edit_enforced
leader_failover
operator_scaled_to_zero
upgrade_under_load
route_deletion_collects_garbage
uninstall_leaves_what_readme_says # last: it removes the operator

print_table "${WALKTHROUGH_ROWS[@]}"
figure() { printf '  %-60s %s\n' "$1" "$2"; }
echo "test-cluster: ok in $((SECONDS - E2E_STARTED))s"
figure "helm install --wait (2 operator replicas)" "${HELM_INSTALL_S}s"
figure "colors API rollout (2 replicas, native sidecars)" "${ROLLOUT_S}s"
figure "walkthrough, ${#WALKTHROUGH_ROWS[@]} calls (a kubectl exec each)" "${CALLS_S}s"
figure "route edit enforced by both sidecars" "${EDIT_S}s"
figure "leader failover: new leader after the delete" "${NEW_LEADER_S}s (lease ${LEASE_S}s, shutdown delay ${SHUTDOWN_DELAY_S}s)"
figure "leader failover: an edit then, reconciled after the delete" "${RESUME_S}s"
figure "leader failover: selected pods created meanwhile" "$FAILOVER_PODS, all injected, none refused"
figure "operator at zero: guard refuses a selected pod after" "${REFUSED_S}s"
figure "helm upgrade --wait to $UPGRADE_VERSION" "${UPGRADE_S}s"
figure "load during the upgrade" "$UPGRADE_LOAD"
figure "colors API rollout restart" "${RESTART_S}s"
figure "load during the rollout (a connection per request)" "$RESTART_LOAD"
figure "route deleted: its 4 objects collected after" "${GC_S}s"
figure "helm uninstall --wait" "${UNINSTALL_S}s"
