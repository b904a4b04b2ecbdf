import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InMemoryKeyValueStore, InMemoryWindowStore } from '../../state-stores/memory.ts';
import { Stores } from '../../state-stores/stores.ts';
import { jsonCodec, stringCodec, type ChangelogEntry, type StoreContext, type Windowed } from '../../state-stores/api.ts';

const kv = <V>(logged = true) => new InMemoryKeyValueStore<string, V>('kv', jsonCodec<string>(), jsonCodec<V>(), logged);
const ws = <V>(logged = true, size = 10) => new InMemoryWindowStore<string, V>('ws', size, jsonCodec<string>(), jsonCodec<V>(), logged);

describe('InMemoryKeyValueStore', () => {
  it('gets what was put, overwrites, deletes, and counts', () => {
    const s = kv<number>();
    expect(s.get('a')).toBeUndefined();
    s.put('a', 1);
    s.put('b', 2);
    s.put('a', 3);
    expect(s.get('a')).toBe(3);
    expect(s.size()).toBe(2);
    s.delete('b');
    s.delete('never-there');
    expect(s.get('b')).toBeUndefined();
    expect(s.size()).toBe(1);
    expect([...s.all()]).toEqual([['a', 3]]);
  });

  it('encodes a value for the changelog once per drain however often its key was written, and logs a null value as a value, not a delete', () => {
    let encoded = 0;
    const counting = { encode: (v: number | null) => (encoded++, JSON.stringify(v)), decode: (t: string) => JSON.parse(t) as number | null };
    for (const s of [new InMemoryKeyValueStore<string, number | null>('kv', stringCodec, counting, true), new InMemoryWindowStore<string, number | null>('ws', 10, stringCodec, counting, true)]) {
      encoded = 0;
      const put = (k: string, v: number | null) => (s instanceof InMemoryKeyValueStore ? s.put(k, v) : s.put(k, 0, v));
      for (let i = 1; i <= 100; i++) put('hot', i);
      put('nothing', null);
      expect(encoded).toBe(0);
      expect(s.drainChanges().map((e) => [e.key.replace(/^\d+@/, ''), e.value])).toEqual([['hot', '100'], ['nothing', 'null']]);
      expect(encoded).toBe(2);
    }
  });

  it('iterates every entry in key order', () => {
    const s = kv<string>();
    for (const k of ['pear', 'apple', 'fig', 'banana']) s.put(k, k.toUpperCase());
    expect([...s.all()]).toEqual([
      ['apple', 'APPLE'],
      ['banana', 'BANANA'],
      ['fig', 'FIG'],
      ['pear', 'PEAR'],
    ]);
  });

  it('keys by value, not identity, for structured keys', () => {
    const s = new InMemoryKeyValueStore<{ w: number; c: string }, number>('kv', jsonCodec(), jsonCodec(), true);
    s.put({ w: 1, c: 'DE' }, 5);
    expect(s.get({ w: 1, c: 'DE' })).toBe(5);
    expect(s.get({ w: 1, c: 'FR' })).toBeUndefined();
  });

  it('drains the latest change per key once, and deletes as null', () => {
    const s = kv<number>();
    expect(s.drainChanges()).toEqual([]);
    s.put('a', 1);
    s.put('a', 2);
    s.put('b', 3);
    s.delete('b');
    const drained = s.drainChanges();
    expect([...drained].sort((x, y) => (x.key < y.key ? -1 : 1))).toEqual([
      { key: '"a"', value: '2' },
      { key: '"b"', value: null },
    ]);
    expect(s.drainChanges()).toEqual([]);
    s.delete('missing');
    expect(s.drainChanges()).toEqual([]);
  });

  it('records no changes when not logged', () => {
    const s = kv<number>(false);
    s.put('a', 1);
    s.delete('a');
    expect(s.logged).toBe(false);
    expect(s.drainChanges()).toEqual([]);
  });

  type KvOp = { op: 'put'; key: string; value: number } | { op: 'delete'; key: string } | { op: 'drain' };
  const kvOp: fc.Arbitrary<KvOp> = fc.oneof(
    fc.record({ op: fc.constant('put' as const), key: fc.string({ maxLength: 4 }), value: fc.integer() }),
    fc.record({ op: fc.constant('delete' as const), key: fc.string({ maxLength: 4 }) }),
    fc.record({ op: fc.constant('drain' as const) }),
  );

  it('restoring every drained changelog into a fresh store reproduces the contents (property)', () => {
    fc.assert(
      fc.property(fc.array(kvOp, { maxLength: 80 }), (ops) => {
        const s = kv<number>();
        const model = new Map<string, number>();
        const log: ChangelogEntry[] = [];
        for (const o of ops) {
          if (o.op === 'put') {
            s.put(o.key, o.value);
            model.set(o.key, o.value);
          } else if (o.op === 'delete') {
            s.delete(o.key);
            model.delete(o.key);
          } else log.push(...s.drainChanges());
        }
        log.push(...s.drainChanges());
        const fresh = kv<number>();
        for (const e of log) fresh.restore(e);
        const sorted = (entries: Iterable<[string, number]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        expect(sorted(s.all())).toEqual(sorted(model));
        expect(sorted(fresh.all())).toEqual(sorted(model));
        expect(fresh.size()).toBe(model.size);
        for (const [k, v] of model) expect(fresh.get(k)).toBe(v);
        // A restore writes nothing back to the changelog.
        expect(fresh.drainChanges()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('is built by Stores.keyValueStore with its codecs and logging flag', () => {
    const logged = Stores.keyValueStore<string, string>('names', { keyCodec: stringCodec, valueCodec: stringCodec }).build();
    logged.put('k', 'v');
    expect(logged.name).toBe('names');
    expect(logged.drainChanges()).toEqual([{ key: 'k', value: 'v' }]);
    const quiet = Stores.keyValueStore<string, number>('quiet', { logged: false }).build();
    quiet.put('k', 1);
    expect(quiet.logged).toBe(false);
    expect(quiet.drainChanges()).toEqual([]);
  });
});

describe('InMemoryWindowStore', () => {
  it('keeps one value per key and window start, and fetches a range by start then key', () => {
    const s = ws<number>();
    s.put('b', 10, 1);
    s.put('a', 10, 2);
    s.put('a', 0, 3);
    s.put('c', 20, 4);
    s.put('a', 10, 5);
    expect(s.get('a', 10)).toBe(5);
    expect(s.get('a', 20)).toBeUndefined();
    expect(s.windowCount()).toBe(3);
    expect([...s.fetchRange(0, 10)]).toEqual([
      [{ key: 'a', start: 0, end: 10 }, 3],
      [{ key: 'a', start: 10, end: 20 }, 5],
      [{ key: 'b', start: 10, end: 20 }, 1],
    ]);
    expect([...s.fetchRange(11, 19)]).toEqual([]);
    expect([...s.fetchRange(20, 20)]).toEqual([[{ key: 'c', start: 20, end: 30 }, 4]]);
    expect([...s.fetchRange(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)]).toHaveLength(4);
  });

  it('handles negative window starts', () => {
    const s = ws<number>();
    s.put('a', -20, 1);
    s.put('a', -10, 2);
    expect([...s.fetchRange(-20, -11)]).toEqual([[{ key: 'a', start: -20, end: -10 }, 1]]);
    s.expireBefore(-10);
    expect(s.get('a', -20)).toBeUndefined();
    expect(s.get('a', -10)).toBe(2);
  });

  it('delete removes one entry and an emptied window', () => {
    const s = ws<number>();
    s.put('a', 0, 1);
    s.put('b', 0, 2);
    s.delete('a', 0);
    expect(s.get('a', 0)).toBeUndefined();
    expect(s.windowCount()).toBe(1);
    s.delete('b', 0);
    expect(s.windowCount()).toBe(0);
  });

  it('expireBefore drops exactly the windows that started before the bound', () => {
    const s = ws<number>();
    for (const start of [0, 10, 20, 30]) s.put('k', start, start);
    s.expireBefore(20);
    expect([...s.fetchRange(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)].map(([w]) => w.start)).toEqual([20, 30]);
    expect(s.windowCount()).toBe(2);
    s.expireBefore(21);
    expect(s.get('k', 20)).toBeUndefined();
    expect(s.get('k', 30)).toBe(30);
  });

  it('logs expiry as deletes, so a restore never resurrects an expired window', () => {
    const s = ws<number>();
    s.put('a', 0, 1);
    s.put('b', 0, 2);
    s.put('a', 10, 3);
    const first = s.drainChanges();
    s.expireBefore(10);
    const second = s.drainChanges();
    expect(second.map((e) => e.value)).toEqual([null, null]);
    const fresh = ws<number>();
    for (const e of [...first, ...second]) fresh.restore(e);
    expect([...fresh.fetchRange(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)]).toEqual([[{ key: 'a', start: 10, end: 20 }, 3]]);
    expect(fresh.windowCount()).toBe(1);
  });

  type WsOp =
    | { op: 'put'; key: string; start: number; value: number }
    | { op: 'delete'; key: string; start: number }
    | { op: 'expire'; before: number }
    | { op: 'drain' };
  const start = fc.integer({ min: -5, max: 5 }).map((i) => i * 10);
  const wsOp: fc.Arbitrary<WsOp> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.string({ maxLength: 4 }), start, value: fc.integer() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.string({ maxLength: 4 }), start }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), before: fc.integer({ min: -60, max: 60 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('drain' as const) }) },
  );

  it('restoring every drained changelog into a fresh store reproduces the contents (property)', () => {
    fc.assert(
      fc.property(fc.array(wsOp, { maxLength: 80 }), (ops) => {
        const s = ws<number>();
        const model = new Map<string, [Windowed<string>, number]>();
        const id = (key: string, st: number) => `${st}|${JSON.stringify(key)}`;
        const log: ChangelogEntry[] = [];
        // Windows that started before the largest expiry bound take no more writes.
        let expiredBefore = Number.NEGATIVE_INFINITY;
        for (const o of ops) {
          if (o.op === 'put') {
            s.put(o.key, o.start, o.value);
            if (o.start >= expiredBefore) model.set(id(o.key, o.start), [{ key: o.key, start: o.start, end: o.start + 10 }, o.value]);
          } else if (o.op === 'delete') {
            s.delete(o.key, o.start);
            model.delete(id(o.key, o.start));
          } else if (o.op === 'expire') {
            s.expireBefore(o.before);
            expiredBefore = Math.max(expiredBefore, o.before);
            for (const [k, [w]] of model) if (w.start < o.before) model.delete(k);
          } else log.push(...s.drainChanges());
        }
        log.push(...s.drainChanges());
        const fresh = ws<number>();
        for (const e of log) fresh.restore(e);
        const expected = [...model.values()].sort(([a], [b]) => a.start - b.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        const contents = (store: InMemoryWindowStore<string, number>) =>
          [...store.fetchRange(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)].sort(([a], [b]) => a.start - b.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        expect(contents(s)).toEqual(expected);
        expect(contents(fresh)).toEqual(expected);
        const starts = new Set(expected.map(([w]) => w.start));
        expect(s.windowCount()).toBe(starts.size);
        expect(fresh.windowCount()).toBe(starts.size);
        for (const [w, v] of expected) expect(fresh.get(w.key, w.start)).toBe(v);
      }),
      { numRuns: 300 },
    );
  });

  it('restores keys that contain the changelog separator', () => {
    const s = ws<string>();
    s.put('user@example.com', -30, 'x');
    s.put('@', 40, 'y');
    const fresh = ws<string>();
    for (const e of s.drainChanges()) fresh.restore(e);
    expect(fresh.get('user@example.com', -30)).toBe('x');
    expect(fresh.get('@', 40)).toBe('y');
  });

  it('records no changes when not logged, and is built by Stores.windowStore', () => {
    const quiet = ws<number>(false);
    quiet.put('a', 0, 1);
    quiet.expireBefore(100);
    expect(quiet.drainChanges()).toEqual([]);
    const built = Stores.windowStore<string, number>('w', 60_000, 660_000).build();
    built.put('a', 60_000, 1);
    expect([...built.fetchRange(0, 60_000)]).toEqual([[{ key: 'a', start: 60_000, end: 120_000 }, 1]]);
    expect(built.drainChanges()).toHaveLength(1);
  });
});

describe('changelog event time', () => {
  /** A context whose record time the test moves, as a task does between records. */
  const clock = (start: number) => {
    const c = { now: start, recordTimestamp: () => c.now };
    return c satisfies StoreContext;
  };
  const byKey = (entries: ChangelogEntry[]) => [...entries].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));

  it('stamps each key-value change with the time of the record that made it, the latest per key', () => {
    const s = kv<number>();
    const c = clock(100);
    s.init(c);
    s.put('a', 1);
    c.now = 105;
    s.put('b', 2);
    c.now = 110;
    s.put('a', 3);
    c.now = 120;
    s.delete('b');
    expect(byKey(s.drainChanges())).toEqual([
      { key: '"a"', value: '3', timestamp: 110 },
      { key: '"b"', value: null, timestamp: 120 },
    ]);
    // Times leave with their changes: a key changed again carries only its new time.
    c.now = 130;
    s.put('b', 4);
    expect(s.drainChanges()).toEqual([{ key: '"b"', value: '4', timestamp: 130 }]);
  });

  it('leaves the time out without a context, and for a non-finite time', () => {
    const s = kv<number>();
    s.put('a', 1);
    const [entry] = s.drainChanges();
    expect(entry).toEqual({ key: '"a"', value: '1' });
    expect(Object.hasOwn(entry!, 'timestamp')).toBe(false);
    const c = clock(Number.NEGATIVE_INFINITY);
    s.init(c);
    s.put('a', 2);
    c.now = Number.POSITIVE_INFINITY;
    s.put('b', 3);
    c.now = Number.NaN;
    s.put('c', 4);
    for (const e of s.drainChanges()) expect(Object.hasOwn(e, 'timestamp')).toBe(false);
  });

  it('stamps window store puts, deletes and expiry', () => {
    const s = ws<number>();
    const c = clock(3);
    s.init(c);
    s.put('a', 0, 1);
    c.now = 12;
    s.put('a', 10, 2);
    s.delete('a', 0);
    c.now = 25;
    s.expireBefore(20);
    expect(byKey(s.drainChanges())).toEqual([
      { key: '0@"a"', value: null, timestamp: 12 },
      { key: '10@"a"', value: null, timestamp: 25 },
    ]);
  });

  it('does not ask for the time when nothing is logged', () => {
    const s = kv<number>(false);
    let asked = 0;
    s.init({ recordTimestamp: () => ++asked });
    s.put('a', 1);
    s.delete('a');
    expect(asked).toBe(0);
    expect(s.drainChanges()).toEqual([]);
  });

  it('a restore of stamped entries reproduces the contents and logs nothing', () => {
    const s = kv<string>();
    const c = clock(7);
    s.init(c);
    s.put('x', 'one');
    s.put('y', 'two');
    const fresh = kv<string>();
    fresh.init(clock(99));
    for (const e of s.drainChanges()) fresh.restore(e);
    expect([...fresh.all()]).toEqual([
      ['x', 'one'],
      ['y', 'two'],
    ]);
    expect(fresh.drainChanges()).toEqual([]);
  });
});
