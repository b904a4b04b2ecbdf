#!/usr/bin/env bash
# A real Apache HDFS (one NameNode + one DataNode, WebHDFS on) as plain Java processes on
# 127.0.0.1, for the WebHDFS sink's tests. No Hadoop distribution, no native libraries, no
# HADOOP_HOME: the jars come from Maven Central (infra/hdfs/pom.xml) into .cache/hdfs/lib.
#
#   hdfs.sh fetch                               # jars + one-off preparation (also done by start)
#   hdfs.sh start      --dir DIR [--owner PID]  # prints http://127.0.0.1:PORT (WebHDFS) last
#                                               # --owner: stop the cluster once PID is gone
#   hdfs.sh stop       --dir DIR
#   hdfs.sh stop-node  --dir DIR --node namenode|datanode [--kill]
#   hdfs.sh start-node --dir DIR --node namenode|datanode
#
# DIR holds conf/, name/, data/, *.log, *.pid, ports.env and webhdfs. Starting again with the same
# DIR reuses its ports and its data. Only 127.0.0.1 is ever bound or contacted.
#
# Start-up speed (~3-4 s to a writable cluster): once per machine (or pom change), `fetch` also
#  - formats a NameNode once into .cache/hdfs/name-template, copied into each new DIR, and
#  - runs a throw-away cluster that records a class-data-sharing archive per JVM at its exit
#    (.cache/hdfs/cds/, keyed by the java binary); later JVMs map it instead of loading ~10k
#    classes from 120 jars, which roughly halves their start. HDFS_CDS=0 turns that off.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pom="$root/infra/hdfs/pom.xml"
cache="$root/.cache/hdfs"
lib="$cache/lib"
cds_dir="$cache/cds"
java_bin="${HDFS_JAVA:-java}"
heap="${HDFS_HEAP:-384m}"
timeout_s="${HDFS_START_TIMEOUT:-90}"
stop_grace_s=20
cds_record=0
probe_user="hdfs-sh"

die() { echo "hdfs.sh: $*" >&2; exit 1; }
log() { echo "hdfs.sh: $*" >&2; }

# ---------------------------------------------------------------------------------------- fetch
mvn_args=(-DincludeScope=runtime -DexcludeClassifiers=osx-x86_64,osx-aarch_64)
pom_sum() { { cat "$pom"; echo "${mvn_args[*]}"; } | sha256sum | cut -d' ' -f1; }

fetch() {
  local sum; sum="$(pom_sum)"
  [ -f "$lib/.stamp" ] && [ "$(cat "$lib/.stamp")" = "$sum" ] && return 0
  mkdir -p "$cache"
  # Several test processes may start at once: one fetches, the others wait for it.
  exec 9>"$cache/.fetch.lock"
  flock 9
  if [ -f "$lib/.stamp" ] && [ "$(cat "$lib/.stamp")" = "$sum" ]; then exec 9>&-; return 0; fi
  command -v mvn >/dev/null || die "mvn (Maven) is needed to fetch the Hadoop jars"
  log "fetching Hadoop jars into .cache/hdfs/lib"
  local tmp="$cache/lib.tmp.$$"
  rm -rf "$tmp"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp" "${mvn_args[@]}" >"$cache/fetch.log" 2>&1 \
    || { tail -n 40 "$cache/fetch.log" >&2; rm -rf "$tmp"; die "mvn dependency:copy-dependencies failed (log: $cache/fetch.log)"; }
  echo "$sum" >"$tmp/.stamp"
  rm -rf "$lib" "$cds_dir" "$cache/name-template" && mv "$tmp" "$lib"
  exec 9>&-
}

