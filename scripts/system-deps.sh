#!/usr/bin/env bash
# System packages some tests need (headless Chromium for browser tests,
# PostgreSQL for the allocation service). Installed from Debian's packages when
# running as root; otherwise those tests skip with a message saying so.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ -f requirements-system.txt ]; then
  while read -r pkg bin; do
    [ -z "$pkg" ] && continue
    case "$pkg" in \#*) continue;; esac
    command -v "${bin:-$pkg}" >/dev/null 2>&1 || need+=("$pkg")
  done < requirements-system.txt
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root or no apt-get; tests needing ${need[*]} will be skipped" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
