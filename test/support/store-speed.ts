// Read and write speed of the stores, on one core: cache hits, synchronous misses to RocksDB
// (keys present and absent), the batched MultiGet a prefetch would use instead, and a count's
// read-modify-write over distinct keys. Prints one JSON object.
//
//   node test/support/store-speed.ts [keys=1000000]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stores } from '../../state-stores/stores.ts';
import { RocksDb } from '../../state-stores/rocksdb-native.ts';
import type { KeyValueStore } from '../../state-stores/api.ts';

const KEYS = Number(process.argv[2] ?? 1_000_000);
const key = (i: number) => `customer-${i}`;

/** Operations per second of `op`, run `n` times after a short warm-up. */
function rate(n: number, op: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 10_000); i++) op(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return Math.round(n / s);
}

/** A pseudo-random permutation walk, so reads do not follow write order. */
const scatter = (i: number) => (i * 2654435761) % KEYS;

const root = await mkdtemp(join(tmpdir(), 'rs-store-speed-'));
const results: Record<string, number | string> = { keys: KEYS };
try {
  const memory = Stores.inMemoryKeyValueStore<string, number>('m', { logged: false }).build();
  for (let i = 0; i < KEYS; i++) memory.put(key(i), i);
  results['memory get (ops/s)'] = rate(1_000_000, (i) => void memory.get(key(scatter(i))));

  // A cache that holds every key: reads are hits.
  const hot = Stores.persistentKeyValueStore<string, number>('hot', { logged: false, cacheMaxBytes: 1 << 30 }).build({ directory: join(root, 'hot') });
  await hot.open();
  for (let i = 0; i < 200_000; i++) hot.put(key(i), i);
  await hot.flush();
  results['rocksdb cache hit (ops/s)'] = rate(1_000_000, (i) => void hot.get(key(i % 200_000)));
  await hot.close();

  // A cache far smaller than the state: nearly every read misses and goes to RocksDB.
  const directory = join(root, 'cold');
  const cold: KeyValueStore<string, number> = Stores.persistentKeyValueStore<string, number>('cold', { logged: false, cacheMaxBytes: 1 << 20 }).build({ directory });
  await cold.open();
  const t0 = Date.now();
  for (let i = 0; i < KEYS; i++) cold.put(key(i), i);
  await cold.flush();
  results['rocksdb put, cache spilling (ops/s)'] = Math.round(KEYS / ((Date.now() - t0) / 1000));
  results['rocksdb miss, key present (ops/s)'] = rate(300_000, (i) => void cold.get(key(scatter(i))));
  results['rocksdb miss, key absent (ops/s)'] = rate(300_000, (i) => void cold.get(`absent-${i}`));
  results['cold cache hit rate'] = cold.metrics().cacheHitRate!.toFixed(3);
  await cold.close();

  // What a batch prefetch would do instead: one MultiGet of 1000 keys.
  const db = await RocksDb.open(directory);
  const batch = 1000;
  let reads = 0;
  const t1 = process.hrtime.bigint();
  for (let b = 0; b < 300; b++) {
    const keys: string[] = [];
    for (let j = 0; j < batch; j++) keys.push(`\u0001"${key(scatter(b * batch + j))}"`);
    reads += db.getMany(keys).length;
  }
  results['rocksdb MultiGet of 1000 keys, per key (ops/s)'] = Math.round(reads / (Number(process.hrtime.bigint() - t1) / 1e9));
  results['rocksdb single get, binding only (ops/s)'] = rate(300_000, (i) => void db.get(`\u0001"${key(scatter(i + 7))}"`));
  await db.close();

  // A count over distinct keys, as in the 5-million-key test: a miss (absent), then a put, cache
  // of 10 MiB, a commit every 50,000 records; then a second pass (every key present on disk);
  // each with and without a prefetch of every 1000 records' keys, as a task could do per batch.
  for (const prefetch of [false, true]) {
    const count = Stores.persistentKeyValueStore<string, number>('count').build({ directory: join(root, `count-${prefetch}`) });
    await count.open();
    for (const pass of ['distinct keys', 'keys on disk']) {
      const t2 = Date.now();
      for (let b = 0; b < KEYS; b += 1000) {
        if (prefetch) {
          const keys: string[] = [];
          for (let i = b; i < b + 1000; i++) keys.push(key(scatter(i)));
          count.prefetch!(keys);
        }
        for (let i = b; i < b + 1000; i++) {
          const k = key(scatter(i));
          count.put(k, (count.get(k) ?? 0) + 1);
        }
        if (b % 50_000 === 49_000) {
          count.drainChanges();
          await count.flush();
        }
      }
      await count.flush();
      results[`rocksdb count, ${pass}${prefetch ? ', prefetch per 1000' : ''} (records/s)`] = Math.round(KEYS / ((Date.now() - t2) / 1000));
    }
    results['rocksdb count, bytes on disk'] = count.metrics().bytesOnDisk!;
    await count.close();
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
console.log(JSON.stringify(results, null, 2));