# ---------------------------------------------------------------------------------------- ports
port_free() { # nothing listens on 127.0.0.1:$1
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_ports() { # 5 distinct free ports below the ephemeral range, so no client socket takes them
  local picked=() p tries=0
  while [ "${#picked[@]}" -lt 5 ]; do
    tries=$((tries + 1)); [ "$tries" -lt 2000 ] || die "no free ports found on 127.0.0.1"
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    [[ " ${picked[*]-} " == *" $p "* ]] && continue
    port_free "$p" && picked+=("$p")
  done
  cat >"$dir/ports.env" <<EOF
NN_RPC=${picked[0]}
NN_HTTP=${picked[1]}
DN_DATA=${picked[2]}
DN_IPC=${picked[3]}
DN_HTTP=${picked[4]}
EOF
}

load_ports() {
  # shellcheck disable=SC1091
  . "$dir/ports.env"
  : "${NN_RPC:?} ${NN_HTTP:?} ${DN_DATA:?} ${DN_IPC:?} ${DN_HTTP:?}"
  webhdfs="http://127.0.0.1:$NN_HTTP"
}

# ----------------------------------------------------------------------------------------- conf
prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }

write_conf() {
  mkdir -p "$dir/conf" "$dir/tmp" "$dir/home"
  {
    echo '<?xml version="1.0"?>'; echo '<configuration>'
    prop fs.defaultFS "hdfs://127.0.0.1:$NN_RPC"
    prop hadoop.tmp.dir "$dir/tmp"
    prop hadoop.security.authentication simple
    # No per-user shell-outs to `id`: every WebHDFS user.name is accepted, with no groups.
    prop hadoop.security.group.mapping org.apache.hadoop.security.NullGroupsMapping
    prop hadoop.http.staticuser.user dr.who
    # The DataNode retries a refused NameNode every 250 ms for 10 s before its own 5 s back-off,
    # so it registers as soon as the NameNode (started alongside, or after an outage) listens.
    prop ipc.client.connect.max.retries 40
    prop ipc.client.connect.retry.interval 250
    prop ipc.client.connect.timeout 5000
    echo '</configuration>'
  } >"$dir/conf/core-site.xml"
  {
    echo '<?xml version="1.0"?>'; echo '<configuration>'
    prop dfs.namenode.name.dir "file://$dir/name"
    prop dfs.datanode.data.dir "file://$dir/data"
    prop dfs.replication 1
    prop dfs.permissions.enabled false
    prop dfs.webhdfs.enabled true
    prop dfs.namenode.rpc-address "127.0.0.1:$NN_RPC"
    prop dfs.namenode.rpc-bind-host 127.0.0.1
    prop dfs.namenode.http-address "127.0.0.1:$NN_HTTP"
    prop dfs.namenode.http-bind-host 127.0.0.1
    prop dfs.namenode.https-address 127.0.0.1:0
    prop dfs.namenode.secondary.http-address 127.0.0.1:0
    prop dfs.namenode.secondary.https-address 127.0.0.1:0
    prop dfs.namenode.backup.address 127.0.0.1:0
    prop dfs.namenode.backup.http-address 127.0.0.1:0
    prop dfs.datanode.address "127.0.0.1:$DN_DATA"
    prop dfs.datanode.ipc.address "127.0.0.1:$DN_IPC"
    prop dfs.datanode.http.address "127.0.0.1:$DN_HTTP"
    prop dfs.datanode.https.address 127.0.0.1:0
    # The DataNode registers as 127.0.0.1, so WebHDFS 307 redirects point at 127.0.0.1.
    prop dfs.datanode.hostname 127.0.0.1
    prop dfs.datanode.use.datanode.hostname true
    prop dfs.client.use.datanode.hostname true
    prop dfs.namenode.datanode.registration.ip-hostname-check false
    # Safe mode: leave as soon as one DataNode has reported the blocks (no 30 s extension);
    # a fresh, empty namespace leaves it as soon as the DataNode registers.
    prop dfs.namenode.safemode.extension 0
    prop dfs.namenode.safemode.min.datanodes 1
    prop dfs.namenode.safemode.threshold-pct 0.999
    # Fast heartbeats: a stopped DataNode is declared dead after 2*5 s + 10*1 s = 20 s.
    prop dfs.heartbeat.interval 1
    prop dfs.namenode.heartbeat.recheck-interval 5000
    prop dfs.namenode.stale.datanode.interval 3000
    prop dfs.blockreport.initialDelay 0
    prop dfs.namenode.resource.du.reserved 16777216
    prop dfs.datanode.du.reserved 0
    prop dfs.namenode.fs-limits.min-block-size 0
    # The DataNode's WebHDFS CREATE closes the file through an HDFS client, which polls the
    # NameNode until the block report lands: first retry after 50 ms instead of 400 ms.
    prop dfs.client.block.write.locateFollowingBlock.initial.delay.ms 50
    echo '</configuration>'
  } >"$dir/conf/hdfs-site.xml"
  # HttpServer2 wants webapps/<name> on the classpath; the published hadoop-hdfs jar leaves the
  # web UI out (only the test jar has it). WebHDFS needs none of it: empty apps are enough.
  local app
  for app in hdfs datanode static; do
    mkdir -p "$dir/conf/webapps/$app/WEB-INF"
    printf '%s\n' '<?xml version="1.0"?>' '<web-app version="2.5" xmlns="http://java.sun.com/xml/ns/javaee"/>' \
      >"$dir/conf/webapps/$app/WEB-INF/web.xml"
  done
  log4j_props >"$dir/conf/log4j.properties"
}

