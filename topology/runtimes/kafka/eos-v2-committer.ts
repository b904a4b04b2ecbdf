import type { Logger } from '../../api/log.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { ActiveTask, OffsetToCommit } from './active-task.ts';
import type { Consumer, KafkaClient, Producer } from './client/port.ts';
import { groupOffsets, type CommitHooks, type Committer } from './committer.ts';
import type { FaultHooks } from './config.ts';
import { FENCED_ERRORS, REBALANCE_ERRORS } from './errors.ts';
import { commitTransaction, faultCounter, Fenced, OutcomeUnknown, type FaultCounter } from './transaction.ts';

/** The producer was fenced, or the group moved on (the coordinator refused this generation's offsets). */
const MIGRATED_ERRORS: ReadonlySet<string> = new Set([...FENCED_ERRORS, ...REBALANCE_ERRORS, 'FENCED_INSTANCE_ID']);

/**
 * Exactly-once v2 (KIP-447), as Kafka Streams' `exactly_once_v2`: one transactional producer per
 * stream thread, and one transaction per commit holding every dirty task's outputs and changelog
 * writes and the input offsets, sent with the consumer's group metadata. Fencing is the group
 * coordinator's: a member that lost its partitions is refused the offsets (its generation is
 * old), so producers, transactional ids and coordinator load stay one per thread whatever the
 * number of partitions. The transactional id is stable for a state directory, so a restarted
 * process fences its own predecessor's open transaction at once.
 */
export class ExactlyOnceV2Committer implements Committer {
  private readonly kafka: KafkaClient;
  private readonly transactionalId: string;
  private readonly groupId: string;
  private readonly consumer: () => Consumer;
  private readonly hooks: CommitHooks;
  private readonly log: Logger;
  private readonly faults: FaultCounter;
  private producer: Producer | undefined;

  constructor(o: { kafka: KafkaClient; transactionalId: string; groupId: string; consumer: () => Consumer; hooks: CommitHooks; faults: FaultHooks; log: Logger }) {
    this.kafka = o.kafka;
    this.transactionalId = o.transactionalId;
    this.groupId = o.groupId;
    this.consumer = o.consumer;
    this.hooks = o.hooks;
    this.log = o.log;
    this.faults = faultCounter(o.faults);
  }

  /** Registers the transactional id: fences an older producer with it and settles its last transaction. */
  async start(): Promise<void> {
    // Kafka Streams' exactly-once default: a crashed member's open transaction holds readers back 10 s at most.
    const p = this.kafka.producer({ transactionalId: this.transactionalId, transactionTimeoutMs: 10_000 });
    await retrying(
      `starting the transactional producer ${this.transactionalId}`,
      async () => {
        await p.connect();
        await (await p.transaction()).abort();
      },
      BROKER_RETRY_POLICY,
      this.log,
    );
    this.producer = p;
  }

  async commit(tasks: readonly ActiveTask[], offsets: readonly OffsetToCommit[]): Promise<void> {
    // Taken together, with nothing processed in between: see eos-committer.ts.
    const topicMessages = tasks.flatMap((t) => t.takeOutputs());
    if (topicMessages.length === 0 && offsets.length === 0) {
      for (const t of tasks) await t.task.commitSinks();
      return;
    }
    try {
      const written = await commitTransaction({
        label: `transaction of ${this.transactionalId}`,
        producer: this.producer!,
        tasks,
        topicMessages,
        offsets: offsets.length > 0 ? { ...groupOffsets(this.groupId, offsets), consumer: this.consumer() } : undefined,
        fencedBy: MIGRATED_ERRORS,
        faults: this.faults,
        log: this.log,
      });
      for (const t of tasks) t.state?.noteWritten(written);
      if (offsets.length > 0) this.hooks.committed(offsets);
    } catch (e) {
      if (e instanceof Fenced) {
        // Kafka Streams' TaskMigratedException: the group moved on; every task of this thread
        // starts again from its committed state (those still assigned) or goes.
        this.log.warn(`commit refused (${e.message}): this member's tasks restart from their committed state`);
        await this.renewProducer();
        for (const t of tasks) await this.hooks.fenced(t);
        return;
      }
      if (e instanceof OutcomeUnknown) {
        await this.renewProducer();
        for (const t of tasks) await this.hooks.corrupted(t, e.message);
        return;
      }
      throw e;
    }
  }

  /** A producer whose transaction state is lost is replaced, under the same id (which fences the old one). */
  private async renewProducer(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    await old?.disconnect().catch(() => {});
    await this.start();
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => {});
    this.producer = undefined;
  }
}
