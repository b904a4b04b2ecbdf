// Conformance cases: one user topology each (not the retail processors), its input (seeded,
// deterministic, event time in 2021) and a reference computed apart from the library, with plain
// loops over the input. The test driver (test/conformance/driver.test.ts), a real broker
// (test/integration/conformance.test.ts) and the child-process runner (runner.ts) all build the
// topology from here, so every runtime runs exactly the same code on exactly the same records.
//
// A case's outputs are compared through "facets": named, order-independent views of what was
// written (latest value per key, the multiset of finals, the event time of each output, ...).
// `observe` computes them from the records read back; `reference` computes the same facets from
// the input alone. Each facet is asserted on its own, so a failure names what is wrong.
//
// Runs under Node's type stripping too (runner.ts): type-only imports, no enums, no parameter properties.
import { Serdes, Stores, StreamsBuilder, TimeWindows } from '../../index.ts';
import type { KeyValueStore, Processor, ProcessorContext, Serde, Topology, Windowed } from '../../index.ts';

// ---------------------------------------------------------------- shapes

/** One record to produce: explicit partition and event time, key and value as their bytes' text. */
export interface InputRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly value: string;
  readonly timestamp: number;
}

/** One record read back from an output topic (in offset order within its partition). */
export interface OutputRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly timestamp: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export type Outputs = ReadonlyMap<string, readonly OutputRecord[]>;

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly compacted?: boolean;
  /** Topic-level configs the case needs on a broker (say, accepting timestamps from year 9999). */
  readonly configs?: Readonly<Record<string, string>>;
}

export type Facets = Record<string, unknown>;

export interface Expected {
  /** What `observe` must return, facet by facet. */
  readonly facets: Facets;
  /** Records per output topic once everything is processed: how long a broker run waits. */
  readonly counts: Readonly<Record<string, number>>;
  /** Metrics of the runtime (summed over processes) after the run. */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface ConformanceCase {
  readonly name: CaseName;
  readonly inputTopics: readonly TopicSpec[];
  readonly outputTopics: readonly TopicSpec[];
  /** The dead-letter topic the runtime writes (the driver's and KafkaStreams' `deadLetterQueueTopic`). */
  readonly deadLetterQueueTopic?: string;
  build(): Topology;
  readonly input: readonly InputRecord[];
  /**
   * `now` is the runtime's wall clock while it reads the input (fake on the driver, real on a
   * broker); `records` a prefix of `input` (in input order), by default all of it.
   */
  reference(now: number, records?: readonly InputRecord[]): Expected;
  /**
   * Where a process killed with SIGKILL, after everything before it has committed, exposes state
   * that must survive the crash (the broker's kill tests resume from there). Absent: any point.
   */
  readonly crashPoint?: { readonly index: number; readonly why: string };
  observe(outputs: Outputs): Facets;
  /** Facets once a finite input has ended and every window closed (the driver's `endOfInput`). */
  referenceAtEndOfInput?(now: number): Facets;
}

// ---------------------------------------------------------------- helpers

/** mulberry32: small, seeded, the same sequence on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const between = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const iso = (ms: number): string => new Date(ms).toISOString();

/** JSON with object keys sorted, so two equal values print the same whatever their key order. */
export function canonical(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x !== null && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])]));
    return x;
  };
  return JSON.stringify(sort(v));
}

const parse = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));
const sortedStrings = (xs: Iterable<string>): string[] => [...xs].sort();
const recordsOf = (outputs: Outputs, topic: string): readonly OutputRecord[] => outputs.get(topic) ?? [];

