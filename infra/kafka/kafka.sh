#!/usr/bin/env bash
# Real Apache Kafka (KRaft, no ZooKeeper) as plain Java processes, jars from Maven Central
# (infra/kafka/pom.xml) cached in .cache/kafka/lib. For tests, the demo and the benchmark.
#
#   kafka.sh fetch
#   kafka.sh start --dir DIR [--brokers 1|3] [--partitions-default N]
#                  [--prop KEY=VALUE]... [--jvm-opts "FLAGS"] [--fast-start]
#                  (--fast-start: C1-only JIT, for tests: starts faster and burns less CPU warming up,
#                   but lower peak throughput, so not for benchmarks)
#                  [--owner-pid PID [--owner-rm]]   # watchdog: SIGKILL the nodes (and rm DIR) once PID exits
#   kafka.sh start-secure --dir DIR [start's options]   # one node, SASL_SSL only, ACLs enforced (see below)
#   kafka.sh stop --dir DIR [--kill]
#   kafka.sh stop-node --dir DIR --id N [--kill]
#   kafka.sh start-node --dir DIR --id N
#   kafka.sh status --dir DIR
#   kafka.sh topics|acls|configs|perf-producer|perf-consumer|console-producer|console-consumer|quorum [--dir DIR] ARGS...
#   kafka.sh run CLASS ARGS...
# Tool pass-throughs: a leading `--dir DIR` becomes `--bootstrap-server <DIR/bootstrap>`, plus
# `--command-config DIR/admin.properties` for topics, acls and configs on a secure node.
#
# start-secure: the client listener is SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) with a broker
# certificate signed by a CA made for the run (openssl; SAN IP:127.0.0.1, DNS:localhost); the
# controller listener is SASL_PLAINTEXT (PLAIN, as admin). StandardAuthorizer is on, no ACL means
# no access, User:admin is the super user. Users admin and retail, with random passwords, get SCRAM
# credentials at format time (kafka-storage format --add-scram) and PLAIN ones in the JAAS config.
# DIR/secure/ holds: ca.pem (the CA clients trust), client.pem + client.key (a client certificate of
# that CA), credentials.env (ADMIN_USER, ADMIN_PASSWORD, APP_USER, APP_PASSWORD, CA, BOOTSTRAP),
# admin.properties (a Kafka client config for the tools as admin), retail.properties (the same for
# retail, SCRAM-SHA-512) and retail.password. Mode 600; removed with DIR.
#
# Layout of DIR: node-N.properties, node-N.data/, node-N.log, node-N.pid, bootstrap, cluster.env (and secure/).
# `start` prints the bootstrap list (127.0.0.1:P1,...) as the last line of stdout; all else goes to stderr.
# Env: KAFKA_HEAP_OPTS (default -Xms128m -Xmx512m), KAFKA_JVM_OPTS (extra flags), KAFKA_START_TIMEOUT (s, 60),
#      KAFKA_CDS=0 (don't use/make the class-data-sharing archive that speeds up JVM start).
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$root/.cache/kafka"
lib="$cache/lib"
java_bin="${JAVA:-java}"
started_msg="Kafka Server started"

die() { echo "kafka.sh: $*" >&2; exit 1; }
say() { echo "kafka.sh: $*" >&2; }

# ---------------------------------------------------------------- fetch
# .cache/kafka/lib: the jars (stamp: the pom's checksum); kafka-node-<src>.jar: KafkaNode.java built
# when javac is there; cds-<key>.jsa: the class-data archive (see CDS below). All made once, under a lock.

pom_sum() { sha256sum <"$here/pom.xml" | cut -c1-64; }
launcher_jar() { echo "$cache/kafka-node-$(sha256sum <"$here/KafkaNode.java" | cut -c1-16).jar"; }
have_javac() { command -v javac >/dev/null && command -v jar >/dev/null; }
lib_ok() { [[ -d $lib && -f $cache/lib.stamp && "$(cat "$cache/lib.stamp")" == "$(pom_sum)" ]]; }
launcher_ok() { ! have_javac || [[ -s "$(launcher_jar)" || -f "$(launcher_jar).failed" ]]; }
cds_ok() { [[ ${KAFKA_CDS:-1} != 1 ]] || [[ -s "$(cds_file)" || -f "$(cds_file).failed" ]]; }

