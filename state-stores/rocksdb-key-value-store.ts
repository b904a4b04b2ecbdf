import { rm } from 'node:fs/promises';
import { RetailStreamsError } from '../topology/api/errors.ts';
import type { ChangelogEntry, KeyValueStore, StoreCodec, StoreContext, StoreMetrics } from './api.ts';
import { ChangelogBuffer } from './changelog-buffer.ts';
import { DEFAULT_CACHE_MAX_BYTES, RecordCache } from './record-cache.ts';
import { RocksDb, type RocksDbTuning, type WriteOp } from './rocksdb-native.ts';

/**
 * A key-value store on RocksDB with a bounded record cache in front: state may exceed the heap.
 *
 * Reads are synchronous, deliberately. A cache hit is a Map lookup. A miss reads RocksDB at once
 * (a MultiGet of one key through the binding's synchronous call): from the block cache or the OS
 * page cache that costs a few microseconds, and a key that is not there is usually answered by
 * its bloom filter without reading a data block. The alternative, prefetching a batch's keys
 * asynchronously before processing it, cannot know the keys a store is asked for: they are
 * computed by the processors upstream of it (a `selectKey`, a `flatMap`, a join), record by
 * record, and the first processor that reads state would have to run twice. An await per read
 * instead would put a promise on the hot path of every record, cache hits included. So a miss
 * blocks the thread for one native read; throughput on state much larger than the cache is bound
 * by the disk, as it is for Kafka Streams, whose RocksDB reads block its stream thread too.
 * Where keys are known ahead (an aggregation fed straight by a source reads exactly the keys of
 * its batch), `prefetch(keys)` reads them in one MultiGet, still synchronously, before the
 * records are processed.
 *
 * Measured (test/support/store-speed.ts, 1M keys, one core of the 2-core build machine): a cache
 * hit ~2.5M reads/s; a miss ~170k/s for a key on disk (~6 µs) and ~450k/s for an absent one (its
 * bloom filter answers); a MultiGet of 1000 keys ~330k present or ~2.5M absent keys/s.
 *
 * Writes go to the cache (dirty) and to the changelog buffer. `flush()` (at commit) writes the
 * dirty entries to RocksDB in one batch; a full cache spills its least recently used ones earlier,
 * also in one batch. Disk may so be ahead of the changelog between commits, never behind it
 * after a flush: the same as Kafka Streams' at-least-once, and exactly-once restores from a
 * wiped store.
 *
 * On disk every key is the encoded key after one byte, 0x01: the binding aborts on an empty key
 * (a string codec allows one), and the byte 0x00 is left for the store's own records.
 */
const DATA = '\u0001';
const DATA_END = '\u0002';
/** Restored entries are written in batches of this many, so a restore never holds a changelog in memory. */
export const RESTORE_BATCH_ENTRIES = 10_000;

export interface RocksDbStoreOptions {
  /** Record cache size, bytes (Kafka Streams' `statestore.cache.max.bytes`, here per store); default 10 MiB. */
  readonly cacheMaxBytes?: number;
  readonly rocksdb?: RocksDbTuning;
}

export class RocksDbKeyValueStore<K, V> implements KeyValueStore<K, V> {
  readonly name: string;
  readonly logged: boolean;
  readonly persistent = true;
  readonly directory: string;
  private readonly keyCodec: StoreCodec<K>;
  private readonly valueCodec: StoreCodec<V>;
  private readonly tuning: RocksDbTuning;
  private readonly cache: RecordCache<V>;
  private readonly changes: ChangelogBuffer;
  private restoring: WriteOp[] = [];
  private db: RocksDb | undefined;

  constructor(name: string, keyCodec: StoreCodec<K>, valueCodec: StoreCodec<V>, logged: boolean, directory: string, options: RocksDbStoreOptions = {}) {
    this.name = name;
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.logged = logged;
    this.directory = directory;
    this.tuning = options.rocksdb ?? {};
    this.changes = new ChangelogBuffer<string>(logged, (encoded) => encoded);
    this.cache = new RecordCache<V>(options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES, (entries) => this.writeToDisk(entries));
  }

  init(context: StoreContext): void {
    this.changes.init(context);
  }

  async open(): Promise<void> {
    this.db ??= await RocksDb.open(this.directory, this.tuning);
  }

  private disk(): RocksDb {
    if (this.db === undefined) throw new RetailStreamsError('invalid-argument', `store ${this.name} is not open: a persistent store is used after \`await store.open()\``);
    return this.db;
  }

