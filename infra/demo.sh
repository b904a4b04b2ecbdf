#!/usr/bin/env bash
# make demo: a local Kafka broker, the simulator at ~1,000 invoices/s, the KPI topology, a live
# table every few seconds, KPI files in ./out. Runs until Ctrl-C, or DURATION seconds if set.
# HDFS=1 writes the KPI files to a local HDFS (started here, stopped at the end) instead.
# The demo uses a short grace (GRACE, default 10s) so final KPI files appear within a minute;
# the product default is 10 minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dir="$root/.cache/demo"
out="${OUT:-$root/out}"
rate="${RATE:-1000}"
grace="${GRACE:-10s}"
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
      echo "demo: KPI files on HDFS (the last few):"
      { grep -- '-kpis/' <<<"$files" || true; } | sort | tail -n 6
      echo "demo: $(grep -c '/time-kpis/' <<<"$files") time-KPI files, $(grep -c '/time-country-kpis/' <<<"$files") time-and-country files in ${sink}"
      echo "demo: stopping HDFS (its data stays in $dir/hdfs until the next HDFS=1 demo)"
      infra/hdfs/hdfs.sh stop --dir "$dir/hdfs" >/dev/null 2>&1 || true
    fi
  else
    echo "demo: KPI files:"
    find "$out" -name '*.json' -path '*kpis*' 2>/dev/null | sort | tail -n 6
    echo "demo: $(find "$out" -name '*.json' -path '*time-kpis*' 2>/dev/null | wc -l) time-KPI files, $(find "$out" -name '*.json' -path '*time-country-kpis*' 2>/dev/null | wc -l) time-and-country files in $out"
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

"${cli[@]}" simulate --brokers "$brokers" --topic invoices --partitions 4 --rate "$rate" --grace "$grace" \
  --out-of-order-ratio 0.05 --late-ratio 0.005 --bad-ratio 0.002 ${DURATION:+--duration "${DURATION}s"} "${avro_sim[@]}" \
  2> >(grep --line-buffered -v '^simulate: [0-9]* sent' >&2) &
pids+=($!)
sleep 2
"${cli[@]}" run --brokers "$brokers" --group "$group" --input invoices --sink "$sink" --grace "$grace" --idle 5s "${avro_run[@]}" \
  2> >(grep --line-buffered -E 'ERROR|WARN|joined|processed' >&2) &
pids+=($!)
"${cli[@]}" watch --brokers "$brokers" --every 5s &
pids+=($!)

if [[ -n "${DURATION:-}" ]]; then
  sleep "$DURATION"
else
  wait "${pids[0]}"
fi
