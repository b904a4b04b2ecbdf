import { Kafka, logLevel, type Consumer as KafkajsConsumer, type KafkaConfig } from 'kafkajs';
import { kafkajsSecurity } from '../security.ts';
import { CONSUMER_EVENTS, type Admin, type Consumer, type ConsumerEvent, type ConsumerEventPayloads, type ConsumerOptions, type EachBatchPayload, type KafkaClientFactory, type Producer, type RunOptions } from './port.ts';

/**
 * The kafkajs adapter: kafkajs's admin and producers fit the port as they are; its consumer is
 * wrapped for the port's assigner and events.
 *
 * No exactly-once here. kafkajs's read_committed filter misses aborted transactions: it enters
 * at most one aborted transaction per record it looks at, so a fetch that starts inside two
 * aborted transactions hands on records of the second (test/integration/kafkajs-read-committed
 * pins it). The fix needs the fetch's aborted-transaction list, and kafkajs keeps it to itself
 * (it is passed to its Batch and never stored). Deciding records by their transaction markers
 * instead does not work either: a fetch stops at a log segment's end, a marker is often alone
 * in its segment (records with old event timestamps roll a segment per append), and kafkajs
 * drops a fetch of markers only without calling back. Rather than run with a gap, exactly-once
 * refuses to start on this client; at-least-once writes no transactions of its own.
 */
export const kafkajsClient: KafkaClientFactory = ({ clientId, brokers, log, security }) => {
  const config: KafkaConfig = {
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
  };
  const kafka = new Kafka(config);
  return {
    name: 'kafkajs',
    exactlyOnce: { unsupported: 'kafkajs does not expose the aborted transactions of a fetch, so its read_committed cannot be made exact; use --client platformatic (README, Kafka clients)' },
    // kafkajs sets timeouts and the retries of connecting per Kafka instance: an admin with limits of its own gets its own.
    admin: (o = {}) =>
      (o.connectTimeoutMs === undefined && o.requestTimeoutMs === undefined && o.retries === undefined
        ? kafka
        : new Kafka({
            ...config,
            ...(o.connectTimeoutMs === undefined ? {} : { connectionTimeout: o.connectTimeoutMs }),
            ...(o.requestTimeoutMs === undefined ? {} : { requestTimeout: o.requestTimeoutMs }),
            ...(o.retries === undefined ? {} : { retry: { ...config.retry, retries: o.retries } }),
          })
      ).admin() as unknown as Admin,
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

class KafkajsGroupConsumer implements Consumer {
  readonly events = CONSUMER_EVENTS;
  private readonly consumer: KafkajsConsumer;

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
    return this.consumer.on(event as never, listener as never);
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
      eachBatchAutoResolve: options.eachBatchAutoResolve,
      partitionsConsumedConcurrently: 1,
      // kafkajs's batch and payload have the port's fields.
      eachBatch: (payload) => options.eachBatch(payload as unknown as EachBatchPayload),
    });
  }
}
