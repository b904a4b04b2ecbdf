import type { Processor, ProcessorContext } from '../api/processor.ts';
import type { StreamRecord } from '../api/record.ts';
import { isWindowClosed, windowStartsFor, type TimeWindows } from '../api/windows.ts';
import type { KeyValueStore, WindowStore, Windowed } from '../../state-stores/api.ts';

/** Stateless operators: one small processor each, forwarding to all children. */
export const statelessProcessor = <KIn, VIn, KOut, VOut>(
  apply: (record: StreamRecord<KIn, VIn>, forward: (r: StreamRecord<KOut, VOut>) => void) => void,
): (() => Processor<KIn, VIn, KOut, VOut>) => () => {
  let ctx: ProcessorContext<KOut, VOut>;
  const forward = (r: StreamRecord<KOut, VOut>) => ctx.forward(r);
  return {
    init: (c) => {
      ctx = c;
    },
    process: (r) => apply(r, forward),
  };
};

/** Routes each record to the first branch whose predicate holds (children named in order). */
export const branchProcessor = <K, V>(predicates: readonly ((key: K, value: V) => boolean)[], childNames: readonly string[]) => (): Processor<K, V, K, V> => {
  let ctx: ProcessorContext<K, V>;
  return {
    init: (c) => {
      ctx = c;
    },
    process: (r) => {
      for (let i = 0; i < predicates.length; i++) {
        if (predicates[i]!(r.key, r.value)) {
          ctx.forward(r, childNames[i]);
          return;
        }
      }
    },
  };
};

export const LATE_RECORDS = 'late-records';

/**
 * Updates an aggregate holds back before forwarding them, as Kafka Streams' record cache in front
 * of a DSL store: the latest update of each key (and window) since the last flush, in the order
 * keys were first changed. A full buffer forwards everything it holds at once.
 */
export const CACHE_MAX_ENTRIES = 10_000;

class ForwardCache<K, A> {
  private readonly pending = new Map<string, StreamRecord<K, A>>();
  private readonly forward: (r: StreamRecord<K, A>) => void;
  constructor(forward: (r: StreamRecord<K, A>) => void) {
    this.forward = forward;
  }
  get size(): number {
    return this.pending.size;
  }
  /** Replaces the key's pending update; a key keeps its place from its first change. */
  put(id: string, record: StreamRecord<K, A>): void {
    this.pending.set(id, record);
    if (this.pending.size >= CACHE_MAX_ENTRIES) this.flush();
  }
  flush(): void {
    if (this.pending.size === 0) return;
    // Forwarding may reach a processor that changes this one again (a cycle is not possible in a
    // topology, but a re-entrant flush would be): take the entries first.
    const out = [...this.pending.values()];
    this.pending.clear();
    for (let i = 0; i < out.length; i++) this.forward(out[i]!);
  }
}

/**
 * Windowed aggregation with Kafka Streams' rule: a record whose window has reached end + grace
 * of the task's stream time is late (counted, not aggregated). Windows expire from the store once
 * closed, so memory is bounded by open windows.
 *
 * With `keyOf` (caching on, the DSL's default), updates collapse per key and window until the task
 * flushes (end of each batch, before each commit), and a window's update is forwarded before
 * stream time closes it, so `suppress` and any reader of the closed window see its final value.
 * The store itself is written at once: interactive queries and the changelog see every change.
 * Without `keyOf`, every change is forwarded.
 */
export const windowAggregateProcessor = <K, V, A>(
  storeName: string,
  windows: TimeWindows,
  initializer: () => A,
  aggregator: (key: K, value: V, aggregate: A) => A,
  keyOf?: (key: K) => string,
) => (): Processor<K, V, Windowed<K>, A> => {
  let ctx: ProcessorContext<Windowed<K>, A>;
  let store: WindowStore<K, A>;
  let cache: ForwardCache<Windowed<K>, A> | undefined;
  /** Earliest end + grace among the windows with pending updates. */
  let firstClose = Number.POSITIVE_INFINITY;
  return {
    init: (c) => {
      ctx = c;
      store = c.getStateStore<WindowStore<K, A>>(storeName);
      if (keyOf !== undefined) {
        cache = new ForwardCache((r) => ctx.forward(r));
        // Registered before the expiry below and before any downstream processor's punctuator
        // (processors start parents first), so a closing window's update goes out first.
        c.schedule(1, 'stream-time', (t) => {
          if (t >= firstClose) flushCache();
        });
      }
      // Windows that can no longer change are dropped when stream time moves on.
      c.schedule(windows.advanceMs, 'stream-time', (t) => store.expireBefore(t - windows.graceMs - windows.sizeMs + 1));
    },
    process: (r) => {
      const now = ctx.streamTime();
      for (const start of windowStartsFor(windows, r.timestamp)) {
        const end = start + windows.sizeMs;
        if (isWindowClosed(end, windows.graceMs, now)) {
          ctx.count(LATE_RECORDS);
          continue;
        }
        const next = aggregator(r.key, r.value, store.get(r.key, start) ?? initializer());
        store.put(r.key, start, next);
        const update = { key: { key: r.key, start, end }, value: next, timestamp: r.timestamp };
        if (cache === undefined) ctx.forward(update);
        else {
          if (end + windows.graceMs < firstClose) firstClose = end + windows.graceMs;
          cache.put(`${start}|${keyOf!(r.key)}`, update);
          if (cache.size === 0) firstClose = Number.POSITIVE_INFINITY;
        }
      }
    },
    flush: () => flushCache(),
  };

  function flushCache(): void {
    firstClose = Number.POSITIVE_INFINITY;
    cache?.flush();
  }
};

