// What only a persistent store does: state on disk that a reopen sees, a cache that spills to
// disk, time segments dropped whole, restore written through in batches, wipe. The behaviour it
// shares with the memory stores is in contract.test.ts.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Stores } from '../../state-stores/stores.ts';
import { RocksDb } from '../../state-stores/rocksdb-native.ts';
import { RESTORE_BATCH_ENTRIES } from '../../state-stores/rocksdb-key-value-store.ts';
import { readStart } from '../../state-stores/window-keys.ts';
import type { KeyValueStore, StateStore, WindowStore } from '../../state-stores/api.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { Serdes } from '../../topology/api/serdes.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';

let root: string;
let seq = 0;
const opened: StateStore[] = [];
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rs-rocksdb-'));
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const freshDir = () => join(root, String(seq++));

async function kv<V>(directory: string, cacheMaxBytes?: number): Promise<KeyValueStore<string, V>> {
  const s = Stores.persistentKeyValueStore<string, V>('counts', cacheMaxBytes === undefined ? {} : { cacheMaxBytes }).build({ directory });
  await s.open();
  opened.push(s);
  return s;
}

async function ws<V>(directory: string, segmentIntervalMs = 100): Promise<WindowStore<string, V>> {
  const s = Stores.persistentWindowStore<string, V>('windows', 10, 30, { segmentIntervalMs }).build({ directory });
  await s.open();
  opened.push(s);
  return s;
}

async function close(s: StateStore): Promise<void> {
  opened.splice(opened.indexOf(s), 1);
  await s.close();
}

/** Window starts of every entry physically in a window store's database, its own record left out. */
async function startsOnDisk(directory: string): Promise<number[]> {
  const db = await RocksDb.open(directory);
  try {
    return [...db.scanAll({ gte: Buffer.from([1]) }, 'buffer', false)].map(([k]) => readStart(k as Buffer));
  } finally {
    await db.close();
  }
}

describe('Stores factories', () => {
  it('builds RocksDB for persistent builders and the rocksdb default, memory otherwise', () => {
    const directory = freshDir();
    expect(Stores.persistentKeyValueStore('a').build({ directory }).persistent).toBe(true);
    expect(Stores.persistentKeyValueStore('a').build({ kind: 'memory', directory }).persistent).toBe(true);
    expect(Stores.persistentWindowStore('a', 10, 30).build({ directory }).persistent).toBe(true);
    expect(Stores.inMemoryKeyValueStore('a').build({ kind: 'rocksdb', directory }).persistent).toBe(false);
    expect(Stores.inMemoryWindowStore('a', 10, 30).build({ kind: 'rocksdb', directory }).persistent).toBe(false);
    expect(Stores.keyValueStore('a').build().persistent).toBe(false);
    expect(Stores.keyValueStore('a').build({ kind: 'rocksdb', directory }).persistent).toBe(true);
    expect(Stores.windowStore('a', 10, 30).build({ kind: 'rocksdb', directory }).persistent).toBe(true);
    // A runtime without disk keeps even a pinned RocksDB store in memory.
    expect(Stores.persistentKeyValueStore('a').build({ memoryOnly: true }).persistent).toBe(false);
    expect(Stores.persistentKeyValueStore('a').kind).toBe('rocksdb');
    expect(Stores.keyValueStore('a').kind).toBeUndefined();
  });

  it('refuses a RocksDB store without a directory, with a clear error', () => {
    let error: unknown;
    try {
      Stores.persistentKeyValueStore('big').build();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RetailStreamsError);
    expect((error as RetailStreamsError).code).toBe('invalid-argument');
    expect((error as Error).message).toMatch(/store big is a RocksDB store and needs a directory/);
    expect(() => Stores.windowStore('w', 10, 30).build({ kind: 'rocksdb' })).toThrow(/needs a directory/);
  });

  it('says a store that is used before open() is not open', () => {
    const s = Stores.persistentKeyValueStore<string, number>('early').build({ directory: freshDir() });
    expect(() => s.get('a')).toThrow(/store early is not open/);
  });

  it('Materialized.storeType pins a DSL store; the test driver keeps it in memory', () => {
    const b = new StreamsBuilder();
    b.stream<string | null, string | null>('in', { keySerde: Serdes.string, valueSerde: Serdes.string })
      .groupByKey()
      .count({ storeName: 'big-counts', storeType: 'rocksdb' })
      .toStream()
      .to('out', { keySerde: Serdes.string, valueSerde: Serdes.json<number>() });
    const topology = b.build();
    expect(topology.stores.get('big-counts')!.kind).toBe('rocksdb');
    const driver = new TopologyTestDriver(topology);
    const input = driver.createInputTopic('in', Serdes.string, Serdes.string);
    input.pipeInput('k', 'v');
    input.pipeInput('k', 'v');
    expect(driver.createOutputTopic('out', Serdes.string, Serdes.json<number>()).readKeyValuesToList()).toEqual([
      ['k', 1],
      ['k', 2],
    ]);
  });
});

