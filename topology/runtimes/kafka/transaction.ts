import { writeSync } from 'node:fs';
import type { Logger } from '../../api/log.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { ActiveTask } from './active-task.ts';
import type { Consumer, GroupOffsets, Producer, TopicMessages, Transaction } from './client/port.ts';
import { changelogTopicsOf, noteAcknowledged } from './committer.ts';
import type { FaultHooks } from './config.ts';
import { FENCED_ERRORS, kafkaErrorType, SEQUENCE_LOST_ERRORS } from './errors.ts';
import { chunkTopicMessages } from './send-chunks.ts';

/** The transaction's producer or member may no longer commit: retrying cannot help, its tasks must go. */
export class Fenced extends Error {}
/** The commit may or may not have gone through: its tasks restart from their committed state. */
export class OutcomeUnknown extends Error {}

/** The fault hook's state in one committer: commits so far and faults injected. */
export interface FaultCounter {
  readonly hooks: FaultHooks;
  commits: number;
  injected: number;
}

export const faultCounter = (hooks: FaultHooks): FaultCounter => ({ hooks, commits: 0, injected: 0 });

/** One commit of the exactly-once committers: its records, offsets and the tasks they come from. */
export interface TransactionWork {
  readonly label: string;
  readonly producer: Producer;
  readonly tasks: readonly ActiveTask[];
  readonly topicMessages: TopicMessages[];
  /** The input offsets, with the consumer for exactly-once v2; undefined when there are none. */
  readonly offsets: (GroupOffsets & { consumer?: Consumer }) | undefined;
  /** Protocol errors (by type) that mean this producer or member lost its right to commit. */
  readonly fencedBy: ReadonlySet<string>;
  readonly faults: FaultCounter;
  readonly log: Logger;
}

/**
 * Sends a commit's records and offsets in one transaction, renames the tasks' files inside it
 * and commits it, retried while the broker side settles (an aborted transaction leaves nothing
 * visible, so the same records and offsets can be tried again). Returns where each changelog
 * partition written ends (only a committed transaction's records count); throws `Fenced` or
 * `OutcomeUnknown` where retrying cannot help.
 */
export const commitTransaction = (w: TransactionWork): Promise<Map<string, bigint>> =>
  retrying(w.label, () => attempt(w), { ...BROKER_RETRY_POLICY, retriable: (e) => !(e instanceof Fenced || e instanceof OutcomeUnknown) }, w.log);

async function attempt(w: TransactionWork): Promise<Map<string, bigint>> {
  let txn: Transaction | undefined;
  let committing = false;
  const written = new Map<string, bigint>();
  try {
    txn = await w.producer.transaction();
    const changelogs = changelogTopicsOf(w.tasks);
    for (const chunk of chunkTopicMessages(w.topicMessages)) noteAcknowledged(chunk, await txn.sendBatch({ topicMessages: chunk, acks: -1 }), changelogs, written);
    if (w.offsets !== undefined) await txn.sendOffsets(w.offsets);
    for (const t of w.tasks) await t.task.commitSinks();
    committing = true;
    await commitOrFault(txn, w.faults);
    return written;
  } catch (e) {
    const type = kafkaErrorType(e);
    if (w.fencedBy.has(type)) {
      // A producer still valid (the group moved on under exactly-once v2) gives its open
      // transaction up; a fenced producer cannot, and need not.
      if (!committing && !FENCED_ERRORS.has(type)) await txn?.abort().catch(() => {});
      throw new Fenced(`${type}: ${(e as Error).message}`);
    }
    // A commit that failed, or a transaction the client can no longer abort, has an unknown
    // outcome; a producer whose sequence numbers were lost fails every retry the same way.
    const aborted = !committing && (await txn?.abort().then(() => true, () => false)) !== false;
    if (!aborted || SEQUENCE_LOST_ERRORS.has(type) || /Transaction state exception/.test((e as Error).message)) throw new OutcomeUnknown((e as Error).message);
    throw e;
  }
}

/**
 * Commits a transaction, or, under the `txnUnknownEvery` fault hook, makes every Nth commit fail
 * with an unknown outcome: alternately after it went through and before it was sent.
 */
async function commitOrFault(txn: { commit(): Promise<void> }, f: FaultCounter): Promise<void> {
  const every = f.hooks.txnUnknownEvery;
  if (every === undefined || !(every > 0) || ++f.commits % every !== 0) return txn.commit();
  const committed = f.injected++ % 2 === 0;
  if (committed) await txn.commit();
  writeSync(2, `fault hook txnUnknownEvery: commit ${f.commits} fails ${committed ? 'after' : 'before'} committing\n`);
  throw new Error(`injected fault: commit ${committed ? 'done' : 'not sent'}, outcome unknown to the caller`);
}
