import type { Message, TopicMessages } from './client/port.ts';
import type { ChangelogEntry } from '../../../state-stores/api.ts';

const asBuffer = (b: Uint8Array | null): Buffer | null => (b === null ? null : Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Kafka's record timestamps are non-negative epoch milliseconds. Event time is kept as it is
 * (years in the past included: repartition topics keep records by offset, not by time); a record
 * with no event time (NaN, an undecodable record's) or a negative one is stamped with `fallback`.
 */
export const kafkaTimestamp = (eventTime: number, fallback: number): string =>
  String(Number.isFinite(eventTime) && eventTime >= 0 ? Math.floor(eventTime) : Math.max(0, Math.floor(fallback)));

/**
 * The records one task has produced since its last commit, per Kafka topic, as Kafka Streams'
 * RecordCollector keeps them: sent in one batch (or one transaction) when the task commits, so
 * the offsets a commit covers never run ahead of the outputs they produced.
 */
export class RecordCollector {
  private pending = new Map<string, Message[]>();
  /** Records handed over for sending since `takeProduced`, by topic: the records-out metric. */
  private produced = new Map<string, number>();
  private readonly clock: () => number;

  constructor(clock: () => number) {
    this.clock = clock;
  }

  /** Queues a record; `timestamp` is the event time of the record that produced it. */
  send(topic: string, partition: number, key: Uint8Array | null, value: Uint8Array | null, timestamp: number, headers?: Readonly<Record<string, string>>): void {
    let list = this.pending.get(topic);
    if (list === undefined) this.pending.set(topic, (list = []));
    const message: Message = { key: asBuffer(key), value: asBuffer(value), partition, timestamp: kafkaTimestamp(timestamp, this.clock()) };
    if (headers !== undefined) message.headers = { ...headers };
    list.push(message);
  }

  /** Queues a store's changes for its changelog partition, each stamped with the event time that made it. */
  sendChangelog(topic: string, partition: number, entries: readonly ChangelogEntry[], fallbackTime: number): void {
    let list = this.pending.get(topic);
    if (list === undefined) this.pending.set(topic, (list = []));
    for (const e of entries) list.push({ key: e.key, value: e.value, partition, timestamp: kafkaTimestamp(e.timestamp ?? fallbackTime, this.clock()) });
  }

  get isEmpty(): boolean {
    return this.pending.size === 0;
  }

  /** Everything queued, handed over for sending; the collector starts empty again. */
  take(): TopicMessages[] {
    if (this.pending.size === 0) return [];
    const out = [...this.pending].map(([topic, messages]) => ({ topic, messages }));
    for (const { topic, messages } of out) this.produced.set(topic, (this.produced.get(topic) ?? 0) + messages.length);
    this.pending = new Map();
    return out;
  }

  /** Records taken for sending since the last call, by topic; the tally starts again. */
  takeProduced(): Map<string, number> {
    const out = this.produced;
    this.produced = new Map();
    return out;
  }
}