/** Latest value per key, in offset order (every key of these topics lives on one partition). */
function latestByKey(records: readonly OutputRecord[]): Record<string, unknown> {
  const latest = new Map<string, unknown>();
  for (const r of records) latest.set(r.key ?? '<null>', parse(r.value));
  return Object.fromEntries([...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Every update of a counter key, described: `1..n` when the values are exactly 1, 2, ..., n in
 * order (no duplicate, no gap), else the sequence itself, so a duplicate is visible.
 */
function countSequence(values: readonly number[]): string {
  const exact = values.every((v, i) => v === i + 1);
  if (exact) return `1..${values.length}`;
  return `not 1..n: [${values.join(',')}]`;
}

const str = Serdes.string as Serde<string>;
const json = <T>(): Serde<T> => Serdes.json<T>();

/** Partition counts per topic, for the driver's `partitions` option. */
export function partitionCounts(c: ConformanceCase): Record<string, number> {
  return Object.fromEntries([...c.inputTopics, ...c.outputTopics].map((t) => [t.name, t.partitions]));
}

const T2021 = Date.UTC(2021, 2, 1, 8, 0, 0);

// ---------------------------------------------------------------- 1. word count (KTable, update mode)

function wordCount(prefix: string): ConformanceCase {
  const lines = `${prefix}-lines`;
  const counts = `${prefix}-word-counts`;
  const vocabulary = ['Kafka', 'stream', 'table', 'window', 'grace', 'late', 'event', 'time', 'store', 'task', 'topic', 'offset', 'commit', 'fence', 'watermark', 'partition', 'record', 'key', 'value', 'punctuate'];
  const r = rng(101);
  const input: InputRecord[] = [];
  for (let i = 0; i < 1200; i++) {
    const words = Array.from({ length: between(r, 1, 7) }, () => {
      const w = pick(r, vocabulary);
      return r() < 0.3 ? w.toUpperCase() : w;
    });
    input.push({ topic: lines, partition: between(r, 0, 3), key: `line-${i}`, value: words.join(r() < 0.5 ? ' ' : '  '), timestamp: T2021 + i * 1_000 + between(r, 0, 999) });
  }
  return {
    name: 'word-count',
    inputTopics: [{ name: lines, partitions: 4 }],
    outputTopics: [{ name: counts, partitions: 3, compacted: true }],
    build() {
      const b = new StreamsBuilder();
      b.stream<string, string>(lines, { keySerde: str, valueSerde: str })
        .flatMap((id, line) => line.split(' ').filter((w) => w.length > 0).map((w): [string, string] => [id, w.toLowerCase()]))
        .groupBy((_id, word) => word, { name: 'words-by-word', keySerde: str, valueSerde: str })
        // Caching off: every update goes out, so the sequence per word shows any gap or duplicate.
        .count({ storeName: 'word-count-store', caching: false })
        .toStream()
        .to(counts, { keySerde: str, valueSerde: json<number>() });
      return b.build();
    },
    input,
    reference(_now, records = input) {
      const n = new Map<string, number>();
      const stamps: string[] = [];
      for (const rec of records) {
        for (const raw of rec.value.split(' ')) {
          if (raw === '') continue;
          const w = raw.toLowerCase();
          n.set(w, (n.get(w) ?? 0) + 1);
          stamps.push(`${w}|${rec.timestamp}`);
        }
      }
      const keys = [...n.keys()].sort();
      return {
        facets: {
          latest: Object.fromEntries(keys.map((k) => [k, n.get(k)!])),
          updates: Object.fromEntries(keys.map((k) => [k, `1..${n.get(k)!}`])),
          eventTimes: stamps.sort(),
        },
        counts: { [counts]: stamps.length },
        metrics: {},
      };
    },
    observe(outputs) {
      const recs = recordsOf(outputs, counts);
      const seq = new Map<string, number[]>();
      for (const rec of recs) {
        const k = rec.key ?? '<null>';
        let list = seq.get(k);
        if (list === undefined) seq.set(k, (list = []));
        list.push(parse(rec.value) as number);
      }
      return {
        latest: latestByKey(recs),
        updates: Object.fromEntries([...seq.keys()].sort().map((k) => [k, countSequence(seq.get(k)!)])),
        eventTimes: sortedStrings(recs.map((rec) => `${rec.key}|${rec.timestamp}`)),
      };
    },
  };
}

// ---------------------------------------------------------------- 2. hopping-window page views, suppressed to finals

const PV_SIZE = 60_000;
const PV_ADVANCE = 20_000;
const PV_GRACE = 30_000;

interface PageView {
  readonly user: string;
  readonly page: string;
}

function pageViews(prefix: string): ConformanceCase {
  const views = `${prefix}-page-views`;
  const finals = `${prefix}-page-view-finals`;
  const pages = ['/home', '/home', '/home', '/search', '/search', '/cart', '/checkout', '/help', '/about'];
  const r = rng(202);
  const input: InputRecord[] = [];
  // Per partition: arrival times that move on 1-5 s per record; event time up to 25 s behind
  // arrival (less than the 30 s grace), so no record can be late, whatever the interleaving.
  const arrivals: { arrival: number; rec: InputRecord }[] = [];
  for (let p = 0; p < 4; p++) {
    let arrival = T2021 + p * 700;
    for (let i = 0; i < 400; i++) {
      arrival += between(r, 1_000, 5_000);
      const behind = r() < 0.35 ? between(r, 0, 25_000) : 0;
      const user = `u${between(r, 0, 39)}`;
      const view: PageView = { user, page: pick(r, pages) };
      arrivals.push({ arrival, rec: { topic: views, partition: p, key: user, value: JSON.stringify(view), timestamp: arrival - behind } });
    }
  }
  arrivals.sort((a, b) => a.arrival - b.arrival || a.rec.partition - b.rec.partition);
  for (const a of arrivals) input.push(a.rec);
  // One record per partition far enough ahead that every window of the data above closes.
  const last = Math.max(...input.map((x) => x.timestamp));
  const flushAt = last + PV_SIZE + PV_GRACE + 5 * 60_000;
  for (let p = 0; p < 4; p++) input.push({ topic: views, partition: p, key: 'flush', value: JSON.stringify({ user: 'flush', page: '/flush' }), timestamp: flushAt });

  /** Every (window, page) count over `records`, windows [s, s + size) on the advance grid. */
  const countWindows = (records: readonly InputRecord[]) => {
    const n = new Map<string, { page: string; start: number; count: number }>();
    for (const rec of records) {
      const { page } = JSON.parse(rec.value) as PageView;
      const first = Math.floor(rec.timestamp / PV_ADVANCE) * PV_ADVANCE;
      for (let start = first; start > rec.timestamp - PV_SIZE; start -= PV_ADVANCE) {
        const id = `${start}|${page}`;
        const c = n.get(id) ?? { page, start, count: 0 };
        n.set(id, { ...c, count: c.count + 1 });
      }
    }
    return [...n.values()];
  };
  const line = (w: { page: string; start: number; count: number }) => `${iso(w.start)}|${w.page}|${w.count}`;

  // Two thirds in: windows still open there (held by suppress, not yet final) whose page gets
  // no record afterwards: their final must come from state that survived the crash.
  const crashPoint = { index: Math.floor(input.length * 0.66), why: 'open windows, some of whose pages get no later record, are buffered by suppress' };

  return {
    name: 'page-views',
    crashPoint,
    inputTopics: [{ name: views, partitions: 4 }],
    outputTopics: [{ name: finals, partitions: 2 }],
    build() {
      const b = new StreamsBuilder();
      b.stream<string, PageView>(views, { keySerde: str, valueSerde: json<PageView>() })
        .groupBy((_user, v) => v.page, { name: 'views-by-page', keySerde: str, valueSerde: json<PageView>() })
        .windowedBy(TimeWindows.hopping(PV_SIZE, PV_ADVANCE, PV_GRACE))
        .count({ storeName: 'page-view-counts' })
        .suppressUntilWindowCloses()
        .toStream()
        .to(finals, { keySerde: json<Windowed<string>>(), valueSerde: json<number>() });
      return b.build();
    },
    input,
    reference(_now, records = input) {
      // Windows close on the watermark: the smallest stream time (largest event time) over the
      // four input partitions. Windows beyond it minus grace stay open: not expected.
      const maxByPartition = new Map<number, number>();
      for (const rec of records) maxByPartition.set(rec.partition, Math.max(maxByPartition.get(rec.partition) ?? -Infinity, rec.timestamp));
      const watermark = maxByPartition.size < 4 ? -Infinity : Math.min(...maxByPartition.values());
      const closed = countWindows(records).filter((w) => w.start + PV_SIZE + PV_GRACE <= watermark);
      return {
        facets: { finals: sortedStrings(closed.map(line)), timestampsOutsideTheirWindow: [] },
        counts: { [finals]: closed.length },
        metrics: { 'late-records': 0 },
      };
    },
    referenceAtEndOfInput() {
      return { finals: sortedStrings(countWindows(input).map(line)), timestampsOutsideTheirWindow: [] };
    },
    observe(outputs) {
      const recs = recordsOf(outputs, finals);
      const lines: string[] = [];
      const outside: string[] = [];
      for (const rec of recs) {
        const w = parse(rec.key) as Windowed<string>;
        lines.push(line({ page: w.key, start: w.start, count: parse(rec.value) as number }));
        // A final carries the event time of the last record counted in it: inside the window.
        if (!(rec.timestamp >= w.start && rec.timestamp < w.end)) outside.push(`${iso(w.start)}|${w.key} stamped ${rec.timestamp}`);
      }
      return { finals: sortedStrings(lines), timestampsOutsideTheirWindow: outside.slice(0, 20) };
    },
  };
}

// ---------------------------------------------------------------- 3. tumbling sums, late records to a late topic

const LS_SIZE = 60_000;
const LS_GRACE = 10_000;

interface Reading {
  readonly sensor: string;
  readonly amount: number;
}

/**
 * What a user writes to route late records: the DSL has no late-topic operator, but a processor
 * sees the task's stream time (`context.streamTime()`, moved before each record is processed, the
 * same the windowed aggregate reads), so it can apply the window rule itself: a record is late
 * once stream time has reached its window's end plus grace. Forwards late records only.
 */
const lateRecordsOf = (sizeMs: number, graceMs: number) => (): Processor<string, Reading, string, Reading> => {
  let context: ProcessorContext<string, Reading>;
  return {
    init(c) {
      context = c;
    },
    process(rec) {
      const end = Math.floor(rec.timestamp / sizeMs) * sizeMs + sizeMs;
      if (context.streamTime() >= end + graceMs) context.forward(rec);
    },
  };
};

function lateSums(prefix: string): ConformanceCase {
  const readings = `${prefix}-readings`;
  const sums = `${prefix}-reading-sums`;
  const late = `${prefix}-readings-late`;
  const r = rng(303);
  const arrivals: { arrival: number; rec: InputRecord }[] = [];
  for (let p = 0; p < 4; p++) {
    let arrival = T2021 + p * 300;
    for (let i = 0; i < 300; i++) {
      arrival += between(r, 500, 3_000);
      const dice = r();
      // Mostly on time; some behind by less than grace or a little more; a few far behind.
      const behind = dice < 0.8 ? between(r, 0, 5_000) : dice < 0.92 ? between(r, 5_000, 40_000) : between(r, 60_000, 180_000);
      const sensor = `s${p + 4 * between(r, 0, 2)}`; // sensor i always on partition i % 4
      const reading: Reading = { sensor, amount: between(r, 1, 100) };
      arrivals.push({ arrival, rec: { topic: readings, partition: p, key: sensor, value: JSON.stringify(reading), timestamp: arrival - behind } });
    }
  }
  arrivals.sort((a, b) => a.arrival - b.arrival || a.rec.partition - b.rec.partition);
  const input = arrivals.map((a) => a.rec);
  const windowKey = (sensor: string, start: number) => `${sensor}@${iso(start)}`;
  // Just before a record that is late by more than a window: resumed there after a crash, a task
  // that forgot its partition's stream time would count it.
  const crashPoint = (() => {
    const st = new Map<number, number>();
    for (let i = 0; i < input.length; i++) {
      const rec = input[i]!;
      const before = st.get(rec.partition) ?? -Infinity;
      st.set(rec.partition, Math.max(before, rec.timestamp));
      if (i >= input.length / 2 && before - rec.timestamp > LS_SIZE + LS_GRACE) return { index: i, why: 'the next record of its partition is late only by the stream time before the crash' };
    }
    throw new Error('late-sums: no record far enough behind for a crash point');
  })();

  return {
    name: 'late-sums',
    crashPoint,
    inputTopics: [{ name: readings, partitions: 4 }],
    outputTopics: [
      { name: sums, partitions: 2, compacted: true },
      { name: late, partitions: 1 },
    ],
    build() {
      const b = new StreamsBuilder();
      const source = b.stream<string, Reading>(readings, { keySerde: str, valueSerde: json<Reading>() });
      source.process(lateRecordsOf(LS_SIZE, LS_GRACE), { name: 'late-records-of', keyChanged: false }).to(late, { keySerde: str, valueSerde: json<Reading>() });
      source
        .groupByKey()
        .windowedBy(TimeWindows.tumbling(LS_SIZE, LS_GRACE))
        // Caching off: the case checks one update per on-time record, stamped with its event time.
        .aggregate(() => 0, (_sensor, v, sum) => sum + v.amount, { storeName: 'reading-sums-store', caching: false })
        .toStream()
        .map((w, sum): [string, number] => [windowKey(w.key, w.start), sum])
        .to(sums, { keySerde: str, valueSerde: json<number>() });
      return b.build();
    },
    input,
    reference(_now, records = input) {
      // Lateness per input partition: stream time is the largest event time seen there, the
      // record's own included; late once it has reached the window's end plus grace.
      const streamTime = new Map<number, number>();
      const total = new Map<string, number>();
      const lateLines: string[] = [];
      const sumStamps: string[] = [];
      const lateStamps: string[] = [];
      for (const rec of records) {
        const st = Math.max(streamTime.get(rec.partition) ?? -Infinity, rec.timestamp);
        streamTime.set(rec.partition, st);
        const v = JSON.parse(rec.value) as Reading;
        const start = rec.timestamp - (rec.timestamp % LS_SIZE);
        if (st >= start + LS_SIZE + LS_GRACE) {
          lateLines.push(`${rec.key}|${canonical(v)}`);
          lateStamps.push(`${rec.key}|${rec.timestamp}`);
          continue;
        }
        const k = windowKey(v.sensor, start);
        total.set(k, (total.get(k) ?? 0) + v.amount);
        sumStamps.push(`${k}|${rec.timestamp}`);
      }
      const keys = [...total.keys()].sort();
      return {
        facets: {
          latestSums: Object.fromEntries(keys.map((k) => [k, total.get(k)!])),
          late: lateLines.sort(),
          sumEventTimes: sumStamps.sort(),
          lateEventTimes: lateStamps.sort(),
        },
        counts: { [sums]: sumStamps.length, [late]: lateLines.length },
        metrics: { 'late-records': lateLines.length },
      };
    },
    observe(outputs) {
      const s = recordsOf(outputs, sums);
      const l = recordsOf(outputs, late);
      return {
        latestSums: latestByKey(s),
        late: sortedStrings(l.map((rec) => `${rec.key}|${canonical(parse(rec.value))}`)),
        sumEventTimes: sortedStrings(s.map((rec) => `${rec.key}|${rec.timestamp}`)),
        lateEventTimes: sortedStrings(l.map((rec) => `${rec.key}|${rec.timestamp}`)),
      };
    },
  };
}

// ---------------------------------------------------------------- 4. stateless: filter, flatMap, branch, mapValues

interface Order {
  readonly order: string;
  readonly customer: string;
  readonly status: 'placed' | 'cancelled' | 'test';
  readonly lines: readonly { readonly sku: string; readonly qty: number; readonly cents: number }[];
}
interface OrderLine {
  readonly order: string;
  readonly customer: string;
  readonly qty: number;
  readonly cents: number;
}

function stateless(prefix: string): ConformanceCase {
  const orders = `${prefix}-orders`;
  const bulk = `${prefix}-bulk-lines`;
  const retail = `${prefix}-retail-lines`;
  const r = rng(404);
  const skus = Array.from({ length: 15 }, (_, i) => `sku-${String(i).padStart(2, '0')}`);
  const input: InputRecord[] = [];
  const seq = [0, 0, 0, 0];
  for (let i = 0; i < 400; i++) {
    const p = between(r, 0, 3);
    const dice = r();
    const order: Order = {
      order: `o${p}.${String(seq[p]!++).padStart(4, '0')}`,
      customer: `c${between(r, 0, 29)}`,
      status: dice < 0.8 ? 'placed' : dice < 0.9 ? 'cancelled' : 'test',
      lines: Array.from({ length: between(r, 0, 4) }, () => ({ sku: pick(r, skus), qty: between(r, 1, 15), cents: between(r, 100, 9_999) })),
    };
    input.push({ topic: orders, partition: p, key: order.customer, value: JSON.stringify(order), timestamp: T2021 + i * 2_000 + between(r, 0, 1_999) });
  }
  const bulkText = (sku: string, l: OrderLine) => `${l.order}:${l.qty}x${sku}@${l.cents}`;
  const retailValue = (sku: string, l: OrderLine) => ({ order: l.order, sku, total: l.qty * l.cents });

  return {
    name: 'stateless',
    inputTopics: [{ name: orders, partitions: 4 }],
    outputTopics: [
      { name: bulk, partitions: 2 },
      { name: retail, partitions: 3 },
    ],
    build() {
      const b = new StreamsBuilder();
      const [big, small] = b
        .stream<string, Order>(orders, { keySerde: str, valueSerde: json<Order>() })
        .filter((_customer, o) => o.status === 'placed')
        .flatMap((_customer, o) => o.lines.map((l): [string, OrderLine] => [l.sku, { order: o.order, customer: o.customer, qty: l.qty, cents: l.cents }]))
        .branch(
          (_sku, l) => l.qty >= 10,
          () => true,
        );
      big!.mapValues((l, sku) => bulkText(sku, l)).to(bulk, { keySerde: str, valueSerde: str });
      small!.mapValues((l, sku) => retailValue(sku, l)).to(retail, { keySerde: str, valueSerde: json<{ order: string; sku: string; total: number }>() });
      return b.build();
    },
    input,
    reference(_now, records = input) {
      const bulkLines: string[] = [];
      const retailLines: string[] = [];
      const stamps: string[] = [];
      for (const rec of records) {
        const o = JSON.parse(rec.value) as Order;
        if (o.status !== 'placed') continue;
        for (const l of o.lines) {
          const line: OrderLine = { order: o.order, customer: o.customer, qty: l.qty, cents: l.cents };
          if (l.qty >= 10) {
            bulkLines.push(`${l.sku}|${bulkText(l.sku, line)}`);
            stamps.push(`${bulk}|${l.sku}|${bulkText(l.sku, line)}|${rec.timestamp}`);
          } else {
            const v = canonical(retailValue(l.sku, line));
            retailLines.push(`${l.sku}|${v}`);
            stamps.push(`${retail}|${l.sku}|${v}|${rec.timestamp}`);
          }
        }
      }
      return {
        facets: { bulk: bulkLines.sort(), retail: retailLines.sort(), orderKeptPerSkuAndInputPartition: [], eventTimes: stamps.sort() },
        counts: { [bulk]: bulkLines.length, [retail]: retailLines.length },
        metrics: {},
      };
    },
    observe(outputs) {
      const b = recordsOf(outputs, bulk);
      const t = recordsOf(outputs, retail);
      const orderOf = (rec: OutputRecord): string => (rec.topic === bulk ? (rec.value ?? '').split(':')[0]! : (parse(rec.value) as { order: string }).order);
      // Records of one input partition are processed in order: for each sku, order numbers from
      // one input partition never go backwards in an output topic (all of a sku is on one partition).
      const disorder: string[] = [];
      for (const recs of [b, t]) {
        const last = new Map<string, string>();
        for (const rec of recs) {
          const [p, n] = orderOf(rec).slice(1).split('.');
          const id = `${rec.topic}|${rec.key}|${p}`;
          const before = last.get(id);
          if (before !== undefined && before > n!) disorder.push(`${id}: ${n} after ${before}`);
          last.set(id, n!);
        }
      }
      const valueText = (rec: OutputRecord) => (rec.topic === bulk ? (rec.value ?? '') : canonical(parse(rec.value)));
      return {
        bulk: sortedStrings(b.map((rec) => `${rec.key}|${valueText(rec)}`)),
        retail: sortedStrings(t.map((rec) => `${rec.key}|${valueText(rec)}`)),
        orderKeptPerSkuAndInputPartition: disorder.slice(0, 20),
        eventTimes: sortedStrings([...b, ...t].map((rec) => `${rec.topic}|${rec.key}|${valueText(rec)}|${rec.timestamp}`)),
      };
    },
  };
}

// ---------------------------------------------------------------- 5. Processor API: sessions with two punctuators and stores

const SESSION_GAP = 5 * 60_000;
const SWEEP_EVERY = 60_000;
const OUTBOX_EVERY_MS = 1_000;

interface Session {
  readonly start: number;
  readonly last: number;
  readonly events: number;
}
interface SessionEvent {
  readonly type: 'opened' | 'closed';
  readonly user: string;
  readonly start: number;
  readonly last?: number;
  readonly events?: number;
}

/**
 * Sessions per user in a key-value store. A stream-time punctuator closes sessions idle for more
 * than the gap (a session ends when event time says so, not the wall clock); "opened" notices go
 * through a second store, an outbox that a wall-clock punctuator empties every second (both
 * stores are logged, so neither is lost in a crash).
 */
const sessionizer = (sessionsStore: string, outboxStore: string) => (): Processor<string, { page: string }, string, SessionEvent> => {
  let context: ProcessorContext<string, SessionEvent>;
  let sessions: KeyValueStore<string, Session>;
  let outbox: KeyValueStore<string, SessionEvent>;
  const close = (user: string, s: Session) => {
    sessions.delete(user);
    context.forward({ key: user, value: { type: 'closed', user, start: s.start, last: s.last, events: s.events }, timestamp: s.last });
  };
  const open = (user: string, at: number) => {
    sessions.put(user, { start: at, last: at, events: 1 });
    outbox.put(`${user}@${at}`, { type: 'opened', user, start: at });
  };
  return {
    init(c) {
      context = c;
      sessions = c.getStateStore<KeyValueStore<string, Session>>(sessionsStore);
      outbox = c.getStateStore<KeyValueStore<string, SessionEvent>>(outboxStore);
      c.schedule(SWEEP_EVERY, 'stream-time', (now) => {
        for (const [user, s] of [...sessions.all()]) if (s.last < now - SESSION_GAP) close(user, s);
      });
      c.schedule(OUTBOX_EVERY_MS, 'wall-clock', () => {
        for (const [id, e] of [...outbox.all()]) {
          outbox.delete(id);
          context.forward({ key: e.user, value: e, timestamp: e.start });
        }
      });
    },
    process(rec) {
      const s = sessions.get(rec.key);
      if (s === undefined) open(rec.key, rec.timestamp);
      else if (rec.timestamp - s.last > SESSION_GAP) {
        close(rec.key, s);
        open(rec.key, rec.timestamp);
      } else sessions.put(rec.key, { start: s.start, last: Math.max(s.last, rec.timestamp), events: s.events + 1 });
    },
  };
};

function sessions(prefix: string): ConformanceCase {
  const clicks = `${prefix}-clicks`;
  const out = `${prefix}-sessions`;
  const r = rng(505);
  const perPartition: InputRecord[][] = [[], [], [], []];
  const end = T2021 + 70 * 60_000;
  for (let u = 0; u < 16; u++) {
    const user = `user-${u}`;
    const p = u % 4;
    let t = T2021 + between(r, 0, 10 * 60_000);
    while (t < end) {
      // A session: events less than the gap apart; then away for clearly more than the gap.
      const n = between(r, 1, 8);
      for (let i = 0; i < n && t < end; i++) {
        perPartition[p]!.push({ topic: clicks, partition: p, key: user, value: JSON.stringify({ page: `/p${between(r, 0, 9)}` }), timestamp: t });
        t += between(r, 5_000, 240_000);
      }
      t += between(r, 420_000, 900_000);
    }
  }
  // In event-time order per partition (stable: by user then, for equal times).
  for (const list of perPartition) list.sort((a, b) => a.timestamp - b.timestamp);
  // Interleave partitions by event time, then one record per partition an hour ahead: its stream
  // time closes every session above (and opens one per partition, never closed).
  const input: InputRecord[] = perPartition.flat().sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition);
  const flushAt = end + 60 * 60_000;
  for (let p = 0; p < 4; p++) input.push({ topic: clicks, partition: p, key: `flush-${p}`, value: JSON.stringify({ page: '/flush' }), timestamp: flushAt });
  const sessionsStore = 'sessions-store';
  const outboxStore = 'session-outbox';

  return {
    name: 'sessions',
    inputTopics: [{ name: clicks, partitions: 4 }],
    outputTopics: [{ name: out, partitions: 2 }],
    build() {
      const b = new StreamsBuilder();
      b.addStateStore(Stores.keyValueStore<string, Session>(sessionsStore));
      b.addStateStore(Stores.keyValueStore<string, SessionEvent>(outboxStore));
      b.stream<string, { page: string }>(clicks, { keySerde: str, valueSerde: json<{ page: string }>() })
        .process(sessionizer(sessionsStore, outboxStore), { name: 'sessionizer', stores: [sessionsStore, outboxStore], keyChanged: false })
        .to(out, { keySerde: str, valueSerde: json<SessionEvent>() });
      return b.build();
    },
    input,
    reference(_now, records = input) {
      if (records.length !== input.length) throw new Error('sessions: a reference for the whole input only (sessions close on the last records)');
      const byUser = new Map<string, number[]>();
      for (const rec of records) {
        let list = byUser.get(rec.key!);
        if (list === undefined) byUser.set(rec.key!, (list = []));
        list.push(rec.timestamp);
      }
      const events: string[] = [];
      const stamps: string[] = [];
      for (const [user, times] of byUser) {
        let start = times[0]!;
        let last = start;
        let n = 1;
        const emit = (closed: boolean) => {
          events.push(`${user}|${canonical({ type: 'opened', user, start })}`);
          stamps.push(`${user}|opened|${start}`);
          if (!closed) return;
          events.push(`${user}|${canonical({ type: 'closed', user, start, last, events: n })}`);
          stamps.push(`${user}|closed|${last}`);
        };
        for (const t of times.slice(1)) {
          if (t - last > SESSION_GAP) {
            emit(true);
            start = last = t;
            n = 1;
          } else {
            last = t;
            n++;
          }
        }
        // The last session of a user closes on the flush record; the flush user's stays open.
        emit(!user.startsWith('flush-'));
      }
      return { facets: { events: events.sort(), eventTimes: stamps.sort() }, counts: { [out]: events.length }, metrics: {} };
    },
    observe(outputs) {
      const recs = recordsOf(outputs, out);
      return {
        events: sortedStrings(recs.map((rec) => `${rec.key}|${canonical(parse(rec.value))}`)),
        eventTimes: sortedStrings(recs.map((rec) => `${rec.key}|${(parse(rec.value) as SessionEvent).type}|${rec.timestamp}`)),
      };
    },
  };
}

// ---------------------------------------------------------------- 6. the future-timestamp guard

const FG_SIZE = 60_000;
const FG_GRACE = 5_000;
/** 9999-12-31T23:59:59Z */
export const YEAR_9999 = Date.UTC(9999, 11, 31, 23, 59, 59);
const MAX_FUTURE_MS = 60 * 60_000;

interface Meter {
  readonly meter: string;
  readonly n: number;
  /** Event time from the payload when present; else the record's timestamp is the event time. */
  readonly at?: number;
}

function futureGuard(prefix: string): ConformanceCase {
  const meters = `${prefix}-meters`;
  const counts = `${prefix}-meter-counts`;
  const dlq = `${prefix}-dead-letters`;
  const input: InputRecord[] = [];
  const r = rng(606);
  for (let p = 0; p < 4; p++) {
    for (let i = 0; i < 40; i++) {
      const meter = `m${p}-${i % 3}`;
      // In order, 7 s apart: with a 5 s grace, any jump of stream time to year 9999 would make
      // every later record of the partition late.
      const t = T2021 + i * 7_000 + p * 100;
      if (p === 0 && i === 10) {
        // The Kafka record timestamp itself is in year 9999.
        input.push({ topic: meters, partition: p, key: meter, value: JSON.stringify({ meter, n: i } satisfies Meter), timestamp: YEAR_9999 });
        continue;
      }
      if (p === 1 && i === 15) {
        // The event time in the payload (read by the timestamp extractor) is in year 9999.
        input.push({ topic: meters, partition: p, key: meter, value: JSON.stringify({ meter, n: i, at: YEAR_9999 } satisfies Meter), timestamp: t });
        continue;
      }
      const withPayloadTime = r() < 0.5;
      const value: Meter = withPayloadTime ? { meter, n: i, at: t } : { meter, n: i };
      input.push({ topic: meters, partition: p, key: meter, value: JSON.stringify(value), timestamp: withPayloadTime ? t - between(r, 0, 3_000) : t });
    }
  }
  const windowKey = (meter: string, start: number) => `${meter}@${iso(start)}`;

  return {
    name: 'future-guard',
    inputTopics: [{ name: meters, partitions: 4, configs: { 'message.timestamp.after.max.ms': '9223372036854775807', 'message.timestamp.type': 'CreateTime' } }],
    outputTopics: [{ name: counts, partitions: 1, compacted: true }],
    deadLetterQueueTopic: dlq,
    build() {
      const b = new StreamsBuilder();
      b.stream<string, Meter>(meters, { keySerde: str, valueSerde: json<Meter>(), timestampExtractor: (_k, v, recordTime) => v.at ?? recordTime })
        .groupByKey()
        .windowedBy(TimeWindows.tumbling(FG_SIZE, FG_GRACE))
        // Caching off: the case checks one update per counted record, stamped with its event time.
        .count({ storeName: 'meter-count-store', caching: false })
        .toStream()
        .map((w, n): [string, number] => [windowKey(w.key, w.start), n])
        .to(counts, { keySerde: str, valueSerde: json<number>() });
      return b.build();
    },
    input,
    reference(now, records = input) {
      const n = new Map<string, number>();
      const dead: string[] = [];
      const offsets = new Map<number, number>();
      const streamTime = new Map<number, number>();
      let late = 0;
      for (const rec of records) {
        const offset = offsets.get(rec.partition) ?? 0;
        offsets.set(rec.partition, offset + 1);
        const v = JSON.parse(rec.value) as Meter;
        const eventTime = v.at ?? rec.timestamp;
        if (eventTime > now + MAX_FUTURE_MS) {
          dead.push(canonical({ reason: 'future-timestamp', sourceTopic: meters, sourcePartition: String(rec.partition), sourceOffset: String(offset), key: rec.key, value: rec.value }));
          continue;
        }
        const st = Math.max(streamTime.get(rec.partition) ?? -Infinity, eventTime);
        streamTime.set(rec.partition, st);
        const start = eventTime - (eventTime % FG_SIZE);
        if (st >= start + FG_SIZE + FG_GRACE) {
          late++;
          continue;
        }
        const k = windowKey(v.meter, start);
        n.set(k, (n.get(k) ?? 0) + 1);
      }
      const keys = [...n.keys()].sort();
      const valid = [...n.values()].reduce((a, b) => a + b, 0);
      return {
        facets: { latestCounts: Object.fromEntries(keys.map((k) => [k, n.get(k)!])), deadLetters: dead.sort() },
        counts: { [counts]: valid, [dlq]: dead.length },
        metrics: { 'late-records': late, 'dead-letter-records': dead.length },
      };
    },
    observe(outputs) {
      const dead = recordsOf(outputs, dlq).map((rec) =>
        canonical({
          reason: rec.headers?.['rs-reason'] ?? '<no rs-reason header>',
          sourceTopic: rec.headers?.['rs-source-topic'] ?? '<none>',
          sourcePartition: rec.headers?.['rs-source-partition'] ?? '<none>',
          sourceOffset: rec.headers?.['rs-source-offset'] ?? '<none>',
          key: rec.key,
          value: rec.value,
        }),
      );
      return { latestCounts: latestByKey(recordsOf(outputs, counts)), deadLetters: sortedStrings(dead) };
    },
  };
}

// ---------------------------------------------------------------- registry

export const CASES = {
  'word-count': wordCount,
  'page-views': pageViews,
  'late-sums': lateSums,
  stateless,
  sessions,
  'future-guard': futureGuard,
} as const;

export type CaseName = keyof typeof CASES;

export const caseNames = Object.keys(CASES) as CaseName[];

/** A case with its topics named `<prefix>-...`, so runs on one broker never share a topic. */
export const makeCase = (name: CaseName, prefix: string): ConformanceCase => CASES[name](prefix);

/** Output topics to read back: the case's own and its dead-letter topic. */
export const topicsToRead = (c: ConformanceCase): string[] => [...c.outputTopics.map((t) => t.name), ...(c.deadLetterQueueTopic === undefined ? [] : [c.deadLetterQueueTopic])];
