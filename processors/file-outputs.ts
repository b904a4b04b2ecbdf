import type { StreamRecord } from '../topology/api/record.ts';
import { fileSink } from '../sinks/file-sink.ts';
import type { FileStore } from '../sinks/file-store.ts';
import type { CountryKpi, TimeKpi } from './kpi.ts';
import type { PartialKpi, RejectedRecord } from './kpi-preaggregate.ts';
import type { KpiTopologyOptions } from './kpi-topology.ts';

export const DATASETS = {
  time: 'time-kpis',
  country: 'time-country-kpis',
  deadLetter: 'dead-letter',
  late: 'late',
} as const;

const utf8 = new TextDecoder();

/** One JSON line per rejected record: why, where from, and the original text. */
export const formatRejected = (r: StreamRecord<unknown, RejectedRecord | PartialKpi>): string => {
  const v = r.value;
  if (!('raw' in v)) return JSON.stringify({ reason: 'late', detail: 'partial aggregate arrived after its window closed', partial: v });
  return JSON.stringify({
    reason: v.reason,
    detail: v.detail,
    source: { topic: v.origin.topic, partition: v.origin.partition, offset: v.origin.offset },
    value: v.raw === null ? null : utf8.decode(v.raw),
  });
};

/** Final KPIs, dead letters and late records as JSON-lines datasets in a file store. */
export function fileOutputs(store: FileStore, layout: 'flat' | 'date-hour'): Pick<KpiTopologyOptions, 'timeFinals' | 'countryFinals' | 'deadLetters' | 'lateRecords'> {
  const kpi = <V>(dir: string) =>
    fileSink<V>({ store, dir, layout, naming: 'per-key', keyOf: (r) => r.timestamp, format: (r) => JSON.stringify(r.value) });
  const rejected = (dir: string) =>
    fileSink<RejectedRecord | PartialKpi>({
      store,
      dir,
      layout,
      naming: 'range',
      keyOf: (r) => ('raw' in r.value ? r.value.origin.offset : r.value.start),
      format: formatRejected,
    });
  return {
    timeFinals: { sink: kpi<TimeKpi>(DATASETS.time) },
    countryFinals: { sink: kpi<CountryKpi>(DATASETS.country) },
    deadLetters: { sink: rejected(DATASETS.deadLetter) },
    lateRecords: { sink: rejected(DATASETS.late) },
  };
}
