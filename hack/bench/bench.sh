#!/usr/bin/env bash
# The side-by-side: installs Apache, mod_auth_openidc and wrk from Debian when
# missing (as root), builds the sidecar from this checkout and oauth2-proxy
# from the version pinned in hack/bench/go.mod into a cache outside the tree,
# then runs cmd/sidebyside. Knobs: BENCH_ROUNDS, BENCH_DURATION,
# BENCH_LATENCY_DURATION, BENCH_RATE, BENCH_OUT, BENCH_ARGS (more flags),
# BENCH_SIDECAR (measure another sidecar binary).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
cache=${JWTGATE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jwtgate-bench}
mkdir -p "$cache"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -x /usr/sbin/apache2 ]] || missing+=(apache2)
[[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ]] || missing+=(libapache2-mod-auth-openidc)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bench: ${missing[*]} missing; run as root so apt-get can install them, or install them yourself" >&2
    exit 1
  fi
  echo "bench: installing ${missing[*]} with apt-get" >&2
  # policy-rc.d or not, the packages' service is never used: Apache runs in the foreground with its own config.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
for tool in taskset lscpu; do
  command -v "$tool" >/dev/null || { echo "bench: $tool (util-linux) is required" >&2; exit 1; }
done
if [[ $(nproc) -lt 2 ]]; then
  echo "bench: needs 2 CPUs (one for the proxy, one for the load); this machine has $(nproc)" >&2
  exit 1
fi

oauth2_version=$(go list -m -f '{{.Version}}' github.com/oauth2-proxy/oauth2-proxy/v7)
oauth2="$cache/oauth2-proxy-$oauth2_version"
if [[ ! -x $oauth2 ]]; then
  echo "bench: building oauth2-proxy $oauth2_version (first time only)" >&2
  CGO_ENABLED=0 go build -trimpath -o "$oauth2.tmp" github.com/oauth2-proxy/oauth2-proxy/v7
  mv "$oauth2.tmp" "$oauth2"
fi
sidecar=${BENCH_SIDECAR:-}
if [[ -z $sidecar ]]; then
  sidecar="$cache/jwtgate-sidecar"
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$sidecar" ./cmd/jwtgate-sidecar)
fi
go build -o "$cache/sidebyside" ./cmd/sidebyside

out=${BENCH_OUT:-$cache/sidebyside-$(date -u +%Y%m%dT%H%M%SZ).md}
# The driver itself (the issuer, vegeta) runs on the load CPU; it pins the
# proxies to the other one.
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
taskset -c 1 "$cache/sidebyside" -sidecar "$sidecar" -oauth2-proxy "$oauth2" \
  -rounds "${BENCH_ROUNDS:-5}" -duration "${BENCH_DURATION:-5s}" \
  -latency-duration "${BENCH_LATENCY_DURATION:-${BENCH_DURATION:-5s}}" -rate "${BENCH_RATE:-1000}" \
  -out "$out" ${BENCH_ARGS:-}
echo "bench: report written to $out" >&2
