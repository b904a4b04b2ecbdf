import { MAX_START, MIN_START } from './window-keys.ts';

/**
 * Time segments of a persistent window store, as Kafka Streams segments its RocksDB window
 * stores: window starts fall into fixed intervals, and expiry deletes whole segments at once.
 *
 * Kafka Streams gives each segment a database of its own and drops one by deleting its folder.
 * Opening a database is asynchronous here and the store's writes are not (a put may be the first
 * of a new segment), so segments share one database instead: a segment is the contiguous key
 * range of its window starts (keys begin with the start, see window-keys.ts), and dropping it is
 * one range deletion, whatever the number of entries. RocksDB reclaims the space in compaction.
 * Windows expired inside a segment that is still live are hidden by the store's expiry bound and
 * go with their segment; one range tombstone per segment keeps reads fast, where one per expiry
 * call would pile up.
 */
export class TimeSegments {
  readonly intervalMs: number;
  /** Window starts below this have been deleted, as whole segments. */
  private droppedBelow = MIN_START;

  constructor(intervalMs: number) {
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new RangeError(`segment interval must be a positive number of ms, got ${intervalMs}`);
    this.intervalMs = intervalMs;
  }

  /** Kafka Streams' default: max(retention / 2, 60 s), so about three segments are live. */
  static defaultIntervalMs(retentionMs: number): number {
    return Math.max(Math.floor(retentionMs / 2), 60_000);
  }

  segmentId(start: number): number {
    return Math.floor(start / this.intervalMs);
  }

  /** First window start of the segment holding `start`. */
  segmentStart(start: number): number {
    return this.segmentId(start) * this.intervalMs;
  }

  /**
   * Once windows before `expiredBefore` are expired: the range of window starts [from, to) of the
   * whole segments to delete now, or undefined when no further segment is entirely expired.
   */
  expire(expiredBefore: number): { from: number; to: number } | undefined {
    if (Number.isNaN(expiredBefore) || expiredBefore === Number.NEGATIVE_INFINITY) return undefined;
    // The end of a finite input expires everything.
    const to = expiredBefore === Number.POSITIVE_INFINITY ? MAX_START : Math.min(MAX_START, this.segmentStart(expiredBefore));
    if (to <= this.droppedBelow) return undefined;
    const range = { from: this.droppedBelow, to };
    this.droppedBelow = to;
    return range;
  }

  reset(): void {
    this.droppedBelow = MIN_START;
  }
}
