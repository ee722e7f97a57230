#!/usr/bin/env bash
# Installs the Debian packages that tests drive for real, when they are missing.
# Needs root (as on CI); otherwise says what to install and carries on.
set -euo pipefail
want=(chromium poppler-utils zbar-tools freeradius freeradius-rest freeradius-utils)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: please install ${missing[*]} (apt-get install ${missing[*]}); the tests that need them will be skipped" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
