// One behaviour contract, run against every store kind: in memory, RocksDB with its record cache,
// and RocksDB with no cache at all (every write spills to disk at once), so the cache can hide
// nothing the disk gets wrong.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Stores, type StoreKind, type StoreOptions } from '../../state-stores/stores.ts';
import { stringCodec, type ChangelogEntry, type KeyValueStore, type StateStore, type StoreContext, type WindowStore, type Windowed } from '../../state-stores/api.ts';

interface Variant {
  readonly label: string;
  readonly kind: StoreKind;
  readonly cacheMaxBytes?: number;
  /** Property runs: a RocksDB run wipes a database, a memory one allocates a Map. */
  readonly runs: number;
}

const VARIANTS: readonly Variant[] = [
  { label: 'memory', kind: 'memory', runs: 300 },
  { label: 'rocksdb', kind: 'rocksdb', runs: 60 },
  { label: 'rocksdb without cache', kind: 'rocksdb', cacheMaxBytes: 0, runs: 40 },
];

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rs-store-contract-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const byKey = (entries: ChangelogEntry[]) => [...entries].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
/** The order of `fetchRange`: window start, then the encoded key (JSON here). */
const byWindow = <V>(entries: Iterable<[Windowed<string>, V]>) =>
  [...entries].sort(([a], [b]) => a.start - b.start || (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : JSON.stringify(a.key) > JSON.stringify(b.key) ? 1 : 0));
const ALL = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] as const;

