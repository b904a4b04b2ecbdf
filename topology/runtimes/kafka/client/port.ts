import type { Logger } from '../../../api/log.ts';
import type { KafkaSecurity } from '../security.ts';

/**
 * The Kafka client port: the few operations the runtime needs, and nothing else. The shapes are
 * kafkajs's (the first adapter), trimmed to what the runtime calls, so kafkajs's objects fit
 * with a thin wrapper; other adapters (client/platformatic.ts) and the unit tests' fake broker
 * implement the same interfaces. Offsets are int64 decimal strings, as on the wire.
 *
 * What every adapter must guarantee beyond the types:
 * - read_committed: a consumer never hands out a record of an aborted transaction
 *   (client/read-committed.ts), or the client says exactly-once is unsupported;
 * - `eachBatch` runs one batch per partition at a time, and the next fetch of a partition
 *   starts after the last offset resolved (or where a seek put it);
 * - `GROUP_JOIN` fires after an assignment and before the first fetch of it;
 * - errors carry the Kafka protocol error's name as `type` (or under `cause`/`originalError`),
 *   which errors.ts classifies.
 */

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  /** Epoch milliseconds, as a decimal string. */
  timestamp?: string;
  headers?: Record<string, string | Buffer | undefined>;
}

export interface TopicMessages {
  readonly topic: string;
  readonly messages: Message[];
}

/** The broker's answer to a produce request, per partition. */
export interface RecordMetadata {
  readonly topicName: string;
  readonly partition: number;
  readonly errorCode: number;
  /** The offset the broker gave the partition's first record of this request. */
  readonly baseOffset?: string;
}

export interface FetchedMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly offset: string;
  readonly headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface Batch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  /** The records to process, in offset order: committed or not transactional, no control records. */
  readonly messages: FetchedMessage[];
  /** The offset the next fetch continues after once this batch is resolved. */
  lastOffset(): string;
}

export interface EachBatchPayload {
  readonly batch: Batch;
  /** Marks the partition consumed up to `offset` (inclusive): the next fetch starts after it. */
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** A seek on this partition happened since the fetch: the batch is out of date. */
  isStale(): boolean;
}

export interface OffsetCommit extends TopicPartition {
  readonly offset: string;
  readonly metadata?: string;
}

export interface GroupOffsets {
  readonly consumerGroupId: string;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly { readonly partition: number; readonly offset: string; readonly metadata?: string }[] }[];
}

/** What a member tells the group leader, and what the leader tells each member (ConsumerProtocol bytes). */
export interface GroupAssigner {
  readonly name: string;
  readonly version: number;
  protocol(args: { topics: string[] }): { name: string; metadata: Buffer };
  assign(args: { members: { memberId: string; memberMetadata: Buffer }[]; topics: string[] }): Promise<{ memberId: string; memberAssignment: Buffer }[]>;
}

/** An assigner is made per consumer; it may ask the cluster how many partitions a topic has (undefined: unknown). */
export type GroupAssignerFactory = (cluster: { partitionCount(topic: string): number | undefined }) => GroupAssigner;

export interface ConsumerOptions {
  readonly groupId: string;
  readonly assigner: GroupAssignerFactory;
  readonly sessionTimeout?: number;
  readonly rebalanceTimeout?: number;
  readonly heartbeatInterval?: number;
  readonly maxWaitTimeInMs?: number;
  readonly maxBytesPerPartition?: number;
  readonly maxBytes?: number;
  /**
   * Called when the consumer crashed and may restart itself (rejoining from the committed
   * offsets); returning false keeps it stopped. Absent: it restarts.
   */
  readonly restartOnFailure?: (error: Error) => Promise<boolean>;
}

export interface RunOptions {
  /** Resolve each batch's last offset once `eachBatch` returns. */
  readonly eachBatchAutoResolve: boolean;
  readonly eachBatch: (payload: EachBatchPayload) => Promise<void>;
}

/** The consumer's events, by the names kafkajs gives them. */
export const CONSUMER_EVENTS = {
  GROUP_JOIN: 'consumer.group_join',
  REBALANCING: 'consumer.rebalancing',
  CRASH: 'consumer.crash',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
} as const;

export interface ConsumerEventPayloads {
  /** This member's partitions, by topic. */
  'consumer.group_join': { memberAssignment: Record<string, number[]> };
  'consumer.rebalancing': Record<string, unknown>;
  'consumer.crash': { error: Error; restart: boolean };
  /** After every batch, including those read_committed filtering left empty: where the partition's consumption stands. */
  'consumer.end_batch_process': { topic: string; partition: number; lastOffset: string };
}

export type ConsumerEvent = keyof ConsumerEventPayloads;

