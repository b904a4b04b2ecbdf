import type { Producer, Transaction } from './client/port.ts';
import { commitOrFault, type FaultCounter } from './commit-fault.ts';
import type { Logger } from '../../api/log.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { ActiveTask, OffsetToCommit } from './active-task.ts';
import { changelogTopicsOf, groupOffsets, noteAcknowledged, type CommitHooks, type Committer } from './committer.ts';
import type { FaultHooks } from './config.ts';
import { FENCED_ERRORS, kafkaErrorType, SEQUENCE_LOST_ERRORS } from './errors.ts';
import { chunkTopicMessages } from './send-chunks.ts';

/** Why a transaction attempt gave up: retrying cannot help with these, the task must be handled. */
class Fenced extends Error {}
class OutcomeUnknown extends Error {}

/**
 * Exactly-once with a transactional producer per task (the pattern before KIP-447, which
 * kafkajs needs: it sends TxnOffsetCommit without the consumer's group metadata). One
 * transaction per task holds its outputs, its changelog writes and its input offsets.
 */
export class ExactlyOnceCommitter implements Committer {
  private readonly groupId: string;
  private readonly hooks: CommitHooks;
  private readonly faults: FaultCounter;
  private readonly log: Logger;

  constructor(groupId: string, hooks: CommitHooks, faults: FaultHooks, log: Logger) {
    this.groupId = groupId;
    this.hooks = hooks;
    this.faults = { hooks: faults, commits: 0, injected: 0 };
    this.log = log;
  }

  async commit(tasks: readonly ActiveTask[], offsets: readonly OffsetToCommit[]): Promise<void> {
    for (const t of tasks) await this.commitTask(t, offsets.filter((o) => t.reads(o)));
  }

  /**
   * Files are renamed inside the transaction; their names are deterministic, so an aborted and
   * replayed batch finds them done. The task's changes and its offsets are taken together, with
   * nothing processed in between: a transaction holding a batch's state but not its offsets
   * would, after a restore and a rewind to the committed offsets, count the batch twice.
   */
  private async commitTask(t: ActiveTask, offsets: readonly OffsetToCommit[]): Promise<void> {
    const topicMessages = t.takeOutputs();
    if (topicMessages.length === 0 && offsets.length === 0) {
      await t.task.commitSinks();
      return;
    }
    const producer = t.producer!;
    try {
      // An aborted transaction leaves nothing visible, so the same messages and offsets can be
      // tried again while the broker side settles (a leader or coordinator moving).
      const written = await retrying(
        `transaction of task ${t.id}`,
        () => this.attempt(t, producer, topicMessages, offsets),
        { ...BROKER_RETRY_POLICY, retriable: (e) => !(e instanceof Fenced || e instanceof OutcomeUnknown) },
        this.log,
      );
      // Only a committed transaction's records count: the checkpoint of a clean close points after them.
      t.state?.noteWritten(written);
      if (offsets.length > 0) this.hooks.committed(offsets);
    } catch (e) {
      if (e instanceof Fenced) {
        this.log.warn(`task ${t.id} was fenced by its new owner; dropping it here`);
        await this.hooks.fenced(t);
        return;
      }
      if (e instanceof OutcomeUnknown) {
        await this.hooks.corrupted(t, e.message);
        return;
      }
      throw e;
    }
  }

  private async attempt(t: ActiveTask, producer: Producer, topicMessages: ReturnType<ActiveTask['takeOutputs']>, offsets: readonly OffsetToCommit[]): Promise<Map<string, bigint>> {
    let txn: Transaction | undefined;
    let committing = false;
    const written = new Map<string, bigint>();
    try {
      txn = await producer.transaction();
      for (const chunk of chunkTopicMessages(topicMessages)) noteAcknowledged(chunk, await txn.sendBatch({ topicMessages: chunk, acks: -1 }), changelogTopicsOf([t]), written);
      if (offsets.length > 0) await txn.sendOffsets(groupOffsets(this.groupId, offsets));
      await t.task.commitSinks();
      committing = true;
      await commitOrFault(txn, this.faults);
      return written;
    } catch (e) {
      const type = kafkaErrorType(e);
      if (FENCED_ERRORS.has(type)) throw new Fenced((e as Error).message);
      // A commit that failed, or a transaction kafkajs can no longer abort, has an unknown
      // outcome; a producer whose sequence numbers were lost fails every retry the same way.
      const aborted = !committing && (await txn?.abort().then(() => true, () => false)) !== false;
      if (!aborted || SEQUENCE_LOST_ERRORS.has(type) || /Transaction state exception/.test((e as Error).message)) throw new OutcomeUnknown((e as Error).message);
      throw e;
    }
  }

  async close(): Promise<void> {}
}