fetch() {
  mkdir -p "$cache"
  if lib_ok && launcher_ok && cds_ok; then return 0; fi
  exec 9>"$cache/.lock"
  flock 9 # several test files may start clusters at once: one fetch
  if ! lib_ok; then
    command -v mvn >/dev/null || die "mvn is needed to fetch the Kafka jars"
    say "fetching Kafka jars into .cache/kafka/lib"
    rm -rf "$lib.tmp" "$cache/lib.stamp"
    mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib.tmp" >&2 \
      || die "mvn dependency:copy-dependencies failed"
    rm -rf "$lib" "$cache"/cds-*.jsa
    mv "$lib.tmp" "$lib"
    pom_sum >"$cache/lib.stamp"
  fi
  if ! launcher_ok; then
    local jar tmp
    jar="$(launcher_jar)" tmp="$(mktemp -d)"
    rm -f "$cache"/kafka-node-*.jar*
    if javac -nowarn -d "$tmp" -cp "$(classpath)" "$here/KafkaNode.java" >&2 && jar cf "$jar.tmp" -C "$tmp" . >&2; then
      mv "$jar.tmp" "$jar"
    else
      say "warning: could not build KafkaNode.java; formatting storage in separate JVMs"
      rm -f "$jar.tmp"
      touch "$jar.failed"
    fi
    rm -rf "$tmp"
  fi
  cds_train
  flock -u 9
  exec 9>&-
}

# the broker's classpath; the JVM checks it against the CDS archive's, so its order is fixed
classpath() {
  local j cp=""
  for j in "$lib"/*.jar; do cp+="${cp:+:}$j"; done
  j="$(launcher_jar)"
  [[ -s $j ]] && cp+=":$j"
  printf '%s' "$cp"
}

jvm_common=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:-UsePerfData -Djava.awt.headless=true)

# ---------------------------------------------------------------- helpers

# is PID alive and one of ours (its command line holds MARKER)?
ours() {
  local pid=$1 marker=$2
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

node_pid() { local f="$dir/node-$1.pid"; [[ -f $f ]] && cat "$f" || true; }

node_ids() { local f; for f in "$dir"/node-*.properties; do [[ -f $f ]] || continue; f="${f##*/node-}"; echo "${f%.properties}"; done; }

# random free ports below the ephemeral range (so outgoing connections don't grab them) + Kafka UUIDs
gen_ids() {
  python3 - "$1" <<'EOF'
import base64, os, random, socket, sys
n = int(sys.argv[1])
def uuid():
    while True:
        s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not s.startswith("-"): return s
ports, rnd = [], random.SystemRandom()
while len(ports) < 2 * n:
    p = rnd.randrange(20000, 32000)
    if p in ports: continue
    with socket.socket() as s:
        try: s.bind(("127.0.0.1", p))
        except OSError: continue
    ports.append(p)
print(uuid())
for i in range(n): print(ports[2 * i], ports[2 * i + 1], uuid())
EOF
}

