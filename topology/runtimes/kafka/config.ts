import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../api/log.ts';
import type { StoreKind } from '../../../state-stores/stores.ts';
import type { DeserializationHandler, ProductionHandler } from '../../api/handlers.ts';
import type { ClientName, KafkaClientFactory } from './client/port.ts';
import type { KafkaSecurity } from './security.ts';
import { DEFAULT_STATE_CLEANUP_DELAY_MS } from './state-cleaner.ts';

/** `processing.guarantee`: at-least-once (outputs may repeat after a crash) or exactly-once (Kafka transactions). */
export type Guarantee = 'at-least-once' | 'exactly-once';

/** A topic the application writes, created when missing (internal topics are always created). */
export interface OutputTopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** `cleanup.policy=compact`: latest value per key (update-mode KPI topics). */
  readonly compacted?: boolean;
  /**
   * `message.timestamp.type=LogAppendTime`: the broker stamps arrival time, so time retention
   * counts from arrival even for records whose event time is years old (dead-letter, late).
   */
  readonly logAppendTime?: boolean;
  /**
   * Any other topic configs, e.g. `{ 'retention.ms': '-1' }`. Records carry event time, and the
   * broker's time retention (7 days by default) counts from a segment's newest timestamp: a
   * non-compacted topic of records stamped long ago needs a longer retention or LogAppendTime.
   */
  readonly configs?: Readonly<Record<string, string>>;
}

/** Test hooks (fault injection), never for production. Injected, never read from the environment. */
export interface FaultHooks {
  /** Every Nth transaction commit fails with an unknown outcome: alternately after and before it went through. */
  readonly txnUnknownEvery?: number;
}

/**
 * Configuration of a `KafkaStreams` instance. Only `applicationId` and `bootstrapServers` are
 * required; every other field has Kafka Streams' default (or this library's, where it has no
 * equivalent), given beside it.
 */
export interface KafkaStreamsConfig {
  /** The consumer group, the prefix of internal topics and of transactional ids (`application.id`). */
  readonly applicationId: string;
  /** `host:port` of one or more brokers, as an array or comma-separated (`bootstrap.servers`). */
  readonly bootstrapServers: string | readonly string[];
  /**
   * TLS and SASL for every connection to Kafka (`security.protocol`, `ssl.*`, `sasl.*`); default
   * none (plaintext). Log lines show it through `describeKafkaSecurity`, never the password or key.
   */
  readonly security?: KafkaSecurity;
  /** `processing.guarantee`; default at-least-once. Exactly-once uses Kafka transactions. */
  readonly processingGuarantee?: Guarantee;
  /** Where persistent stores live: `<stateDir>/<applicationId>/<task>/<store>`; default `<os tmpdir>/kafka-streams`. */
  readonly stateDir?: string;
  /** Store kind for stores the topology does not pin (`default.dsl.store`); default in-memory. */
  readonly defaultStore?: StoreKind;
  /**
   * `num.standby.replicas`: how many other members keep a warm copy of each stateful task's
   * stores by tailing its changelogs, so that the task moves there without a full restore when
   * its member dies; default 0.
   */
  readonly numStandbyReplicas?: number;
  /**
   * `acceptable.recovery.lag`: a member whose local copy of a task (a standby, or a checkpointed
   * state folder) lacks at most this many changelog records counts as caught up when tasks are
   * assigned; default 10,000.
   */
  readonly acceptableRecoveryLag?: number;
  /**
   * `num.stream.threads`: stream threads of this instance, each a member of the group with its
   * own consumer and tasks, as in Kafka Streams. Above 1 they are worker threads, so processing
   * uses that many cores: the topology must then come from a module each worker imports
   * (`KafkaStreams.fromModule`). Default 1 (the caller's thread).
   */
  readonly numStreamThreads?: number;
  /** `replication.factor` of internal topics; default 1 (the broker's single node in development). */
  readonly replicationFactor?: number;
  /**
   * How long a partition feeding a window through a repartition topic may stay silent before it
   * stops holding the window open (like `max.task.idle.ms`, for watermarks); default 30 s.
   */
  readonly idleMs?: number;
  /** How often wall-clock punctuators and idle checks run; default 1 s. */
  readonly punctuateIntervalMs?: number;
  /** `session.timeout.ms` of the consumer group; default 15 s (the broker's minimum is 6 s). */
  readonly sessionTimeoutMs?: number;
  /** `repartition.purge.interval.ms`: how often consumed repartition records are deleted; default 30 s. */
  readonly repartitionPurgeIntervalMs?: number;
  /**
   * `state.cleanup.delay.ms`: a task directory under `stateDir` whose task this instance neither
   * runs nor keeps as a standby is removed once untouched for this long (checked as often);
   * default 600,000 (10 minutes). `Infinity` keeps them.
   */
  readonly stateCleanupDelayMs?: number;
  /**
   * A record whose event time is more than this ahead of the wall clock does not advance stream
   * time and goes to the dead-letter path as `future-timestamp`; default 1 hour (the default of
   * the broker's `log.message.timestamp.after.max.ms`). `Infinity` turns the guard off.
   */
  readonly maxFutureMs?: number;
  /** What to do with a record a source cannot deserialize; default `log-and-fail`, as in Kafka Streams. */
  readonly deserializationExceptionHandler?: DeserializationHandler;
  /** What to do when a record cannot be produced (too large, serialization failed); default `fail`. */
  readonly productionExceptionHandler?: ProductionHandler;
  /**
   * `errors.dead.letter.queue.topic.name` (KIP-1034): records the handlers give up on are written
   * here with the reason and origin in headers, created with LogAppendTime when missing.
   */
  readonly deadLetterQueueTopic?: string;
  /** Output topics to create with these settings when missing; other output topics get 1 partition. */
  readonly outputTopics?: readonly OutputTopicSpec[];
  /**
   * `application.server`: `host:port` where this instance answers interactive queries, advertised
   * to the group so that `metadataForKey` on any member names the member holding a key. Default none.
   */
  readonly applicationServer?: string;
  readonly logger?: Logger;
  /** The wall clock; tests pass a fake one. Default `Date.now`. */
  readonly clock?: () => number;
  readonly faults?: FaultHooks;
  /**
   * The Kafka client adapter: `platformatic` (the default: @platformatic/kafka, exactly-once v2
   * with one transactional producer per stream thread) or `kafkajs` (at-least-once only: its
   * read_committed cannot be made exact), or a factory of one's own implementing the client port
   * (`client/port.ts`).
   */
  readonly client?: ClientName | KafkaClientFactory;
}

