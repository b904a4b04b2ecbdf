import type { Consumer, KafkaClient, Producer } from './client/port.ts';
import type { Logger } from '../../api/log.ts';
import type { ProductionHandler } from '../../api/handlers.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { ActiveTask, OffsetToCommit } from './active-task.ts';
import { changelogTopicsOf, noteAcknowledged, sendHandlingRecordErrors, type CommitHooks, type Committer } from './committer.ts';
import { kafkaErrorType, REBALANCE_ERRORS, SEQUENCE_LOST_ERRORS } from './errors.ts';
import { chunkTopicMessages } from './send-chunks.ts';

/**
 * At-least-once: files renamed first (a window's file must exist before the changelog says the
 * window is gone), then outputs and changelog writes acknowledged by every in-sync replica, then
 * the input offsets, then the tasks' stores flushed and checkpointed at the acknowledged changelog
 * offsets. A crash anywhere replays from the last committed offsets: nothing is lost, some records
 * may be counted twice.
 */
export class AtLeastOnceCommitter implements Committer {
  private producer: Producer | undefined;
  private readonly kafka: KafkaClient;
  private readonly consumer: () => Consumer;
  private readonly hooks: CommitHooks;
  private readonly handler: ProductionHandler;
  private readonly log: Logger;

  constructor(kafka: KafkaClient, consumer: () => Consumer, hooks: CommitHooks, handler: ProductionHandler, log: Logger) {
    this.kafka = kafka;
    this.consumer = consumer;
    this.hooks = hooks;
    this.handler = handler;
    this.log = log;
  }

  async start(): Promise<void> {
    await this.renewProducer();
  }

  async commit(tasks: readonly ActiveTask[], offsets: readonly OffsetToCommit[]): Promise<void> {
    for (const t of tasks) await t.task.commitSinks();
    const topicMessages = tasks.flatMap((t) => t.takeOutputs());
    const changelogs = changelogTopicsOf(tasks);
    const written = new Map<string, bigint>();
    if (topicMessages.length > 0) {
      await retrying(
        'send',
        () =>
          sendHandlingRecordErrors(
            async (tm) => {
              try {
                for (const chunk of chunkTopicMessages(tm)) noteAcknowledged(chunk, await this.producer!.sendBatch({ topicMessages: chunk, acks: -1 }), changelogs, written);
              } catch (e) {
                // Sent again by a new producer, part of the batch may be written twice: at-least-once.
                if (SEQUENCE_LOST_ERRORS.has(kafkaErrorType(e))) {
                  this.log.warn(`send failed (${(e as Error).message}): a new producer sends from here`);
                  await this.renewProducer();
                }
                throw e;
              }
            },
            topicMessages,
            this.handler,
            this.log,
            this.hooks.count,
          ),
        { ...BROKER_RETRY_POLICY, retriable: (e) => !(e instanceof RetailStreamsError && e.code === 'fatal') },
        this.log,
      );
    }
    for (const t of tasks) t.state?.noteWritten(written);
    if (offsets.length > 0) {
      try {
        await this.consumer().commitOffsets([...offsets]);
        this.hooks.committed(offsets);
      } catch (e) {
        // The group moved on while the batch was in hand: its new owner replays it (at-least-once).
        const type = kafkaErrorType(e);
        if (!REBALANCE_ERRORS.has(type)) throw e;
        this.hooks.count('commits-lost-to-rebalance', 1);
        this.log.warn(`offset commit lost to a rebalance (${type}); the batch will be replayed by the partition's new owner`);
      }
    }
    await this.hooks.checkpoint(tasks);
  }

  /** Replaces the producer once the new one is connected. */
  private async renewProducer(): Promise<void> {
    const fresh = this.kafka.producer();
    await fresh.connect();
    const old = this.producer;
    this.producer = fresh;
    await old?.disconnect().catch(() => {});
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => {});
    this.producer = undefined;
  }
}