log4j_props() {
  cat <<'EOF'
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN
log4j.logger.BlockStateChange=WARN
EOF
}

# -------------------------------------------------------------------------------------- process
class_of() {
  case "$1" in
    namenode) echo org.apache.hadoop.hdfs.server.namenode.NameNode ;;
    datanode) echo org.apache.hadoop.hdfs.server.datanode.DataNode ;;
    *) die "unknown node '$1' (namenode|datanode)" ;;
  esac
}

java_cmd() { # java_cmd NODE: the JVM command line up to the main class
  local node="$1"
  printf '%s\n' "$java_bin" "-Xmx$heap" -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
    -Djava.net.preferIPv4Stack=true -Djava.awt.headless=true \
    "-Dhadoop.home.dir=$dir/home" "-Dhadoop.log.dir=$dir" "-Dhadoop.tmp.dir=$dir/tmp" \
    "-Djava.io.tmpdir=$dir/tmp" -Dhadoop.security.logger=WARN,console "-Dproc_$node"
  # conf last: the CDS archive covers the jars only and stays valid whatever DIR is.
  [ -n "$node" ] && cds_opts "$node"
  printf '%s\n' -cp "$lib/*:$dir/conf"
}

# -------------------------------------------------------------------------- class data sharing
cds_archive() { # the archive for NODE and this java binary
  local jbin key; jbin="$(command -v "$java_bin" || echo "$java_bin")"
  key="$(readlink -f "$jbin" | sha256sum | cut -c1-12)"
  echo "$cds_dir/$1-$key.jsa"
}

cds_opts() { # -XX options for launching NODE: record the archive at exit (training), or use it
  [ "${HDFS_CDS:-1}" = 1 ] || return 0
  local archive; archive="$(cds_archive "$1")"
  if [ "$cds_record" = 1 ]; then
    mkdir -p "$cds_dir"
    local tmp="$archive.$$.$RANDOM.tmp"
    echo "$tmp" >"$dir/$1.cds"
    echo "-XX:ArchiveClassesAtExit=$tmp"
  elif [ -s "$archive" ]; then
    echo "-XX:SharedArchiveFile=$archive"
  fi
}

cds_train() { # record the archives with a throw-away cluster, once (in a separate process)
  [ "${HDFS_CDS:-1}" = 1 ] || return 0
  [ -s "$(cds_archive namenode)" ] && [ -s "$(cds_archive datanode)" ] && return 0
  exec 7>"$cache/.cds.lock"
  flock 7
  if [ ! -s "$(cds_archive namenode)" ] || [ ! -s "$(cds_archive datanode)" ]; then
    log "recording class-data-sharing archives for faster starts (once per machine)"
    local t="$cache/cds-train.$$"
    rm -rf "$t"
    bash "$root/infra/hdfs/hdfs.sh" cds-train --dir "$t" >/dev/null \
      || log "warning: recording the archives failed (see $t); HDFS starts without them"
    [ -s "$(cds_archive namenode)" ] && rm -rf "$t"
  fi
  exec 7>&-
}

