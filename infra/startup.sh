#!/usr/bin/env bash
# Start-up time of the CLI against a bare `node -e 0`, best of 5 each, in one run (`make startup`):
# from the sources (bin/retail-streams.js, Node strips the types) and as installed from the packed
# tarball (compiled). Targets (docs/design.md): --help within 4x, a one-line replay within 8x, for
# the installed CLI. Run it on a quiet machine: other load slows a 200 ms replay far more than a
# 25 ms `node -e 0`. Exits non-zero when the installed CLI misses a target.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
npm pack --loglevel=error --pack-destination "$work" >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; echo "startup: npm pack failed" >&2; exit 1; }
mkdir "$work/app" && cd "$work/app"
echo '{"name":"startup-check","private":true,"type":"module"}' >package.json
npm install --silent --prefer-offline --no-audit --no-fund "$work"/retail-streams-*.tgz
head -1 "$root/samples/invoices.jsonl" >one.jsonl

best() { # best wall time of 5 runs, ms
  local min=999999 t0 t1 ms
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 )); [ "$ms" -lt "$min" ] && min=$ms
  done
  echo "$min"
}
installed=(node_modules/.bin/retail-streams)
source=(node "$root/bin/retail-streams.js")
replay=(replay --input one.jsonl --out out --overwrite)
# Warm Node's compile cache (the CLI enables it), as any earlier run has.
"${installed[@]}" "${replay[@]}" >/dev/null; "${source[@]}" "${replay[@]}" >/dev/null

bare=$(best node -e 0)
src_help=$(best "${source[@]}" --help)
src_replay=$(best "${source[@]}" "${replay[@]}")
inst_help=$(best "${installed[@]}" --help)
inst_replay=$(best "${installed[@]}" "${replay[@]}")
ratio() { awk -v a="$1" -v b="$bare" 'BEGIN { printf "%.1fx", a / b }'; }
printf '%-34s %6s ms\n' "node -e 0" "$bare"
printf '%-34s %6s ms  %s\n' "--help, from the sources" "$src_help" "$(ratio "$src_help")"
printf '%-34s %6s ms  %s\n' "one-line replay, from the sources" "$src_replay" "$(ratio "$src_replay")"
printf '%-34s %6s ms  %s  (target 4x)\n' "--help, installed" "$inst_help" "$(ratio "$inst_help")"
printf '%-34s %6s ms  %s  (target 8x)\n' "one-line replay, installed" "$inst_replay" "$(ratio "$inst_replay")"
awk -v h="$inst_help" -v r="$inst_replay" -v b="$bare" 'BEGIN { exit !(h <= 4 * b && r <= 8 * b) }' \
  && echo "startup: targets met" || { echo "startup: a target is missed"; exit 1; }