/** A config with every default filled in. */
export interface ResolvedConfig {
  readonly applicationId: string;
  readonly brokers: readonly string[];
  readonly security: KafkaSecurity | undefined;
  readonly guarantee: Guarantee;
  readonly stateDir: string;
  readonly defaultStore: StoreKind;
  readonly numStandbyReplicas: number;
  readonly acceptableRecoveryLag: number;
  readonly numStreamThreads: number;
  /** Which of them this is, from 1: the last part of its exactly-once transactional id. */
  readonly threadIndex: number;
  /** The process id its threads share, when the instance read it already (process-id.ts). */
  readonly processId?: string;
  readonly replicationFactor: number;
  readonly idleMs: number;
  readonly punctuateIntervalMs: number;
  readonly sessionTimeoutMs: number;
  readonly repartitionPurgeIntervalMs: number;
  readonly stateCleanupDelayMs: number;
  readonly maxFutureMs: number;
  readonly deserializationExceptionHandler: DeserializationHandler;
  readonly productionExceptionHandler: ProductionHandler;
  readonly deadLetterQueueTopic: string | undefined;
  readonly outputTopics: readonly OutputTopicSpec[];
  readonly applicationServer: string | undefined;
  readonly log: Logger;
  readonly clock: () => number;
  readonly faults: FaultHooks;
}

export const DEFAULT_MAX_FUTURE_MS = 60 * 60_000;

export const resolveConfig = (c: KafkaStreamsConfig, defaultLogger: Logger): ResolvedConfig => ({
  applicationId: c.applicationId,
  brokers: (typeof c.bootstrapServers === 'string' ? c.bootstrapServers.split(',') : [...(c.bootstrapServers ?? [])]).map((s) => s.trim()).filter((s) => s.length > 0),
  security: c.security,
  guarantee: c.processingGuarantee ?? 'at-least-once',
  stateDir: c.stateDir ?? join(tmpdir(), 'kafka-streams'),
  defaultStore: c.defaultStore ?? 'memory',
  numStandbyReplicas: Math.max(0, Math.floor(c.numStandbyReplicas ?? 0)),
  acceptableRecoveryLag: Math.max(0, c.acceptableRecoveryLag ?? 10_000),
  numStreamThreads: Math.max(1, Math.floor(c.numStreamThreads ?? 1)),
  threadIndex: 1,
  replicationFactor: c.replicationFactor ?? 1,
  idleMs: c.idleMs ?? 30_000,
  punctuateIntervalMs: c.punctuateIntervalMs ?? 1_000,
  sessionTimeoutMs: c.sessionTimeoutMs ?? 15_000,
  repartitionPurgeIntervalMs: c.repartitionPurgeIntervalMs ?? 30_000,
  stateCleanupDelayMs: Math.max(0, c.stateCleanupDelayMs ?? DEFAULT_STATE_CLEANUP_DELAY_MS),
  maxFutureMs: c.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS,
  deserializationExceptionHandler: c.deserializationExceptionHandler ?? 'log-and-fail',
  productionExceptionHandler: c.productionExceptionHandler ?? 'fail',
  deadLetterQueueTopic: c.deadLetterQueueTopic,
  outputTopics: c.outputTopics ?? [],
  applicationServer: c.applicationServer,
  log: c.logger ?? defaultLogger,
  clock: c.clock ?? Date.now,
  faults: c.faults ?? {},
});
