import { rm } from 'node:fs/promises';
import { RetailStreamsError } from '../topology/api/errors.ts';
import type { ChangelogEntry, StoreCodec, StoreContext, StoreMetrics, WindowStore, Windowed } from './api.ts';
import { ChangelogBuffer } from './changelog-buffer.ts';
import { DEFAULT_CACHE_MAX_BYTES, RecordCache } from './record-cache.ts';
import { RESTORE_BATCH_ENTRIES, type RocksDbStoreOptions } from './rocksdb-key-value-store.ts';
import { RocksDb, type RocksDbTuning, type WriteOp } from './rocksdb-native.ts';
import { TimeSegments } from './segments.ts';
import { MAX_START, MIN_START, diskKeyOf, parseWindowEntryKey, readStart, startBound, windowDiskKey, windowEntryKey } from './window-keys.ts';

/** The store's own record: the expiry bound, so windows hidden inside a live segment stay hidden after a restart. */
const EXPIRED_BEFORE_KEY = Buffer.from([0]);

export interface RocksDbWindowStoreOptions extends RocksDbStoreOptions {
  /** Width of a time segment; default Kafka Streams' max(retention / 2, 60 s). */
  readonly segmentIntervalMs?: number;
}

/**
 * A window store on RocksDB, segmented by time, with the record cache of the key-value store in
 * front (reads synchronous for the same reasons: see rocksdb-key-value-store.ts).
 *
 * Layout (window-keys.ts): a disk key is the window start (8 sortable bytes) then the encoded
 * key, so `fetchRange` over window starts is one range scan in (start, key) order, and a window,
 * or a time segment of windows (segments.ts), is one contiguous key range: expiry deletes whole
 * segments with one range deletion each.
 *
 * `fetch(key, from, to)` reads the key's windows in the range: the store knows which window
 * starts it holds (a few per segment: the open windows), so that is one MultiGet of exactly those
 * keys, which finds them as a key-first range scan would, without a second copy of the data in
 * key order.
 */
export class RocksDbWindowStore<K, V> implements WindowStore<K, V> {
  readonly name: string;
  readonly logged: boolean;
  readonly persistent = true;
  readonly directory: string;
  private readonly windowSizeMs: number;
  private readonly keyCodec: StoreCodec<K>;
  private readonly valueCodec: StoreCodec<V>;
  private readonly tuning: RocksDbTuning;
  private readonly segments: TimeSegments;
  /** Keyed by changelog key (`<start>@<key>`). */
  private readonly cache: RecordCache<V>;
  private readonly changes: ChangelogBuffer;
  private restoring: WriteOp[] = [];
  private db: RocksDb | undefined;
  /** Windows that started before this are expired: never read, never written. */
  private expiredBefore = Number.NEGATIVE_INFINITY;
  /** Window starts that may hold entries, ascending, all at or after `expiredBefore`. */
  private starts: number[] = [];
  private readonly startSet = new Set<number>();

  constructor(name: string, windowSizeMs: number, retentionMs: number, keyCodec: StoreCodec<K>, valueCodec: StoreCodec<V>, logged: boolean, directory: string, options: RocksDbWindowStoreOptions = {}) {
    this.name = name;
    this.windowSizeMs = windowSizeMs;
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.logged = logged;
    this.directory = directory;
    this.tuning = options.rocksdb ?? {};
    this.segments = new TimeSegments(options.segmentIntervalMs ?? TimeSegments.defaultIntervalMs(retentionMs));
    this.changes = new ChangelogBuffer<string>(logged, (encoded) => encoded);
    this.cache = new RecordCache<V>(options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES, (entries) => this.writeToDisk(entries));
  }

  init(context: StoreContext): void {
    this.changes.init(context);
  }

