import type { DeadLetterContext } from '../topology/api/handlers.ts';
import type { RecordOrigin, StreamRecord } from '../topology/api/record.ts';
import type { ExternalSinkFactory } from '../topology/api/sink.ts';
import { fileSink } from '../sinks/file-sink.ts';
import type { FileStore } from '../sinks/file-store.ts';
import type { CountryKpi, TimeKpi } from './kpi.ts';
import type { PartialKpi, LateRecord } from './kpi-preaggregate.ts';
import type { KpiTopologyOptions } from './kpi-topology.ts';

export const DATASETS = {
  time: 'time-kpis',
  country: 'time-country-kpis',
  deadLetter: 'dead-letter',
  late: 'late',
} as const;

const utf8 = new TextDecoder();

/** The line of a record refused or not counted: why, where from, and the original text. */
const rejectedLine = (reason: string, detail: string, origin: RecordOrigin, raw: Uint8Array | null): string =>
  JSON.stringify({
    reason,
    detail,
    source: { topic: origin.topic, partition: origin.partition, offset: origin.offset },
    value: raw === null ? null : utf8.decode(raw),
  });

/** One JSON line per late record (or late partial). */
export const formatLate = (r: StreamRecord<unknown, LateRecord | PartialKpi>): string => {
  const v = r.value;
  if (!('raw' in v)) return JSON.stringify({ reason: 'late', detail: 'partial aggregate arrived after its window closed', partial: v });
  return rejectedLine(v.reason, v.detail, v.origin, v.raw);
};

/** One JSON line per dead letter: the reason the runtime gives, the refusal's message as detail. */
export const formatDeadLetter = (r: StreamRecord<unknown, DeadLetterContext>): string => {
  const c = r.value;
  return rejectedLine(c.reason, c.error instanceof Error ? c.error.message : String(c.error), c.origin, c.value);
};

/** Final KPIs and late records as JSON-lines datasets in a file store. */
export function fileOutputs(store: FileStore, layout: 'flat' | 'date-hour'): Pick<KpiTopologyOptions, 'timeFinals' | 'countryFinals' | 'lateRecords'> {
  const kpi = <V>(dir: string) =>
    fileSink<V>({ store, dir, layout, naming: 'per-key', keyOf: (r) => r.timestamp, format: (r) => JSON.stringify(r.value) });
  return {
    timeFinals: { sink: kpi<TimeKpi>(DATASETS.time) },
    countryFinals: { sink: kpi<CountryKpi>(DATASETS.country) },
    lateRecords: {
      sink: fileSink<LateRecord | PartialKpi>({
        store,
        dir: DATASETS.late,
        layout,
        naming: 'range',
        keyOf: (r) => ('raw' in r.value ? r.value.origin.offset : r.value.start),
        format: formatLate,
      }),
    },
  };
}

/**
 * The runtime's dead letters as a JSON-lines dataset (a runtime's `deadLetterSink`): one file
 * per task and commit, named by the range of offsets it holds, as the late dataset is.
 */
export function deadLetterFiles(store: FileStore, layout: 'flat' | 'date-hour'): ExternalSinkFactory<Uint8Array | null, DeadLetterContext> {
  return fileSink<DeadLetterContext>({ store, dir: DATASETS.deadLetter, layout, naming: 'range', keyOf: (r) => r.value.origin.offset, format: formatDeadLetter });
}
