import { COUNTRY_STORE, TIME_STORE } from '../../processors/kpi-combine.ts';
import { countryKpi, timeKpi, type CountryKpi, type KpiAccumulator, type TimeKpi } from '../../processors/kpi.ts';
import type { Serde } from '../../topology/api/serdes.ts';
import type { KafkaStreamsState } from '../../topology/runtimes/kafka/kafka-streams.ts';
import { hostInfoText, type KeyQueryMetadata, type MemberMetadata, type QueryableStore } from '../../topology/runtimes/kafka/interactive-queries.ts';

/** What the HTTP server asks of a KafkaStreams instance (a fake one in tests). */
export interface QueryableStreams {
  readonly state: KafkaStreamsState;
  store<K = unknown, V = unknown>(name: string): QueryableStore<K, V>;
  metadataForKey<K>(storeName: string, key: K, keySerde?: Serde<K>): KeyQueryMetadata | undefined;
  allMetadata(): readonly MemberMetadata[];
  metrics(): ReadonlyMap<string, number>;
  metricsText(): Promise<string>;
}

/** One window's KPIs as this member holds them in the combine stage's stores. */
export interface WindowKpis {
  readonly local: true;
  readonly host: string | undefined;
  readonly window: { readonly start: string; readonly end: string };
  readonly time: TimeKpi | null;
  readonly countries: readonly CountryKpi[];
}

/** The window is held by another member: ask it. */
export interface ElsewhereAnswer {
  readonly local: false;
  readonly activeHost: string | undefined;
  readonly url: string | undefined;
  readonly partition: number;
}

export type WindowAnswer = { readonly status: 200; readonly body: WindowKpis | ElsewhereAnswer } | { readonly status: 404 | 503; readonly body: { readonly error: string } };

/**
 * The retail application's interactive queries: a window's KPIs from the stores of the combine
 * stage (`kpi-time-store`, `kpi-country-store`), whose tasks are keyed by window start (the
 * repartition key, the window start in decimal text). A window lives on one member; any member
 * says which.
 */
export function queryWindow(streams: QueryableStreams, start: number, windowMs: number, self: string | undefined, path: (start: number) => string): WindowAnswer {
  const meta = streams.metadataForKey(TIME_STORE, start);
  if (meta === undefined) return { status: 503, body: { error: 'the group is rebalancing or not joined yet: which member holds the window is not known; try again' } };
  if (!meta.local) {
    const host = meta.activeHost === undefined ? undefined : hostInfoText(meta.activeHost);
    return { status: 200, body: { local: false, activeHost: host, url: host === undefined ? undefined : `http://${host}${path(start)}`, partition: meta.partition } };
  }
  const time = streams.store<string, KpiAccumulator>(TIME_STORE);
  const country = streams.store<string, KpiAccumulator>(COUNTRY_STORE);
  if (time.type !== 'window' || country.type !== 'window') return { status: 404, body: { error: 'the KPI stores are not window stores' } };
  const overall = time.fetchAll(start, start)[0]?.[1];
  const countries = country.fetchAll(start, start).map(([w, a]) => countryKpi(start, windowMs, w.key, a));
  if (overall === undefined && countries.length === 0)
    return { status: 404, body: { error: `window ${new Date(start).toISOString()} is not open here (closed and dropped, or no invoices yet)` } };
  return {
    status: 200,
    body: {
      local: true,
      host: self,
      window: { start: new Date(start).toISOString(), end: new Date(start + windowMs).toISOString() },
      time: overall === undefined ? null : timeKpi(start, windowMs, overall),
      countries: countries.sort((a, b) => b.OPM - a.OPM || (a.country < b.country ? -1 : 1)),
    },
  };
}

/** The open windows this member holds, newest first. */
export function localWindows(streams: QueryableStreams, windowMs: number): TimeKpi[] {
  const time = streams.store<string, KpiAccumulator>(TIME_STORE);
  if (time.type !== 'window') return [];
  return time
    .all()
    .map(([w, a]) => timeKpi(w.start, windowMs, a))
    .sort((a, b) => (a.window.start < b.window.start ? 1 : -1));
}

/** A window start from a path segment: epoch milliseconds or an ISO-8601 instant. */
export function parseWindowStart(text: string): number | undefined {
  const decoded = decodeURIComponent(text);
  const n = /^\d+$/.test(decoded) ? Number(decoded) : Date.parse(decoded);
  return Number.isFinite(n) ? n : undefined;
}