describe('RocksDB key-value store', () => {
  it('keeps its state on disk: a reopened store sees what was flushed', async () => {
    const directory = freshDir();
    const s = await kv<number>(directory);
    for (let i = 0; i < 1000; i++) s.put(`k${i}`, i);
    s.delete('k7');
    await s.flush();
    await close(s);
    const again = await kv<number>(directory);
    expect(again.get('k999')).toBe(999);
    expect(again.get('k7')).toBeUndefined();
    expect([...again.all()]).toHaveLength(999);
    expect(again.metrics().entries).toBeGreaterThan(900);
  });

  it('writes dirty entries on close too', async () => {
    const directory = freshDir();
    const s = await kv<string>(directory);
    s.put('a', 'A');
    await close(s);
    expect((await kv<string>(directory)).get('a')).toBe('A');
  });

  it('holds more than its cache: the oldest entries spill to disk and are read back', async () => {
    const directory = freshDir();
    // About 150 bytes an entry: a 64 KiB cache holds a few hundred of 20,000.
    const s = await kv<number>(directory, 64 * 1024);
    for (let i = 0; i < 20_000; i++) s.put(`key-${i}`, i);
    for (let i = 0; i < 20_000; i += 97) expect(s.get(`key-${i}`)).toBe(i);
    // The changelog still gets every key once, however many were spilled.
    expect(s.drainChanges()).toHaveLength(20_000);
    const m = s.metrics();
    expect(m.cacheHitRate).toBeLessThan(0.5);
    // Nothing was flushed: what reopening sees came to disk through spills, and at close.
    await close(s);
    const again = await kv<number>(directory);
    expect(again.get('key-0')).toBe(0);
    expect(again.get('key-19999')).toBe(19_999);
  });

  it('answers repeated reads from the cache', async () => {
    const s = await kv<number>(freshDir());
    s.put('hot', 1);
    await s.flush();
    for (let i = 0; i < 99; i++) s.get('hot');
    s.get('cold');
    expect(s.metrics().cacheHitRate).toBeCloseTo(0.99, 5);
  });

  it('restores through to disk in batches, and a reopen sees the restored state', async () => {
    const directory = freshDir();
    const s = await kv<number>(directory);
    const n = 3 * RESTORE_BATCH_ENTRIES + 17;
    for (let i = 0; i < n; i++) s.restore({ key: JSON.stringify(`r${i}`), value: JSON.stringify(i) });
    s.restore({ key: JSON.stringify('r5'), value: null });
    // Written batch by batch as they came, not held until a flush.
    expect(Number(s.metrics().entries)).toBeGreaterThanOrEqual(3 * RESTORE_BATCH_ENTRIES);
    expect(s.get('r6')).toBe(6);
    expect(s.get('r5')).toBeUndefined();
    expect(s.drainChanges()).toEqual([]);
    await close(s);
    const again = await kv<number>(directory);
    expect(again.get(`r${n - 1}`)).toBe(n - 1);
    expect(again.get('r5')).toBeUndefined();
  });

  it('a restored entry replaces what the cache held for its key', async () => {
    const s = await kv<number>(freshDir());
    expect(s.get('a')).toBeUndefined();
    s.restore({ key: '"a"', value: '5' });
    expect(s.get('a')).toBe(5);
  });

  it('wipe deletes the local state and leaves the store open and empty', async () => {
    const directory = freshDir();
    const s = await kv<number>(directory);
    s.put('a', 1);
    await s.flush();
    await s.wipe!();
    expect(s.get('a')).toBeUndefined();
    s.put('b', 2);
    await close(s);
    const again = await kv<number>(directory);
    expect(again.get('a')).toBeUndefined();
    expect(again.get('b')).toBe(2);
    await close(again);
    // A store not yet open: wipe deletes its folder.
    const unopened = Stores.persistentKeyValueStore('x').build({ directory });
    await unopened.wipe!();
    expect(existsSync(directory)).toBe(false);
  });
});

