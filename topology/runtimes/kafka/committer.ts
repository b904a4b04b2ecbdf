import type { Message, RecordMetadata } from './client/port.ts';
import { decide, type ProductionHandler } from '../../api/handlers.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import type { Logger } from '../../api/log.ts';
import type { ActiveTask, OffsetToCommit } from './active-task.ts';
import type { TopicMessages } from './client/port.ts';
import { kafkaErrorType } from './errors.ts';

/**
 * Makes a set of tasks' work durable, then commits the input offsets it covers: one committer
 * per processing guarantee, as Kafka Streams has one TaskExecutor commit path per guarantee.
 */
export interface Committer {
  commit(tasks: readonly ActiveTask[], offsets: readonly OffsetToCommit[]): Promise<void>;
  close(): Promise<void>;
}

/** Hooks a committer calls when a task can no longer commit where it stands. */
export interface CommitHooks {
  /** Another process owns the task now: drop this copy; its work is replayed there. */
  fenced(task: ActiveTask): Promise<void>;
  /** Its transaction's outcome is unknown: restart it from its committed state. */
  corrupted(task: ActiveTask, reason: string): Promise<void>;
  /** Offsets committed (or sent in a committed transaction): purge what repartition topics no longer need. */
  committed(offsets: readonly OffsetToCommit[]): void;
  /** At-least-once, after each commit: the tasks' changelog writes are acknowledged; flush their stores and checkpoint them. */
  checkpoint(tasks: readonly ActiveTask[]): Promise<void>;
  count(metric: string, n: number): void;
}

/**
 * Notes, from a send's acknowledgements, where each changelog partition it wrote ends: the base
 * offset the broker gave the partition's records plus their number, which is the next offset
 * after the last of them. This is exact: kafkajs sends a partition's records of one `sendBatch`
 * as one record batch, whose records take consecutive offsets from the base. The end offset of
 * the partition read afterwards would not be: another writer (the previous owner of the task,
 * in the moments of a rebalance) may have appended after it, records this store never applied.
 */
export function noteAcknowledged(sent: readonly TopicMessages[], acks: unknown, topics: ReadonlySet<string>, into: Map<string, bigint>): void {
  if (topics.size === 0 || !Array.isArray(acks)) return;
  const counts = new Map<string, number>();
  for (const { topic, messages } of sent) {
    if (!topics.has(topic)) continue;
    for (const m of messages) {
      const key = `${topic}/${m.partition ?? 0}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  for (const a of acks as RecordMetadata[]) {
    const key = `${a.topicName}/${a.partition}`;
    const n = counts.get(key);
    if (n === undefined || a.baseOffset === undefined || a.errorCode !== 0) continue;
    const end = BigInt(a.baseOffset) + BigInt(n);
    if (end > (into.get(key) ?? -1n)) into.set(key, end);
  }
}

/** The changelog topics of a set of tasks' persistent state: the ones whose acknowledged ends are worth noting. */
export const changelogTopicsOf = (tasks: readonly ActiveTask[]): Set<string> => new Set(tasks.flatMap((t) => t.state?.changelogs.map((c) => c.topic) ?? []));

/** Broker answers about one record that another attempt cannot change: the production handler decides. */
const RECORD_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'INVALID_TIMESTAMP', 'CORRUPT_MESSAGE']);

/**
 * Sends a commit's records. When the broker refuses a record for what it is (too large, bad
 * timestamp), the production handler decides: `fail` stops the instance; `continue` finds the
 * refused records by sending one at a time and drops those, counted as `dropped-records`.
 * A record sent again this way may be written twice: this is at-least-once.
 */
export async function sendHandlingRecordErrors(
  send: (topicMessages: TopicMessages[]) => Promise<unknown>,
  topicMessages: TopicMessages[],
  handler: ProductionHandler,
  log: Logger,
  count: (metric: string, n: number) => void,
): Promise<void> {
  try {
    await send(topicMessages);
    return;
  } catch (e) {
    if (!RECORD_ERRORS.has(kafkaErrorType(e))) throw e;
    if (decide(handler, { topic: topicMessages[0]?.topic ?? '', error: e }) === 'fail') throw fatalProduction(topicMessages[0]?.topic ?? '?', e);
  }
  for (const { topic, messages } of topicMessages) {
    for (const m of messages) {
      try {
        await send([{ topic, messages: [m as Message] }]);
      } catch (e) {
        if (!RECORD_ERRORS.has(kafkaErrorType(e))) throw e;
        if (decide(handler, { topic, error: e }) === 'fail') throw fatalProduction(topic, e);
        log.warn(`dropped a record the broker refused on ${topic}: ${(e as Error).message}`);
        count('dropped-records', 1);
      }
    }
  }
}

const fatalProduction = (topic: string, e: unknown) =>
  new RetailStreamsError('fatal', `the broker refused a record on ${topic} and the production handler says fail: ${(e as Error).message}`, { cause: e });

/** Offsets in kafkajs's shape for one consumer group. */
export const groupOffsets = (groupId: string, offsets: readonly OffsetToCommit[]) => ({
  consumerGroupId: groupId,
  topics: [...new Set(offsets.map((o) => o.topic))].map((topic) => ({
    topic,
    partitions: offsets.filter((o) => o.topic === topic).map((o) => ({ partition: o.partition, offset: o.offset })),
  })),
});