launch_node() { # id [STORAGE-TOOL FORMAT ARGS...]: start one node in the background (format first if args)
  local id=$1 props="$dir/node-$1.properties" logf="$dir/node-$1.log"
  shift
  local heap=(${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}) extra=() cds=() main=(kafka.Kafka "$props") pid
  [[ -f $dir/jvm.opts ]] && read -r -a extra <"$dir/jvm.opts"
  [[ -f $props ]] || die "no $props"
  pid="$(node_pid "$id")"
  if ours "$pid" "$props"; then die "node $id is already running (pid $pid)"; fi
  if (($#)); then
    if [[ -s "$(launcher_jar)" ]]; then
      main=(KafkaNode --format "$@" -- "$props")
    else
      format_node "$@"
    fi
  fi
  cds_opts cds
  echo "---- start $(date -Is)" >>"$logf"
  nohup "$java_bin" "${heap[@]}" "${jvm_common[@]}" "${cds[@]}" "${extra[@]}" \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$dir" \
    -cp "$(classpath)" "${main[@]}" >>"$logf" 2>&1 </dev/null &
  echo $! >"$dir/node-$id.pid"
  disown $!
}

format_node() { # STORAGE-TOOL ARGS (fallback without the KafkaNode launcher: a JVM of its own)
  local cds=()
  cds_opts cds
  "$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData "${cds[@]}" \
    -Dlog4j2.configurationFile="$here/tools-log4j2.properties" -cp "$(classpath)" \
    kafka.tools.StorageTool "$@" >>"$logf" 2>&1 || { log_tail "$id"; die "formatting storage of node $id failed"; }
}

started_count() { grep -c -F "$started_msg" "$dir/node-$1.log" 2>/dev/null || true; }

# wait until every node in "$@" (as id:count-before-launch) logs a new "Kafka Server started"
wait_nodes() {
  local timeout="${KAFKA_START_TIMEOUT:-60}" t0=$SECONDS spec id before pending
  pending=("$@")
  while ((${#pending[@]})); do
    local left=()
    for spec in "${pending[@]}"; do
      id="${spec%%:*}" before="${spec#*:}"
      if (($(started_count "$id") > before)); then continue; fi
      # (not `ours`: right after the fork the child's command line is still bash's)
      if ! kill -0 "$(node_pid "$id")" 2>/dev/null; then
        fail_reason="node $id exited during start"; fail_node=$id; return 1
      fi
      left+=("$spec")
    done
    pending=("${left[@]+"${left[@]}"}")
    ((${#pending[@]})) || break
    if ((SECONDS - t0 >= timeout)); then
      fail_reason="node(s) ${pending[*]%%:*} not started after ${timeout}s"; fail_node="${pending[0]%%:*}"; return 1
    fi
    sleep 0.1
  done
}

log_tail() { # id
  echo "----- tail of $dir/node-$1.log -----" >&2
  tail -n 40 "$dir/node-$1.log" >&2 || true
  echo "-----" >&2
}

# SIGTERM (or SIGKILL) the given nodes, wait up to 20s, then SIGKILL; remove pid files.
# A KRaft leader that shuts down resigns and waits (5s, fixed) for a voter to take over; when the whole
# quorum stops there is none, so once every node left has been stuck in that last step for 1.5s
# (its broker part and logs already closed), it is SIGKILLed: a 3-node stop takes ~1.5s, not ~6s.
stop_nodes() { # kill(0|1) ids...
  local kill=$1; shift
  local id pid off live=()
  for id in "$@"; do
    pid="$(node_pid "$id")"
    if ours "$pid" "$dir/node-$id.properties"; then
      off="$(stat -c %s "$dir/node-$id.log" 2>/dev/null || echo 0)"
      kill "-$([[ $kill == 1 ]] && echo KILL || echo TERM)" "$pid" 2>/dev/null || true
      live+=("$id:$pid:$off")
    fi
  done
  local deadline=$((SECONDS + 20)) spec stuck_polls=0
  while ((${#live[@]})); do
    local left=() all_stuck=1
    for spec in "${live[@]}"; do
      IFS=: read -r id pid off <<<"$spec"
      ours "$pid" "$dir/node-$id.properties" || continue
      left+=("$spec")
      resigning_alone "$id" "$off" || all_stuck=0
    done
    live=("${left[@]+"${left[@]}"}")
    ((${#live[@]})) || break
    if ((all_stuck)); then stuck_polls=$((stuck_polls + 1)); else stuck_polls=0; fi
    if ((stuck_polls >= 15)); then
      for spec in "${live[@]}"; do kill -KILL "$(cut -d: -f2 <<<"$spec")" 2>/dev/null || true; done
    elif ((SECONDS >= deadline)); then
      for spec in "${live[@]}"; do
        IFS=: read -r id pid off <<<"$spec"
        say "node $id (pid $pid) ignored SIGTERM for 20s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      done
      deadline=$((SECONDS + 5))
    fi
    sleep 0.1
  done
  for id in "$@"; do rm -f "$dir/node-$id.pid"; done
}

resigning_alone() { # id log-offset: has the node's raft client begun, and not finished, its graceful shutdown?
  local t
  t="$(tail -c "+$(($2 + 1))" "$dir/node-$1.log" 2>/dev/null | grep -F -e "Beginning graceful shutdown" -e "Graceful shutdown" || true)"
  [[ $t == *"Beginning graceful shutdown"* && $t != *"Graceful shutdown completed"* && $t != *"Graceful shutdown timed out"* ]]
}

# --------------------------------------------------------------- CDS
# A dynamic class-data-sharing archive of the classes a broker loads while starting (the JVM writes it
# when a broker run with -XX:ArchiveClassesAtExit exits cleanly) halves the JVM's start on 2 cores.
# `fetch` makes it once with a throw-away broker; it is keyed by the jars, the launcher and the JVM
# build, and the JVM ignores a stale one anyway (-Xshare:auto). KAFKA_CDS=0 turns it off.
cds_file() {
  if [[ -z ${_cds_file:-} ]]; then
    local jvm so
    jvm="$(readlink -f "$(command -v "$java_bin")")"
    so="$(dirname "$jvm")/../lib/server/libjvm.so"
    _cds_file="$cache/cds-$({ cat "$cache/lib.stamp" 2>/dev/null; classpath; echo; echo "$jvm"
      if [[ -f $so ]]; then stat -L -c '%s %Y' "$so"; else "$java_bin" -version 2>&1; fi; } | sha256sum | cut -c1-16).jsa"
  fi
  echo "$_cds_file"
}
cds_opts() { # nameref-array: JVM flags that use the archive if there is one
  local -n _out=$1
  local jsa
  _out=(-Xlog:disable -Xlog:all=warning:stderr) # JVM warnings to stderr, never into a tool's stdout
  jsa="$(cds_file)"
  [[ ${KAFKA_CDS:-1} == 1 && -s $jsa ]] && _out+=(-XX:SharedArchiveFile="$jsa" -Xshare:auto)
  return 0
}
cds_train() { # under the fetch lock
  [[ ${KAFKA_CDS:-1} == 1 ]] || return 0
  local jsa tdir
  jsa="$(cds_file)"
  [[ -s $jsa ]] && return 0
  say "making the JVM class-data archive (one throw-away broker start)"
  rm -f "$cache"/cds-*.jsa "$cache"/cds-*.tmp "$cache"/cds-*.failed
  tdir="$(mktemp -d "${TMPDIR:-/tmp}/kafka-cds.XXXXXX")"
  if (KAFKA_CDS=0 KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-} -XX:ArchiveClassesAtExit=$jsa.tmp" \
        "$here/kafka.sh" start --dir "$tdir" >/dev/null && "$here/kafka.sh" stop --dir "$tdir") \
     && [[ -s $jsa.tmp ]]; then
    mv "$jsa.tmp" "$jsa"
    rm -rf "$tdir"
  else
    say "warning: no class-data archive made (see $tdir); brokers start without it"
    rm -f "$jsa.tmp"
    touch "$jsa.failed"
  fi
}

# ---------------------------------------------------------------- start

write_props() { # id broker_port controller_port
  local id=$1 bp=$2 cp=$3 n=$brokers
  local rf=$n minisr=$((n >= 3 ? 2 : 1))
  local client_listener=PLAINTEXT controller_protocol=PLAINTEXT
  if ((secure)); then client_listener=SASL_SSL controller_protocol=SASL_PLAINTEXT; fi
  cat >"$dir/node-$id.properties" <<EOF
# generated by infra/kafka/kafka.sh
process.roles=broker,controller
node.id=$id
listeners=$client_listener://127.0.0.1:$bp,CONTROLLER://127.0.0.1:$cp
advertised.listeners=$client_listener://127.0.0.1:$bp,CONTROLLER://127.0.0.1:$cp
controller.listener.names=CONTROLLER
inter.broker.listener.name=$client_listener
listener.security.protocol.map=$client_listener:$client_listener,CONTROLLER:$controller_protocol
controller.quorum.bootstrap.servers=$controllers
log.dirs=$dir/node-$id.data

num.partitions=$partitions
default.replication.factor=$rf
min.insync.replicas=$minisr
auto.create.topics.enable=false
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$minisr
group.initial.rebalance.delay.ms=0

# small machine (2 cores), short-lived clusters
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.check.interval.ms=10000
log.flush.offset.checkpoint.interval.ms=10000
# notice a killed node within ~6s (failover tests); heartbeats every 0.5s also shorten start
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=6000
EOF
  if ((secure)); then secure_props >>"$dir/node-$id.properties"; chmod 600 "$dir/node-$id.properties"; fi
  if ((${#extra_props[@]})); then printf '%s\n' "# --prop" "${extra_props[@]}" >>"$dir/node-$id.properties"; fi
}

# ---------------------------------------------------------------- start-secure
# TLS material and users for one run, in $dir/secure (see the header). Needs openssl.

make_secure_material() {
  local sd="$dir/secure"
  command -v openssl >/dev/null || die "start-secure: openssl is needed to make the test CA and certificates"
  rm -rf "$sd"
  mkdir -p "$sd"
  chmod 700 "$sd"
  (
    cd "$sd"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7 -subj "/CN=retail-streams test CA $(date +%s)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout ca.key -out ca.pem 2>/dev/null
    issue() { # name cn extensions
      openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -sha256 -days 7 -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -extfile "$1.ext" -out "$1.pem" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    issue broker localhost $'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE'
    issue client retail $'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE'
    # Kafka's PEM keystore: the unencrypted PKCS#8 key, then the certificate chain
    cat broker.key broker.pem ca.pem >broker-keystore.pem
    rm -f ca.srl
  ) || die "start-secure: making the test certificates with openssl failed"
  [[ -s $sd/broker-keystore.pem && -s $sd/client.pem ]] || die "start-secure: openssl made no certificates"
  admin_password="$(openssl rand -hex 16)" app_password="$(openssl rand -hex 16)"
  local jaas_scram='org.apache.kafka.common.security.scram.ScramLoginModule required'
  client_props() { # user password mechanism
    printf '%s\n' "# generated by infra/kafka/kafka.sh start-secure" \
      "security.protocol=SASL_SSL" "sasl.mechanism=$3" \
      "sasl.jaas.config=$jaas_scram username=\"$1\" password=\"$2\";" \
      "ssl.truststore.type=PEM" "ssl.truststore.location=$sd/ca.pem"
  }
  (umask 077
    client_props admin "$admin_password" SCRAM-SHA-512 >"$sd/admin.properties"
    client_props retail "$app_password" SCRAM-SHA-512 >"$sd/retail.properties"
    printf '%s\n' "$app_password" >"$sd/retail.password")
}

secure_props() { # the security part of a secure node's properties (passwords: see make_secure_material)
  local sd="$dir/secure" plain='org.apache.kafka.common.security.plain.PlainLoginModule required'
  cat <<EOP

# ---- start-secure: SASL_SSL for clients, SASL_PLAINTEXT (PLAIN) for the controller, ACLs on
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$plain username="admin" password="$admin_password" user_admin="$admin_password";
listener.name.sasl_ssl.plain.sasl.jaas.config=$plain username="admin" password="$admin_password" user_admin="$admin_password" user_retail="$app_password";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$sd/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$sd/ca.pem
# a client certificate is checked against the CA when one is presented, not required
ssl.client.auth=requested
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
EOP
}

cmd_start() {
  local brokers=1 partitions=1 owner="" owner_rm=0 jvm_opts="" extra_props=() secure=${secure:-0} admin_password="" app_password=""
  dir=""
  while (($#)); do
    case $1 in
      --dir) dir=$2; shift 2 ;;
      --brokers) brokers=$2; shift 2 ;;
      --partitions-default) partitions=$2; shift 2 ;;
      --owner-pid) owner=$2; shift 2 ;;
      --owner-rm) owner_rm=1; shift ;;
      --jvm-opts) jvm_opts+=" $2"; shift 2 ;;
      --fast-start) jvm_opts+=" -XX:TieredStopAtLevel=1"; shift ;;
      --prop) [[ $2 == *=* ]] || die "start: --prop KEY=VALUE"; extra_props+=("$2"); shift 2 ;;
      *) die "start: unknown argument $1" ;;
    esac
  done
  [[ -n $dir ]] || die "start: --dir DIR is required"
  [[ $brokers == 1 || $brokers == 3 ]] || die "start: --brokers must be 1 or 3"
  ((secure == 0 || brokers == 1)) || die "start-secure: one node only"
  [[ $partitions =~ ^[1-9][0-9]*$ ]] || die "start: --partitions-default must be a positive integer"
  fetch
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local id
  for id in $(node_ids); do
    if ours "$(node_pid "$id")" "$dir/node-$id.properties"; then die "a cluster is already running in $dir (node $id)"; fi
  done
  local t0; t0=$(date +%s%N)
  echo "${KAFKA_JVM_OPTS:-} $jvm_opts" >"$dir/jvm.opts" # start-node reuses them
  local scram=()
  if ((secure)); then
    make_secure_material
    local m
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do
      scram+=(--add-scram "$m=[name=admin,password=$admin_password]" --add-scram "$m=[name=retail,password=$app_password]")
    done
  fi
  local attempt
  for attempt in 1 2 3; do
    rm -rf "$dir"/node-*.data "$dir"/node-*.properties "$dir"/node-*.pid "$dir/bootstrap"
    local ids cluster_id bports=() cports=() dirids=()
    mapfile -t ids < <(gen_ids "$brokers")
    cluster_id=${ids[0]}
    for ((i = 1; i <= brokers; i++)); do
      read -r bp cp did <<<"${ids[$i]}"
      bports+=("$bp") cports+=("$cp") dirids+=("$did")
    done
    controllers="" bootstrap=""
    local initial=""
    for ((i = 1; i <= brokers; i++)); do
      controllers+="${controllers:+,}127.0.0.1:${cports[i-1]}"
      bootstrap+="${bootstrap:+,}127.0.0.1:${bports[i-1]}"
      initial+="${initial:+,}$i@127.0.0.1:${cports[i-1]}:${dirids[i-1]}"
    done
    for ((i = 1; i <= brokers; i++)); do write_props "$i" "${bports[i-1]}" "${cports[i-1]}"; done
    local specs=() flag
    if ((brokers == 1)); then flag=(--standalone); else flag=(--initial-controllers "$initial"); fi
    for ((i = 1; i <= brokers; i++)); do
      specs+=("$i:$(started_count "$i")")
      launch_node "$i" format -t "$cluster_id" -c "$dir/node-$i.properties" "${flag[@]}" "${scram[@]+"${scram[@]}"}"
    done
    fail_reason="" fail_node=""
    if wait_nodes "${specs[@]}"; then break; fi
    local bind_err=0
    for ((i = 1; i <= brokers; i++)); do
      grep -q "Address already in use" "$dir/node-$i.log" 2>/dev/null && bind_err=1
    done
    stop_nodes 1 $(seq 1 "$brokers")
    if ((bind_err && attempt < 3)); then
      say "port clash, retrying with other ports"
      for ((i = 1; i <= brokers; i++)); do mv "$dir/node-$i.log" "$dir/node-$i.log.failed-$attempt"; done
      continue
    fi
    log_tail "$fail_node"
    die "start failed: $fail_reason (logs in $dir)"
  done
  printf 'CLUSTER_ID=%s\nBROKERS=%s\nBOOTSTRAP=%s\nCONTROLLERS=%s\n' \
    "$cluster_id" "$brokers" "$bootstrap" "$controllers" >"$dir/cluster.env"
  echo "$bootstrap" >"$dir/bootstrap"
  if ((secure)); then
    (umask 077
      printf 'ADMIN_USER=admin\nADMIN_PASSWORD=%s\nAPP_USER=retail\nAPP_PASSWORD=%s\nCA=%s\nBOOTSTRAP=%s\n' \
        "$admin_password" "$app_password" "$dir/secure/ca.pem" "$bootstrap" >"$dir/secure/credentials.env")
  fi
  if [[ -n $owner ]]; then start_watchdog "$owner" "$owner_rm"; fi
  say "$brokers node(s) up in $(( ($(date +%s%N) - t0) / 1000000 )) ms, dir $dir"
  echo "$bootstrap"
}

start_watchdog() { # owner_pid rm
  local owner=$1 rm=$2
  (
    trap '' INT HUP
    while kill -0 "$owner" 2>/dev/null && [[ -d $dir ]]; do sleep 1; done
    for f in "$dir"/node-*.pid; do
      [[ -f $f ]] || continue
      id="${f##*/node-}"; id="${id%.pid}"
      pid="$(cat "$f")"
      ours "$pid" "$dir/node-$id.properties" && kill -KILL "$pid" 2>/dev/null
    done
    if [[ $rm == 1 ]]; then sleep 0.5; rm -rf "$dir"; fi
  ) </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watchdog.pid"
}

stop_watchdog() {
  local f="$dir/watchdog.pid" pid
  [[ -f $f ]] || return 0
  pid="$(cat "$f")"
  ours "$pid" "kafka.sh" && kill -TERM "$pid" 2>/dev/null || true
  rm -f "$f"
}

# ---------------------------------------------------------------- other subcommands

parse_dir_id() {
  dir="" node_id="" kill_flag=0
  while (($#)); do
    case $1 in
      --dir) dir=$2; shift 2 ;;
      --id) node_id=$2; shift 2 ;;
      --kill) kill_flag=1; shift ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [[ -n $dir && -d $dir ]] || die "--dir DIR (an existing cluster dir) is required"
  dir="$(cd "$dir" && pwd)"
}

cmd_stop() {
  parse_dir_id "$@"
  stop_watchdog
  local ids; ids=($(node_ids))
  ((${#ids[@]})) && stop_nodes "$kill_flag" "${ids[@]}"
  return 0
}

cmd_stop_node() {
  parse_dir_id "$@"
  [[ -f $dir/node-$node_id.properties ]] || die "stop-node: no node $node_id in $dir"
  stop_nodes "$kill_flag" "$node_id"
}

cmd_start_node() {
  parse_dir_id "$@"
  [[ -f $dir/node-$node_id.properties ]] || die "start-node: no node $node_id in $dir"
  fetch
  local spec="$node_id:$(started_count "$node_id")"
  launch_node "$node_id"
  fail_reason="" fail_node=""
  if ! wait_nodes "$spec"; then
    stop_nodes 1 "$node_id"
    log_tail "$node_id"
    die "start-node failed: $fail_reason"
  fi
  say "node $node_id up"
}

cmd_status() {
  parse_dir_id "$@"
  local id pid
  for id in $(node_ids); do
    pid="$(node_pid "$id")"
    if ours "$pid" "$dir/node-$id.properties"; then echo "node $id: running (pid $pid)"; else echo "node $id: stopped"; fi
  done
  [[ -f $dir/bootstrap ]] && echo "bootstrap: $(cat "$dir/bootstrap")"
  return 0
}

run_tool() { # class args... ; a leading --dir DIR adds --bootstrap-server
  local cls=$1; shift
  local add=()
  if [[ ${1:-} == --dir ]]; then
    [[ -f $2/bootstrap ]] || die "no $2/bootstrap (is the cluster started?)"
    add=(--bootstrap-server "$(cat "$2/bootstrap")")
    case $cls in
      *.TopicCommand | *.AclCommand | *.ConfigCommand) [[ -f $2/secure/admin.properties ]] && add+=(--command-config "$2/secure/admin.properties") ;;
    esac
    shift 2
  fi
  fetch
  local heap=(${KAFKA_TOOL_HEAP_OPTS:--Xmx512m}) cds=()
  cds_opts cds
  exec "$java_bin" "${heap[@]}" "${jvm_common[@]}" "${cds[@]}" -Dlog4j2.configurationFile="$here/tools-log4j2.properties" \
    -cp "$(classpath)" "$cls" "${add[@]}" "$@"
}

sub="${1:-}"
(($#)) && shift
case $sub in
  fetch) fetch ;;
  start) cmd_start "$@" ;;
  start-secure) secure=1 cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  stop-node) cmd_stop_node "$@" ;;
  start-node) cmd_start_node "$@" ;;
  status) cmd_status "$@" ;;
  topics) run_tool org.apache.kafka.tools.TopicCommand "$@" ;;
  acls) run_tool org.apache.kafka.tools.AclCommand "$@" ;;
  configs) run_tool org.apache.kafka.tools.ConfigCommand "$@" ;;
  perf-producer) run_tool org.apache.kafka.tools.ProducerPerformance "$@" ;;
  perf-consumer) run_tool org.apache.kafka.tools.ConsumerPerformance "$@" ;;
  console-producer) run_tool org.apache.kafka.tools.ConsoleProducer "$@" ;;
  console-consumer) run_tool org.apache.kafka.tools.consumer.ConsoleConsumer "$@" ;;
  quorum) run_tool org.apache.kafka.tools.MetadataQuorumCommand "$@" ;;
  run) (($#)) || die "run CLASS ARGS..."; run_tool "$@" ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
esac
