#!/usr/bin/env bash
# A real Confluent-compatible schema registry for tests: Apicurio Registry (Quarkus, from Maven
# Central) run as a plain Java process with in-memory H2 storage, bound to 127.0.0.1 only.
#
#   registry.sh fetch                       unpack the app into .cache/registry/VERSION/ (once)
#   registry.sh start --dir DIR [--port P]  start in the background; prints the base URL
#                                           (http://127.0.0.1:PORT/apis/ccompat/v7) last on stdout
#   registry.sh stop --dir DIR              SIGTERM, wait, SIGKILL
#
# DIR holds registry.log, registry.pid, port and url. Starting again with the same DIR reuses
# the port (so clients keep their URL across a restart); data does not survive a stop.
#
# Environment:
#   REGISTRY_VERSION        Apicurio version (default 3.3.3, needs Java >= 21; 3.0.9 runs on 17)
#   REGISTRY_JAVA           java binary to use (default: the newest java >= the version's minimum
#                           among JAVA_HOME, PATH and /usr/lib/jvm/*)
#   REGISTRY_HEAP           -Xmx (default 320m)
#   REGISTRY_COMPATIBILITY  global compatibility rule (default BACKWARD, as Confluent's; NONE too).
#                           Apicurio itself has no global rule (reported as NONE); 3.0.9 ignores this
#   REGISTRY_START_TIMEOUT  seconds to wait for readiness (default 90)
#   REGISTRY_JAVA_OPTS      extra JVM/Quarkus -D options, appended last
#
# Start-up speed (2-core machine, ~2-4 s to first 200): C1 only (-XX:TieredStopAtLevel=1),
# SerialGC, no perf data, a 2-connection H2 pool instead of 20, and on Java >= 25 an AOT cache
# (JEP 483/514) recorded once by `fetch` in a training run and reused by every start (about a
# third faster). A stale or mismatched cache is ignored by the JVM (AOTMode=auto).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="${REGISTRY_VERSION:-3.3.3}"
cache="$root/.cache/registry/$version"
app="$cache/app"
stamp="$cache/.fetched"
ccompat_path="/apis/ccompat/v7"

die() { echo "registry.sh: $*" >&2; exit 1; }
log() { echo "registry.sh: $*" >&2; }

# ---------------------------------------------------------------- java selection
min_java() {
  case "$version" in
    1.* | 2.* | 3.0.*) echo 17 ;;
    *) echo 21 ;;
  esac
}

# Feature version of a java binary (8 for 1.8), or nothing when it does not run. Reads the JDK's
# `release` file when there is one (no JVM start), else asks `java -version`.
java_feature() {
  local real line v=""
  real="$(readlink -f "$1" 2>/dev/null || echo "$1")"
  line="$(grep -s -m1 '^JAVA_VERSION=' "$(dirname "$(dirname "$real")")/release" || true)"
  if [ -n "$line" ]; then
    v="${line#JAVA_VERSION=\"}"
  else
    line="$("$1" -version 2>&1 | grep -m1 -E 'version "' || true)"
    [ -n "$line" ] && v="${line#*version \"}"
  fi
  v="${v%%\"*}"
  [ -n "$v" ] || return 0
  case "$v" in
    1.*) v="${v#1.}" ;;
  esac
  echo "${v%%[.+-]*}"
}

