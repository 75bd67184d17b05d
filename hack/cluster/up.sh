#!/usr/bin/env bash
# Brings up a real single-node Kubernetes cluster on this machine, as root: etcd,
# kube-apiserver, containerd (Debian's runc), kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy (iptables) and CoreDNS, from binaries that hack/cluster/build.sh
# builds from pinned Go modules. Waits until the node is Ready and DNS answers, then
# prints the admin kubeconfig's path on stdout (progress goes to stderr).
#
# Host changes (all undone by hack/cluster/down.sh, also after a crash): the bridge
# jwtgate0 with a route for the Service range, iptables chains (ours: JWTGATE-, and
# kube-proxy's, kubelet's and CNI's), sysctls, mounts under the state directories, the
# kubepods cgroups, nftables tables, /var/log/containers and a few fixed paths
# (/run/containerd, /var/lib/kubelet/device-plugins, /var/lib/cni, /run/mount).
# Pod traffic never leaves the machine: pods only have a route to the Service range, a
# mangle FORWARD rule drops anything from the bridge bound elsewhere, nothing is
# masqueraded, and CoreDNS has no upstream. Nor does containerd's: image pulls go to a
# closed loopback proxy port, so a missing image fails without a registry lookup.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$HERE/lib.sh"

[[ $EUID -eq 0 ]] || die "run as root: the cluster creates a bridge, iptables rules, mounts and cgroups"
# The host tools the components call, and the Debian packages that have them: the
# missing ones are installed with apt-get (Debian's mirror, nothing else).
declare -A PACKAGE_OF=([iptables]=iptables [ip6tables]=iptables [iptables-save]=iptables [conntrack]=conntrack
  [runc]=runc [ip]=iproute2 [mount]=mount [curl]=curl [openssl]=openssl)
missing=()
for tool in "${!PACKAGE_OF[@]}"; do
  command -v "$tool" >/dev/null || missing+=("${PACKAGE_OF[$tool]}")
done
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  command -v apt-get >/dev/null || die "missing: ${missing[*]} (install these packages)"
  say "installing the Debian packages ${missing[*]}"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
fi

BIN="$("$HERE/build.sh")"
export PATH="$BIN:$PATH:/usr/local/sbin:/usr/sbin:/sbin"
KUBECTL=(kubectl --kubeconfig "$KUBECONFIG_PATH" --cache-dir "$STATE/kubectl-cache")
started=$SECONDS

all_alive() { for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done; }
if all_alive && "${KUBECTL[@]}" get --raw /readyz >/dev/null 2>&1; then
  say "already running"
  echo "$KUBECONFIG_PATH"
  exit 0
fi
# Leftovers of a crash or a half-done start: restore the host first (keeps the data).
if [[ -d "$STATE/pids" || -e "$RUN_DIR" ]] || ip link show "$BRIDGE" >/dev/null 2>&1; then
  say "cleaning up a previous run first"
  "$HERE/down.sh"
fi

mkdir -p "$STATE"/{pids,logs,host,config,pki,etcd,kubelet,pod-logs,cni/net.d,cni-ipam,bin,images} "$RUN_DIR"
chmod 700 "$STATE" "$STATE/etcd"

# --- Save what we change on the host, once (a restart after a crash must not save
# the cluster's own values).
if [[ ! -f "$STATE/host/saved" ]]; then
  for s in "${SYSCTLS[@]}"; do
    v="$(sysctl -n "$s" 2>/dev/null)" && printf '%s=%s\n' "$s" "$v"
  done >"$STATE/host/sysctls"
  [[ -d /var/log/containers ]] || touch "$STATE/host/created-var-log-containers"
  # Paths the components create at fixed places: containerd's shim sockets, the
  # kubelet's device-plugin socket, libcni's result cache, libmount's utab.
  for d in /run/containerd /var/lib/kubelet /var/lib/cni /run/mount; do
    [[ -e "$d" ]] || echo "$d"
  done >"$STATE/host/created-paths"
  # iptables-nft creates its nftables tables on first use; down.sh drops those it created.
  if command -v nft >/dev/null; then
    for t in "ip filter" "ip nat" "ip mangle" "ip raw" "ip6 filter" "ip6 nat" "ip6 mangle" "ip6 raw"; do
      nft list table $t >/dev/null 2>&1 || echo "$t"
    done >"$STATE/host/absent-nft-tables"
  fi
  for ipt in iptables ip6tables; do
    "$ipt-save" 2>/dev/null | sed -n 's/^:\([^ ]*\) .*/\1/p' | grep -E "$CHAIN_RE" >"$STATE/host/$ipt-chains" || true
  done
  # down.sh stops every process in the kubepods cgroups: they must be ours alone.
  if compgen -G '/sys/fs/cgroup/*/kubepods' >/dev/null || [[ -d /sys/fs/cgroup/kubepods ]]; then
    die "kubepods cgroups exist already: another kubelet runs on this machine"
  fi
  touch "$STATE/host/saved"
