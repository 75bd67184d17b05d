#!/usr/bin/env bash
# Makes headless Chromium available for the browser test (test/browser).
# Chromium comes from Debian's packages (no browser download site is reachable
# here). Prints the binary's path. Fails with a clear message when it is
# missing and cannot be installed, so the browser test never silently skips.
set -euo pipefail

for bin in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi
done

if [[ $(id -u) -ne 0 ]]; then
  echo "install-chromium: /usr/bin/chromium is missing and this is not root;" >&2
  echo "install-chromium: run 'sudo apt-get install -y chromium' and retry" >&2
  exit 1
fi

echo "install-chromium: installing Debian's chromium package (first time only)..." >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent or stale on a fresh machine.
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
if [[ ! -x /usr/bin/chromium ]]; then
  echo "install-chromium: apt-get finished but /usr/bin/chromium is still missing" >&2
  exit 1
fi
echo /usr/bin/chromium
