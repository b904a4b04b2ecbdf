/**
 * State store contracts. Reads and writes are synchronous so the hot path never awaits;
 * a disk-backed store keeps a write cache that `flush()` persists in one batch before the
 * task commits. That keeps the in-memory path free of promises and admits RocksDB.
 */
export interface StateStore {
  readonly name: string;
  /** Whether writes are logged to a changelog topic (`<application>-<store>-changelog`). */
  readonly logged: boolean;
  /** Called by the task before its processors' `init`, so changes made from then on carry event time. */
  init?(context: StoreContext): void;
  /** Loads local state (a disk store); the runtime awaits it before restoring from the changelog. */
  open?(): Promise<void>;
  /** Persists buffered writes; resolves once they are durable locally. */
  flush(): Promise<void> | void;
  close(): Promise<void> | void;
  /** Entries changed since the last call, for the changelog (latest value per key, null = deleted). */
  drainChanges(): ChangelogEntry[];
  /** Applies one changelog entry during restore. */
  restore(entry: ChangelogEntry): void;
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

export interface KeyValueStore<K, V> extends StateStore {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  delete(key: K): void;
  /** Every entry, in key order. */
  all(): Iterable<[K, V]>;
  size(): number;
}

export interface Windowed<K> {
  readonly key: K;
  readonly start: number;
  readonly end: number;
}

export interface WindowStore<K, V> extends StateStore {
  get(key: K, windowStart: number): V | undefined;
  put(key: K, windowStart: number, value: V): void;
  delete(key: K, windowStart: number): void;
  /** Entries whose window starts in [from, to], ordered by window start then key. */
  fetchRange(from: number, to: number): Iterable<[Windowed<K>, V]>;
  /** Drops every window that started before `windowStart`: retention bounded by open windows. */
  expireBefore(windowStart: number): void;
  windowCount(): number;
}

/** How a store's keys and values become changelog strings and back. */
export interface StoreCodec<T> {
  encode(value: T): string;
  decode(text: string): T;
}

export const jsonCodec = <T>(): StoreCodec<T> => ({
  encode: (v) => JSON.stringify(v),
  decode: (t) => JSON.parse(t) as T,
});

export const stringCodec: StoreCodec<string> = { encode: (v) => v, decode: (t) => t };
