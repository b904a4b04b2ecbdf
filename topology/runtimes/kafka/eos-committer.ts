import type { Logger } from '../../api/log.ts';
import type { ActiveTask, OffsetToCommit } from './active-task.ts';
import { groupOffsets, type CommitHooks, type Committer } from './committer.ts';
import type { FaultHooks } from './config.ts';
import { FENCED_ERRORS } from './errors.ts';
import { commitTransaction, faultCounter, Fenced, OutcomeUnknown, type FaultCounter } from './transaction.ts';

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
    this.faults = faultCounter(faults);
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
      const written = await commitTransaction({
        label: `transaction of task ${t.id}`,
        producer,
        tasks: [t],
        topicMessages,
        offsets: offsets.length > 0 ? groupOffsets(this.groupId, offsets) : undefined,
        fencedBy: FENCED_ERRORS,
        faults: this.faults,
        log: this.log,
      });
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

  async close(): Promise<void> {}
}
