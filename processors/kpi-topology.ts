import { StreamsBuilder, type KStream } from '../topology/api/builder.ts';
import { Serdes, utf8Bytes, utf8Text, type Serde } from '../topology/api/serdes.ts';
import type { ExternalSinkFactory } from '../topology/api/sink.ts';
import type { StreamRecord } from '../topology/api/record.ts';
import { DEAD_LETTER_HEADERS, type DeserializationHandler } from '../topology/api/handlers.ts';
import type { Topology } from '../topology/internals/compile.ts';
import { Stores } from '../state-stores/stores.ts';
import type { InvoiceRecord } from './invoice.ts';
import { createInvoiceSerde } from './avro/invoice-serde.ts';
import { kpiPreAggregate, type PartialKpi, type PreAggregateOutput, type LateRecord } from './kpi-preaggregate.ts';
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
  /** Invoices late for their window, and partials late for theirs. */
  readonly lateRecords: Output<LateRecord | PartialKpi>;
  /**
   * Decodes the input topic; by default `invoiceSerde` (JSON, and Avro records dead-lettered as
   * `unknown-schema`). Pass `createInvoiceSerde({ registry })` to read Avro by schema id.
   * Invalid invoices are not this topology's to route: the serde refuses them and the runtime
   * dead-letters them (run it with `KPI_DEAD_LETTER_HANDLER`).
   */
  readonly invoiceSerde?: Serde<InvoiceRecord>;
  /** Values of the KPI topics (update and final outputs that are topics); JSON by default. */
  readonly timeKpiSerde?: Serde<TimeKpi>;
  readonly countryKpiSerde?: Serde<CountryKpi>;
}

export const PARTIALS = 'kpi-partials';

/**
 * The deserialization handler to run this topology with: an invalid invoice never stops the
 * pipeline (docs/design.md); the runtime writes it to its dead-letter queue, counts it and goes on.
 */
export const KPI_DEAD_LETTER_HANDLER: DeserializationHandler = 'log-and-continue';

/**
 * Reads invoice bytes: JSON, or Confluent-framed Avro (first byte 0x00). An invalid invoice is
 * refused with a `RecordRejectedError` under the decoder's reason; without a schema registry,
 * an Avro record cannot be read and is refused as `unknown-schema`.
 */
export const invoiceSerde: Serde<InvoiceRecord> = createInvoiceSerde();

const partialSerde = Serdes.json<PartialKpi>();
const windowKeySerde: Serde<number> = {
  name: 'window-start',
  serialize: (v) => utf8Bytes(String(v)),
  deserialize: (d) => Number(utf8Text(d!)),
};

/** Kafka form of a late record: the original bytes (a late partial as JSON), the reason and origin in headers. */
export const lateSerde: Serde<LateRecord | PartialKpi> = {
  name: 'late',
  serialize: (v) => ('raw' in v ? v.raw : utf8Bytes(JSON.stringify(v))),
  deserialize: () => {
    throw new Error('late records are write-only');
  },
};

/** The headers of a dead letter, under the same names, so one tool reads both topics. */
export const lateHeaders = (v: LateRecord): Record<string, string> => ({
  [DEAD_LETTER_HEADERS.reason]: v.reason,
  [DEAD_LETTER_HEADERS.detail]: v.detail,
  [DEAD_LETTER_HEADERS.topic]: v.origin.topic,
  [DEAD_LETTER_HEADERS.partition]: String(v.origin.partition),
  [DEAD_LETTER_HEADERS.offset]: String(v.origin.offset),
});

function route<V>(stream: KStream<string | null, V>, output: Output<V> | undefined, valueSerde: Serde<V>): void {
  if (output === undefined) return;
  if ('topic' in output) stream.to(output.topic, { keySerde: Serdes.string, valueSerde });
  else stream.sink(output.sink);
}

/**
 * The retail KPI application: decode and validate (what the serde refuses, the runtime
 * dead-letters), pre-aggregate per input partition and window, repartition by window, combine
 * on the watermark, emit updates and finals.
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
      timestampExtractor: (_k, v) => v.decoded.timestamp,
    })
    .process<number | null, PreAggregateOutput>(kpiPreAggregate(o.windowMs, o.graceMs), { name: 'kpi-preaggregate' });

  const [partials, late] = stage1.branch(
    (_k, v) => v.kind === 'partial',
    (_k, v) => v.kind === 'late',
  ) as [KStream<number, { kind: 'partial'; partial: PartialKpi }>, KStream<string | null, LateRecord>];
  const withHeaders = late.process<string | null, LateRecord>(
    () => {
      let forward: (r: StreamRecord<string | null, LateRecord>) => void;
      return {
        init: (c) => void (forward = (r) => c.forward(r)),
        process: (r) => forward({ ...r, headers: lateHeaders(r.value) }),
      };
    },
    { name: 'late-headers', keyChanged: false },
  );
  route<LateRecord | PartialKpi>(withHeaders, o.lateRecords, lateSerde);

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
  route<LateRecord | PartialKpi>(latePartials!.mapValues((v) => (v as { partial: PartialKpi }).partial, 'late-partial-values'), o.lateRecords, lateSerde);
  return b.build();
}
