# Shared settings of hack/cluster/up.sh and down.sh (sourced, not run).
# Fixed addresses and ports: envtest uses random loopback ports (32768 and up), these
# stay below them. The pod and Service ranges must not overlap the host's networks.

STATE="${JWTGATE_CLUSTER_STATE:-/var/lib/jwtgate-cluster}" # certs, etcd data, images, logs
RUN_DIR="${JWTGATE_CLUSTER_RUN:-/run/jwtgate-cluster}"     # sockets and runtime state
NODE=jwtgate-node
BRIDGE=jwtgate0
POD_CIDR=10.231.0.0/24
NODE_IP=10.231.0.1 # the bridge's address: API server, kubelet and the pods' gateway
SERVICE_CIDR=10.232.0.0/24
API_SERVICE_IP=10.232.0.1
DNS_SERVICE_IP=10.232.0.10
API_PORT=6443
ETCD_CLIENT_PORT=22379
ETCD_PEER_PORT=22380
CONTAINERD_SOCK="$RUN_DIR/containerd/containerd.sock"
PAUSE_IMAGE=localhost/jwtgate-cluster/pause:1
COREDNS_IMAGE=localhost/jwtgate-cluster/coredns:1.15.0
KUBECONFIG_PATH="$STATE/kubeconfig"

# The host sysctls the cluster sets (or kubelet and kube-proxy change): saved before
# the first start, restored by down.sh.
SYSCTLS=(
  net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet
  kernel.panic
  kernel.panic_on_oops
  vm.overcommit_memory
  kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes
  net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait
)

# Processes in start order; down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet kube-proxy)

# iptables chains owned by the cluster: kube-proxy's and kubelet's (KUBE-), the CNI
# plugins' (CNI-) and ours (JWTGATE-).
CHAIN_RE='^(KUBE-|CNI-|JWTGATE-)'

say() { echo "cluster: $*" >&2; }
die() { say "error: $*"; exit 1; }

# alive NAME: the recorded process NAME runs, and is the binary we started (a pid
# reused by an unrelated process does not count).
alive() {
  local pidf="$STATE/pids/$1.pid" pid exe
  [[ -f "$pidf" ]] || return 1
  read -r pid exe <"$pidf" || return 1
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$exe" ]]
}
