#!/usr/bin/env bash
# The headless browser of the dashboard tests: Debian's chromium, installed with apt when missing.
# Prints the path of the binary on its last line. `make test` runs it (the `browser` target).
set -euo pipefail

find_chromium() {
  local c
  for c in "${CHROMIUM:-}" chromium chromium-browser; do
    [[ -n "$c" ]] && command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
  done
  return 1
}

if path="$(find_chromium)"; then
  echo "$path"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: chromium is missing and there is no apt-get to install it; set CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
sudo=()
[[ "$(id -u)" == 0 ]] || sudo=(sudo)
echo "browser: installing Debian's chromium (apt-get)" >&2
"${sudo[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
find_chromium || { echo "browser: chromium did not install" >&2; exit 1; }
