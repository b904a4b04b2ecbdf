/**
 * The record cache in front of a persistent store, as Kafka Streams' `statestore.cache.max.bytes`
 * cache: reads of recently used keys never leave the heap, and repeated writes of a key reach
 * disk once. Writes are dirty until the store's `flush()` (at commit) takes them, or until the
 * cache needs their room: then the oldest go to disk in one batch (`spill`) before they leave.
 *
 * Bounded in bytes: an estimate of the heap each entry holds (its key and encoded value as
 * UTF-16 strings, the decoded value counted as large again, and a fixed overhead for the map
 * slot and the entry). Eviction is second-chance LRU: an entry read since it was last passed
 * over gets one more round, so a hit costs a map lookup and a flag, not a reordering.
 *
 * A known miss is cached as well (absent), so the read-modify-write of an aggregation reads
 * disk once for a new key, not twice.
 */
export interface CacheEntry<V> {
  /** The decoded value; undefined when the key is absent (a known miss or a delete). */
  value: V | undefined;
  /** The value as written to disk; null when absent. */
  encoded: string | null;
  /** Not yet on disk. */
  dirty: boolean;
  referenced: boolean;
  bytes: number;
}

/** Writes dirty entries to disk, synchronously, in one batch: [key, encoded value or null for a delete]. */
export type Spill = (entries: readonly (readonly [string, string | null])[]) => void;

const ENTRY_OVERHEAD_BYTES = 96;
/** Eviction frees a tenth of the cache at a time, so what it spills goes to disk in batches. */
const EVICT_TO = 0.9;

export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 * 1024;

const sizeOf = (key: string, encoded: string | null): number => ENTRY_OVERHEAD_BYTES + 2 * key.length + (encoded === null ? 0 : 4 * encoded.length);

export class RecordCache<V> {
  readonly maxBytes: number;
  private readonly spill: Spill;
  private readonly entries = new Map<string, CacheEntry<V>>();
  private bytes = 0;
  private dirtyEntries = 0;
  hits = 0;
  misses = 0;
  /** Dirty entries written to disk to make room, since creation. */
  spilled = 0;

  constructor(maxBytes: number, spill: Spill) {
    if (!(maxBytes >= 0)) throw new RangeError(`cache size must be >= 0 bytes, got ${maxBytes}`);
    this.maxBytes = maxBytes;
    this.spill = spill;
  }

  /** The entry of `key`, or undefined on a miss; counts hits and misses. */
  lookup(key: string): CacheEntry<V> | undefined {
    const e = this.entries.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    e.referenced = true;
    return e;
  }

  /** Whether `key` is cached, without counting a hit or a miss. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** A value just read from disk (undefined: not there). */
  fill(key: string, value: V | undefined, encoded: string | null): void {
    if (this.entries.has(key)) return;
    const bytes = sizeOf(key, encoded);
    this.entries.set(key, { value, encoded, dirty: false, referenced: false, bytes });
    this.bytes += bytes;
    this.makeRoom();
  }

  /** A put (or a delete: value undefined, encoded null), dirty until flushed or spilled. */
  write(key: string, value: V | undefined, encoded: string | null): void {
    const bytes = sizeOf(key, encoded);
    const e = this.entries.get(key);
    if (e === undefined) {
      this.entries.set(key, { value, encoded, dirty: true, referenced: false, bytes });
      this.dirtyEntries++;
      this.bytes += bytes;
    } else {
      // Re-inserted at the tail: the flush order is the order of last use, as in Kafka Streams.
      this.entries.delete(key);
      this.entries.set(key, e);
      if (!e.dirty) this.dirtyEntries++;
      this.bytes += bytes - e.bytes;
      e.value = value;
      e.encoded = encoded;
      e.dirty = true;
      e.bytes = bytes;
    }
    this.makeRoom();
  }

  /** Forgets a key (its disk value changed underneath, as in a restore). */
  invalidate(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.bytes -= e.bytes;
    if (e.dirty) this.dirtyEntries--;
  }

  /** Every dirty entry, least recently used first, marked clean: what the store writes at flush. */
  takeDirty(): [string, string | null][] {
    if (this.dirtyEntries === 0) return [];
    const out: [string, string | null][] = [];
    for (const [key, e] of this.entries) {
      if (!e.dirty) continue;
      e.dirty = false;
      out.push([key, e.encoded]);
    }
    this.dirtyEntries = 0;
    return out;
  }

  get size(): number {
    return this.entries.size;
  }
  get dirtySize(): number {
    return this.dirtyEntries;
  }
  get byteSize(): number {
    return this.bytes;
  }
  hitRate(): number | undefined {
    const reads = this.hits + this.misses;
    return reads === 0 ? undefined : this.hits / reads;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
    this.dirtyEntries = 0;
  }

  private makeRoom(): void {
    if (this.bytes <= this.maxBytes) return;
    const target = this.maxBytes * EVICT_TO;
    const spilled: [string, string | null][] = [];
    // A Map iterates in insertion order and visits entries re-inserted during the walk: an entry
    // given a second chance is met again after every older one, then goes if still unread.
    for (const [key, e] of this.entries) {
      if (this.bytes <= target) break;
      if (e.referenced) {
        e.referenced = false;
        this.entries.delete(key);
        this.entries.set(key, e);
        continue;
      }
      this.entries.delete(key);
      this.bytes -= e.bytes;
      if (e.dirty) {
        this.dirtyEntries--;
        spilled.push([key, e.encoded]);
      }
    }
    if (spilled.length > 0) {
      this.spilled += spilled.length;
      this.spill(spilled);
    }
  }
}
