import type { ChangelogEntry, KeyValueStore, StoreCodec, StoreContext, WindowStore, Windowed } from './api.ts';

/**
 * Where an in-memory store persists itself (RocksDB): loaded on open, written in one batch per
 * flush. Reads never touch it, so the hot path stays synchronous.
 */
export interface Persistence {
  open(restore: (entry: ChangelogEntry) => void): Promise<void>;
  write(entries: readonly ChangelogEntry[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a store changed since the last commit (latest value per key, null = deleted): drained
 * for its changelog topic, and written in one batch to its disk copy when it has one.
 */
class ChangeTracker {
  private readonly logged: boolean;
  private readonly persistence: Persistence | undefined;
  private readonly changelog = new Map<string, string | null>();
  /** Event time of each key's latest change, beside `changelog` so a put costs a number, not an object. */
  private readonly changelogTimes = new Map<string, number>();
  private readonly disk = new Map<string, string | null>();
  private context: StoreContext | undefined;
  /** Whether changes are kept at all: a store neither logged nor persisted skips encoding values. */
  readonly active: boolean;

  constructor(logged: boolean, persistence: Persistence | undefined) {
    this.logged = logged;
    this.persistence = persistence;
    this.active = logged || persistence !== undefined;
  }
  init(context: StoreContext): void {
    this.context = context;
  }
  note(key: string, value: string | null): void {
    if (this.logged) {
      this.changelog.set(key, value);
      if (this.context !== undefined) this.changelogTimes.set(key, this.context.recordTimestamp());
    }
    if (this.persistence !== undefined) this.disk.set(key, value);
  }
  drainChangelog(): ChangelogEntry[] {
    if (this.changelog.size === 0) return [];
    const out: ChangelogEntry[] = [];
    for (const [key, value] of this.changelog) {
      const timestamp = this.changelogTimes.get(key);
      // Kafka takes only finite timestamps: none before the first record, none at end of input (+Infinity).
      out.push(timestamp !== undefined && Number.isFinite(timestamp) ? { key, value, timestamp } : { key, value });
    }
    this.changelog.clear();
    this.changelogTimes.clear();
    return out;
  }
  async open(restore: (entry: ChangelogEntry) => void): Promise<void> {
    await this.persistence?.open(restore);
  }
  async flush(): Promise<void> {
    if (this.persistence !== undefined && this.disk.size > 0) await this.persistence.write(drain(this.disk));
  }
  async close(): Promise<void> {
    await this.persistence?.close();
  }
}

function drain(pending: Map<string, string | null>): ChangelogEntry[] {
  if (pending.size === 0) return [];
  const out: ChangelogEntry[] = [];
  for (const [key, value] of pending) out.push({ key, value });
  pending.clear();
  return out;
}

export class InMemoryKeyValueStore<K, V> implements KeyValueStore<K, V> {
  private readonly data = new Map<string, [K, V]>();
  private readonly changes: ChangeTracker;
  readonly name: string;
  readonly logged: boolean;
  private readonly keyCodec: StoreCodec<K>;
  private readonly valueCodec: StoreCodec<V>;

  constructor(name: string, keyCodec: StoreCodec<K>, valueCodec: StoreCodec<V>, logged: boolean, persistence?: Persistence) {
    this.name = name;
    this.logged = logged;
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.changes = new ChangeTracker(logged, persistence);
  }

  init(context: StoreContext): void {
    this.changes.init(context);
  }
  async open(): Promise<void> {
    await this.changes.open((e) => this.restore(e));
  }

  get(key: K): V | undefined {
    return this.data.get(this.keyCodec.encode(key))?.[1];
  }
  put(key: K, value: V): void {
    const k = this.keyCodec.encode(key);
    this.data.set(k, [key, value]);
    if (this.changes.active) this.changes.note(k, this.valueCodec.encode(value));
  }
  delete(key: K): void {
    const k = this.keyCodec.encode(key);
    if (this.data.delete(k)) this.changes.note(k, null);
  }
  *all(): Iterable<[K, V]> {
    const keys = [...this.data.keys()].sort();
    for (const k of keys) yield this.data.get(k)!;
  }
  size(): number {
    return this.data.size;
  }
  async flush(): Promise<void> {
    await this.changes.flush();
  }
  async close(): Promise<void> {
    this.data.clear();
    await this.changes.close();
  }
  drainChanges(): ChangelogEntry[] {
    return this.changes.drainChangelog();
  }
  restore(entry: ChangelogEntry): void {
    if (entry.value === null) this.data.delete(entry.key);
    else this.data.set(entry.key, [this.keyCodec.decode(entry.key), this.valueCodec.decode(entry.value)]);
  }
}

/** Changelog key of a window entry: the window start, then the encoded key. */
const windowEntryKey = (start: number, key: string): string => `${start}@${key}`;

export class InMemoryWindowStore<K, V> implements WindowStore<K, V> {
  /** windowStart -> encoded key -> [key, value]; windows are few (open ones only), keys many. */
  private readonly windows = new Map<number, Map<string, [K, V]>>();
  private readonly changes: ChangeTracker;
  readonly name: string;
  readonly logged: boolean;
  private readonly keyCodec: StoreCodec<K>;
  private readonly valueCodec: StoreCodec<V>;
  private readonly windowSizeMs: number;

  constructor(name: string, windowSizeMs: number, keyCodec: StoreCodec<K>, valueCodec: StoreCodec<V>, logged: boolean, persistence?: Persistence) {
    this.name = name;
    this.windowSizeMs = windowSizeMs;
    this.logged = logged;
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.changes = new ChangeTracker(logged, persistence);
  }

  init(context: StoreContext): void {
    this.changes.init(context);
  }
  async open(): Promise<void> {
    await this.changes.open((e) => this.restore(e));
  }

  get(key: K, windowStart: number): V | undefined {
    return this.windows.get(windowStart)?.get(this.keyCodec.encode(key))?.[1];
  }
  put(key: K, windowStart: number, value: V): void {
    let w = this.windows.get(windowStart);
    if (w === undefined) {
      w = new Map();
      this.windows.set(windowStart, w);
    }
    const k = this.keyCodec.encode(key);
    w.set(k, [key, value]);
    if (this.changes.active) this.changes.note(windowEntryKey(windowStart, k), this.valueCodec.encode(value));
  }
  delete(key: K, windowStart: number): void {
    const w = this.windows.get(windowStart);
    const k = this.keyCodec.encode(key);
    if (w?.delete(k)) {
      if (w.size === 0) this.windows.delete(windowStart);
      this.changes.note(windowEntryKey(windowStart, k), null);
    }
  }
  *fetchRange(from: number, to: number): Iterable<[Windowed<K>, V]> {
    const starts = [...this.windows.keys()].filter((s) => s >= from && s <= to).sort((a, b) => a - b);
    for (const start of starts) {
      const w = this.windows.get(start)!;
      const keys = [...w.keys()].sort();
      for (const k of keys) {
        const [key, value] = w.get(k)!;
        yield [{ key, start, end: start + this.windowSizeMs }, value];
      }
    }
  }
  expireBefore(windowStart: number): void {
    for (const [start, w] of this.windows) {
      if (start >= windowStart) continue;
      // Expiry is logged as deletes so a restored store never resurrects old windows.
      for (const k of w.keys()) this.changes.note(windowEntryKey(start, k), null);
      this.windows.delete(start);
    }
  }
  windowCount(): number {
    return this.windows.size;
  }
  async flush(): Promise<void> {
    await this.changes.flush();
  }
  async close(): Promise<void> {
    this.windows.clear();
    await this.changes.close();
  }
  drainChanges(): ChangelogEntry[] {
    return this.changes.drainChangelog();
  }
  restore(entry: ChangelogEntry): void {
    const at = entry.key.indexOf('@');
    const start = Number(entry.key.slice(0, at));
    const k = entry.key.slice(at + 1);
    if (entry.value === null) {
      const w = this.windows.get(start);
      if (w?.delete(k) && w.size === 0) this.windows.delete(start);
      return;
    }
    let w = this.windows.get(start);
    if (w === undefined) {
      w = new Map();
      this.windows.set(start, w);
    }
    w.set(k, [this.keyCodec.decode(k), this.valueCodec.decode(entry.value)]);
  }
}