  get(key: K): V | undefined {
    const k = this.keyCodec.encode(key);
    const hit = this.cache.lookup(k);
    if (hit !== undefined) return hit.value;
    return this.readThrough(k);
  }

  private readThrough(k: string): V | undefined {
    this.writeRestored();
    const raw = this.disk().get(DATA + k);
    const value = raw === undefined ? undefined : this.valueCodec.decode(raw);
    this.cache.fill(k, value, raw ?? null);
    return value;
  }

  /**
   * Batch reads, where the keys are known in advance: a MultiGet of many keys costs a half (keys
   * present) to a quarter (keys absent) of as many single reads, the binding's per-call cost
   * shared (test/support/store-speed.ts). Keys beyond what the cache holds would be evicted
   * before their read: prefetch at most a cache's worth.
   */
  prefetch(keys: Iterable<K>): void {
    const wanted: string[] = [];
    const seen = new Set<string>();
    for (const key of keys) {
      const k = this.keyCodec.encode(key);
      if (this.cache.has(k) || seen.has(k)) continue;
      seen.add(k);
      wanted.push(k);
    }
    if (wanted.length === 0) return;
    this.writeRestored();
    const raws = this.disk().getMany(wanted.map((k) => DATA + k));
    for (let i = 0; i < wanted.length; i++) {
      const raw = raws[i];
      this.cache.fill(wanted[i]!, raw === undefined ? undefined : this.valueCodec.decode(raw), raw ?? null);
    }
  }

  put(key: K, value: V): void {
    const k = this.keyCodec.encode(key);
    const encoded = this.valueCodec.encode(value);
    this.cache.write(k, value, encoded);
    this.changes.note(k, encoded);
  }

  delete(key: K): void {
    // Only a key that exists is deleted (and logged), as in memory; the read is usually a cache hit.
    if (this.get(key) === undefined) return;
    const k = this.keyCodec.encode(key);
    this.cache.write(k, undefined, null);
    this.changes.noteDelete(k);
  }

  /** Every entry, by key; written-back first, so the scan of disk sees every write. Weakly consistent with writes made during the walk. */
  *all(): Iterable<[K, V]> {
    this.writeBack();
    for (const [k, v] of this.disk().scanAll({ gte: DATA, lt: DATA_END }, 'utf8', true)) {
      yield [this.keyCodec.decode((k as string).slice(1)), this.valueCodec.decode(v!)];
    }
  }

  size(): number {
    if (this.db === undefined) return 0;
    return Number(this.db.property('rocksdb.estimate-num-keys')) + this.cache.dirtySize;
  }

  metrics(): StoreMetrics {
    const hitRate = this.cache.hitRate();
    return {
      entries: this.size(),
      bytesOnDisk: this.db === undefined ? 0 : Number(this.db.property('rocksdb.total-sst-files-size')),
      ...(hitRate === undefined ? {} : { cacheHitRate: hitRate }),
    };
  }

  drainChanges(): ChangelogEntry[] {
    return this.changes.drain();
  }

  restore(entry: ChangelogEntry): void {
    this.cache.invalidate(entry.key);
    this.restoring.push([DATA + entry.key, entry.value]);
    if (this.restoring.length >= RESTORE_BATCH_ENTRIES) this.writeRestored();
  }

  async flush(): Promise<void> {
    if (this.db === undefined) return;
    this.writeBack();
    await this.db.settle();
  }

  async close(): Promise<void> {
    if (this.db === undefined) return;
    try {
      this.writeBack();
    } finally {
      const db = this.db;
      this.db = undefined;
      this.cache.clear();
      this.changes.clear();
      await db.close();
    }
  }

  async wipe(): Promise<void> {
    const wasOpen = this.db !== undefined;
    const db = this.db;
    this.db = undefined;
    this.cache.clear();
    this.changes.clear();
    this.restoring = [];
    await db?.close();
    await rm(this.directory, { recursive: true, force: true });
    if (wasOpen) await this.open();
  }

  /** Restored entries and dirty cache entries to disk, in that order (a later write wins). */
  private writeBack(): void {
    this.writeRestored();
    const dirty = this.cache.takeDirty();
    if (dirty.length > 0) this.writeToDisk(dirty);
  }

  private writeRestored(): void {
    if (this.restoring.length === 0) return;
    const ops = this.restoring;
    this.restoring = [];
    this.disk().write(ops);
  }

  private writeToDisk(entries: readonly (readonly [string, string | null])[]): void {
    this.writeRestored();
    const ops: WriteOp[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) ops[i] = [DATA + entries[i]![0], entries[i]![1]];
    this.disk().write(ops);
  }
}