  async open(): Promise<void> {
    if (this.db !== undefined) return;
    const db = await RocksDb.open(this.directory, this.tuning);
    this.db = db;
    const saved = db.get(EXPIRED_BEFORE_KEY);
    if (saved !== undefined) this.expiredBefore = Number(saved);
    // Again after a crash between saving the bound and deleting the segments below it: idempotent.
    this.dropExpiredSegments();
    this.loadStarts();
  }

  /** The distinct window starts on disk, one seek each: a store holds few windows (the open ones). */
  private loadStarts(): void {
    let from = Math.max(MIN_START, this.expiredBefore);
    for (;;) {
      const rows = this.disk().scan({ gte: startBound(from), limit: 1, keys: true, values: false, keyEncoding: 'buffer' });
      if (rows.length === 0) return;
      const start = readStart(rows[0] as Buffer);
      this.noteStart(start);
      if (start >= MAX_START) return;
      from = start + 1;
    }
  }

  private disk(): RocksDb {
    if (this.db === undefined) throw new RetailStreamsError('invalid-argument', `store ${this.name} is not open: a persistent store is used after \`await store.open()\``);
    return this.db;
  }

  get(key: K, windowStart: number): V | undefined {
    if (windowStart < this.expiredBefore) return undefined;
    const k = this.keyCodec.encode(key);
    const ck = windowEntryKey(windowStart, k);
    const hit = this.cache.lookup(ck);
    if (hit !== undefined) return hit.value;
    this.writeRestored();
    const raw = this.disk().get(windowDiskKey(windowStart, k));
    const value = raw === undefined ? undefined : this.valueCodec.decode(raw);
    this.cache.fill(ck, value, raw ?? null);
    return value;
  }

  put(key: K, windowStart: number, value: V): void {
    if (windowStart < this.expiredBefore) return;
    const ck = windowEntryKey(windowStart, this.keyCodec.encode(key));
    const encoded = this.valueCodec.encode(value);
    this.cache.write(ck, value, encoded);
    this.changes.note(ck, encoded);
    this.noteStart(windowStart);
  }

  delete(key: K, windowStart: number): void {
    if (this.get(key, windowStart) === undefined) return;
    const ck = windowEntryKey(windowStart, this.keyCodec.encode(key));
    this.cache.write(ck, undefined, null);
    this.changes.noteDelete(ck);
  }

  fetch(key: K, from: number, to: number): Iterable<[number, V]> {
    const k = this.keyCodec.encode(key);
    const lo = Math.max(from, this.expiredBefore);
    const found: ([number, V] | undefined)[] = [];
    const missing: { slot: number; start: number }[] = [];
    for (const start of this.starts) {
      if (start < lo) continue;
      if (start > to) break;
      const hit = this.cache.lookup(windowEntryKey(start, k));
      if (hit === undefined) missing.push({ slot: found.length, start });
      found.push(hit?.value === undefined ? undefined : [start, hit.value]);
    }
    if (missing.length > 0) {
      this.writeRestored();
      const raws = this.disk().getMany(missing.map((m) => windowDiskKey(m.start, k)));
      for (let i = 0; i < missing.length; i++) {
        const { slot, start } = missing[i]!;
        const raw = raws[i];
        const value = raw === undefined ? undefined : this.valueCodec.decode(raw);
        this.cache.fill(windowEntryKey(start, k), value, raw ?? null);
        if (value !== undefined) found[slot] = [start, value];
      }
    }
    return found.filter((e): e is [number, V] => e !== undefined);
  }

  *fetchRange(from: number, to: number): Iterable<[Windowed<K>, V]> {
    const lo = Math.max(Math.ceil(from), this.expiredBefore, MIN_START);
    const hi = Math.min(Math.floor(to), MAX_START - 1);
    if (lo > hi) return;
    this.writeBack();
    for (const [diskKey, raw] of this.disk().scanAll({ gte: startBound(lo), lt: startBound(hi + 1) }, 'buffer', true)) {
      const start = readStart(diskKey as Buffer);
      yield [{ key: this.keyCodec.decode(diskKeyOf(diskKey as Buffer)), start, end: start + this.windowSizeMs }, this.valueCodec.decode(raw!)];
    }
  }

