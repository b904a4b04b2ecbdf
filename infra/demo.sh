#!/usr/bin/env bash
# make demo: a local Kafka broker, the simulator at ~1,000 invoices/s, the KPI topology, a live
# dashboard (run --http) and table, KPI files in ./out. Runs until Ctrl-C, or DURATION seconds if
# set. HDFS=1 writes the KPI files to a local HDFS (started here, stopped at the end) instead.
# So that every part shows within the first 90 seconds, the simulated event time runs SPEED times
# faster than the wall clock (default 30: a 1-minute window every 2 s, an hour of charts in 2
# minutes), from 24 hours ago, with a grace of GRACE of event time (default 1m, 2 s of wall time)
# matched to the simulator's lateness; the product defaults are real time and 10 minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dir="$root/.cache/demo"
out="${OUT:-$root/out}"
rate="${RATE:-1000}"
grace="${GRACE:-1m}"
speed="${SPEED:-30}"
[[ "$speed" =~ ^[1-9][0-9]*$ ]] || { echo "demo: SPEED must be a positive integer, not $speed" >&2; exit 2; }
event_rate=$(( rate / speed > 0 ? rate / speed : 1 ))
event_start="$(node -e 'console.log(new Date(Math.floor((Date.now() - 86400e3) / 60e3) * 60e3).toISOString())')"
# The dashboard: HTTP_PORT (default 8080, or any free port when that one is taken), on 127.0.0.1.
free_port() { node -e 'const s=require("net").createServer();s.listen(Number(process.argv[1]),"127.0.0.1",()=>{console.log(s.address().port);s.close()}).on("error",()=>{const t=require("net").createServer();t.listen(0,"127.0.0.1",()=>{console.log(t.address().port);t.close()})})' "$1"; }
http_port="$(free_port "${HTTP_PORT:-8080}")"
# FORMAT=avro: invoices as Confluent-framed Avro, with a local schema registry (Apicurio).
format="${FORMAT:-json}"
[[ "$format" == json || "$format" == avro ]] || { echo "demo: FORMAT must be json or avro, not $format" >&2; exit 2; }
avro_sim=()
avro_run=()
# HDFS=1: the KPI files go to a local HDFS (NameNode + DataNode, WebHDFS on; stopped at the end)
# under /retail-kpi instead of $out.
hdfs_mode="${HDFS:-0}"
hdfs_base=/retail-kpi
hdfs_user="${HADOOP_USER_NAME:-retail-streams}"
webhdfs=""
sink="$out"
cli=(node "$root/bin/retail-streams.js")
pids=()

hdfs_files() { # every file under $hdfs_base, recursively (WebHDFS LISTSTATUS), with its size
  node -e '
    const [base, root, user] = process.argv.slice(1);
    const walk = async (p) => {
      const r = await fetch(`${base}/webhdfs/v1${p}?op=LISTSTATUS&user.name=${user}`);
      if (!r.ok) return [];
      const out = [];
      for (const s of (await r.json()).FileStatuses.FileStatus) {
        const q = `${p}/${s.pathSuffix}`;
        if (s.type === "DIRECTORY") out.push(...(await walk(q)));
        else out.push(`${q} (${s.length} bytes)`);
      }
      return out;
    };
    walk(root).then((l) => { if (l.length > 0) console.log(l.join("\n")); });
  ' "$webhdfs" "$hdfs_base" "$hdfs_user"
}

hdfs_listing_help() {
  echo "demo: while the demo runs, list the KPI files on HDFS (one folder per call) with:"
  echo "  curl -s '$webhdfs/webhdfs/v1$hdfs_base/time-kpis?op=LISTSTATUS&user.name=$hdfs_user'"
  echo "  curl -s '$webhdfs/webhdfs/v1$hdfs_base/time-kpis/date=YYYY-MM-DD/hour=HH?op=LISTSTATUS&user.name=$hdfs_user'"
  echo "demo: and read one with: curl -sL '$webhdfs/webhdfs/v1$hdfs_base/time-kpis/date=.../hour=../part-....json?op=OPEN&user.name=$hdfs_user'"
}