/**
 * Non-windowed aggregation into a key-value store. With `keyOf` (caching on), updates collapse per
 * key until the task flushes; without it every change is forwarded.
 */
export const aggregateProcessor = <K, V, A>(storeName: string, initializer: () => A, aggregator: (key: K, value: V, aggregate: A) => A, keyOf?: (key: K) => string) => (): Processor<K, V, K, A> => {
  let ctx: ProcessorContext<K, A>;
  let store: KeyValueStore<K, A>;
  let cache: ForwardCache<K, A> | undefined;
  return {
    init: (c) => {
      ctx = c;
      store = c.getStateStore<KeyValueStore<K, A>>(storeName);
      if (keyOf !== undefined) cache = new ForwardCache((r) => ctx.forward(r));
    },
    process: (r) => {
      const next = aggregator(r.key, r.value, store.get(r.key) ?? initializer());
      store.put(r.key, next);
      const update = { key: r.key, value: next, timestamp: r.timestamp };
      if (cache === undefined) ctx.forward(update);
      else cache.put(keyOf!(r.key), update);
    },
    flush: () => cache?.flush(),
  };
};

/** What the suppress buffer keeps per window and key: the latest record, as it will be forwarded. */
export interface SuppressedRecord<K, V> {
  readonly key: Windowed<K>;
  readonly value: V;
  readonly timestamp: number;
}

/** Buffer key of a window and key: the window start first, so one window's keys share a prefix. */
const suppressKey = (start: number, encodedKey: string): string => `${start}|${encodedKey}`;

/**
 * suppress(untilWindowCloses): holds the latest value per window and key and forwards it once,
 * when stream time reaches end + grace (Spark's append mode). Closed windows leave in window
 * order, then key order.
 *
 * The buffer lives in a logged store, so a crash or a rebalance loses no pending final: the
 * task restores it from the changelog. Beside it an in-memory index orders the pending entries
 * by window end, so a stream-time advance touches only the windows that close.
 */
export const suppressProcessor = <K, V>(storeName: string, graceMs: number, keyOf: (k: K) => string) => (): Processor<Windowed<K>, V, Windowed<K>, V> => {
  let ctx: ProcessorContext<Windowed<K>, V>;
  let store: KeyValueStore<string, SuppressedRecord<K, V>>;
  /** Distinct window ends with pending entries, ascending. */
  const ends: number[] = [];
  const keysByEnd = new Map<number, Set<string>>();

  const track = (end: number, id: string) => {
    let keys = keysByEnd.get(end);
    if (keys === undefined) {
      keys = new Set();
      keysByEnd.set(end, keys);
      ends.splice(insertionPoint(ends, end), 0, end);
    }
    keys.add(id);
  };

  /**
   * Stream time of the last emission: a window closed by then has gone out, and an update for it
   * would be a second final. An update for a window that closes at a time not yet emitted is
   * still taken: an upstream record cache forwards its pending updates from its own stream-time
   * punctuator, just before this one emits (as Kafka Streams' suppress judges by the stream time
   * it has observed, not the task's).
   */
  let emittedAt = Number.NEGATIVE_INFINITY;
  const emitClosed = (now: number) => {
    emittedAt = now;
    let closedEnds = 0;
    while (closedEnds < ends.length && isWindowClosed(ends[closedEnds]!, graceMs, now)) closedEnds++;
    if (closedEnds === 0) return;
    const closed: [string, SuppressedRecord<K, V>][] = [];
    for (const end of ends.splice(0, closedEnds)) {
      for (const id of keysByEnd.get(end)!) closed.push([id, store.get(id)!]);
      keysByEnd.delete(end);
    }
    // Ids of one window start differ only after the shared start prefix, so they compare as keys do.
    closed.sort(([a, ra], [b, rb]) => ra.key.start - rb.key.start || (a < b ? -1 : a > b ? 1 : 0));
    for (const [id, r] of closed) {
      store.delete(id);
      ctx.forward(r);
    }
  };

  return {
    init: (c) => {
      ctx = c;
      store = c.getStateStore<KeyValueStore<string, SuppressedRecord<K, V>>>(storeName);
      for (const [id, r] of store.all()) track(r.key.end, id);
      c.schedule(1, 'stream-time', emitClosed);
    },
    process: (r) => {
      if (isWindowClosed(r.key.end, graceMs, emittedAt)) return;
      const id = suppressKey(r.key.start, keyOf(r.key.key));
      store.put(id, { key: r.key, value: r.value, timestamp: r.timestamp });
      track(r.key.end, id);
    },
  };
};

/** Index at which `value` keeps `sorted` ascending; a binary search, as late records open windows out of order. */
const insertionPoint = (sorted: readonly number[], value: number): number => {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};
