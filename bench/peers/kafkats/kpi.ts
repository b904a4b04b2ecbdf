/**
 * The @kafkats/flow peer (bench contender `peer.kafkats`): the retail KPIs of `retail-streams run`
 * written with @kafkats/flow's KStream / KTable DSL, the way its docs and README show, on the
 * same input topic. Run by bench/node-python-peers.ts:
 *
 *   node bench/peers/kafkats/kpi.ts --bootstrap H:P --group G --input T [--prefix kafkats-]
 *       [--window-ms 60000] [--concurrency 12]
 *
 * Topology (per record, as the DSL works):
 *   input ─ mapValues(decode) ─ branch ─ invalid ─────────────────────────────▶ <prefix>dead-letter
 *                                      └ valid ─ map(key = window start) ─▶ <group>-kpi-time-repartition
 *                                              └ map(key = start|country) ─▶ <group>-kpi-country-repartition
 *   each repartition topic ─ groupByKey ─ aggregate (KV store, changelogged) ─ toStream ─▶ <prefix>kpi-time(-country)
 *
 * Why it is shaped so (all read in node_modules/@kafkats/flow 0.12.0):
 * - Windowing in @kafkats/flow is on the Kafka record timestamp only (there is no timestamp
 *   extractor, and `to()` stamps records with the wall clock), and the simulator's records carry
 *   the produce time. Event time from the invoice therefore goes into the key: the window start
 *   (ISO string), a plain groupByKey + aggregate over keyed tumbling windows. `TimeWindows` has no
 *   grace either, so this peer never closes a window and drops nothing as late: the same result
 *   as `run` on data without late records (the bench's), but state grows with the number of
 *   windows, not bounded by size + grace.
 * - `groupBy` and `through` in @kafkats/flow do not repartition (they re-key or forward inside
 *   the same task), so the repartition is explicit: `to(<repartition topic>)` then
 *   `app.stream(<repartition topic>)`, as Kafka Streams' DSL does under a key-changing groupBy.
 *   Keys land on one partition each, so no two partition handlers update one window at once.
 * - Decoding and KPI formatting use the project's own decoder and formatter (processors/), so the
 *   comparison measures the streaming framework, not the JSON decoder.
 * - Every `to()` and every changelogged `put` awaits the broker's ack per record (that is how the
 *   DSL's nodes are written), so the settings an expert would change are the ones that overlap and
 *   shorten those waits: lingerMs 0 (nothing to gain from lingering when each send is awaited
 *   alone) and partitionConcurrency over all 12 partitions the app reads; fetches as `run`'s
 *   (8 MiB per partition), offsets committed every second (the default 5 s would show up in the
 *   stopping rule, which waits for committed offsets).
 * Invalid records go to the dead-letter topic as their original bytes; the DSL has no way to add
 * headers, so the reason is printed in the count line only.
 */
import { KafkaClient, buffer, json, string } from '@kafkats/client';
import { flow } from '@kafkats/flow';
import { decodeInvoice, type DecodedInvoice } from '../../../processors/invoice.ts';
import { countryKpi, timeKpi, type KpiAccumulator } from '../../../processors/kpi.ts';

function flags(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) throw new Error(`bad argument ${k} (expected --name value pairs)`);
    out.set(k.slice(2), v);
  }
  return out;
}

const f = flags(process.argv.slice(2));
const need = (k: string): string => {
  const v = f.get(k);
  if (v === undefined) throw new Error(`--${k} is required`);
  return v;
};
const bootstrap = need('bootstrap');
const group = need('group');
const input = need('input');
const prefix = f.get('prefix') ?? 'kafkats-';
const windowMs = Number(f.get('window-ms') ?? 60_000);
const repartitionPartitions = Number(f.get('repartition-partitions') ?? 4);
const timeRepartition = `${group}-kpi-time-repartition`;
const countryRepartition = `${group}-kpi-country-repartition`;

const client = new KafkaClient({ brokers: [bootstrap], clientId: `kafkats-peer-${group}`, logLevel: 'warn' });
await client.connect();
// Input partitions + both repartition topics': every partition the app reads can be in flight.
const meta = await client.getMetadata([input]);
const inputPartitions = meta.topics.get(input)?.partitions.size;
if (inputPartitions === undefined) throw new Error(`input topic ${input} not found`);
const concurrency = Number(f.get('concurrency') ?? inputPartitions + 2 * repartitionPartitions);
// The repartition topics must exist before start(): the stores' changelogs take their partition
// count from them. (createTopics ignores TOPIC_ALREADY_EXISTS: a re-run of the same group is fine.)
await client.createTopics([
  { name: timeRepartition, numPartitions: repartitionPartitions, replicationFactor: 1 },
  { name: countryRepartition, numPartitions: repartitionPartitions, replicationFactor: 1 },
]);

