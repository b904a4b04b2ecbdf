import type { Processor, ProcessorContext } from '../topology/api/processor.ts';
import type { RecordOrigin, StreamRecord } from '../topology/api/record.ts';
import { alignedStart } from '../topology/api/windows.ts';
import type { InvoiceRecord } from './invoice.ts';

/** A partial aggregate of one input partition for one window and country, sent downstream. */
export interface PartialKpi {
  readonly start: number;
  readonly country: string;
  readonly invoices: number;
  readonly returns: number;
  readonly micros: number;
}

/**
 * An invoice not counted because its window had closed, kept with its bytes and origin.
 * Invalid records never get this far: the serde refuses them and the runtime dead-letters them.
 */
export interface LateRecord {
  readonly kind: 'late';
  readonly reason: string;
  readonly detail: string;
  readonly origin: RecordOrigin;
  readonly raw: Uint8Array | null;
}

export type PreAggregateOutput = { readonly kind: 'partial'; readonly partial: PartialKpi } | LateRecord;

export const LATE_RECORDS = 'late-records';
export const VALID_RECORDS = 'valid-records';

interface Mutable {
  start: number;
  country: string;
  invoices: number;
  returns: number;
  micros: number;
}

/**
 * Stage one of the KPI aggregation, one per input partition. Decides lateness against the
 * partition's own stream time (the task's, logged so a restart decides the same way),
 * and sums each batch per window and country before anything leaves the task: downstream
 * traffic is per window and country, not per invoice.
 */
export const kpiPreAggregate = (windowMs: number, graceMs: number) => (): Processor<unknown, InvoiceRecord, number | null, PreAggregateOutput> => {
  let ctx: ProcessorContext<number | null, PreAggregateOutput>;
  const batch = new Map<number, Map<string, Mutable>>();
  let validCount = 0;

  const late = (detail: string, raw: Uint8Array | null, timestamp: number) => {
    ctx.forward({ key: null, value: { kind: 'late', reason: 'late', detail, origin: ctx.origin()!, raw }, timestamp });
    ctx.count(LATE_RECORDS);
  };

  return {
    init: (c) => {
      ctx = c;
    },
    process: (r: StreamRecord<unknown, InvoiceRecord>) => {
      const d = r.value.decoded;
      validCount++;
      const ts = d.timestamp;
      // The task moved stream time to include this record before handing it over.
      const streamTime = ctx.streamTime();
      const start = alignedStart(ts, windowMs);
      // Kafka Streams' rule, per partition: closed once stream time reaches end + grace.
      if (streamTime >= start + windowMs + graceMs) {
        late(`window ${new Date(start).toISOString()} closed at stream time ${new Date(streamTime).toISOString()}`, r.value.raw, ts);
        return;
      }
      // Keyed by window, then country: no key string is built per record.
      let countries = batch.get(start);
      if (countries === undefined) batch.set(start, (countries = new Map()));
      let p = countries.get(d.country);
      if (p === undefined) {
        p = { start, country: d.country, invoices: 0, returns: 0, micros: 0 };
        countries.set(d.country, p);
      }
      p.invoices++;
      if (d.isReturn) p.returns++;
      p.micros += d.totalMicros;
    },
    flush: () => {
      if (validCount > 0) {
        ctx.count(VALID_RECORDS, validCount);
        validCount = 0;
      }
      for (const countries of batch.values()) for (const p of countries.values()) ctx.forward({ key: p.start, value: { kind: 'partial', partial: p }, timestamp: p.start });
      batch.clear();
    },
  };
};
