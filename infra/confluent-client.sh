#!/usr/bin/env bash
# @confluentinc/kafka-javascript (the librdkafka-based client), built here from registry packages
# only (npm + Debian apt), linked dynamically, into the git-ignored .cache/confluent-client.
# Nothing in the project depends on it: bench/clients/confluent-consume.ts loads it from the path
# this prints (CONFLUENT_CLIENT=...). See docs/clients/confluent.md for why it is built this way.
#
#   infra/confluent-client.sh          # install once (idempotent); prints the package's path last on stdout
#   CONFLUENT_CLIENT_VERSION=1.10.1    # npm version to build (default 1.10.1)
#   JOBS=2                             # parallel compile jobs (default 2)
#
# How: the npm tarball carries librdkafka's source (deps/librdkafka) and names the librdkafka it
# expects (package.json "librdkafka"). If Debian's librdkafka-dev is at least that version, the
# binding links against it (BUILD_LIBRDKAFKA=0, CKJS_LINKING=dynamic, as the package's install
# docs say). Debian 12 has 2.0.2, far older than any release expects (0.2.0 wants 2.5.3, 1.10.1
# wants 2.15.1; compiling against 2.0.2 fails on missing types), so then the bundled source is
# built as a shared library with `make -j$JOBS` against Debian's OpenSSL, zlib, zstd, lz4, SASL
# and curl, installed under the cache, and the binding links against that one (the same
# BUILD_LIBRDKAFKA=0 path, headers and -L/-rpath pointed at it). Nothing is downloaded from GitHub
# or elsewhere: node-pre-gyp's prebuilt download is skipped (build from source), and the Node
# headers come from the running Node's own include/node (~/.npmrc may point node-gyp at another
# Node's headers; npm_config_nodedir overrides that).
# All progress goes to stderr; logs in .cache/confluent-client/logs.
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
version="${CONFLUENT_CLIENT_VERSION:-1.10.1}"
jobs="${JOBS:-2}"
cache="$root/.cache/confluent-client"
logs="$cache/logs"
pkg_dir="$cache/node_modules/@confluentinc/kafka-javascript"

die() { echo "confluent-client.sh: $*" >&2; exit 1; }
say() { echo "confluent-client.sh: $*" >&2; }

PATH="$("$root/infra/node.sh"):$PATH"
export PATH
command -v npm >/dev/null || die "npm is needed"
node_bin="$(command -v node)"
nodedir="$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)"
[[ -f $nodedir/include/node/node_version.h ]] || die "no Node headers in $nodedir/include/node (node-gyp would download them)"
node_abi="$(node -p process.versions.modules)"

mkdir -p "$cache" "$logs"
exec 9>"$cache/.lock"
flock 9

stamp="$cache/stamp"
want_stamp="version=$version node_abi=$node_abi"
loaded_version() { # prints librdkafkaVersion of the installed binding, or fails
  (cd "$cache" && node -e 'process.stdout.write(require(process.argv[1]).librdkafkaVersion)' "$pkg_dir") 2>/dev/null
}
if [[ -f $stamp && "$(head -n 1 "$stamp")" == "$want_stamp" ]] && loaded_version >/dev/null; then
  say "already installed: $version (librdkafka $(loaded_version))"
  echo "$pkg_dir"
  exit 0
fi
rm -f "$stamp"