fi
echo "$BIN" >"$STATE/host/bin-dir" # down.sh finds our containerd shims by this binary
if [[ ! -d /proc/sys/net/bridge ]]; then
  modprobe br_netfilter && touch "$STATE/host/loaded-br_netfilter"
fi
grep -qw overlay /proc/filesystems || { modprobe overlay && touch "$STATE/host/loaded-overlay"; }

# Forwarding between pods, and bridged pod traffic through iptables (Service DNAT).
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1

# --- Network: the pods' bridge carries the node's address; the Service range is routed
# onto it so untranslated ClusterIP traffic from the host can never leave the machine.
say "network: bridge $BRIDGE $NODE_IP, pods $POD_CIDR, Services $SERVICE_CIDR"
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
# mangle FORWARD runs before filter FORWARD, where kube-proxy and others add ACCEPTs.
for ipt in iptables ip6tables; do
  "$ipt" -w -t mangle -N JWTGATE-FORWARD
  "$ipt" -w -t mangle -A JWTGATE-FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -m comment --comment "jwtgate-cluster: pod traffic stays on this machine" -j DROP
  "$ipt" -w -t mangle -I FORWARD 1 -j JWTGATE-FORWARD
done
cat >"$STATE/cni/net.d/10-jwtgate.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "jwtgate",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$STATE/cni-ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "$SERVICE_CIDR"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
# Pods with dnsPolicy Default get no host nameserver: nothing to forward to.
: >"$STATE/config/resolv.conf"

# --- Certificates, kubeconfigs and helper programs.
say "certificates and kubeconfigs in $STATE/pki"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$STATE/bin/" ./hack/cluster/pki ./hack/cluster/dnsprobe)
(cd "$ROOT/hack/imagepack" && CGO_ENABLED=0 go build -trimpath -o "$STATE/bin/imagepack" .)
"$STATE/bin/pki" -dir "$STATE/pki" -server "https://$NODE_IP:$API_PORT" -node "$NODE" \
  -apiserver-ips "$NODE_IP,$API_SERVICE_IP,127.0.0.1" -node-ip "$NODE_IP"
cp "$STATE/pki/admin.kubeconfig" "$KUBECONFIG_PATH"
for img in "pause:$PAUSE_IMAGE:65535:65535" "coredns:$COREDNS_IMAGE:65532:65532"; do
  IFS=: read -r bin ref tag uid gid <<<"$img"
  [[ -f "$STATE/images/$bin-$tag.tar" ]] && continue
  "$STATE/bin/imagepack" -binary "$BIN/$bin" -ref "$ref:$tag" -user "$uid:$gid" -out "$STATE/images/$bin-$tag.tar"
done

