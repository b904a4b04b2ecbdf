import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The metrics of a KafkaStreams instance in Prometheus' form (prom-client), read from the
 * instance's metrics map when scraped, plus latency histograms fed as batches and commits
 * happen. Loaded only by `KafkaStreams.prometheusRegistry()`: an instance nobody scrapes never
 * loads prom-client.
 *
 * The metrics map holds counters and gauges by name, labelled as `name{label="value",...}`; each
 * known name becomes a family below. Anything else is still exported: an unlabelled name (what a
 * processor counts with `context.count`) as `retail_streams_processor_records_total{name}`, a
 * labelled one as the gauge `retail_streams_metric{name,labels}`.
 */

/** What the exporter reads: the instance's metrics map, its state, and its latency observations. */
export interface MetricsSource {
  metrics(): ReadonlyMap<string, number>;
  readonly state: string;
  /** Calls `listener` with every latency observation (`process-latency-ms` per batch, `commit-latency-ms` per commit); returns the unsubscribe. */
  onObservation(listener: (metric: string, valueMs: number) => void): () => void;
}

export interface PrometheusOptions {
  /** Set as the `application_id` label of every series. */
  readonly applicationId: string;
  /** Also Node's process metrics (CPU, memory, event loop lag, GC), prom-client's defaults. Default false. */
  readonly defaultMetrics?: boolean;
  /** Register into this registry rather than a new one. */
  readonly registry?: Registry;
}

interface Family {
  readonly kind: 'counter' | 'gauge';
  readonly prom: string;
  readonly help: string;
  readonly labels: readonly string[];
}

const counter = (prom: string, help: string, labels: readonly string[] = []): Family => ({ kind: 'counter', prom, help, labels });
const gauge = (prom: string, help: string, labels: readonly string[] = []): Family => ({ kind: 'gauge', prom, help, labels });

/** Map name (unlabelled or labelled) -> family. A name used both ways (a total and per-task gauges) has two. */
const UNLABELLED: Readonly<Record<string, Family>> = {
  'records-processed': counter('retail_streams_records_processed_total', 'Input records processed by this instance.'),
  'late-records': counter('retail_streams_late_records_total', 'Records that arrived after their window closed: not counted, routed to the late path.'),
  'dead-letter-records': counter('retail_streams_dead_letter_records_total', 'Records that could not be deserialized or failed the event-time guard (invalid), written to the dead-letter topic when there is one.'),
  'dropped-records': counter('retail_streams_dropped_records_total', 'Output records the broker refused and the production handler dropped.'),
  'commits-lost-to-rebalance': counter('retail_streams_commits_lost_to_rebalance_total', 'Offset commits refused because the group had moved on (the batch is replayed).'),
  rebalances: counter('retail_streams_rebalances_total', 'Group rebalances this instance joined.'),
  'restore-records-restored': counter('retail_streams_restore_records_restored_total', 'Changelog records restored into local stores.'),
  'restore-records-to-restore': gauge('retail_streams_restore_records_to_restore', 'Changelog records the restores so far set out to restore.'),
  'restore-rate': gauge('retail_streams_restore_rate', 'Records restored per second in the current or last restore.'),
  'standby-records-applied': counter('retail_streams_standby_records_applied_total', 'Changelog records applied to standby tasks.'),
};
const LABELLED: Readonly<Record<string, Family>> = {
  'records-in': counter('retail_streams_records_consumed_total', 'Records read, by topic and task.', ['topic', 'task']),
  'records-out': counter('retail_streams_records_produced_total', 'Records written and acknowledged (outputs, repartition, changelogs), by topic and task.', ['topic', 'task']),
  'consumer-lag': gauge('retail_streams_consumer_lag', 'Records between the last one processed and the end of the partition, as of the last batch.', ['topic', 'partition']),
  'state-store-entries': gauge('retail_streams_state_store_entries', 'Entries in a local store (an estimate on disk).', ['task', 'store']),
  'state-store-bytes-on-disk': gauge('retail_streams_state_store_bytes_on_disk', 'Bytes of a persistent store on disk.', ['task', 'store']),
  'state-store-cache-hit-rate': gauge('retail_streams_state_store_cache_hit_ratio', 'Share of reads a persistent store answered from its record cache.', ['task', 'store']),
  'restore-records-restored': gauge('retail_streams_task_restore_records_restored', 'Changelog records restored for a task in its current or last restore.', ['task']),
  'restore-records-to-restore': gauge('retail_streams_task_restore_records_to_restore', 'Changelog records to restore for a task in its current or last restore.', ['task']),
  'restore-rate': gauge('retail_streams_task_restore_rate', 'Records restored per second for a task.', ['task']),
  'standby-lag': gauge('retail_streams_standby_lag', 'Changelog records a standby task has not applied yet.', ['task']),
};
const OTHER_COUNTER = counter('retail_streams_processor_records_total', 'What processors count with context.count, by name.', ['name']);
const OTHER_GAUGE = gauge('retail_streams_metric', 'Any other metric of the instance, by name and its labels.', ['name', 'labels']);

