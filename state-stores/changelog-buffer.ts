import type { ChangelogEntry, StoreContext } from './api.ts';

/**
 * What a store changed since the changelog was last drained: the latest value per key (null =
 * deleted) and the event time of that change. It holds one commit interval of changes, like the
 * record collector that sends them; a store that is not logged keeps nothing.
 */
export class ChangelogBuffer {
  readonly enabled: boolean;
  private readonly changes = new Map<string, string | null>();
  /** Event time of each key's latest change, beside `changes` so a put costs a number, not an object. */
  private readonly times = new Map<string, number>();
  private context: StoreContext | undefined;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  init(context: StoreContext): void {
    this.context = context;
  }

  note(key: string, value: string | null): void {
    if (!this.enabled) return;
    this.changes.set(key, value);
    if (this.context !== undefined) this.times.set(key, this.context.recordTimestamp());
  }

  get size(): number {
    return this.changes.size;
  }

  drain(): ChangelogEntry[] {
    if (this.changes.size === 0) return [];
    const out: ChangelogEntry[] = [];
    for (const [key, value] of this.changes) {
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
