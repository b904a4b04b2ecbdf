/**
 * The Kafka Streams DSL peer's topology (bench/peers/kafka-streams, --mode dsl) written with this
 * library's DSL, so that the bench can show DSL against DSL: two per-record `groupBy` +
 * `windowedBy` + `aggregate` chains (by country, and one key for the overall KPIs), each through
 * its own repartition topic, the updates to a compacted KPI topic (collapsed per key and window
 * each batch by the aggregates' record cache, as the peer's 64 MiB cache does between commits),
 * invalid records dead-lettered by the runtime. Not `run`'s algorithm (processors/kpi-topology.ts
 * pre-aggregates per batch and repartitions partials only): the same program a Kafka Streams user
 * writes first.
 *
 *   node bench/peers/dsl/kpi-dsl.ts BOOTSTRAP APPLICATION_ID INPUT OUTPUT_PREFIX [WINDOW_MS GRACE_MS]
 *
 * Writes <prefix>kpi-time, <prefix>kpi-time-country (keys and values as DESIGN.md's data
 * contract) and <prefix>dead-letter; runs until SIGTERM, then commits and leaves the group.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { KafkaStreams, Serdes, StreamsBuilder, TimeWindows, type Serde, type Windowed } from '../../../index.ts';
import { invoiceSerde, KPI_DEAD_LETTER_HANDLER } from '../../../processors/kpi-topology.ts';
import { countryKpi, timeKpi, type CountryKpi, type KpiAccumulator, type TimeKpi } from '../../../processors/kpi.ts';
import type { InvoiceRecord } from '../../../processors/invoice.ts';
import { jsonCodec, stringCodec } from '../../../state-stores/api.ts';

const [bootstrap, applicationId, input, prefix = 'dsl-', windowArg = '60000', graceArg = '600000'] = process.argv.slice(2);
if (bootstrap === undefined || applicationId === undefined || input === undefined) {
  process.stderr.write('usage: kpi-dsl.ts BOOTSTRAP APPLICATION_ID INPUT [OUTPUT_PREFIX] [WINDOW_MS] [GRACE_MS]\n');
  process.exit(2);
}
const windowMs = Number(windowArg);
const graceMs = Number(graceArg);

/** What each grouping repartitions: the peer's Invoice record (country, return flag, total). */
interface Sale {
  readonly country: string;
  readonly isReturn: boolean;
  readonly micros: number;
}

// Positional JSON arrays keep the repartitioned records small, as the peer's ByteBuffer serde does;
// Buffer rather than TextEncoder/TextDecoder, as a Node user writes it (several times faster on short strings).
const saleSerde: Serde<Sale> = {
  name: 'sale',
  serialize: (v) => Buffer.from(JSON.stringify([v.country, v.isReturn ? 1 : 0, v.micros])),
  deserialize: (d) => {
    const [country, r, micros] = JSON.parse(Buffer.from(d!.buffer, d!.byteOffset, d!.byteLength).toString()) as [string, number, number];
    return { country, isReturn: r === 1, micros };
  },
};
const key = Serdes.string as Serde<string>;
const windows = TimeWindows.tumbling(windowMs, graceMs);
const add = (_k: string, v: Sale, a: KpiAccumulator): KpiAccumulator => ({ invoices: a.invoices + 1, returns: a.returns + (v.isReturn ? 1 : 0), micros: a.micros + v.micros });
const empty = (): KpiAccumulator => ({ invoices: 0, returns: 0, micros: 0 });
const iso = (ms: number) => new Date(ms).toISOString();

const b = new StreamsBuilder();
const sales = b
  .stream<unknown, InvoiceRecord>(input, { name: 'invoices', keySerde: Serdes.bytes as Serde<unknown>, valueSerde: invoiceSerde, timestampExtractor: (_k, v) => v.decoded.timestamp })
  .mapValues<Sale>((v) => ({ country: v.decoded.country, isReturn: v.decoded.isReturn, micros: v.decoded.totalMicros }), 'enrich');

sales
  .groupBy((_k, v) => v.country, { name: 'by-country', keySerde: key, valueSerde: saleSerde })
  .windowedBy(windows)
  .aggregate(empty, add, { storeName: 'country-kpis', storeType: 'memory', keyCodec: stringCodec, valueCodec: jsonCodec<KpiAccumulator>() })
  .toStream()
  .map<string, CountryKpi>((w: Windowed<string>, a) => [`${iso(w.start)}|${w.key}`, countryKpi(w.start, windowMs, w.key, a)], 'country-updates')
  .to(`${prefix}kpi-time-country`, { keySerde: key, valueSerde: Serdes.json<CountryKpi>() });

sales
  .groupBy(() => 'all', { name: 'overall', keySerde: key, valueSerde: saleSerde })
  .windowedBy(windows)
  .aggregate(empty, add, { storeName: 'time-kpis', storeType: 'memory', keyCodec: stringCodec, valueCodec: jsonCodec<KpiAccumulator>() })
  .toStream()
  .map<string, TimeKpi>((w: Windowed<string>, a) => [iso(w.start), timeKpi(w.start, windowMs, a)], 'time-updates')
  .to(`${prefix}kpi-time`, { keySerde: key, valueSerde: Serdes.json<TimeKpi>() });

const stateDir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-dsl-'));
const streams = new KafkaStreams(b.build(), {
  applicationId,
  bootstrapServers: bootstrap,
  stateDir,
  // As `run` does: invalid invoices are refused by the serde and dead-lettered by the runtime.
  deserializationExceptionHandler: KPI_DEAD_LETTER_HANDLER,
  deadLetterQueueTopic: `${prefix}dead-letter`,
  outputTopics: [
    { name: `${prefix}kpi-time`, partitions: 1, compacted: true },
    { name: `${prefix}kpi-time-country`, partitions: 1, compacted: true },
    { name: `${prefix}dead-letter`, partitions: 1, logAppendTime: true },
  ],
});
streams.setStateListener((next, previous) => process.stderr.write(`kpi-dsl: ${previous} -> ${next}\n`));
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void streams.close().finally(() => {
    rmSync(stateDir, { recursive: true, force: true });
    process.exit(0);
  });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
void streams.failure().then((e) => {
  process.stderr.write(`kpi-dsl: failed: ${e.message}\n`);
  process.exitCode = 1;
  stop();
});
await streams.start();