# ---------------------------------------------------------------- apt: compiler and librdkafka's dependencies
apt_pkgs=(g++ make python3 pkg-config libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
apt_updated=0
apt_install() {
  [[ $(id -u) == 0 ]] || die "need root to apt-get install $*"
  if ((!apt_updated)); then apt-get update >"$logs/apt-update.log" 2>&1 || die "apt-get update failed (see $logs/apt-update.log)"; apt_updated=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$logs/apt-install.log" 2>&1 \
    || die "apt-get install $* failed (see $logs/apt-install.log)"
}
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

# ---------------------------------------------------------------- the npm tarball: expected librdkafka and its source
tarball_dir="$cache/tarball-$version"
if [[ ! -f $tarball_dir/package/package.json ]]; then
  rm -rf "$tarball_dir" && mkdir -p "$tarball_dir"
  say "npm pack @confluentinc/kafka-javascript@$version"
  (cd "$tarball_dir" && npm pack --silent "@confluentinc/kafka-javascript@$version" >"$logs/npm-pack.log" 2>&1) || die "npm pack failed (see $logs/npm-pack.log)"
  tar xzf "$tarball_dir"/confluentinc-kafka-javascript-*.tgz -C "$tarball_dir"
fi
tgz="$(ls "$tarball_dir"/confluentinc-kafka-javascript-*.tgz)"
expected="$(node -p 'require(process.argv[1]).librdkafka' "$tarball_dir/package/package.json")"
[[ $expected =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "package.json of $version names librdkafka '$expected', not a version"
say "@confluentinc/kafka-javascript $version expects librdkafka $expected"

# ---------------------------------------------------------------- which librdkafka: Debian's if new enough, else the bundled source
debian="$(apt-cache policy librdkafka-dev 2>/dev/null | awk '/Candidate:/ { print $2 }')"
debian_upstream="${debian%%-*}"
ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]; } # ge A B: A >= B
build_env=(CKJS_LINKING=dynamic BUILD_LIBRDKAFKA=0)
if [[ -n $debian_upstream && $debian_upstream != "(none)" ]] && ge "$debian_upstream" "$expected"; then
  say "Debian's librdkafka-dev $debian is new enough: linking against it"
  dpkg-query -W -f='${Status}' librdkafka-dev 2>/dev/null | grep -q 'install ok installed' || apt_install librdkafka-dev
  rdk_desc="Debian librdkafka-dev $debian"
else
  say "Debian's librdkafka-dev is ${debian:-unavailable}, older than $expected: building the tarball's librdkafka $expected as a shared library"
  prefix="$cache/librdkafka-$expected"
  if [[ ! -f $prefix/.built || ! -e $prefix/lib/librdkafka.so.1 ]]; then
    src="$cache/librdkafka-src-$expected"
    rm -rf "$src" "$prefix"
    cp -r "$tarball_dir/package/deps/librdkafka" "$src"
    say "configure + make -j$jobs librdkafka (about 2 minutes on 2 cores)"
    (cd "$src" && ./configure --prefix="$prefix" --disable-gssapi) >"$logs/librdkafka-configure.log" 2>&1 \
      || die "librdkafka ./configure failed (see $logs/librdkafka-configure.log)"
    (cd "$src" && make -j"$jobs" libs && make install-subdirs) >"$logs/librdkafka-make.log" 2>&1 \
      || die "librdkafka make failed (see $logs/librdkafka-make.log)"
    touch "$prefix/.built"
    rm -rf "$src"
  fi
  # The sources include "rdkafkacpp.h"/"rdkafka.h" in quotes: -iquote wins over binding.gyp's
  # -I/usr/include/librdkafka (Debian's older headers, if librdkafka-dev is installed).
  build_env+=("CXXFLAGS=-iquote $prefix/include/librdkafka" "LDFLAGS=-L$prefix/lib -Wl,-rpath,$prefix/lib")
  rdk_desc="librdkafka $expected built from the npm tarball's deps/librdkafka into $prefix"
fi

# ---------------------------------------------------------------- npm install (node-gyp build of the binding)
[[ -f $cache/package.json ]] || echo '{ "name": "confluent-client-scratch", "private": true }' >"$cache/package.json"
rm -rf "$cache/node_modules" "$cache/package-lock.json"
say "npm install @confluentinc/kafka-javascript@$version (node-gyp, -j$jobs)"
(cd "$cache" && env "${build_env[@]}" JOBS="$jobs" npm_config_nodedir="$nodedir" npm_config_build_from_source=true \
  npm install --no-audit --no-fund --foreground-scripts "$tgz") >"$logs/npm-install.log" 2>&1 \
  || { tail -n 30 "$logs/npm-install.log" >&2; die "npm install failed (see $logs/npm-install.log)"; }
got="$(loaded_version)" || die "the built binding does not load (see $logs/npm-install.log)"
[[ $got == "$expected" ]] || die "the binding loaded librdkafka $got, expected $expected"
printf '%s\nlibrdkafka=%s (%s)\nbuilt=%s\n' "$want_stamp" "$got" "$rdk_desc" "$(date -Is)" >"$stamp"
say "installed $version with $rdk_desc"
echo "$pkg_dir"
