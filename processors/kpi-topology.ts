import { StreamsBuilder, type KStream } from '../topology/api/builder.ts';
import { Serdes, type Serde } from '../topology/api/serdes.ts';
import type { ExternalSinkFactory } from '../topology/api/sink.ts';
import type { StreamRecord } from '../topology/api/record.ts';
import type { Topology } from '../topology/internals/compile.ts';
import { Stores } from '../state-stores/stores.ts';
import type { InvoiceRecord } from './invoice.ts';
import { createInvoiceSerde } from './avro/invoice-serde.ts';
import { kpiPreAggregate, type PartialKpi, type PreAggregateOutput, type RejectedRecord } from './kpi-preaggregate.ts';
import { COUNTRY_STORE, kpiCombine, TIME_STORE, type KpiOutput } from './kpi-combine.ts';
import type { CountryKpi, KpiAccumulator, TimeKpi } from './kpi.ts';

/** Where one output of the application goes: a Kafka topic, or an external sink (files, HDFS). */
export type Output<V> = { readonly topic: string } | { readonly sink: ExternalSinkFactory<string | null, V> };

export interface KpiTopologyOptions {
  readonly inputTopic: string;
  readonly windowMs: number;
  readonly graceMs: number;
  /** Update mode: every change, latest per key (the dashboard's compacted topics). */
  readonly timeUpdates?: Output<TimeKpi>;
  readonly countryUpdates?: Output<CountryKpi>;
  /** Final mode: one record per window and key when it closes. */
  readonly timeFinals?: Output<TimeKpi>;
  readonly countryFinals?: Output<CountryKpi>;
  readonly deadLetters: Output<RejectedRecord>;
  readonly lateRecords: Output<RejectedRecord | PartialKpi>;
  /**
   * Decodes the input topic; by default `invoiceSerde` (JSON, and Avro records dead-lettered as
   * `unknown-schema`). Pass `createInvoiceSerde({ registry })` to read Avro by schema id.
   */
  readonly invoiceSerde?: Serde<InvoiceRecord>;
  /** Values of the KPI topics (update and final outputs that are topics); JSON by default. */
  readonly timeKpiSerde?: Serde<TimeKpi>;
  readonly countryKpiSerde?: Serde<CountryKpi>;
}

export const PARTIALS = 'kpi-partials';

/**
 * Reads invoice bytes; decoding never throws, so every record reaches the first processor.
 * JSON, or Confluent-framed Avro (first byte 0x00): without a schema registry, an Avro record
 * cannot be read and is dead-lettered as `unknown-schema`.
 */
export const invoiceSerde: Serde<InvoiceRecord> = createInvoiceSerde();

const partialSerde = Serdes.json<PartialKpi>();
const windowKeySerde: Serde<number> = {
  name: 'window-start',
  serialize: (v) => new TextEncoder().encode(String(v)),
  deserialize: (d) => Number(new TextDecoder().decode(d!)),
};

/** Kafka form of a rejected record: the original bytes, the reason and origin in headers. */
export const rejectedSerde: Serde<RejectedRecord | PartialKpi> = {
  name: 'rejected',
  serialize: (v) => ('raw' in v ? v.raw : new TextEncoder().encode(JSON.stringify(v))),
  deserialize: () => {
    throw new Error('rejected records are write-only');
  },
};

export const rejectedHeaders = (v: RejectedRecord): Record<string, string> => ({
  'rs-reason': v.reason,
  'rs-detail': v.detail,
  'rs-source-topic': v.origin.topic,
  'rs-source-partition': String(v.origin.partition),
  'rs-source-offset': String(v.origin.offset),
});

function route<V>(stream: KStream<string | null, V>, output: Output<V> | undefined, valueSerde: Serde<V>): void {
  if (output === undefined) return;
  if ('topic' in output) stream.to(output.topic, { keySerde: Serdes.string, valueSerde });
  else stream.sink(output.sink);
}

/**
 * The retail KPI application: decode and validate, pre-aggregate per input partition and
 * window, repartition by window, combine on the watermark, emit updates and finals.
 */