cds_collect() { # cds_collect NODE CLEAN(0|1): keep an archive written by a clean exit, else drop it
  local f="$dir/$1.cds" tmp archive
  [ -f "$f" ] || return 0
  tmp="$(cat "$f")"; archive="$(cds_archive "$1")"
  if [ "$2" = 1 ] && [ -s "$tmp" ] && [ ! -s "$archive" ]; then mv -f "$tmp" "$archive"; else rm -f "$tmp"; fi
  rm -f "$f"
}

alive() { # the process exists and is not a zombie (an orphan's reaping can lag by a second or more)
  local st; st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "${st%% *}" != Z ]
}

pid_of() { # prints the node's PID if it is running (and really is our java)
  local f="$dir/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && alive "$pid" || return 1
  local cmdline; cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *" -Dhadoop.home.dir=$dir/home "*" $(class_of "$1")"* ]] || return 1
  echo "$pid"
}

launch() {
  local node="$1" cls; cls="$(class_of "$node")"
  if pid_of "$node" >/dev/null; then return 0; fi
  cds_collect "$node" 0   # a leftover from a killed run
  local cmd=(); mapfile -t cmd < <(java_cmd "$node")
  echo "=== $(date '+%F %T') starting $node" >>"$dir/$node.log"
  # Own session, stdin/stdout/stderr detached, so the caller's pipes close when we exit.
  setsid "${cmd[@]}" "$cls" </dev/null >>"$dir/$node.log" 2>&1 &
  echo $! >"$dir/$node.pid"
}

name_template() { # a freshly formatted, never started name dir, made once per fetched jar set
  local t="$cache/name-template" key; key="$(cat "$lib/.stamp")"
  [ -f "$t/.stamp" ] && [ "$(cat "$t/.stamp")" = "$key" ] && return 0
  exec 8>"$cache/.format.lock"
  flock 8
  if [ ! -f "$t/.stamp" ] || [ "$(cat "$t/.stamp")" != "$key" ]; then
    local tmp="$t.tmp.$$" cmd=()
    dir="$cache/format"   # (we run in a subshell) a scratch home for the format JVM
    mkdir -p "$dir/conf" "$dir/tmp" "$dir/home" && log4j_props >"$dir/conf/log4j.properties"
    mapfile -t cmd < <(java_cmd "")
    local archive; archive="$(cds_archive namenode)"
    [ "${HDFS_CDS:-1}" = 1 ] && [ -s "$archive" ] && cmd+=("-XX:SharedArchiveFile=$archive")
    rm -rf "$tmp"
    "${cmd[@]}" org.apache.hadoop.hdfs.server.namenode.NameNode "-Ddfs.namenode.name.dir=file://$tmp" \
      -format -nonInteractive -force </dev/null >"$dir/format.log" 2>&1 \
      && [ -f "$tmp/current/VERSION" ] || { tail -n 30 "$dir/format.log" >&2; rm -rf "$tmp"; die "namenode format failed"; }
    rm -f "$tmp/in_use.lock"; echo "$key" >"$tmp/.stamp"
    rm -rf "$t" && mv "$tmp" "$t"
  fi
  exec 8>&-
}

prepare() { # everything that is done once per machine: jars, name-dir template, CDS archives
  fetch
  (name_template)
  cds_train
}

format_once() { # the NameNode's name dir: a copy of the formatted template (saves a JVM per start)
  [ -f "$dir/name/current/VERSION" ] && return 0
  (name_template)
  rm -rf "$dir/name"
  cp -R "$cache/name-template" "$dir/name"
  rm -f "$dir/name/.stamp"
}

stop_one() { # stop_one NODE KILL(0|1)
  local node="$1" kill_now="$2" pid i clean=1
  pid="$(pid_of "$node")" || { rm -f "$dir/$node.pid"; cds_collect "$node" 0; return 0; }
  if [ "$kill_now" = 1 ]; then
    kill -KILL "$pid" 2>/dev/null || true; clean=0
  else
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < stop_grace_s * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "$node ($pid) still running ${stop_grace_s}s after SIGTERM, killing it"; kill -KILL "$pid" 2>/dev/null || true; clean=0
    fi
  fi
  for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.05; done
  rm -f "$dir/$node.pid"
  cds_collect "$node" "$clean"
}

