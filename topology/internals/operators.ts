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
 * Windowed aggregation with Kafka Streams' rule: a record whose window has reached end + grace
 * of the task's stream time is late (counted, not aggregated). Every change is forwarded.
 * Windows expire from the store once closed, so memory is bounded by open windows.
 */
export const windowAggregateProcessor = <K, V, A>(
  storeName: string,
  windows: TimeWindows,
  initializer: () => A,
  aggregator: (key: K, value: V, aggregate: A) => A,
) => (): Processor<K, V, Windowed<K>, A> => {
  let ctx: ProcessorContext<Windowed<K>, A>;
  let store: WindowStore<K, A>;
  return {
    init: (c) => {
      ctx = c;
      store = c.getStateStore<WindowStore<K, A>>(storeName);
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
        ctx.forward({ key: { key: r.key, start, end }, value: next, timestamp: r.timestamp });
      }
    },
  };
};

/** Non-windowed aggregation into a key-value store; forwards every change. */
export const aggregateProcessor = <K, V, A>(storeName: string, initializer: () => A, aggregator: (key: K, value: V, aggregate: A) => A) => (): Processor<K, V, K, A> => {
  let ctx: ProcessorContext<K, A>;
  let store: KeyValueStore<K, A>;
  return {
    init: (c) => {
      ctx = c;
      store = c.getStateStore<KeyValueStore<K, A>>(storeName);
    },
    process: (r) => {
      const next = aggregator(r.key, r.value, store.get(r.key) ?? initializer());
      store.put(r.key, next);
      ctx.forward({ key: r.key, value: next, timestamp: r.timestamp });
    },
  };
};

/**
 * suppress(untilWindowCloses): holds the latest value per window and key and forwards it once,
 * when stream time reaches end + grace (Spark's append mode). Closed windows leave in window order.
 */
export const suppressProcessor = <K, V>(graceMs: number, keyOf: (k: K) => string) => (): Processor<Windowed<K>, V, Windowed<K>, V> => {
  let ctx: ProcessorContext<Windowed<K>, V>;
  const buffer = new Map<string, StreamRecord<Windowed<K>, V>>();
  const emitClosed = (now: number) => {
    if (buffer.size === 0) return;
    const closed = [...buffer.entries()].filter(([, r]) => isWindowClosed(r.key.end, graceMs, now));
    closed.sort(([a, ra], [b, rb]) => ra.key.start - rb.key.start || (a < b ? -1 : a > b ? 1 : 0));
    for (const [id, r] of closed) {
      buffer.delete(id);
      ctx.forward(r);
    }
  };
  return {
    init: (c) => {
      ctx = c;
      c.schedule(1, 'stream-time', emitClosed);
    },
    process: (r) => {
      if (isWindowClosed(r.key.end, graceMs, ctx.streamTime())) return;
      buffer.set(`${r.key.start}|${keyOf(r.key.key)}`, r);
    },
  };
};