export interface Consumer {
  readonly events: typeof CONSUMER_EVENTS;
  on<E extends ConsumerEvent>(event: E, listener: (e: { payload: ConsumerEventPayloads[E] }) => void): () => void;
  connect(): Promise<void>;
  subscribe(args: { topics: string[]; fromBeginning: boolean }): Promise<void>;
  run(options: RunOptions): Promise<void>;
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  resume(topics: { topic: string; partitions?: number[] }[]): void;
  seek(args: { topic: string; partition: number; offset: string }): void;
  commitOffsets(offsets: OffsetCommit[]): Promise<void>;
  /** Stops fetching and leaves the group. */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface Transaction {
  sendBatch(args: { topicMessages: TopicMessages[]; acks: -1 }): Promise<RecordMetadata[]>;
  /**
   * Adds a group's offsets to the transaction. With `consumer` (exactly-once v2, KIP-447) the
   * consumer's group generation goes with them, so a member that lost the partitions is fenced
   * by the group coordinator; only clients whose `exactlyOnce` is `v2` accept it.
   */
  sendOffsets(args: GroupOffsets & { consumer?: Consumer }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface ProducerOptions {
  /** A transactional producer (exactly-once); absent: idempotent only. */
  readonly transactionalId?: string;
  /**
   * `transaction.timeout.ms`: how long the coordinator lets a transaction stay open before it
   * aborts it, which bounds how long a crashed member's open transaction holds back readers.
   */
  readonly transactionTimeoutMs?: number;
}

export interface Producer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(args: { topicMessages: TopicMessages[]; acks: -1 }): Promise<RecordMetadata[]>;
  transaction(): Promise<Transaction>;
}

export interface TopicToCreate {
  readonly topic: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly configEntries: { name: string; value: string }[];
}

export interface Admin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** No topics: every topic of the cluster. */
  fetchTopicMetadata(args: { topics: string[] }): Promise<{ topics: { name: string; partitions: { partitionId: number }[] }[] }>;
  createTopics(args: { topics: TopicToCreate[]; waitForLeaders: boolean }): Promise<boolean>;
  /** Per partition: `low` the log start, `high` the end offset. */
  fetchTopicOffsets(topic: string): Promise<{ partition: number; low: string; high: string }[]>;
  /**
   * The group's committed offsets of the topics (offset `-1` where none). `requireStable`
   * (KIP-447): wait while a transaction holds offsets of these partitions not yet committed or
   * aborted, so what is read is final; clients without exactly-once v2 may ignore it. Absent,
   * an adapter may wait or not; `false` asks for the last committed offsets at once.
   */
  fetchOffsets(args: { groupId: string; topics: string[]; requireStable?: boolean }): Promise<{ topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[]>;
  /** DeleteRecords: every record before `offset`. */
  deleteTopicRecords(args: { topic: string; partitions: { partition: number; offset: string }[] }): Promise<void>;
  describeGroups(groupIds: string[]): Promise<{ groups: { groupId: string; state: string; members: { memberId: string; clientId: string; memberMetadata: Buffer; memberAssignment: Buffer }[] }[] }>;
  deleteGroups(groupIds: string[]): Promise<unknown>;
}

/**
 * Limits of an admin client of its own, for a caller that must answer fast (the dashboard's
 * reachability poll); absent fields keep the adapter's defaults.
 */
export interface AdminOptions {
  /** How long connecting to a broker may take. */
  readonly connectTimeoutMs?: number;
  /** How long a request may wait for its answer. */
  readonly requestTimeoutMs?: number;
  /** How often a failed request is tried again (0: a failure is reported at once). */
  readonly retries?: number;
}

export interface KafkaClient {
  /** The adapter, for logs and metrics: `kafkajs`, `platformatic`, ... */
  readonly name: string;
  /**
   * What exactly-once can rest on with this client: `v2`, transactions that carry the
   * consumer's group metadata (KIP-447), one transactional producer per stream thread;
   * `per-task`, a transactional producer per task (the pattern before KIP-447); or why it cannot
   * be offered at all (exactly-once then refuses to start with that reason).
   */
  readonly exactlyOnce: 'v2' | 'per-task' | { readonly unsupported: string };
  admin(options?: AdminOptions): Admin;
  consumer(options: ConsumerOptions): Consumer;
  producer(options?: ProducerOptions): Producer;
}

export interface ClientOptions {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly log: Logger;
  readonly security?: KafkaSecurity;
}

/** Makes the Kafka client the runtime talks through. */
export type KafkaClientFactory = (options: ClientOptions) => KafkaClient;

/** The adapters the library ships, by the name `client` and `run --client` take. */
export type ClientName = 'kafkajs' | 'platformatic';
export const CLIENT_NAMES: readonly ClientName[] = ['kafkajs', 'platformatic'];