# ---------------------------------------------------------------------------------------- ready
last_err=""
http() { curl -sS --max-time 5 --noproxy '*' "$@" 2>&1; }

nn_up() { # WebHDFS answers a LISTSTATUS of /
  local out; out="$(http -o /dev/null -w '%{http_code}' "$webhdfs/webhdfs/v1/?op=LISTSTATUS&user.name=$probe_user")" || true
  [ "$out" = 200 ] && return 0
  last_err="namenode WebHDFS LISTSTATUS: ${out:-no answer}"; return 1
}

dn_up() { # the DataNode's own HTTP server answers
  local out; out="$(http -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DN_HTTP/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo")" || true
  [ "$out" = 200 ] && return 0
  last_err="datanode HTTP: ${out:-no answer}"; return 1
}

cluster_ready() { # live DataNode, out of safe mode, and a real two-step WebHDFS write works
  nn_up || return 1
  local info; info="$(http "$webhdfs/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState")" || true
  if ! grep -Eq '"NumLiveDataNodes" *: *[1-9]' <<<"$info"; then last_err="namenode reports no live datanode yet"; return 1; fi
  if ! grep -Eq '"FSState" *: *"Operational"' <<<"$info"; then last_err="namenode still in safe mode"; return 1; fi
  local p="/.hdfs-sh-probe" out loc code
  out="$(http -o /dev/null -w '%{http_code} %{redirect_url}' -X PUT \
    "$webhdfs/webhdfs/v1$p?op=CREATE&overwrite=true&user.name=$probe_user")" || true
  code="${out%% *}"; loc="${out#* }"
  if [ "$code" != 307 ] || [ -z "$loc" ]; then last_err="probe CREATE on namenode: $out"; return 1; fi
  out="$(http -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' --data-binary probe "$loc")" || true
  if [ "$out" != 201 ]; then last_err="probe write to datanode ($loc): ${out:-no answer}"; return 1; fi
  http -o /dev/null -X DELETE "$webhdfs/webhdfs/v1$p?op=DELETE&user.name=$probe_user" >/dev/null || true
  return 0
}

wait_for() { # wait_for CHECK WHAT
  local check="$1" what="$2" deadline=$((SECONDS + timeout_s)) node
  until "$check"; do
    for node in namenode datanode; do
      if [ -f "$dir/$node.pid" ] && ! pid_of "$node" >/dev/null; then
        echo "---- $dir/$node.log (last 40 lines)" >&2; tail -n 40 "$dir/$node.log" | cut -c1-400 >&2 || true
        die "$node exited while waiting for $what"
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      for node in namenode datanode; do
        [ -f "$dir/$node.log" ] && { echo "---- $dir/$node.log (last 25 lines)" >&2; tail -n 25 "$dir/$node.log" | cut -c1-400 >&2; }
      done
      die "timed out after ${timeout_s}s waiting for $what (last: $last_err)"
    fi
    sleep 0.25
  done
}

# ------------------------------------------------------------------------------------- commands
need_dir() {
  [ -n "${dir:-}" ] || die "--dir DIR is required"
  case "$sub" in start | cds-train) mkdir -p "$dir" ;; esac
  if [ ! -d "$dir" ]; then
    case "$sub" in stop | stop-node) exit 0 ;; *) die "no such folder: $dir" ;; esac   # nothing runs there
  fi
  dir="$(cd "$dir" && pwd)"
}

need_started_before() { [ -f "$dir/ports.env" ] || die "$dir was never started (no ports.env)"; load_ports; }