const app = flow({
  applicationId: group,
  client,
  consumer: { autoOffsetReset: 'earliest', maxBytesPerPartition: 8 << 20, maxRecords: 10_000, maxWaitMs: 100, isolationLevel: 'read_uncommitted' },
  producer: { lingerMs: 0, maxBatchBytes: 1 << 20, acks: 'all' },
  runEach: { partitionConcurrency: concurrency, autoCommitIntervalMs: 1000 },
});

/** What the repartition topics carry per valid invoice: the invoice's share of its window. */
interface Part {
  readonly r: 0 | 1;
  readonly m: number;
}
interface Decoded {
  readonly raw: Buffer;
  readonly inv: DecodedInvoice;
}

const isoStart = (ts: number): string => new Date(Math.floor(ts / windowMs) * windowMs).toISOString();
let invalid = 0;
const reasons = new Map<string, number>();

const decoded = app
  .stream<Buffer, Buffer>(input, { key: buffer(), value: buffer() })
  .mapValues((raw): Decoded => ({ raw: raw ?? Buffer.alloc(0), inv: decodeInvoice(raw) }));
const [bad, good] = decoded.branch(
  (_k, d) => d === null || !d.inv.valid,
  () => true,
);
bad!
  .peek((_k, d) => {
    invalid++;
    const reason = d?.inv.valid === false ? d.inv.reason : 'not-json';
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  })
  .mapValues((d) => d!.raw)
  .to(`${prefix}dead-letter`, { value: buffer() });

const part = (d: Decoded | null): Part => {
  const inv = d!.inv;
  if (!inv.valid) throw new Error('unreachable: invalid invoice past the branch');
  return { r: inv.isReturn ? 1 : 0, m: inv.totalMicros };
};
good!
  .map((_k, d) => [isoStart((d!.inv as { timestamp: number }).timestamp), part(d)] as const)
  .to(timeRepartition, { key: string(), value: json<Part>() });
good!
  .map((_k, d) => {
    const inv = d!.inv as { timestamp: number; country: string };
    return [`${isoStart(inv.timestamp)}|${inv.country}` as string, part(d)] as const;
  })
  .to(countryRepartition, { key: string(), value: json<Part>() });

const add = (_k: string, p: Part, a: KpiAccumulator): KpiAccumulator => ({ invoices: a.invoices + 1, returns: a.returns + p.r, micros: a.micros + p.m });
const zero = (): KpiAccumulator => ({ invoices: 0, returns: 0, micros: 0 });

app
  .stream<string, Part>(timeRepartition, { key: string(), value: json<Part>() })
  .groupByKey()
  .aggregate(zero, add, { storeName: 'kpi-time', key: string(), value: json<KpiAccumulator>() })
  .toStream()
  .map((k, a) => [k!, timeKpi(Date.parse(k!), windowMs, a!)] as const)
  .to(`${prefix}kpi-time`, { key: string(), value: json() });

app
  .stream<string, Part>(countryRepartition, { key: string(), value: json<Part>() })
  .groupByKey()
  .aggregate(zero, add, { storeName: 'kpi-time-country', key: string(), value: json<KpiAccumulator>() })
  .toStream()
  .map((k, a) => {
    // The key is `<24-character ISO start>|<country>`; a country may itself contain '|'.
    const start = Date.parse(k!.slice(0, 24));
    return [k!, countryKpi(start, windowMs, k!.slice(25), a!)] as const;
  })
  .to(`${prefix}kpi-time-country`, { key: string(), value: json() });

let stopping = false;
const stop = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log(`kafkats peer: ${signal}, closing (invalid ${invalid}: ${JSON.stringify(Object.fromEntries(reasons))})`);
  await app.close();
  await client.disconnect().catch(() => {});
  process.exit(0);
};
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));

await app.start();
console.log(`kafkats peer running: group ${group}, input ${input} (${inputPartitions} partitions), partitionConcurrency ${concurrency}`);
