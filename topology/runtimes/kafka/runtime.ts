import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type Message, type Producer } from 'kafkajs';
import type { Topology } from '../../internals/compile.ts';
import { StreamTask, type RawRecord, type TaskEnv } from '../../internals/task.ts';
import type { StoreKind } from '../../../state-stores/stores.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import type { Logger } from '../../api/log.ts';
import { changelogTopicName, TopicNames } from './topics.ts';
import { restoreStores } from './restore.ts';

export interface OutputTopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly compacted: boolean;
}

export interface KafkaRuntimeConfig {
  readonly brokers: readonly string[];
  /** The consumer group, and the prefix of internal and changelog topics. */
  readonly applicationId: string;
  readonly storeKind: StoreKind;
  readonly idleMs: number;
  readonly replicationFactor: number;
  /** Output topics the application writes; created when missing. */
  readonly outputTopics: readonly OutputTopicSpec[];
  readonly log: Logger;
  /** How often idle tasks get wall-clock punctuation (idle detection, window closing). */
  readonly tickMs?: number;
}

interface Pending {
  topic: string;
  messages: Message[];
}

const toRaw = (m: EachBatchPayload['batch']['messages'][number]): RawRecord => {
  let headers: Record<string, string> | undefined;
  if (m.headers !== undefined) {
    for (const [k, v] of Object.entries(m.headers)) {
      if (v === undefined) continue;
      (headers ??= {})[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    }
  }
  const raw = { key: m.key, value: m.value, timestamp: Number(m.timestamp), offset: Number(m.offset) };
  return headers === undefined ? raw : { ...raw, headers };
};

/**
 * Runs a topology as a member of a Kafka consumer group: one task per assigned partition
 * (input and repartition topics alike), state restored from changelogs when a task starts,
 * and at-least-once commits: outputs acknowledged, changelogs written and files renamed
 * before the offsets that cover them are committed.
 */
export class KafkaStreamsRuntime {
  readonly metrics = new Map<string, number>();
  private readonly topology: Topology;
  private readonly config: KafkaRuntimeConfig;
  private readonly kafka: Kafka;
  private readonly names: TopicNames;
  private readonly partitionCounts = new Map<string, number>();
  private readonly tasks = new Map<string, StreamTask>();
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private consumer: Consumer | undefined;
  private pending = new Map<string, Pending>();
  private env: TaskEnv;
  private serial: Promise<void> = Promise.resolve();
  private ticker: NodeJS.Timeout | undefined;
  private assigned = new Set<string>();
  private crashed: ((e: Error) => void) | undefined;
  /** Resolves when the consumer crashes for good (the CLI exits non-zero then). */
  readonly failure: Promise<Error>;

  constructor(topology: Topology, config: KafkaRuntimeConfig) {
    this.topology = topology;
    this.config = config;
    this.names = new TopicNames(config.applicationId, topology);
    this.failure = new Promise((resolve) => (this.crashed = resolve));
    const log = config.log;
    this.kafka = new Kafka({
      clientId: config.applicationId,
      brokers: [...config.brokers],
      connectionTimeout: 3_000,
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log: entry }) => {
        const text = `${entry.message}${entry.error ? `: ${entry.error}` : ''}`;
        if (level <= logLevel.ERROR) log.warn(`kafkajs ${entry.namespace}: ${text}`);
        else log.debug(`kafkajs ${entry.namespace}: ${text}`);
      },
    });
    this.env = {
      storeKind: config.storeKind,
      idleMs: config.idleMs,
      wallClock: Date.now,
      partitionsOf: (topic) => {
        const n = this.partitionCounts.get(topic);
        if (n === undefined) throw new Error(`unknown partition count of ${topic}`);
        return n;
      },
      send: (topic, partition, key, value, timestamp, headers) => {
        const kafkaTopic = this.names.kafka(topic);
        let p = this.pending.get(kafkaTopic);
        if (p === undefined) this.pending.set(kafkaTopic, (p = { topic: kafkaTopic, messages: [] }));
        p.messages.push({
          key: key === null ? null : Buffer.from(key.buffer, key.byteOffset, key.byteLength),
          value: value === null ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
          partition,
          timestamp: String(Math.max(0, Math.trunc(timestamp))),
          ...(headers === undefined ? {} : { headers: { ...headers } }),
        });
      },
      count: (metric, n) => this.metrics.set(metric, (this.metrics.get(metric) ?? 0) + n),
      deadLetter: (origin, reason) => {
        config.log.warn(`undecodable record at ${origin.topic}[${origin.partition}]@${origin.offset}: ${reason}`);
        this.env.count('dead-letter-records', 1);
      },
    };
  }

  /** Connects, checks and creates topics, joins the group and starts consuming. */
  async start(): Promise<void> {
    const { log } = this.config;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (e) {
      throw new RetailStreamsError('broker-unreachable', `cannot reach Kafka at ${this.config.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
    }
    this.admin = admin;
    await this.ensureTopics(admin);
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await this.producer.connect();
    const consumer = this.kafka.consumer({
      groupId: this.config.applicationId,
      allowAutoTopicCreation: false,
      sessionTimeout: 15_000,
      rebalanceTimeout: 30_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 50,
      maxBytesPerPartition: 2 * 1024 * 1024,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned = new Set<string>();
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) for (const p of partitions) assigned.add(`${topic}/${p}`);
      this.assigned = assigned;
      log.info(`joined group ${this.config.applicationId}: ${[...assigned].sort().join(', ') || 'no partitions'}`);
      this.enqueue(() => this.dropUnassignedTasks());
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) return;
      this.crashed?.(e.payload.error);
    });
    await consumer.connect();
    const sources = this.topology.subtopologies.flatMap((s) => s.sourceTopics).map((t) => this.names.kafka(t));
    await consumer.subscribe({ topics: sources, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
    const tickMs = this.config.tickMs ?? 1_000;
    this.ticker = setInterval(() => this.enqueue(() => this.tick()), tickMs);
  }

  private async ensureTopics(admin: Admin): Promise<void> {
    const { log, replicationFactor } = this.config;
    const inputs = this.topology.inputTopics();
    const meta = await admin.fetchTopicMetadata({ topics: [] });
    const existing = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
    for (const t of inputs) {
      const n = existing.get(t);
      if (n === undefined) throw new RetailStreamsError('invalid-argument', `input topic "${t}" does not exist on ${this.config.brokers.join(',')}`);
      this.partitionCounts.set(t, n);
    }
    const create: { topic: string; numPartitions: number; replicationFactor: number; configEntries: { name: string; value: string }[] }[] = [];
    const want = (topic: string, partitions: number, compacted: boolean, logical: string) => {
      this.partitionCounts.set(logical, existing.get(topic) ?? partitions);
      if (existing.has(topic) || create.some((c) => c.topic === topic)) return;
      create.push({
        topic,
        numPartitions: partitions,
        replicationFactor,
        configEntries: compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      });
    };
    // Repartition topics get as many partitions as the input feeding them, like Kafka Streams.
    for (const sub of this.topology.subtopologies) {
      const n = Math.max(...sub.sourceTopics.map((t) => this.partitionCounts.get(t) ?? 0));
      for (const t of sub.sinkTopics) if (this.topology.internalTopics.has(t)) want(this.names.kafka(t), n, false, t);
    }
    for (const sub of this.topology.subtopologies) {
      const n = Math.max(...sub.sourceTopics.map((t) => this.partitionCounts.get(t)!));
      for (const s of sub.stores) if (this.topology.stores.get(s)!.logged) want(changelogTopicName(this.config.applicationId, s), n, true, changelogTopicName(this.config.applicationId, s));
    }
    for (const o of this.config.outputTopics) want(o.name, o.partitions, o.compacted, o.name);
    for (const t of this.topology.outputTopics()) if (!this.partitionCounts.has(t)) want(t, 1, false, t);
    if (create.length > 0) {
      await admin.createTopics({ topics: create, waitForLeaders: true });
      log.info(`created topics ${create.map((c) => `${c.topic}(${c.numPartitions})`).join(', ')}`);
    }
  }

  /** Serializes everything that commits, so a tick never interleaves with a batch commit. */
  private enqueue(work: () => Promise<void> | void): Promise<void> {
    const next = this.serial.then(work);
    this.serial = next.catch((e: unknown) => {
      this.config.log.error(`commit failed: ${(e as Error).message}`);
      this.crashed?.(e as Error);
    });
    return next;
  }

  private async taskFor(logicalTopic: string, partition: number): Promise<StreamTask> {
    const sub = this.topology.subtopologyOf(logicalTopic)!;
    const id = `${sub.id}_${partition}`;
    const existing = this.tasks.get(id);
    if (existing !== undefined) return existing;
    // Stores are restored from their changelogs before the processors' init reads them.
    const stores = new Map(sub.stores.map((name) => [name, this.topology.stores.get(name)!.build(this.config.storeKind)]));
    const targets = [...stores.values()]
      .filter((s) => s.logged)
      .map((store) => ({ topic: changelogTopicName(this.config.applicationId, store.name), partition, store }));
    if (targets.length > 0) await restoreStores(this.kafka, this.admin!, targets, this.config.log);
    const task = new StreamTask(this.topology, sub, partition, this.env, stores);
    this.tasks.set(id, task);
    this.config.log.info(`task ${id} started`);
    return task;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    // A slow commit (a sink retrying through an outage, a long restore) must not cost the group membership.
    const keepAlive = setInterval(() => void heartbeat().catch(() => {}), 2_000);
    try {
      await this.enqueue(() => this.processAndCommit(batch, resolveOffset));
    } finally {
      clearInterval(keepAlive);
    }
    await heartbeat();
  }

  private async processAndCommit(batch: EachBatchPayload['batch'], resolveOffset: EachBatchPayload['resolveOffset']): Promise<void> {
    {
      const logical = this.names.logical(batch.topic);
      const task = await this.taskFor(logical, batch.partition);
      const records = batch.messages.map(toRaw);
      await task.prepareBatch(logical, records);
      task.processBatch(logical, records);
      task.flush();
      this.env.count('records-processed', records.length);
      await this.commit([task], [{ topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
      // kafkajs fetches from the last resolved offset, so resolve only once the batch is committed.
      resolveOffset(batch.lastOffset());
    }
  }

  private async tick(): Promise<void> {
    if (this.tasks.size === 0) return;
    const tasks = [...this.tasks.values()];
    for (const t of tasks) {
      t.tick();
      t.flush();
    }
    await this.commit(tasks, []);
  }

  /** Outputs and changelogs acknowledged, files renamed, then offsets: at-least-once. */
  private async commit(tasks: readonly StreamTask[], offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    for (const t of tasks) {
      for (const { store, entries } of t.drainChanges()) {
        const topic = changelogTopicName(this.config.applicationId, store);
        let p = this.pending.get(topic);
        if (p === undefined) this.pending.set(topic, (p = { topic, messages: [] }));
        for (const e of entries) p.messages.push({ key: e.key, value: e.value, partition: t.partition });
      }
    }
    if (this.pending.size > 0) {
      const topicMessages = [...this.pending.values()];
      this.pending = new Map();
      await this.producer!.sendBatch({ topicMessages, acks: -1 });
    }
    for (const t of tasks) await t.commitSinks();
    if (offsets.length > 0) await this.consumer!.commitOffsets(offsets);
  }

  private async dropUnassignedTasks(): Promise<void> {
    for (const [id, task] of this.tasks) {
      const topic = this.names.kafka(task.subtopology.sourceTopics[0]!);
      if (this.assigned.has(`${topic}/${task.partition}`)) continue;
      // Everything it did is committed already (each batch commits); its state lives in the changelog.
      this.tasks.delete(id);
      await task.close();
      this.config.log.info(`task ${id} moved away`);
    }
  }

  /** Finishes the batch in hand, commits, leaves the group and disconnects. */
  async stop(): Promise<void> {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    await this.consumer?.stop().catch(() => {});
    await this.enqueue(async () => {
      const tasks = [...this.tasks.values()];
      for (const t of tasks) t.flush();
      await this.commit(tasks, []);
      for (const t of tasks) await t.close();
      this.tasks.clear();
    }).catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }
}