describe.each(VARIANTS)('store contract: $label', (variant) => {
  const open: StateStore[] = [];
  let seq = 0;
  const options = <K, V>(o: StoreOptions<K, V> = {}): StoreOptions<K, V> => ({ ...o, ...(variant.cacheMaxBytes === undefined ? {} : { cacheMaxBytes: variant.cacheMaxBytes }) });
  const buildOptions = () => ({ kind: variant.kind, directory: join(root, variant.label.replace(/\W+/g, '-'), String(seq++)) });

  async function kv<V>(o: StoreOptions<string, V> = {}): Promise<KeyValueStore<string, V>> {
    const s = Stores.keyValueStore<string, V>('kv', options(o)).build(buildOptions());
    await s.open();
    open.push(s);
    return s;
  }
  async function ws<V>(o: StoreOptions<string, V> = {}, size = 10): Promise<WindowStore<string, V>> {
    // Segments of 20 ms: expiry in these tests crosses segment boundaries and stops inside segments.
    const s = Stores.windowStore<string, V>('ws', size, 3 * size, { ...options(o), segmentIntervalMs: 20 }).build(buildOptions());
    await s.open();
    open.push(s);
    return s;
  }
  const closeAll = async () => {
    for (const s of open.splice(0)) await s.close();
  };
  afterEach(closeAll);

  it('builds the kind asked for', async () => {
    const s = await kv<number>();
    expect(s.persistent).toBe(variant.kind === 'rocksdb');
    expect(typeof s.wipe === 'function').toBe(variant.kind === 'rocksdb');
  });

  describe('key-value', () => {
    it('gets what was put, overwrites, deletes', async () => {
      const s = await kv<number>();
      expect(s.get('a')).toBeUndefined();
      s.put('a', 1);
      s.put('b', 2);
      s.put('a', 3);
      expect(s.get('a')).toBe(3);
      s.delete('b');
      s.delete('never-there');
      expect(s.get('b')).toBeUndefined();
      expect([...s.all()]).toEqual([['a', 3]]);
      await s.flush();
      expect(s.get('a')).toBe(3);
      expect(s.get('b')).toBeUndefined();
    });

    it('iterates every entry in key order, before and after a flush', async () => {
      const s = await kv<string>();
      for (const k of ['pear', 'apple', 'fig', 'banana']) s.put(k, k.toUpperCase());
      const expected = [
        ['apple', 'APPLE'],
        ['banana', 'BANANA'],
        ['fig', 'FIG'],
        ['pear', 'PEAR'],
      ];
      expect([...s.all()]).toEqual(expected);
      await s.flush();
      s.put('cherry', 'CHERRY');
      expect([...s.all()].map(([k]) => k)).toEqual(['apple', 'banana', 'cherry', 'fig', 'pear']);
    });

    it('takes the empty string as a key', async () => {
      const s = Stores.keyValueStore<string, string>('kv', options({ keyCodec: stringCodec, valueCodec: stringCodec })).build(buildOptions());
      await s.open();
      open.push(s);
      s.put('', 'empty');
      s.put('a', 'A');
      await s.flush();
      expect(s.get('')).toBe('empty');
      expect([...s.all()]).toEqual([
        ['', 'empty'],
        ['a', 'A'],
      ]);
    });

    it('keys by value, not identity, for structured keys', async () => {
      const s = Stores.keyValueStore<{ w: number; c: string }, number>('kv', options()).build(buildOptions());
      await s.open();
      open.push(s);
      s.put({ w: 1, c: 'DE' }, 5);
      await s.flush();
      expect(s.get({ w: 1, c: 'DE' })).toBe(5);
      expect(s.get({ w: 1, c: 'FR' })).toBeUndefined();
    });

    it('drains the latest change per key once, deletes as null, stamped with the time of the change', async () => {
      const s = await kv<number>();
      const c: StoreContext & { now: number } = { now: 100, recordTimestamp: () => c.now };
      s.init?.(c);
      s.put('a', 1);
      c.now = 105;
      s.put('a', 2);
      s.put('b', 3);
      c.now = 110;
      s.delete('b');
      expect(byKey(s.drainChanges())).toEqual([
        { key: '"a"', value: '2', timestamp: 105 },
        { key: '"b"', value: null, timestamp: 110 },
      ]);
      expect(s.drainChanges()).toEqual([]);
      s.delete('missing');
      expect(s.drainChanges()).toEqual([]);
    });

    it('records no changes when not logged', async () => {
      const s = await kv<number>({ logged: false });
      s.put('a', 1);
      s.delete('a');
      expect(s.logged).toBe(false);
      expect(s.drainChanges()).toEqual([]);
    });

    type KvOp = { op: 'put'; key: string; value: number } | { op: 'delete'; key: string } | { op: 'drain' } | { op: 'flush' };
    const kvOp: fc.Arbitrary<KvOp> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.string({ maxLength: 4 }), value: fc.integer() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.string({ maxLength: 4 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('drain' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const) }) },
    );

    it('restoring every drained changelog into a fresh store reproduces the contents (property)', async () => {
      const sorted = (entries: Iterable<[string, number]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      await fc.assert(
        fc.asyncProperty(fc.array(kvOp, { maxLength: 60 }), async (ops) => {
          const [s, fresh] = await Promise.all([kv<number>(), kv<number>()]);
          const model = new Map<string, number>();
          const log: ChangelogEntry[] = [];
          for (const o of ops) {
            if (o.op === 'put') {
              s.put(o.key, o.value);
              model.set(o.key, o.value);
            } else if (o.op === 'delete') {
              s.delete(o.key);
              model.delete(o.key);
            } else if (o.op === 'flush') await s.flush();
            else log.push(...s.drainChanges());
          }
          log.push(...s.drainChanges());
          for (const e of log) fresh.restore(e);
          expect(sorted(s.all())).toEqual(sorted(model));
          expect(sorted(fresh.all())).toEqual(sorted(model));
          for (const [k, v] of model) expect(fresh.get(k)).toBe(v);
          // A restore writes nothing back to the changelog.
          expect(fresh.drainChanges()).toEqual([]);
          await closeAll();
        }),
        { numRuns: variant.runs },
      );
    }, 120_000);
  });

  describe('window', () => {
    it('keeps one value per key and window start, and fetches a range by start then key', async () => {
      const s = await ws<number>();
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
      expect([...s.fetchRange(...ALL)]).toHaveLength(4);
    });

    it('fetches one key over a range of window starts, in start order', async () => {
      const s = await ws<number>();
      for (const start of [40, 0, 20, 10]) s.put('k', start, start);
      s.put('other', 10, -1);
      await s.flush();
      s.put('k', 30, 30);
      expect([...s.fetch('k', 10, 30)]).toEqual([
        [10, 10],
        [20, 20],
        [30, 30],
      ]);
      expect([...s.fetch('k', ...ALL)].map(([start]) => start)).toEqual([0, 10, 20, 30, 40]);
      expect([...s.fetch('missing', ...ALL)]).toEqual([]);
      s.delete('k', 20);
      expect([...s.fetch('k', 15, 25)]).toEqual([]);
    });

    it('handles negative window starts', async () => {
      const s = await ws<number>();
      s.put('a', -20, 1);
      s.put('a', -10, 2);
      expect([...s.fetchRange(-20, -11)]).toEqual([[{ key: 'a', start: -20, end: -10 }, 1]]);
      s.expireBefore(-10);
      expect(s.get('a', -20)).toBeUndefined();
      expect(s.get('a', -10)).toBe(2);
    });

    it('delete removes one entry and an emptied window', async () => {
      const s = await ws<number>();
      s.put('a', 0, 1);
      s.put('b', 0, 2);
      await s.flush();
      s.delete('a', 0);
      expect(s.get('a', 0)).toBeUndefined();
      expect(s.windowCount()).toBe(1);
      s.delete('b', 0);
      expect(s.windowCount()).toBe(0);
    });

    it('expireBefore drops exactly the windows that started before the bound, and later writes to them', async () => {
      const s = await ws<number>();
      for (const start of [0, 10, 20, 30, 40, 50]) s.put('k', start, start);
      s.expireBefore(20);
      expect([...s.fetchRange(...ALL)].map(([w]) => w.start)).toEqual([20, 30, 40, 50]);
      expect(s.windowCount()).toBe(4);
      s.expireBefore(31);
      expect(s.get('k', 30)).toBeUndefined();
      expect(s.get('k', 40)).toBe(40);
      s.put('k', 30, 99);
      s.put('late', 0, 99);
      expect(s.get('k', 30)).toBeUndefined();
      expect([...s.fetch('late', ...ALL)]).toEqual([]);
      expect([...s.fetchRange(...ALL)].map(([w]) => w.start)).toEqual([40, 50]);
      s.expireBefore(10);
      expect(s.get('k', 40)).toBe(40);
    });

    it('logs expiry as deletes, so a restore never resurrects an expired window', async () => {
      const s = await ws<number>();
      s.put('a', 0, 1);
      s.put('b', 0, 2);
      s.put('a', 10, 3);
      const first = s.drainChanges();
      s.expireBefore(10);
      const second = s.drainChanges();
      expect(second.map((e) => e.value)).toEqual([null, null]);
      const fresh = await ws<number>();
      for (const e of [...first, ...second]) fresh.restore(e);
      expect([...fresh.fetchRange(...ALL)]).toEqual([[{ key: 'a', start: 10, end: 20 }, 3]]);
      expect(fresh.windowCount()).toBe(1);
    });

    it('restores keys that contain the changelog separator', async () => {
      const s = await ws<string>();
      s.put('user@example.com', -30, 'x');
      s.put('@', 40, 'y');
      const fresh = await ws<string>();
      for (const e of s.drainChanges()) fresh.restore(e);
      expect(fresh.get('user@example.com', -30)).toBe('x');
      expect(fresh.get('@', 40)).toBe('y');
    });

    it('records no changes when not logged', async () => {
      const s = await ws<number>({ logged: false });
      s.put('a', 0, 1);
      s.expireBefore(100);
      expect(s.drainChanges()).toEqual([]);
    });

    type WsOp =
      | { op: 'put'; key: string; start: number; value: number }
      | { op: 'delete'; key: string; start: number }
      | { op: 'expire'; before: number }
      | { op: 'drain' }
      | { op: 'flush' };
    const start = fc.integer({ min: -5, max: 5 }).map((i) => i * 10);
    const wsOp: fc.Arbitrary<WsOp> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.string({ maxLength: 4 }), start, value: fc.integer() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.string({ maxLength: 4 }), start }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), before: fc.integer({ min: -60, max: 60 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('drain' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const) }) },
    );

    it('restoring every drained changelog into a fresh store reproduces the contents (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(wsOp, { maxLength: 60 }), async (ops) => {
          const [a, b] = await Promise.all([ws<number>(), ws<number>()]);
          const model = new Map<string, [Windowed<string>, number]>();
          const id = (key: string, st: number) => `${st}|${JSON.stringify(key)}`;
          const log: ChangelogEntry[] = [];
          let expiredBefore = Number.NEGATIVE_INFINITY;
          for (const o of ops) {
            if (o.op === 'put') {
              a.put(o.key, o.start, o.value);
              if (o.start >= expiredBefore) model.set(id(o.key, o.start), [{ key: o.key, start: o.start, end: o.start + 10 }, o.value]);
            } else if (o.op === 'delete') {
              a.delete(o.key, o.start);
              model.delete(id(o.key, o.start));
            } else if (o.op === 'expire') {
              a.expireBefore(o.before);
              expiredBefore = Math.max(expiredBefore, o.before);
              for (const [k, [w]] of model) if (w.start < o.before) model.delete(k);
            } else if (o.op === 'flush') await a.flush();
            else log.push(...a.drainChanges());
          }
          log.push(...a.drainChanges());
          for (const e of log) b.restore(e);
          const expected = byWindow(model.values());
          expect([...a.fetchRange(...ALL)]).toEqual(expected);
          expect([...b.fetchRange(...ALL)]).toEqual(expected);
          const starts = new Set(expected.map(([w]) => w.start));
          expect(a.windowCount()).toBe(starts.size);
          expect(b.windowCount()).toBe(starts.size);
          for (const [w, v] of expected) {
            expect(b.get(w.key, w.start)).toBe(v);
            expect([...b.fetch(w.key, w.start, w.start)]).toEqual([[w.start, v]]);
          }
          await closeAll();
        }),
        { numRuns: variant.runs },
      );
    }, 120_000);
  });
});