  expireBefore(windowStart: number): void {
    if (!(windowStart > this.expiredBefore)) return;
    const db = this.disk();
    if (this.logged) {
      // Expiry is logged as deletes, as in memory, so a restore never resurrects an old window:
      // every expired entry is named, those only in the cache too (written back first).
      this.writeBack();
      const from = startBound(Math.max(MIN_START, this.expiredBefore));
      for (const [diskKey] of db.scanAll({ gte: from, lt: startBound(windowStart) }, 'buffer', false)) {
        this.changes.noteDelete(windowEntryKey(readStart(diskKey as Buffer), diskKeyOf(diskKey as Buffer)));
      }
    }
    this.expiredBefore = windowStart;
    db.write([[EXPIRED_BEFORE_KEY, String(windowStart)]]);
    this.dropExpiredSegments();
    let drop = 0;
    while (drop < this.starts.length && this.starts[drop]! < windowStart) this.startSet.delete(this.starts[drop++]!);
    if (drop > 0) this.starts = this.starts.slice(drop);
  }

  private dropExpiredSegments(): void {
    const range = this.segments.expire(this.expiredBefore);
    if (range !== undefined) this.disk().deleteRange(startBound(range.from), startBound(range.to));
  }

  windowCount(): number {
    if (this.starts.length === 0) return 0;
    this.writeBack();
    // A window whose every entry was deleted leaves no key: one seek each tells.
    this.starts = this.starts.filter((start) => {
      const rows = this.disk().scan({ gte: startBound(start), lt: startBound(start + 1), limit: 1, keys: true, values: false, keyEncoding: 'buffer' });
      if (rows.length === 0) this.startSet.delete(start);
      return rows.length > 0;
    });
    return this.starts.length;
  }

  metrics(): StoreMetrics {
    const hitRate = this.cache.hitRate();
    const db = this.db;
    return {
      entries: db === undefined ? 0 : Number(db.property('rocksdb.estimate-num-keys')) + this.cache.dirtySize,
      bytesOnDisk: db === undefined ? 0 : Number(db.property('rocksdb.total-sst-files-size')),
      ...(hitRate === undefined ? {} : { cacheHitRate: hitRate }),
    };
  }

  drainChanges(): ChangelogEntry[] {
    return this.changes.drain();
  }

  restore(entry: ChangelogEntry): void {
    const { start, key } = parseWindowEntryKey(entry.key);
    if (start < this.expiredBefore) return;
    this.cache.invalidate(entry.key);
    this.restoring.push([windowDiskKey(start, key), entry.value]);
    if (entry.value !== null) this.noteStart(start);
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
      this.reset();
      await db.close();
    }
  }

  async wipe(): Promise<void> {
    const wasOpen = this.db !== undefined;
    const db = this.db;
    this.db = undefined;
    this.reset();
    await db?.close();
    await rm(this.directory, { recursive: true, force: true });
    if (wasOpen) await this.open();
  }

  private reset(): void {
    this.cache.clear();
    this.changes.clear();
    this.restoring = [];
    this.expiredBefore = Number.NEGATIVE_INFINITY;
    this.segments.reset();
    this.starts = [];
    this.startSet.clear();
  }

  private noteStart(start: number): void {
    if (this.startSet.has(start)) return;
    this.startSet.add(start);
    const s = this.starts;
    if (s.length === 0 || s[s.length - 1]! < start) s.push(start);
    else s.splice(insertionPoint(s, start), 0, start);
  }

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
    const ops: WriteOp[] = [];
    for (const [ck, value] of entries) {
      const { start, key } = parseWindowEntryKey(ck);
      // Written before its window expired, flushed after: gone with it.
      if (start < this.expiredBefore) continue;
      ops.push([windowDiskKey(start, key), value]);
    }
    this.disk().write(ops);
  }
}

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