cmd_start() {
  need_dir
  command -v curl >/dev/null || die "curl is needed"
  prepare
  if [ -f "$dir/ports.env" ]; then
    load_ports
    local p
    for p in "$NN_RPC" "$NN_HTTP" "$DN_DATA" "$DN_IPC" "$DN_HTTP"; do
      pid_of namenode >/dev/null || pid_of datanode >/dev/null || port_free "$p" \
        || die "port $p (from $dir/ports.env) is taken by another process"
    done
  else
    pick_ports; load_ports
  fi
  write_conf
  launch datanode          # the DataNode keeps retrying the NameNode: it starts while we format
  format_once
  launch namenode
  start_watchdog
  wait_for cluster_ready "HDFS at $webhdfs"
  echo "$webhdfs" >"$dir/webhdfs"
  echo "$webhdfs"
}

start_watchdog() { # stop the cluster once the owner process is gone (a killed test runner)
  [ -n "${owner:-}" ] || return 0
  alive "$owner" || die "--owner $owner is not a running process"
  stop_watchdog
  setsid bash "$root/infra/hdfs/hdfs.sh" watch --dir "$dir" --owner "$owner" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watchdog.pid"
}

stop_watchdog() {
  local pid; pid="$(cat "$dir/watchdog.pid" 2>/dev/null)" || return 0
  rm -f "$dir/watchdog.pid"
  [ -n "$pid" ] && [ "$pid" != "$$" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- " watch --dir $dir " \
    && kill -TERM "$pid" 2>/dev/null
  return 0
}

cmd_watch() {
  need_dir; [ -n "${owner:-}" ] || die "--owner is required"
  while alive "$owner" && [ "$(cat "$dir/watchdog.pid" 2>/dev/null)" = "$$" ]; do sleep 1; done
  alive "$owner" && exit 0   # replaced or stopped: someone else is in charge
  rm -f "$dir/watchdog.pid"
  stop_one datanode 0 & stop_one namenode 0 & wait
}

cmd_stop() {
  need_dir
  stop_watchdog
  # Both at once: the DataNode's SIGTERM shutdown waits on nothing from the NameNode.
  stop_one datanode 0 & local a=$!
  stop_one namenode 0 & local b=$!
  wait "$a" "$b"
}

cmd_cds_train() { # internal: a throw-away cluster whose JVMs record their CDS archives at exit
  need_dir
  cds_record=1 stop_grace_s=90
  trap 'stop_one datanode 1; stop_one namenode 1' EXIT
  pick_ports; load_ports; write_conf; format_once
  launch datanode; launch namenode
  wait_for cluster_ready "the CDS recording cluster"
  stop_one datanode 0 & stop_one namenode 0 & wait
}

cmd_stop_node() { need_dir; [ -n "${node:-}" ] || die "--node is required"; class_of "$node" >/dev/null; stop_one "$node" "$kill_flag"; }

cmd_start_node() {
  need_dir; [ -n "${node:-}" ] || die "--node is required"; class_of "$node" >/dev/null
  need_started_before
  prepare
  [ -f "$dir/conf/hdfs-site.xml" ] || write_conf
  [ "$node" = namenode ] && format_once
  launch "$node"
  # When both are up again, wait until the whole cluster serves writes; else for this node alone.
  if pid_of namenode >/dev/null && pid_of datanode >/dev/null; then
    wait_for cluster_ready "HDFS at $webhdfs"
  elif [ "$node" = namenode ]; then
    wait_for nn_up "the namenode"
  else
    wait_for dn_up "the datanode"
  fi
  echo "$webhdfs"
}

sub="${1:-}"; shift || true
dir=""; node=""; kill_flag=0; owner=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --dir=*) dir="${1#--dir=}"; shift ;;
    --node) node="${2:?--node needs a value}"; shift 2 ;;
    --node=*) node="${1#--node=}"; shift ;;
    --kill) kill_flag=1; shift ;;
    --owner) owner="${2:?--owner needs a value}"; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done

case "$sub" in
  fetch) prepare ;;
  cds-train) cmd_cds_train ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  stop-node) cmd_stop_node ;;
  start-node) cmd_start_node ;;
  watch) cmd_watch ;;
  *) echo "usage: hdfs.sh fetch | start --dir DIR | stop --dir DIR | stop-node --dir DIR --node namenode|datanode [--kill] | start-node --dir DIR --node namenode|datanode" >&2; exit 2 ;;
esac