describe('RocksDB window store', () => {
  it('drops whole segments on expiry, and hides expired windows of a live segment until it goes', async () => {
    const directory = freshDir();
    const s = await ws<number>(directory, 100);
    for (const start of [0, 50, 100, 150, 200, 250]) for (const k of ['a', 'b']) s.put(k, start, start);
    await s.flush();
    expect(await startsOnDisk(directory).catch(() => 'locked')).toBe('locked');
    // Segment [0, 100) goes whole; window 100 of segment [100, 200) is hidden, still on disk.
    s.expireBefore(150);
    expect([...s.fetchRange(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)].map(([w]) => w.start)).toEqual([150, 150, 200, 200, 250, 250]);
    expect(s.get('a', 100)).toBeUndefined();
    expect(s.windowCount()).toBe(3);
    await close(s);
    expect(await startsOnDisk(directory)).toEqual([100, 100, 150, 150, 200, 200, 250, 250]);
    // The expiry bound is on disk too: a reopened store still hides window 100.
    const again = await ws<number>(directory, 100);
    expect(again.get('a', 100)).toBeUndefined();
    expect([...again.fetch('a', 0, 300)].map(([start]) => start)).toEqual([150, 200, 250]);
    expect(again.windowCount()).toBe(3);
    again.put('a', 120, 1);
    expect(again.get('a', 120)).toBeUndefined();
    again.expireBefore(210);
    await close(again);
    expect(await startsOnDisk(directory)).toEqual([200, 200, 250, 250]);
  });

  it('reopens with its windows: fetch finds them by key and time range', async () => {
    const directory = freshDir();
    const s = await ws<string>(directory);
    for (let start = 0; start < 100; start += 10) s.put('k', start, `v${start}`);
    s.put('other', 30, 'x');
    await close(s);
    const again = await ws<string>(directory);
    expect([...again.fetch('k', 25, 55)]).toEqual([
      [30, 'v30'],
      [40, 'v40'],
      [50, 'v50'],
    ]);
    expect([...again.fetchRange(30, 30)]).toEqual([
      [{ key: 'k', start: 30, end: 40 }, 'v30'],
      [{ key: 'other', start: 30, end: 40 }, 'x'],
    ]);
    expect(again.windowCount()).toBe(10);
  });

  it('logs expiry of entries that only the cache held', async () => {
    const s = await ws<number>(freshDir());
    s.put('a', 0, 1);
    s.drainChanges();
    s.put('b', 0, 2);
    s.expireBefore(10);
    expect(s.drainChanges().sort((x, y) => (x.key < y.key ? -1 : 1))).toEqual([
      { key: '0@"a"', value: null },
      { key: '0@"b"', value: null },
    ]);
  });

  it('an input that ended expires everything', async () => {
    const directory = freshDir();
    const s = await ws<number>(directory);
    s.put('a', 0, 1);
    s.put('a', 1_000_000, 2);
    s.expireBefore(Number.POSITIVE_INFINITY);
    expect(s.windowCount()).toBe(0);
    await close(s);
    expect(await startsOnDisk(directory)).toEqual([]);
  });

  it('restores through to disk, dropping what its expiry bound hides', async () => {
    const directory = freshDir();
    const s = await ws<number>(directory);
    for (let i = 0; i < RESTORE_BATCH_ENTRIES + 5; i++) s.restore({ key: `${(i % 5) * 10}@"k${i}"`, value: String(i) });
    expect(s.windowCount()).toBe(5);
    expect(s.get(`k${RESTORE_BATCH_ENTRIES + 4}`, 40)).toBe(RESTORE_BATCH_ENTRIES + 4);
    s.expireBefore(20);
    s.restore({ key: '0@"late"', value: '1' });
    expect(s.get('late', 0)).toBeUndefined();
    await close(s);
    const again = await ws<number>(directory);
    expect(again.get('k3', 30)).toBe(3);
    expect(again.windowCount()).toBe(3);
  });
});

describe('RocksDB key-value store prefetch', () => {
  it('reads missing keys in one batch and caches them, present and absent', async () => {
    const directory = freshDir();
    const s = await kv<number>(directory);
    for (let i = 0; i < 100; i++) s.put(`k${i}`, i);
    await close(s);
    const again = await kv<number>(directory);
    again.put('k1', -1);
    again.prefetch!(['k0', 'k1', 'k2', 'k2', 'nobody']);
    const before = again.metrics().cacheHitRate;
    expect(before).toBeUndefined();
    expect(again.get('k0')).toBe(0);
    expect(again.get('k1')).toBe(-1);
    expect(again.get('k2')).toBe(2);
    expect(again.get('nobody')).toBeUndefined();
    expect(again.metrics().cacheHitRate).toBe(1);
  });
});