hdfs_first_line() { # the first line of a file on HDFS (WebHDFS OPEN follows a redirect to a DataNode)
  node -e '
    const [base, path, user] = process.argv.slice(1);
    fetch(`${base}/webhdfs/v1${path}?op=OPEN&user.name=${user}`).then((r) => r.text()).then((t) => console.log(t.split("\n")[0]));
  ' "$webhdfs" "$1" "$hdfs_user"
}

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  infra/kafka/kafka.sh stop --dir "$dir/kafka" >/dev/null 2>&1 || true
  [[ "$format" == avro ]] && { infra/registry/registry.sh stop --dir "$dir/registry" >/dev/null 2>&1 || true; }
  if [[ "$hdfs_mode" == 1 ]]; then
    if [[ -n "$webhdfs" ]]; then
      local files last; files="$(hdfs_files | grep -E '/part-[^/]*\.json ' || true)"
      last="$({ grep -- '/time-kpis/' <<<"$files" || true; } | sort | tail -n 1 | cut -d' ' -f1)"
      if [[ -n "$last" ]]; then
        echo "demo: the KPI files on HDFS are listed, one folder per call, with:"
        echo "  curl -s '$webhdfs/webhdfs/v1${last%/*}?op=LISTSTATUS&user.name=$hdfs_user'"
        echo "demo: and read with: curl -sL '$webhdfs/webhdfs/v1$last?op=OPEN&user.name=$hdfs_user'"
      else
        hdfs_listing_help
      fi
      echo "demo: KPI files on HDFS (the last few of each set):"
      for set in time-kpis time-country-kpis; do { grep -- "/$set/" <<<"$files" || true; } | sort | tail -n 3; done
      echo "demo: $(grep -c '/time-kpis/' <<<"$files") time-KPI files, $(grep -c '/time-country-kpis/' <<<"$files") time-and-country files in ${sink}"
      local set file
      for set in time-kpis time-country-kpis; do
        file="$({ grep -- "/$set/" <<<"$files" || true; } | sort | tail -n 1 | cut -d' ' -f1)"
        [[ -n "$file" ]] && echo "demo: a line of $file: $(hdfs_first_line "$file")"
      done
      echo "demo: stopping HDFS (its data stays in $dir/hdfs until the next HDFS=1 demo)"
      infra/hdfs/hdfs.sh stop --dir "$dir/hdfs" >/dev/null 2>&1 || true
    fi
  else
    echo "demo: KPI files (the last few of each set):"
    for set in time-kpis time-country-kpis; do find "$out/$set" -name '*.json' 2>/dev/null | sort | tail -n 3; done
    echo "demo: $(find "$out" -name '*.json' -path '*/time-kpis/*' 2>/dev/null | wc -l) time-KPI files, $(find "$out" -name '*.json' -path '*/time-country-kpis/*' 2>/dev/null | wc -l) time-and-country files in $out"
    local set file
    for set in time-kpis time-country-kpis; do
      file="$(find "$out/$set" -name 'part-*.json' 2>/dev/null | sort | tail -n 1)"
      [[ -n "$file" ]] && echo "demo: a line of $file: $(head -n 1 "$file")"
    done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$dir/kafka" && mkdir -p "$dir" "$out"
echo "demo: starting Kafka (first run fetches it from Maven Central)"
brokers="$(infra/kafka/kafka.sh start --dir "$dir/kafka" --owner-pid $$ | tail -n 1)"
echo "demo: broker at $brokers"
group="demo-$(date +%s)"
if [[ "$format" == avro ]]; then
  echo "demo: starting the schema registry (first run fetches Apicurio Registry from Maven Central)"
  rm -rf "$dir/registry"
  registry="$(infra/registry/registry.sh start --dir "$dir/registry" | tail -n 1)"
  echo "demo: schema registry at $registry; invoices in Avro (schema version ${SCHEMA_VERSION:-2})"
  avro_sim=(--format avro --registry "$registry" --schema-version "${SCHEMA_VERSION:-2}")
  avro_run=(--registry "$registry")
fi
if [[ "$hdfs_mode" == 1 ]]; then
  echo "demo: starting HDFS (first run fetches Hadoop from Maven Central)"
  infra/hdfs/hdfs.sh fetch
  rm -rf "$dir/hdfs"
  webhdfs="$(infra/hdfs/hdfs.sh start --dir "$dir/hdfs" --owner $$ | tail -n 1)"
  sink="${webhdfs/http:/hdfs:}$hdfs_base"
  echo "demo: HDFS NameNode WebHDFS at $webhdfs; KPI files go to $sink"
  hdfs_listing_help
fi

echo "demo: simulated event time runs ${speed}x faster than the wall clock from $event_start ($rate invoices/s, $event_rate per second of event time):"
echo "demo:   a 1-minute window every $(( 60 / speed > 0 ? 60 / speed : 1 )) s; grace $grace of event time, matched to the simulator's out-of-order (within grace/2) and late (past it) invoices"
echo "demo:   (SPEED=1 GRACE=10m for real time and the product's grace; RATE, DURATION, HDFS=1, FORMAT=avro, HTTP_PORT)"
"${cli[@]}" simulate --brokers "$brokers" --topic invoices --partitions 4 --rate "$rate" --grace "$grace" --start "$event_start" --event-rate "$event_rate" \
  --out-of-order-ratio 0.05 --late-ratio 0.005 --bad-ratio 0.002 ${DURATION:+--duration "${DURATION}s"} "${avro_sim[@]}" \
  2> >(grep --line-buffered -v '^simulate: [0-9]* sent' >&2) &
pids+=($!)
sleep 2
# --max-future off: a long demo's event time overtakes the wall clock after about 24h/SPEED.
"${cli[@]}" run --brokers "$brokers" --group "$group" --input invoices --sink "$sink" --grace "$grace" --idle 5s "${avro_run[@]}" \
  --max-future off --http "$http_port" \
  2> >(grep --line-buffered -E 'ERROR|WARN|joined|processed|dashboard at' >&2) &
pids+=($!)
echo "demo: dashboard at http://127.0.0.1:$http_port/ (live KPI charts, countries, late and invalid counts, lag; /metrics, /health?ready)"
"${cli[@]}" watch --brokers "$brokers" --every 5s &
pids+=($!)

if [[ -n "${DURATION:-}" ]]; then
  sleep "$DURATION"
else
  wait "${pids[0]}"
fi