const STATES = ['CREATED', 'REBALANCING', 'RUNNING', 'PENDING_SHUTDOWN', 'NOT_RUNNING', 'ERROR'] as const;

/** `name{a="x",b="y"}` -> name and labels. */
export function parseMetricKey(key: string): { name: string; labels: Record<string, string>; labelText: string } {
  const at = key.indexOf('{');
  if (at < 0 || !key.endsWith('}')) return { name: key, labels: {}, labelText: '' };
  const labelText = key.slice(at + 1, -1);
  const labels: Record<string, string> = {};
  for (const m of labelText.matchAll(/([A-Za-z_][\w-]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  return { name: key.slice(0, at), labels, labelText };
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * A registry with the instance's metrics. Its series are read from the instance at each scrape;
 * the histograms count from the moment the registry is made.
 */
export function streamsPrometheusRegistry(source: MetricsSource, options: PrometheusOptions): Registry {
  const registry = options.registry ?? new Registry();
  if (options.registry === undefined) registry.setDefaultLabels({ application_id: options.applicationId });
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });

  const families = [...Object.values(UNLABELLED), ...Object.values(LABELLED), OTHER_COUNTER, OTHER_GAUGE];
  const made = new Map<Family, Counter<string> | Gauge<string>>();
  // Every series is set from the map in one pass: a scrape calls each family's collect in one
  // synchronous stretch, and the first of them makes the pass for all.
  let filled = false;
  const fill = () => {
    if (filled) return;
    filled = true;
    queueMicrotask(() => void (filled = false));
    for (const m of made.values()) m.reset();
    for (const [key, value] of source.metrics()) {
      if (!Number.isFinite(value)) continue;
      const { name, labels, labelText } = parseMetricKey(key);
      const labelled = labelText.length > 0;
      const family = (labelled ? LABELLED : UNLABELLED)[name];
      if (family !== undefined && family.labels.every((l) => l in labels) && Object.keys(labels).every((l) => family.labels.includes(l))) {
        set(made.get(family)!, labels, value);
      } else if (!labelled && family === undefined) set(made.get(OTHER_COUNTER)!, { name }, value);
      else set(made.get(OTHER_GAUGE)!, { name, labels: labelText }, value);
    }
  };
  const set = (metric: Counter<string> | Gauge<string>, labels: Record<string, string>, value: number) => {
    // A counter is set by its whole value: prom-client counters only go up by inc(), from zero after reset().
    if (metric instanceof Counter) metric.inc(labels, Math.max(0, value));
    else metric.set(labels, value);
  };
  for (const f of families) {
    const config = { name: f.prom, help: f.help, labelNames: [...f.labels], registers: [registry], collect: () => fill() };
    made.set(f, f.kind === 'counter' ? new Counter(config) : new Gauge(config));
  }

  new Gauge({
    name: 'retail_streams_state',
    help: 'State of the KafkaStreams instance: 1 for the current one (CREATED, REBALANCING, RUNNING, PENDING_SHUTDOWN, NOT_RUNNING, ERROR).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const s of STATES) this.set({ state: s }, source.state === s ? 1 : 0);
    },
  });
  const process = new Histogram({
    name: 'retail_streams_process_latency_seconds',
    help: 'Time to decode and process one fetched batch of a partition, in seconds.',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const commit = new Histogram({
    name: 'retail_streams_commit_latency_seconds',
    help: 'Time of one commit (outputs and changelogs acknowledged, files renamed, offsets committed), in seconds.',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  source.onObservation((metric, ms) => {
    if (metric === 'process-latency-ms') process.observe(ms / 1000);
    else if (metric === 'commit-latency-ms') commit.observe(ms / 1000);
  });
  return registry;
}
