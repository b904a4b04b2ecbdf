import type { Processor, ProcessorContext } from '../topology/api/processor.ts';
import { isWindowClosed } from '../topology/api/windows.ts';
import type { WindowStore } from '../state-stores/api.ts';
import { countryKpi, emptyAccumulator, timeKpi, type CountryKpi, type KpiAccumulator, type TimeKpi } from './kpi.ts';
import { LATE_RECORDS, type PartialKpi } from './kpi-preaggregate.ts';

export const TIME_STORE = 'kpi-time-store';
export const COUNTRY_STORE = 'kpi-country-store';
export const WINDOWS_CLOSED = 'windows-closed';
/** The one key of the time store: a window's overall accumulator. */
const ALL = '';

export type KpiOutput =
  | { readonly kind: 'time-update' | 'time-final'; readonly kpi: TimeKpi }
  | { readonly kind: 'country-update' | 'country-final'; readonly kpi: CountryKpi }
  | { readonly kind: 'late-partial'; readonly partial: PartialKpi };

/**
 * Stage two: merges the partials of every input partition. Its task's stream time is the
 * watermark (the minimum over the input partitions), so a window closes only when every
 * partition has passed end + grace. Updates go out once per batch (latest per key, like Kafka
 * Streams' cache); finals once per window and key, when it closes, in window then country order.
 */
export const kpiCombine = (windowMs: number, graceMs: number, emitUpdates: boolean) => (): Processor<number, PartialKpi, string, KpiOutput> => {
  let ctx: ProcessorContext<string, KpiOutput>;
  let time: WindowStore<string, KpiAccumulator>;
  let country: WindowStore<string, KpiAccumulator>;
  const dirtyWindows = new Set<number>();
  const dirtyCountries = new Map<string, [number, string]>();

  const add = (store: WindowStore<string, KpiAccumulator>, key: string, p: PartialKpi) => {
    const a = store.get(key, p.start) ?? emptyAccumulator();
    store.put(key, p.start, { invoices: a.invoices + p.invoices, returns: a.returns + p.returns, micros: a.micros + p.micros });
  };

  const emitPendingUpdates = () => {
    if (dirtyWindows.size === 0) return;
    for (const start of dirtyWindows) {
      const a = time.get(ALL, start);
      if (a !== undefined) ctx.forward({ key: new Date(start).toISOString(), value: { kind: 'time-update', kpi: timeKpi(start, windowMs, a) }, timestamp: start });
    }
    for (const [start, c] of dirtyCountries.values()) {
      const a = country.get(c, start);
      if (a !== undefined) ctx.forward({ key: `${new Date(start).toISOString()}|${c}`, value: { kind: 'country-update', kpi: countryKpi(start, windowMs, c, a) }, timestamp: start });
    }
    dirtyWindows.clear();
    dirtyCountries.clear();
  };

  const closeWindows = (now: number) => {
    // The last update of a closing window goes out first, so the update topic ends on the final value.
    emitPendingUpdates();
    const lastClosedStart = now - windowMs - graceMs;
    for (const [w, a] of time.fetchRange(Number.NEGATIVE_INFINITY, lastClosedStart)) {
      ctx.count(WINDOWS_CLOSED);
      ctx.forward({ key: new Date(w.start).toISOString(), value: { kind: 'time-final', kpi: timeKpi(w.start, windowMs, a) }, timestamp: w.start });
      for (const [cw, ca] of country.fetchRange(w.start, w.start)) {
        ctx.forward({ key: `${new Date(w.start).toISOString()}|${cw.key}`, value: { kind: 'country-final', kpi: countryKpi(w.start, windowMs, cw.key, ca) }, timestamp: w.start });
      }
    }
    time.expireBefore(lastClosedStart + 1);
    country.expireBefore(lastClosedStart + 1);
  };

  return {
    init: (c) => {
      ctx = c;
      time = c.getStateStore(TIME_STORE);
      country = c.getStateStore(COUNTRY_STORE);
      c.schedule(1, 'stream-time', closeWindows);
    },
    process: (r) => {
      const p = r.value;
      if (isWindowClosed(p.start + windowMs, graceMs, ctx.streamTime())) {
        // Only possible when an idle partition was left out of the watermark and then woke up.
        ctx.count(LATE_RECORDS, p.invoices);
        ctx.forward({ key: new Date(p.start).toISOString(), value: { kind: 'late-partial', partial: p }, timestamp: p.start });
        return;
      }
      add(time, ALL, p);
      add(country, p.country, p);
      if (emitUpdates) {
        dirtyWindows.add(p.start);
        dirtyCountries.set(`${p.start}\u0000${p.country}`, [p.start, p.country]);
      }
    },
    flush: emitPendingUpdates,
  };
};