# Sets JAVA and JAVA_FEATURE (once per run of this script).
JAVA=""
JAVA_FEATURE=0
pick_java() {
  [ -n "$JAVA" ] && return 0
  local need c v
  need="$(min_java)"
  if [ -n "${REGISTRY_JAVA:-}" ]; then
    v="$(java_feature "$REGISTRY_JAVA")"
    [ -n "$v" ] && [ "$v" -ge "$need" ] ||
      die "REGISTRY_JAVA=$REGISTRY_JAVA is not a java >= $need (Apicurio $version)"
    JAVA="$REGISTRY_JAVA"
    JAVA_FEATURE="$v"
    return 0
  fi
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  for c in /usr/lib/jvm/*/bin/java; do candidates+=("$c"); done
  for c in "${candidates[@]}"; do
    [ -x "$c" ] || continue
    v="$(java_feature "$c")"
    [ -n "$v" ] || continue
    if [ "$v" -gt "$JAVA_FEATURE" ]; then JAVA="$c"; JAVA_FEATURE="$v"; fi
  done
  [ -n "$JAVA" ] && [ "$JAVA_FEATURE" -ge "$need" ] ||
    die "Apicurio Registry $version needs Java >= $need (newest found: $JAVA_FEATURE); set REGISTRY_JAVA, or REGISTRY_VERSION=3.0.9 for Java 17"
  return 0
}

# ---------------------------------------------------------------- layout of the unpacked app
launcher_jar() {
  if [ -f "$app/quarkus-run.jar" ]; then
    echo "$app/quarkus-run.jar"
    return
  fi
  local j
  for j in "$app"/*-runner.jar; do
    [ -f "$j" ] && { echo "$j"; return; }
  done
  return 1
}

# JVM options shared by training and real runs (AOT caches want identical flags).
jvm_base_opts() {
  echo -Xms64m "-Xmx${REGISTRY_HEAP:-320m}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -XX:-UsePerfData -Xss512k -Djava.awt.headless=true -Dfile.encoding=UTF-8
}

# Quarkus / Apicurio runtime settings. $1 = HTTP port.
app_opts() {
  local o=(
    -Dquarkus.http.host=127.0.0.1
    "-Dquarkus.http.port=$1"
    # The management interface (health/metrics) is a build-time feature of the app: keep it on
    # loopback and on a random port so parallel registries never clash on its default 9000.
    -Dquarkus.management.host=127.0.0.1
    -Dquarkus.management.port=0
    # In-memory storage: SQL storage on a private in-memory H2 database (the app's default).
    -Dapicurio.storage.kind=sql
    -Dapicurio.storage.sql.kind=h2
    -Dapicurio.datasource.jdbc.initial-size=2
    -Dapicurio.datasource.jdbc.min-size=2
    -Dapicurio.datasource.jdbc.max-size=20
    # Confluent's default is BACKWARD; Apicurio has no global rule unless configured.
    "-Dapicurio.rules.global.compatibility=${REGISTRY_COMPATIBILITY:-BACKWARD}"
    # Let tests delete subjects (soft and ?permanent=true), as on a Confluent registry.
    -Dapicurio.rest.deletion.group.enabled=true
    -Dapicurio.rest.deletion.artifact.enabled=true
    -Dapicurio.rest.deletion.artifact-version.enabled=true
    -Dquarkus.otel.sdk.disabled=true
    "-Dquarkus.log.console.format=%d{HH:mm:ss,SSS} %-5p [%c{2.}] %s%e%n"
  )
  printf '%s\n' "${o[@]}"
}

# ---------------------------------------------------------------- small helpers
http_status() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  elif command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    local p
    for _ in $(seq 1 50); do
      p=$((20000 + RANDOM % 40000))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    die "no free port found"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True when PID is alive and is a registry JVM (guards against a recycled pid).
is_registry_pid() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -e 'quarkus-run.jar' -e 'apicurio-registry' || return 1
  fi
  return 0
}

with_lock() {
  mkdir -p "$(dirname "$cache")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache.lock"
    flock 9
  fi
}

# ---------------------------------------------------------------- fetch
do_unpack() {
  command -v mvn >/dev/null 2>&1 || die "mvn is needed to fetch Apicurio Registry"
  log "fetching Apicurio Registry $version into ${cache#"$root"/}"
  rm -rf "$cache"
  mkdir -p "$cache"
  local type coords file repo
  : >"$cache/mvn.log"
  for type in tar.gz zip; do
    if mvn -B -q -f "$root/infra/registry/pom.xml" generate-resources \
      "-Dapicurio.version=$version" "-Dapicurio.assembly=$type" "-Dregistry.out=$app" >>"$cache/mvn.log" 2>&1; then
      break
    fi
  done
  # Some versions' parent POM is not resolvable (3.0.9: io.apicurio:apicurio-registry:pom), which
  # makes dependency:unpack fail; dependency:get -Dtransitive=false still fetches the assembly.
  if ! launcher_jar >/dev/null 2>&1; then
    repo="$(mvn -B -q help:evaluate -Dexpression=settings.localRepository -DforceStdout 2>>"$cache/mvn.log" |
      sed 's/\x1b\[[0-9;]*m//g' | tail -n 1)"
    for type in tar.gz zip; do
      coords="io.apicurio:apicurio-registry-app:$version:$type:all"
      mvn -B -q dependency:get -Dtransitive=false "-Dartifact=$coords" >>"$cache/mvn.log" 2>&1 || continue
      file="$repo/io/apicurio/apicurio-registry-app/$version/apicurio-registry-app-$version-all.$type"
      [ -f "$file" ] || continue
      rm -rf "$app" && mkdir -p "$app"
      case "$type" in
        tar.gz) tar -xzf "$file" -C "$app" ;;
        zip) (cd "$app" && unzip -q "$file") ;;
      esac
      launcher_jar >/dev/null 2>&1 && break
    done
  fi
  launcher_jar >/dev/null 2>&1 || { cat "$cache/mvn.log" >&2; die "unpacking apicurio-registry-app:$version:all failed"; }
  rm -rf "$cache/mvn-target"
  touch "$stamp"
}

# Records an AOT cache (Java >= 25) by starting the app once, exercising the ccompat API, and
# stopping it: the JVM writes the cache on exit. Failure only costs speed, so it never fails fetch.
# Keyed by the JDK's full version: a cache from another JDK build would only be rejected.
aot_file() {
  local real full
  real="$(readlink -f "$JAVA" 2>/dev/null || echo "$JAVA")"
  full="$(grep -s -m1 '^JAVA_VERSION=' "$(dirname "$(dirname "$real")")/release" | tr -dc '0-9.')"
  echo "$cache/aot/java$1${full:+-$full}.aot"
}

train_aot() {
  local java="$JAVA" out tmp port pid base ok=0
  [ "$JAVA_FEATURE" -ge 25 ] || return 0
  out="$(aot_file "$JAVA_FEATURE")"
  [ -f "$out" ] || [ -f "$out.failed" ] && return 0
  mkdir -p "$(dirname "$out")"
  tmp="$(mktemp -d)"
  port="$(free_port)"
  log "recording a JVM AOT cache for faster start-ups (one time, ~15 s)"
  local opts o
  read -r -a opts <<<"$(jvm_base_opts)"
  opts+=("-XX:AOTCacheOutput=$tmp/app.aot")
  while IFS= read -r o; do opts+=("$o"); done < <(app_opts "$port")
  (cd "$tmp" && exec "$java" "${opts[@]}" -jar "$(launcher_jar)" >"$tmp/train.log" 2>&1 </dev/null) &
  pid=$!
  base="http://127.0.0.1:$port$ccompat_path"
  for _ in $(seq 1 600); do
    [ "$(http_status "$base/subjects")" = 200 ] && { ok=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ "$ok" = 1 ]; then
    local ct='Content-Type: application/vnd.schemaregistry.v1+json'
    local s='{"schema":"{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}"}'
    local s2='{"schema":"{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}"}'
    {
      curl -s -H "$ct" -X POST "$base/subjects/t-value/versions" -d "$s"
      curl -s -H "$ct" -X POST "$base/subjects/t-value" -d "$s"
      curl -s "$base/schemas/ids/1"
      curl -s "$base/subjects/t-value/versions/latest"
      curl -s -H "$ct" -X PUT "$base/config/t-value" -d '{"compatibility":"BACKWARD"}'
      curl -s -H "$ct" -X POST "$base/compatibility/subjects/t-value/versions/latest" -d "$s2"
      curl -s -H "$ct" -X POST "$base/subjects/t-value/versions" -d "$s2"
      curl -s -X DELETE "$base/subjects/t-value"
      curl -s "$base/config"
    } >/dev/null 2>&1 || true
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$ok" = 1 ] && [ -s "$tmp/app.aot" ]; then
    mv "$tmp/app.aot" "$out"
  else
    log "AOT training did not produce a cache (see below); starting without one"
    tail -n 20 "$tmp/train.log" >&2 || true
    touch "$out.failed"
  fi
  rm -rf "$tmp"
}

cmd_fetch() {
  pick_java
  if [ -f "$stamp" ] && launcher_jar >/dev/null 2>&1; then
    local f="$JAVA_FEATURE"
    if [ "$f" -lt 25 ] || [ -f "$(aot_file "$f")" ] || [ -f "$(aot_file "$f").failed" ]; then
      echo "$app"
      return 0
    fi
  fi
  (
    with_lock
    [ -f "$stamp" ] && launcher_jar >/dev/null 2>&1 || do_unpack
    train_aot
  )
  echo "$app"
}

# ---------------------------------------------------------------- start / stop
parse_args() {
  dir=""
  port=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
      --dir=*) dir="${1#--dir=}"; shift ;;
      --port) port="${2:?--port needs a value}"; shift 2 ;;
      --port=*) port="${1#--port=}"; shift ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [ -n "$dir" ] || die "--dir DIR is required"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
}

cmd_start() {
  local dir="" port=""
  parse_args "$@"
  cmd_fetch >/dev/null
  local java pid url feature aot timeout
  java="$JAVA"
  feature="$JAVA_FEATURE"

  if [ -f "$dir/registry.pid" ]; then
    pid="$(cat "$dir/registry.pid")"
    if is_registry_pid "$pid" && [ -f "$dir/url" ] && [ "$(http_status "$(cat "$dir/url")/subjects")" = 200 ]; then
      log "already running (pid $pid)"
      cat "$dir/url"
      return 0
    fi
    is_registry_pid "$pid" && cmd_stop --dir "$dir"
    rm -f "$dir/registry.pid"
  fi

  if [ -z "$port" ] && [ -f "$dir/port" ]; then port="$(cat "$dir/port")"; fi
  [ -n "$port" ] || port="$(free_port)"
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
  port_in_use "$port" && die "port $port on 127.0.0.1 is already in use"
  echo "$port" >"$dir/port"

  local opts o
  read -r -a opts <<<"$(jvm_base_opts)"
  aot="$(aot_file "$feature")"
  [ "$feature" -ge 25 ] && [ -f "$aot" ] && opts+=("-XX:AOTCache=$aot")
  while IFS= read -r o; do opts+=("$o"); done < <(app_opts "$port")
  if [ -n "${REGISTRY_JAVA_OPTS:-}" ]; then
    local extra
    read -r -a extra <<<"$REGISTRY_JAVA_OPTS"
    opts+=("${extra[@]}")
  fi

  {
    echo "=== $(date '+%F %T') start: $java (Java $feature), Apicurio $version, port $port"
  } >>"$dir/registry.log"
  # Own session (setsid) so a Ctrl-C to the caller's process group does not reach it; stdio
  # detached so callers reading this script's stdout are not held open by the JVM.
  (
    cd "$dir"
    if command -v setsid >/dev/null 2>&1; then
      exec setsid "$java" "${opts[@]}" -jar "$(launcher_jar)" >>"$dir/registry.log" 2>&1 </dev/null
    else
      exec "$java" "${opts[@]}" -jar "$(launcher_jar)" >>"$dir/registry.log" 2>&1 </dev/null
    fi
  ) &
  pid=$!
  echo "$pid" >"$dir/registry.pid"

  url="http://127.0.0.1:$port$ccompat_path"
  timeout="${REGISTRY_START_TIMEOUT:-90}"
  local deadline=$((SECONDS + timeout))
  until [ "$(http_status "$url/subjects")" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/registry.log" >&2
      rm -f "$dir/registry.pid"
      die "registry exited during start-up (log: $dir/registry.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$dir/registry.log" >&2
      cmd_stop --dir "$dir" || true
      die "registry not ready after ${timeout}s (log: $dir/registry.log)"
    fi
    sleep 0.1
  done
  echo "$url" >"$dir/url"
  echo "$url"
}

cmd_stop() {
  local dir="" port=""
  parse_args "$@"
  local pid
  [ -f "$dir/registry.pid" ] || return 0
  pid="$(cat "$dir/registry.pid")"
  if is_registry_pid "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid ignored SIGTERM for 15s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$dir/registry.pid"
}

case "${1:-}" in
  fetch) shift; cmd_fetch "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 fetch | start --dir DIR [--port P] | stop --dir DIR" >&2; exit 2 ;;
esac