# start NAME BINARY ARGS...: runs a component in its own session (it outlives this
# script and a Ctrl-C) and records its pid and binary for down.sh.
start() {
  local name="$1" bin="$2"; shift 2
  say "starting $name"
  setsid "$bin" "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  local pid=$! exe
  exe="$(readlink -f "$bin")"
  echo "$pid $exe" >"$STATE/pids/$name.pid"
  # alive compares /proc/PID/exe with the binary: wait until the forked shell has
  # become it (via setsid), or a check made meanwhile would take it for dead.
  local tries=0
  until [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$exe" ]] || ! [[ -d "/proc/$pid" ]] || ((++tries > 200)); do
    sleep 0.05
  done
}
# wait_for WHAT SECONDS COMPONENT CMD...: until CMD succeeds; fails early when the
# component died.
wait_for() {
  local what="$1" limit="$2" comp="$3" t0=$SECONDS; shift 3
  until "$@" >/dev/null 2>&1; do
    alive "$comp" || die "$comp exited while waiting for $what; see $STATE/logs/$comp.log"
    ((SECONDS - t0 < limit)) || die "$what not ready after ${limit}s; see $STATE/logs/"
    sleep 0.5
  done
}

# --- Control plane.
start etcd "$BIN/etcd" --name "$NODE" --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "$NODE=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn
wait_for etcd 60 etcd curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

P="$STATE/pki"
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
  --cert-dir "$STATE/apiserver" --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" \
  --client-ca-file "$P/ca.crt" \
  --kubelet-client-certificate "$P/apiserver-kubelet-client.crt" --kubelet-client-key "$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$P/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false
wait_for kube-apiserver 120 kube-apiserver "${KUBECTL[@]}" get --raw /readyz

# --- Container runtime.
cat >"$STATE/config/containerd.toml" <<TOML
# Everything under the cluster's state directories; no pulls (the sandbox image is
# imported); restrict_oom_score_adj because CAP_SYS_RESOURCE may be missing.
version = 3
root = "$STATE/containerd"
state = "$RUN_DIR/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$RUN_DIR/containerd/containerd.sock.ttrpc"
[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$STATE/containerd-opt"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_unprivileged_ports = true
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["$BIN/cni"]
      conf_dir = "$STATE/cni/net.d"
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = "$(command -v runc)"
          Root = "$RUN_DIR/runc"
          SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "$PAUSE_IMAGE"
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
TOML
# A pull of an image that was not imported must fail on the spot, without even a DNS
# lookup of the registry: every HTTP(S) request of containerd goes to a closed loopback port.
(
  export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= http_proxy= https_proxy= no_proxy=
  start containerd "$BIN/containerd" --config "$STATE/config/containerd.toml"
)
CTR=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
wait_for containerd 60 containerd "${CTR[@]}" version
"$ROOT/hack/cluster/import-images.sh" "$STATE/images/pause-${PAUSE_IMAGE##*:}.tar" "$STATE/images/coredns-${COREDNS_IMAGE##*:}.tar"

# --- Controllers, node agent, Service proxy.
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$P/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$P/controller-manager.kubeconfig" --authorization-kubeconfig "$P/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 10257 --cert-dir "$STATE/controller-manager" \
  --flex-volume-plugin-dir "$STATE/controller-manager/volume-plugins" \
  --service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" \
  --cluster-signing-cert-file "$P/ca.crt" --cluster-signing-key-file "$P/ca.key" \
  --use-service-account-credentials --leader-elect=false --profiling=false \
  --service-cluster-ip-range "$SERVICE_CIDR" --cluster-cidr "$POD_CIDR" --allocate-node-cidrs=false
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig "$P/scheduler.kubeconfig" \
  --authentication-kubeconfig "$P/scheduler.kubeconfig" --authorization-kubeconfig "$P/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 10259 --cert-dir "$STATE/scheduler" --leader-elect=false --profiling=false

cat >"$STATE/config/kubelet.yaml" <<YAML
# cgroup v1 with cgroupfs (the host cannot switch to v2); oomScoreAdj 0 because
# CAP_SYS_RESOURCE may be missing; image GC off because no image can be pulled back.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $P/kubelet.crt
tlsPrivateKeyFile: $P/kubelet.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
oomScoreAdj: 0
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: $STATE/config/resolv.conf
podLogsDir: $STATE/pod-logs
volumePluginDir: $STATE/kubelet/volume-plugins
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
failSwapOn: false
maxPods: 60
serializeImagePulls: false
hairpinMode: hairpin-veth
YAML
start kubelet "$BIN/kubelet" --config "$STATE/config/kubelet.yaml" --kubeconfig "$P/kubelet.kubeconfig" \
  --root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet/pki" --hostname-override "$NODE" --node-ip "$NODE_IP"

cat >"$STATE/config/kube-proxy.yaml" <<YAML
# iptables mode; conntrack sysctls left alone (0); NodePorts on the node address only,
# not on loopback (which would need route_localnet).
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $P/kube-proxy.kubeconfig}
hostnameOverride: $NODE
bindAddress: $NODE_IP
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
oomScoreAdj: 0
iptables: {localhostNodePorts: false, masqueradeAll: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
start kube-proxy "$BIN/kube-proxy" --config "$STATE/config/kube-proxy.yaml"

say "waiting for node $NODE to be Ready"
wait_for "node $NODE" 120 kubelet "${KUBECTL[@]}" get node "$NODE"
wait_for "node $NODE Ready" 120 kubelet "${KUBECTL[@]}" wait --for=condition=Ready "node/$NODE" --timeout=2s
say "node Ready after $((SECONDS - started))s; starting CoreDNS"

sed -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|" -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|" "$HERE/manifests/coredns.yaml" |
  "${KUBECTL[@]}" apply -f - >/dev/null
wait_for "CoreDNS" 120 kube-proxy "${KUBECTL[@]}" -n kube-system rollout status deploy/coredns --timeout=2s
# Through the Service address, as pods ask (kube-proxy may lag the endpoints a moment).
"$STATE/bin/dnsprobe" -server "$DNS_SERVICE_IP:53" -wait 60s kubernetes.default.svc.cluster.local >/dev/null ||
  die "DNS does not answer at $DNS_SERVICE_IP"

say "cluster up in $((SECONDS - started))s; node Ready, DNS answers"
say "  export KUBECONFIG=$KUBECONFIG_PATH; logs in $STATE/logs; stop with: make cluster-down"
echo "$KUBECONFIG_PATH"
