#!/usr/bin/env bash
# Stops the local cluster that hack/cluster/up.sh started and restores every host
# change it made: processes (by recorded pid), pods, mounts, the bridge and its route,
# iptables chains (and the nftables tables iptables created), sysctls, cgroups, kernel
# modules it loaded, /var/log/containers and the fixed paths components create.
# Safe to run twice, and after a crash when nothing runs.
# Keeps the data (certificates, etcd, imported images) for a quick restart unless
# called with --purge (or JWTGATE_CLUSTER_PURGE=1).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
[[ $EUID -eq 0 ]] || die "run as root"
purge="${JWTGATE_CLUSTER_PURGE:-0}"
[[ "${1:-}" == --purge ]] && purge=1
started=$SECONDS
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# gone PID EXE: the process has exited (a zombie or a reused pid counts as gone).
gone() { [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" != "$2" ]]; }

# stop NAME GRACE: SIGTERM the recorded process, SIGKILL after GRACE seconds.
stop() {
  local name="$1" grace="$2" pid exe i
  if alive "$name"; then
    read -r pid exe <"$STATE/pids/$name.pid"
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do gone "$pid" "$exe" && break; sleep 0.1; done
    if ! gone "$pid" "$exe"; then
      say "$name did not stop in ${grace}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do gone "$pid" "$exe" && break; sleep 0.1; done
    fi
  fi
  rm -f "$STATE/pids/$name.pid"
}

# kill_all SIGNAL PID...: best effort, processes may exit meanwhile.
kill_all() { local sig="$1"; shift; (($# == 0)) || kill "-$sig" "$@" 2>/dev/null || true; }

shopt -s nullglob
# Pods' processes: everything in the kubepods cgroups (the kubelet's cgroupfs tree).
kubepods_dirs() { local d; for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do [[ -d "$d" ]] && echo "$d"; done; return 0; }
pod_pids() {
  local dirs
  mapfile -t dirs < <(kubepods_dirs)
  ((${#dirs[@]} > 0)) || return 0
  find "${dirs[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un
}

# Host clean-up beyond our own processes and directories needs the record up.sh makes
# before changing anything; without it (never started) there is nothing of ours there.
owned=0
[[ -f "$STATE/host/saved" ]] && owned=1

# 1. Node agents and controllers first, so nothing restarts the pods we stop.
stop kube-proxy 10
stop kubelet 20
stop kube-scheduler 10
stop kube-controller-manager 10

# 2. The pods: SIGTERM, then SIGKILL what is left after 5 s.
pids=()
((owned)) && mapfile -t pids < <(pod_pids)
if ((${#pids[@]} > 0)); then
  say "stopping ${#pids[@]} pod processes"
  kill_all TERM "${pids[@]}"
  for ((i = 0; i < 50; i++)); do mapfile -t pids < <(pod_pids); ((${#pids[@]} == 0)) && break; sleep 0.1; done
  for ((i = 0; i < 50 && ${#pids[@]} > 0; i++)); do
    kill_all KILL "${pids[@]}"; sleep 0.1; mapfile -t pids < <(pod_pids)
  done
  ((${#pids[@]} == 0)) || say "warning: pod processes left: ${pids[*]}"
fi

# 3. containerd, then its shims (they outlive it by design); a shim is ours when it
# runs the cached shim binary that our containerd started.
stop containerd 10
if [[ -f "$STATE/host/bin-dir" ]]; then
  shim="$(cat "$STATE/host/bin-dir")/containerd-shim-runc-v2"
  shims=()
  for p in /proc/[0-9]*; do [[ "$(readlink "$p/exe" 2>/dev/null)" == "$shim" ]] && shims+=("${p#/proc/}"); done
  if ((${#shims[@]} > 0)); then
    say "stopping ${#shims[@]} containerd shims"
    kill_all TERM "${shims[@]}"; sleep 1; kill_all KILL "${shims[@]}"
  fi
fi

# 4. The control plane.
stop kube-apiserver 10
stop etcd 10

# 5. Mounts under our directories (pod volumes, container root filesystems, network
# namespaces, the kubelet's shared root), deepest first.
for pass in 1 2 3 4 5; do
  mapfile -t mounts < <(awk -v s="$STATE/" -v r="$RUN_DIR/" -v c="/run/containerd/" \
    'index($5, s) == 1 || index($5, r) == 1 || index($5, c) == 1 || $5 == substr(s, 1, length(s) - 1) || $5 == substr(r, 1, length(r) - 1) { print length($5), $5 }' \
    /proc/self/mountinfo | sort -rn | cut -d' ' -f2-)
  ((${#mounts[@]} == 0)) && break
  ((pass == 1)) && say "unmounting ${#mounts[@]} mounts"
  for m in "${mounts[@]}"; do
    m="$(printf '%b' "$m")" # mountinfo escapes spaces as \040
    umount "$m" 2>/dev/null || { ((pass < 3)) || umount -l "$m" 2>/dev/null || true; }
  done
done

# 6. Network: veths left on our bridge (pods whose namespaces outlived them), the
# bridge (its address and the Service route go with it).
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  for veth in $(ip -o link show master "$BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$veth" 2>/dev/null || true
  done
  say "removing bridge $BRIDGE"
  ip link del "$BRIDGE"
fi

# 7. iptables: every KUBE-/CNI-/JWTGATE- chain that was not there before, and every
# rule that jumps to one, in one iptables-restore --noflush per table.
for ipt in iptables ip6tables; do
  ((owned)) || break
  command -v "$ipt-save" >/dev/null || continue
  keep="$STATE/host/$ipt-chains"
  for table in filter nat mangle raw; do
    dump="$("$ipt-save" -t "$table" 2>/dev/null)" || continue
    mapfile -t ours < <(sed -n 's/^:\([^ ]*\) .*/\1/p' <<<"$dump" | grep -E "$CHAIN_RE" | grep -vxF -f <(cat "$keep" 2>/dev/null; echo ' ') || true)
    ((${#ours[@]} > 0)) || continue
    say "removing ${#ours[@]} $ipt chains from $table"
    ourset=" ${ours[*]} "
    {
      echo "*$table"
      # Jumps into our chains from chains that stay.
      while read -r line; do
        [[ "$line" == -A\ * ]] || continue
        read -r _ chain _ <<<"$line"
        target="$(sed -n 's/.* -j \([^ ]*\).*/\1/p' <<<"$line")"
        [[ -n "$target" && "$ourset" == *" $target "* && "$ourset" != *" $chain "* ]] && echo "-D ${line#-A }"
      done <<<"$dump"
      for c in "${ours[@]}"; do echo "-F $c"; done
      for c in "${ours[@]}"; do echo "-X $c"; done
      echo COMMIT
    } | "$ipt-restore" -w --noflush
  done
done

# 8. Sysctls, kernel modules, cgroups, files outside our directories.
if [[ -f "$STATE/host/sysctls" ]]; then
  say "restoring sysctls"
  while IFS='=' read -r key value; do
    [[ "$(sysctl -n "$key" 2>/dev/null)" == "$value" ]] || sysctl -qw "$key=$value" || say "warning: could not restore $key"
  done <"$STATE/host/sysctls"
fi
[[ -f "$STATE/host/loaded-br_netfilter" ]] && { modprobe -r br_netfilter 2>/dev/null || say "warning: br_netfilter still in use"; }
[[ -f "$STATE/host/loaded-overlay" ]] && { modprobe -r overlay 2>/dev/null || say "warning: overlay still in use"; }
if ((owned)); then
  mapfile -t cgroups < <(kubepods_dirs)
  if ((${#cgroups[@]} > 0)); then
    say "removing kubepods cgroups"
    find "${cgroups[@]}" -depth -type d -exec rmdir {} + 2>/dev/null || true
    for cg in "${cgroups[@]}"; do [[ -d "$cg" ]] && say "warning: $cg still exists"; done
  fi
fi
if [[ -d /var/log/containers ]]; then
  for l in /var/log/containers/*; do
    [[ -L "$l" && "$(readlink "$l")" == "$STATE/"* ]] && rm -f "$l"
  done
  [[ -f "$STATE/host/created-var-log-containers" ]] && rmdir /var/log/containers 2>/dev/null || true
fi
if [[ -f "$STATE/host/created-paths" ]]; then
  while read -r path; do
    [[ -n "$path" && -e "$path" ]] && { say "removing $path"; rm -rf "$path"; }
  done <"$STATE/host/created-paths"
fi
# nftables tables that iptables created for the cluster, when nothing else uses them.
if [[ -f "$STATE/host/absent-nft-tables" ]] && command -v nft >/dev/null; then
  while read -r family table; do
    ipt=iptables; [[ "$family" == ip6 ]] && ipt=ip6tables
    dump="$("$ipt-save" -t "$table" 2>/dev/null)" || continue
    [[ -n "$dump" ]] || continue
    if ! grep -qE '^-A |^:[^ ]+ - ' <<<"$dump"; then nft delete table "$family" "$table" 2>/dev/null || true; fi
  done <"$STATE/host/absent-nft-tables"
fi
rm -rf "$RUN_DIR" "$STATE/pids" "$STATE/cni-ipam" "$STATE/host"

if [[ "$purge" == 1 ]]; then
  say "removing $STATE"
  rm -rf "$STATE"
fi
say "cluster down, host restored ($((SECONDS - started))s)"
