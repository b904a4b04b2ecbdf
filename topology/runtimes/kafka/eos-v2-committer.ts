import type { Logger } from '../../api/log.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { ActiveTask, OffsetToCommit } from './active-task.ts';
import type { Consumer, KafkaClient, Producer, TopicMessages, Transaction } from './client/port.ts';
import { changelogTopicsOf, groupOffsets, noteAcknowledged, type CommitHooks, type Committer } from './committer.ts';
import type { FaultHooks } from './config.ts';
import { FENCED_ERRORS, kafkaErrorType, REBALANCE_ERRORS, SEQUENCE_LOST_ERRORS } from './errors.ts';
import { commitOrFault, type FaultCounter } from './commit-fault.ts';
import { chunkTopicMessages } from './send-chunks.ts';

/** Why a transaction attempt gave up: retrying cannot help with these. */
class Migrated extends Error {}
class OutcomeUnknown extends Error {}

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
    this.faults = { hooks: o.faults, commits: 0, injected: 0 };
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
      const written = await retrying(
        `transaction of ${this.transactionalId}`,
        () => this.attempt(tasks, topicMessages, offsets),
        { ...BROKER_RETRY_POLICY, retriable: (e) => !(e instanceof Migrated || e instanceof OutcomeUnknown) },
        this.log,
      );
      for (const t of tasks) t.state?.noteWritten(written);
      if (offsets.length > 0) this.hooks.committed(offsets);
    } catch (e) {
      if (e instanceof Migrated) {
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

  private async attempt(tasks: readonly ActiveTask[], topicMessages: TopicMessages[], offsets: readonly OffsetToCommit[]): Promise<Map<string, bigint>> {
    let txn: Transaction | undefined;
    let committing = false;
    const written = new Map<string, bigint>();
    try {
      txn = await this.producer!.transaction();
      const changelogs = changelogTopicsOf(tasks);
      for (const chunk of chunkTopicMessages(topicMessages)) noteAcknowledged(chunk, await txn.sendBatch({ topicMessages: chunk, acks: -1 }), changelogs, written);
      if (offsets.length > 0) await txn.sendOffsets({ ...groupOffsets(this.groupId, offsets), consumer: this.consumer() });
      for (const t of tasks) await t.task.commitSinks();
      committing = true;
      await commitOrFault(txn, this.faults);
      return written;
    } catch (e) {
      const type = kafkaErrorType(e);
      if (FENCED_ERRORS.has(type) || REBALANCE_ERRORS.has(type) || type === 'FENCED_INSTANCE_ID') {
        await txn?.abort().catch(() => {});
        throw new Migrated(`${type}: ${(e as Error).message}`);
      }
      const aborted = !committing && (await txn?.abort().then(() => true, () => false)) !== false;
      if (!aborted || SEQUENCE_LOST_ERRORS.has(type) || /Transaction state exception/.test((e as Error).message)) throw new OutcomeUnknown((e as Error).message);
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
