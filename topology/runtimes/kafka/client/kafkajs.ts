import { Kafka, logLevel, type Consumer as KafkajsConsumer, type EachBatchPayload as KafkajsPayload } from 'kafkajs';
import { kafkajsSecurity } from '../security.ts';
import { readCommitted, type RawRecord } from './read-committed.ts';
import { CONSUMER_EVENTS, type Admin, type Batch, type Consumer, type ConsumerEvent, type ConsumerEventPayloads, type ConsumerOptions, type FetchedMessage, type KafkaClientFactory, type Producer, type RunOptions } from './port.ts';

/**
 * The kafkajs adapter. kafkajs's admin and producers fit the port as they are; its consumer is
 * wrapped for read_committed: kafkajs's own aborted-record filter misses transactions (it enters
 * at most one aborted transaction per record it looks at), and it keeps the fetch's list of
 * aborted transactions to itself (it is passed to its Batch, never stored). So each batch's
 * records within the fetched range (`messagesWithinOffset`, control records included: the
 * public fields of the batch kafkajs hands to `eachBatch`) go through `readCommitted` without
 * the list, deciding each transactional record by its producer's next marker, and delivery
 * stops before a record whose marker this fetch does not hold yet. kafkajs only ever drops
 * records it rightly takes as aborted, so the batches it skips as empty need nothing.
 *
 * kafkajs implements TxnOffsetCommit v0-1 only, without the consumer's group metadata, so
 * exactly-once is the per-task producer pattern (exactlyOnceV2 false).
 */
export const kafkajsClient: KafkaClientFactory = ({ clientId, brokers, log, security }) => {
  const kafka = new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: 3_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 3_000 },
    ...kafkajsSecurity(security),
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => {
      const text = `${entry.message}${entry.error ? `: ${entry.error}` : ''}`;
      if (level <= logLevel.ERROR) log.warn(`kafka: ${text}`);
      else log.debug(`kafka: ${text}`);
    },
  });
  return {
    name: 'kafkajs',
    exactlyOnceV2: false,
    admin: () => kafka.admin() as unknown as Admin,
    producer: (o = {}) =>
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        ...(o.transactionalId === undefined ? {} : { transactionalId: o.transactionalId }),
        ...(o.transactionTimeoutMs === undefined ? {} : { transactionTimeout: o.transactionTimeoutMs }),
      }) as unknown as Producer,
    consumer: (o) => new KafkajsGroupConsumer(kafka, o),
  };
};

interface KafkajsRaw extends RawRecord, FetchedMessage {
  readonly key: Buffer | null;
}

/** A partition waiting for a transaction's marker is fetched again after this pause, not in a tight loop. */
const UNDECIDED_BACKOFF_MS = 10;

class KafkajsGroupConsumer implements Consumer {
  readonly events = CONSUMER_EVENTS;
  private readonly consumer: KafkajsConsumer;
  /** Where the last eachBatch of a partition left consumption, for END_BATCH_PROCESS. */
  private readonly decidedUpTo = new Map<string, string>();

  constructor(kafka: Kafka, o: ConsumerOptions) {
    this.consumer = kafka.consumer({
      groupId: o.groupId,
      allowAutoTopicCreation: false,
      ...(o.sessionTimeout === undefined ? {} : { sessionTimeout: o.sessionTimeout }),
      ...(o.rebalanceTimeout === undefined ? {} : { rebalanceTimeout: o.rebalanceTimeout }),
      ...(o.heartbeatInterval === undefined ? {} : { heartbeatInterval: o.heartbeatInterval }),
      ...(o.maxWaitTimeInMs === undefined ? {} : { maxWaitTimeInMs: o.maxWaitTimeInMs }),
      ...(o.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: o.maxBytesPerPartition }),
      ...(o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes }),
      readUncommitted: false,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 3_000, ...(o.restartOnFailure === undefined ? {} : { restartOnFailure: o.restartOnFailure }) },
      partitionAssigners: [
        ({ cluster }) =>
          o.assigner({
            partitionCount: (topic) => {
              try {
                return cluster.findTopicPartitionMetadata(topic).length;
              } catch {
                return undefined;
              }
            },
          }),
      ],
    });
  }

  on<E extends ConsumerEvent>(event: E, listener: (e: { payload: ConsumerEventPayloads[E] }) => void): () => void {
    if (event !== CONSUMER_EVENTS.END_BATCH_PROCESS) return this.consumer.on(event as never, listener as never);
    return this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (e) => {
      const key = `${e.payload.topic}/${e.payload.partition}`;
      const decided = this.decidedUpTo.get(key);
      this.decidedUpTo.delete(key);
      // A batch that went through eachBatch may have stopped short of kafkajs's last offset.
      const lastOffset = decided ?? e.payload.lastOffset;
      (listener as (e: { payload: ConsumerEventPayloads['consumer.end_batch_process'] }) => void)({ payload: { topic: e.payload.topic, partition: e.payload.partition, lastOffset } });
    });
  }

  connect = (): Promise<void> => this.consumer.connect();
  subscribe = (args: { topics: string[]; fromBeginning: boolean }): Promise<void> => this.consumer.subscribe(args);
  pause = (topics: { topic: string; partitions?: number[] }[]): void => this.consumer.pause(topics);
  resume = (topics: { topic: string; partitions?: number[] }[]): void => this.consumer.resume(topics);
  seek = (args: { topic: string; partition: number; offset: string }): void => this.consumer.seek(args);
  commitOffsets = (offsets: { topic: string; partition: number; offset: string; metadata?: string }[]): Promise<void> =>
    this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, ...(o.metadata === undefined ? {} : { metadata: o.metadata }) })));
  stop = (): Promise<void> => this.consumer.stop();
  disconnect = (): Promise<void> => this.consumer.disconnect();

  run(options: RunOptions): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      // Resolution is decided here: never past a record read_committed has not decided.
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload, options),
    });
  }

  private async onBatch(payload: KafkajsPayload, options: RunOptions): Promise<void> {
    const { batch } = payload;
    const key = `${batch.topic}/${batch.partition}`;
    const raw = (batch as unknown as { messagesWithinOffset: KafkajsRaw[] }).messagesWithinOffset;
    const decided = readCommitted(raw);
    if (decided.lastDecided === undefined) {
      // The first record waits for its transaction's marker: fetch it again shortly.
      this.decidedUpTo.set(key, String(BigInt(raw[0]!.offset) - 1n));
      await new Promise((r) => setTimeout(r, UNDECIDED_BACKOFF_MS));
      return;
    }
    const lastOffset = decided.lastDecided;
    this.decidedUpTo.set(key, lastOffset);
    if (decided.records.length === 0) {
      // Only markers and aborted records up to here.
      payload.resolveOffset(lastOffset);
      return;
    }
    const view: Batch = {
      topic: batch.topic,
      partition: batch.partition,
      highWatermark: batch.highWatermark,
      // kafkajs's own decoded records: they have the port's fields.
      messages: decided.records,
      lastOffset: () => lastOffset,
    };
    await options.eachBatch({
      batch: view,
      resolveOffset: (offset) => payload.resolveOffset(offset),
      heartbeat: () => payload.heartbeat(),
      isRunning: () => payload.isRunning(),
      isStale: () => payload.isStale(),
    });
    if (options.eachBatchAutoResolve && payload.isRunning() && !payload.isStale()) payload.resolveOffset(lastOffset);
  }
}
