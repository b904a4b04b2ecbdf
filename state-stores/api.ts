/**
 * State store contracts. Reads and writes are synchronous so the hot path never awaits: an
 * in-memory store is a Map; a persistent (RocksDB) store answers from a bounded record cache and,
 * on a miss, reads RocksDB synchronously (see rocksdb-key-value-store.ts for why). `flush()` writes
 * what the cache holds back to disk in one batch before the task commits.
 */
export interface StateStore {
  readonly name: string;
  /** Whether writes are logged to a changelog topic (`<application>-<store>-changelog`). */
  readonly logged: boolean;
  /** Whether the store lives on disk (RocksDB) and so outlives the process. */
  readonly persistent: boolean;
  /** Called by the task before its processors' `init`, so changes made from then on carry event time. */
  init?(context: StoreContext): void;
  /** Opens local state (a persistent store's database); the runtime awaits it before restoring or processing. A no-op in memory. */
  open(): Promise<void>;
  /**
   * Writes buffered writes (a persistent store's dirty cache entries) to disk in one batch.
   * Once it resolves, local state reflects every change drained for the changelog so far.
   */
  flush(): Promise<void>;
  /** Flushes and releases the store (a persistent store closes its database; its files stay). */
  close(): Promise<void>;
  /**
   * A persistent store only: deletes its local state (its directory), for a fresh restore from
   * the changelog. An open store stays open, empty.
   */
  wipe?(): Promise<void>;
  /** Entries changed since the last call, for the changelog (latest value per key, null = deleted). */
  drainChanges(): ChangelogEntry[];
  /** Applies one changelog entry during restore; a persistent store writes it through to disk in batches. */
  restore(entry: ChangelogEntry): void;
  /** Size of the store now (entries; a persistent store's disk use and cache hit rate). */
  metrics(): StoreMetrics;
}

/** What a store reports of its size, through `metrics()`: entries, and on disk its files and cache. */
export interface StoreMetrics {
  /** Entries held (windowed: key and window pairs); an estimate for a persistent store. */
  readonly entries: number;
  /** A persistent store: bytes of its table files on disk (RocksDB's `total-sst-files-size`). */
  readonly bytesOnDisk?: number;
  /** A persistent store: share of reads its record cache answered since it opened. */
  readonly cacheHitRate?: number;
}

/** What a store may ask of the task that owns it. */
export interface StoreContext {
  /** Event time of the record being processed (or the punctuation time). */
  recordTimestamp(): number;
}

export interface ChangelogEntry {
  readonly key: string;
  readonly value: string | null;
  /**
   * Event time of the record whose processing made the change, as Kafka Streams stamps its
   * changelog records. Absent when the store has no context or that time is not finite.
   */
  readonly timestamp?: number;
}

/** A store of values by key (aggregates, buffers); reads and writes are synchronous. */
export interface KeyValueStore<K, V> extends StateStore {
  /** The value of a key, or undefined. */
  get(key: K): V | undefined;
  /** Sets a key's value; the change goes to the changelog at the next commit. */
  put(key: K, value: V): void;
  /** Removes a key (a tombstone in the changelog). */
  delete(key: K): void;
  /**
   * Every entry, in the order of the encoded keys (UTF-8 byte order on disk, which for text
   * outside the surrogate range is the order of JavaScript strings).
   */
  all(): Iterable<[K, V]>;
  /** Number of entries: exact in memory, an estimate for a persistent store (RocksDB's estimate-num-keys). */
  size(): number;
  /**
   * A persistent store: reads the keys it does not cache in one batch (a RocksDB MultiGet) and
   * caches them, so the `get`s that follow are hits. For a caller that knows keys ahead of its
   * reads (the keys of a batch of records); memory stores have nothing to fetch.
   */
  prefetch?(keys: Iterable<K>): void;
}

/** The key of a windowed aggregate: the record key and its window [start, end), epoch ms. */
export interface Windowed<K> {
  readonly key: K;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

/**
 * Windows of a key, by window start. Writes to a window that started before the last
 * `expireBefore` bound are ignored, as Kafka Streams drops writes to expired segments.
 */
export interface WindowStore<K, V> extends StateStore {
  /** The value of a key in the window starting at `windowStart`, or undefined. */
  get(key: K, windowStart: number): V | undefined;
  /** Sets a key's value in a window (ignored when the window has expired). */
  put(key: K, windowStart: number, value: V): void;
  /** Removes a key's value in a window. */
  delete(key: K, windowStart: number): void;
  /** The windows of one key that start in [from, to], as [window start, value], by start. */
  fetch(key: K, from: number, to: number): Iterable<[number, V]>;
  /** Entries whose window starts in [from, to], ordered by window start then key. */
  fetchRange(from: number, to: number): Iterable<[Windowed<K>, V]>;
  /** Drops every window that started before `windowStart`: retention bounded by open windows. */
  expireBefore(windowStart: number): void;
  /** Distinct window starts that hold at least one entry. */
  windowCount(): number;
}

/** How a store's keys and values become changelog strings and back. */
export interface StoreCodec<T> {
  /** The text a value is stored and logged as. */
  encode(value: T): string;
  /** The value of a text `encode` wrote. */
  decode(text: string): T;
}

export const jsonCodec = <T>(): StoreCodec<T> => ({
  encode: (v) => JSON.stringify(v),
  decode: (t) => JSON.parse(t) as T,
});

export const stringCodec: StoreCodec<string> = { encode: (v) => v, decode: (t) => t };
