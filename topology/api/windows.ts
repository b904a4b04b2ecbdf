/**
 * Event-time windows [start, start + size). A window accepts records while the stream time
 * is below end + grace and is closed from then on (Kafka Streams' rule), so a record exactly
 * at end + grace of stream time finds its window closed.
 */
export interface TimeWindows {
  readonly sizeMs: number;
  readonly advanceMs: number;
  readonly graceMs: number;
}

/**
 * Builds window definitions for `KGroupedStream.windowedBy`.
 *
 * @example
 * ```ts
 * TimeWindows.tumbling(60_000, 10_000);        // one-minute windows, ten seconds of grace
 * TimeWindows.hopping(300_000, 60_000, 0);     // five-minute windows, one starting every minute
 * ```
 */
export const TimeWindows = {
  /** Windows of `sizeMs` back to back, each record in exactly one; `graceMs` for records out of order. */
  tumbling(sizeMs: number, graceMs = 0): TimeWindows {
    return TimeWindows.hopping(sizeMs, sizeMs, graceMs);
  },
  /** Windows of `sizeMs` starting every `advanceMs` (at most the size), so a record falls in size / advance windows. */
  hopping(sizeMs: number, advanceMs: number, graceMs = 0): TimeWindows {
    if (!(Number.isInteger(sizeMs) && sizeMs > 0)) throw new RangeError(`window size must be a positive integer of ms, got ${sizeMs}`);
    if (!(Number.isInteger(advanceMs) && advanceMs > 0 && advanceMs <= sizeMs))
      throw new RangeError(`window advance must be in (0, size], got ${advanceMs}`);
    if (!(Number.isInteger(graceMs) && graceMs >= 0)) throw new RangeError(`grace must be a non-negative integer of ms, got ${graceMs}`);
    return { sizeMs, advanceMs, graceMs };
  },
} as const;

/** Start of the window of size `advance` grid that contains `ts` (floor, also for negative times). */
export const alignedStart = (ts: number, advanceMs: number): number => ts - (((ts % advanceMs) + advanceMs) % advanceMs);

/** Starts of every window containing `ts`, oldest first. */
export const windowStartsFor = (w: TimeWindows, ts: number): number[] => {
  const out: number[] = [];
  // Starts lie on the advance grid; walk back from the latest while the window still contains ts.
  for (let s = alignedStart(ts, w.advanceMs); s > ts - w.sizeMs; s -= w.advanceMs) out.push(s);
  return out.reverse();
};

/** True once stream time has reached the window's end plus grace. */
export const isWindowClosed = (windowEnd: number, graceMs: number, streamTime: number): boolean => streamTime >= windowEnd + graceMs;
