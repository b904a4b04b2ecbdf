import type { ChangelogEntry, StoreContext } from './api.ts';

/**
 * What a store changed since the changelog was last drained: the latest value per key (null =
 * deleted) and the event time of that change. It holds one commit interval of changes, like the
 * record collector that sends them; a store that is not logged keeps nothing.
 *
 * Values are kept as the store holds them and encoded when drained: a key written many times
 * between commits (an aggregate's hot key) is encoded once per commit, not once per write. A
 * store that already has the encoded text (RocksDB) keeps that, with the identity as encoder.
 */
const DELETED: unique symbol = Symbol('deleted');

export class ChangelogBuffer<V = string> {
  readonly enabled: boolean;
  private readonly encode: (value: V) => string;
  /** Latest value per key, or DELETED: a separate mark, as a value itself may be null. */
  private readonly changes = new Map<string, V | typeof DELETED>();
  /** Event time of each key's latest change, beside `changes` so a put costs a number, not an object. */
  private readonly times = new Map<string, number>();
  private context: StoreContext | undefined;

  constructor(enabled: boolean, encode: (value: V) => string) {
    this.enabled = enabled;
    this.encode = encode;
  }

  init(context: StoreContext): void {
    this.context = context;
  }

  note(key: string, value: V): void {
    if (!this.enabled) return;
    this.changes.set(key, value);
    if (this.context !== undefined) this.times.set(key, this.context.recordTimestamp());
  }

  /** A delete: a tombstone in the changelog. */
  noteDelete(key: string): void {
    if (!this.enabled) return;
    this.changes.set(key, DELETED);
    if (this.context !== undefined) this.times.set(key, this.context.recordTimestamp());
  }

  get size(): number {
    return this.changes.size;
  }

  drain(): ChangelogEntry[] {
    if (this.changes.size === 0) return [];
    const out: ChangelogEntry[] = [];
    for (const [key, change] of this.changes) {
      const value = change === DELETED ? null : this.encode(change);
      const timestamp = this.times.get(key);
      // Kafka takes only finite timestamps: none before the first record, none at end of input (+Infinity).
      out.push(timestamp !== undefined && Number.isFinite(timestamp) ? { key, value, timestamp } : { key, value });
    }
    this.clear();
    return out;
  }

  clear(): void {
    this.changes.clear();
    this.times.clear();
  }
}
