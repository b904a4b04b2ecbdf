import type { ChangelogEntry, KeyValueStore, StoreCodec, StoreContext, StoreMetrics, WindowStore, Windowed } from './api.ts';
import { ChangelogBuffer } from './changelog-buffer.ts';
import { parseWindowEntryKey, windowEntryKey } from './window-keys.ts';

/** A key-value store in a Map: the whole state in the heap, restored from the changelog on start. */
export class InMemoryKeyValueStore<K, V> implements KeyValueStore<K, V> {
  private readonly data = new Map<string, [K, V]>();
  private readonly changes: ChangelogBuffer<V>;
  readonly name: string;
  readonly logged: boolean;
  readonly persistent = false;
  private readonly keyCodec: StoreCodec<K>;
  private readonly valueCodec: StoreCodec<V>;

  constructor(name: string, keyCodec: StoreCodec<K>, valueCodec: StoreCodec<V>, logged: boolean) {
    this.name = name;
    this.logged = logged;
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.changes = new ChangelogBuffer<V>(logged, (v) => valueCodec.encode(v));
  }

  init(context: StoreContext): void {
    this.changes.init(context);
  }
  async open(): Promise<void> {}

  get(key: K): V | undefined {
    return this.data.get(this.keyCodec.encode(key))?.[1];
  }
  put(key: K, value: V): void {
    const k = this.keyCodec.encode(key);
    this.data.set(k, [key, value]);
    this.changes.note(k, value);
  }
  delete(key: K): void {
    const k = this.keyCodec.encode(key);
    if (this.data.delete(k)) this.changes.noteDelete(k);
  }
  *all(): Iterable<[K, V]> {
    const keys = [...this.data.keys()].sort();
    for (const k of keys) yield this.data.get(k)!;
  }
  size(): number {
    return this.data.size;
  }
  metrics(): StoreMetrics {
    return { entries: this.data.size };
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {
    this.data.clear();
    this.changes.clear();
  }
  drainChanges(): ChangelogEntry[] {
    return this.changes.drain();
  }
  restore(entry: ChangelogEntry): void {
    if (entry.value === null) this.data.delete(entry.key);
    else this.data.set(entry.key, [this.keyCodec.decode(entry.key), this.valueCodec.decode(entry.value)]);
  }
}

/** A window store in Maps, one per open window: the whole state in the heap, restored from the changelog on start. */
export class InMemoryWindowStore<K, V> implements WindowStore<K, V> {
  /** windowStart -> encoded key -> [key, value]; windows are few (open ones only), keys many. */
  private readonly windows = new Map<number, Map<string, [K, V]>>();
  private readonly changes: ChangelogBuffer<V>;
  readonly name: string;
  readonly logged: boolean;
  readonly persistent = false;
  private readonly keyCodec: StoreCodec<K>;
  private readonly valueCodec: StoreCodec<V>;
  private readonly windowSizeMs: number;
  /** The largest `expireBefore` bound so far: windows that started before it take no writes. */
  private expiredBefore = Number.NEGATIVE_INFINITY;

  constructor(name: string, windowSizeMs: number, keyCodec: StoreCodec<K>, valueCodec: StoreCodec<V>, logged: boolean) {
    this.name = name;
    this.windowSizeMs = windowSizeMs;
    this.logged = logged;
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.changes = new ChangelogBuffer<V>(logged, (v) => valueCodec.encode(v));
  }

  init(context: StoreContext): void {
    this.changes.init(context);
  }
  async open(): Promise<void> {}

  get(key: K, windowStart: number): V | undefined {
    return this.windows.get(windowStart)?.get(this.keyCodec.encode(key))?.[1];
  }
  put(key: K, windowStart: number, value: V): void {
    if (windowStart < this.expiredBefore) return;
    let w = this.windows.get(windowStart);
    if (w === undefined) {
      w = new Map();
      this.windows.set(windowStart, w);
    }
    const k = this.keyCodec.encode(key);
    w.set(k, [key, value]);
    this.changes.note(windowEntryKey(windowStart, k), value);
  }
  delete(key: K, windowStart: number): void {
    const w = this.windows.get(windowStart);
    const k = this.keyCodec.encode(key);
    if (w?.delete(k)) {
      if (w.size === 0) this.windows.delete(windowStart);
      this.changes.noteDelete(windowEntryKey(windowStart, k));
    }
  }
  *fetch(key: K, from: number, to: number): Iterable<[number, V]> {
    const k = this.keyCodec.encode(key);
    const starts = [...this.windows.keys()].filter((s) => s >= from && s <= to).sort((a, b) => a - b);
    for (const start of starts) {
      const entry = this.windows.get(start)!.get(k);
      if (entry !== undefined) yield [start, entry[1]];
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
    if (windowStart > this.expiredBefore) this.expiredBefore = windowStart;
    for (const [start, w] of this.windows) {
      if (start >= windowStart) continue;
      // Expiry is logged as deletes so a restored store never resurrects old windows.
      for (const k of w.keys()) this.changes.noteDelete(windowEntryKey(start, k));
      this.windows.delete(start);
    }
  }
  windowCount(): number {
    return this.windows.size;
  }
  metrics(): StoreMetrics {
    let entries = 0;
    for (const w of this.windows.values()) entries += w.size;
    return { entries };
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {
    this.windows.clear();
    this.changes.clear();
  }
  drainChanges(): ChangelogEntry[] {
    return this.changes.drain();
  }
  restore(entry: ChangelogEntry): void {
    const { start, key: k } = parseWindowEntryKey(entry.key);
    if (start < this.expiredBefore) return;
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