export function buildKpiTopology(o: KpiTopologyOptions): Topology {
  const b = new StreamsBuilder();
  b.addStateStore(Stores.windowStore<string, KpiAccumulator>(TIME_STORE, o.windowMs, o.windowMs + o.graceMs));
  b.addStateStore(Stores.windowStore<string, KpiAccumulator>(COUNTRY_STORE, o.windowMs, o.windowMs + o.graceMs));

  const stage1 = b
    .stream<unknown, InvoiceRecord>(o.inputTopic, {
      name: 'invoices-source',
      keySerde: Serdes.bytes as Serde<unknown>,
      valueSerde: o.invoiceSerde ?? invoiceSerde,
      // Invalid records have no event time: they pass through without moving stream time.
      timestampExtractor: (_k, v) => (v.decoded.valid ? v.decoded.timestamp : Number.NaN),
    })
    .process<number | null, PreAggregateOutput>(kpiPreAggregate(o.windowMs, o.graceMs), { name: 'kpi-preaggregate' });

  const [partials, invalid, late] = stage1.branch(
    (_k, v) => v.kind === 'partial',
    (_k, v) => v.kind === 'invalid',
    (_k, v) => v.kind === 'late',
  ) as [
    KStream<number, { kind: 'partial'; partial: PartialKpi }>,
    KStream<string | null, RejectedRecord>,
    KStream<string | null, RejectedRecord>,
  ];
  const withHeaders = (s: KStream<string | null, RejectedRecord>, name: string) =>
    s.process<string | null, RejectedRecord>(
      () => {
        let forward: (r: StreamRecord<string | null, RejectedRecord>) => void;
        return {
          init: (c) => void (forward = (r) => c.forward(r)),
          process: (r) => forward({ ...r, headers: rejectedHeaders(r.value) }),
        };
      },
      { name, keyChanged: false },
    );
  route(withHeaders(invalid, 'dead-letter-headers'), o.deadLetters, rejectedSerde as Serde<RejectedRecord>);
  route<RejectedRecord | PartialKpi>(withHeaders(late, 'late-headers'), o.lateRecords, rejectedSerde);

  const outputs = partials
    .mapValues((v) => v.partial, 'kpi-partial-values')
    .repartition({ name: PARTIALS, keySerde: windowKeySerde, valueSerde: partialSerde })
    .process<string, KpiOutput>(kpiCombine(o.windowMs, o.graceMs, o.timeUpdates !== undefined || o.countryUpdates !== undefined), {
      name: 'kpi-combine',
      stores: [TIME_STORE, COUNTRY_STORE],
    });
  const [timeUpdates, countryUpdates, timeFinals, countryFinals, latePartials] = outputs.branch(
    (_k, v) => v.kind === 'time-update',
    (_k, v) => v.kind === 'country-update',
    (_k, v) => v.kind === 'time-final',
    (_k, v) => v.kind === 'country-final',
    (_k, v) => v.kind === 'late-partial',
  );
  const kpiSerde = o.timeKpiSerde ?? Serdes.json<TimeKpi>();
  const countryKpiSerde = o.countryKpiSerde ?? Serdes.json<CountryKpi>();
  const unwrap = <V>(s: KStream<string, KpiOutput> | undefined, name: string) => s!.mapValues((v) => (v as unknown as { kpi: V }).kpi, name) as KStream<string | null, V>;
  route(unwrap<TimeKpi>(timeUpdates!, 'time-update-values'), o.timeUpdates, kpiSerde);
  route(unwrap<CountryKpi>(countryUpdates!, 'country-update-values'), o.countryUpdates, countryKpiSerde);
  route(unwrap<TimeKpi>(timeFinals!, 'time-final-values'), o.timeFinals, kpiSerde);
  route(unwrap<CountryKpi>(countryFinals!, 'country-final-values'), o.countryFinals, countryKpiSerde);
  route<RejectedRecord | PartialKpi>(latePartials!.mapValues((v) => (v as { partial: PartialKpi }).partial, 'late-partial-values'), o.lateRecords, rejectedSerde);
  return b.build();
}
