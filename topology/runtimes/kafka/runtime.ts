import { writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type Message, type Producer } from 'kafkajs';
import type { Topology } from '../../internals/compile.ts';
import { StreamTask, type RawRecord, type TaskEnv } from '../../internals/task.ts';
import type { StoreKind } from '../../../state-stores/stores.ts';
import type { StateStore } from '../../../state-stores/api.ts';
import type { Persistence } from '../../../state-stores/memory.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import type { Logger } from '../../api/log.ts';
import { changelogTopicName, TopicNames } from './topics.ts';
import { restoreStores } from './restore.ts';
import { abortedFilterInstalled } from './aborted-filter.ts';
import { FENCED_ERRORS, kafkaErrorType, REBALANCE_ERRORS, SEQUENCE_LOST_ERRORS } from './errors.ts';

export interface OutputTopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly compacted: boolean;
}

export type Guarantee = 'at-least-once' | 'exactly-once';

export interface KafkaRuntimeConfig {
  readonly brokers: readonly string[];
  /** The consumer group, and the prefix of internal and changelog topics. */
  readonly applicationId: string;
  readonly storeKind: StoreKind;
  /** Where RocksDB stores live: `<stateDir>/<applicationId>/<task>/<store>`. */
  readonly stateDir: string;
  readonly guarantee: Guarantee;
  readonly idleMs: number;
  readonly replicationFactor: number;
  /** Output topics the application writes; created when missing. */
  readonly outputTopics: readonly OutputTopicSpec[];
  readonly log: Logger;
  /** How often idle tasks get wall-clock punctuation (idle detection, window closing). */
  readonly tickMs?: number;
  /** How soon the group notices a dead member (the broker's minimum is 6 s). */
  readonly sessionTimeoutMs?: number;
}

interface TaskState {
  task: StreamTask;
  /** Outputs of this task not yet sent, per Kafka topic. */
  pending: Map<string, Message[]>;
  /** Exactly-once: the task's own transactional producer (`<application>-<task>`), which fences zombies. */
  readonly producer: Producer | undefined;
}

interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
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
 * Test hook (fault injection), never for production: with RS_FAULT_TXN_UNKNOWN=N every Nth
 * transaction commit fails as one whose coordinator died mid-commit would, its outcome unknown
 * to the caller: alternately after the commit went through and before it was sent.
 */
const txnFaultEvery = Number.parseInt(process.env.RS_FAULT_TXN_UNKNOWN ?? '', 10);
let txnCommits = 0;
let txnFaults = 0;
async function commitOrFault(txn: { commit(): Promise<void> }): Promise<void> {
  if (!(txnFaultEvery > 0) || ++txnCommits % txnFaultEvery !== 0) return txn.commit();
  const committed = txnFaults++ % 2 === 0;
  if (committed) await txn.commit();
  writeSync(2, `RS_FAULT_TXN_UNKNOWN: commit ${txnCommits} fails ${committed ? 'after' : 'before'} committing\n`);
  throw new Error(`injected fault: commit ${committed ? 'done' : 'not sent'}, outcome unknown to the caller`);
}

const asBuffer = (b: Uint8Array | null): Buffer | null => (b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Runs a topology as a member of a Kafka consumer group: one task per assigned partition
 * (input and repartition topics alike), state restored from changelogs when a task starts.
 * At-least-once: a batch's outputs and changelog writes are acknowledged and its files renamed
 * before its offsets are committed. Exactly-once: each task has a transactional producer with a
 * stable id; outputs, changelog writes and input offsets commit in one transaction.
 */
export class KafkaStreamsRuntime {
  readonly metrics = new Map<string, number>();
  private readonly topology: Topology;
  private readonly config: KafkaRuntimeConfig;
  private readonly kafka: Kafka;
  private readonly names: TopicNames;
  private readonly partitionCounts = new Map<string, number>();
  private readonly tasks = new Map<string, TaskState>();
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private consumer: Consumer | undefined;
  private current: TaskState | undefined;
  /** Tasks with outputs or state changes not yet committed, and the input offsets they cover. */
  private readonly dirty = new Set<TaskState>();
  private readonly pendingOffsets = new Map<string, OffsetToCommit>();
  private queuedCommits = 0;
  private readonly creating = new Map<string, Promise<TaskState>>();
  private readonly env: TaskEnv;
  private serial: Promise<void> = Promise.resolve();
  private ticker: NodeJS.Timeout | undefined;
  private assigned = new Set<string>();
  private crashed: ((e: Error) => void) | undefined;
  private persistence: ((location: string) => Persistence) | undefined;
  /** Resolves when the runtime fails for good (the CLI exits non-zero then). */
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
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 3_000 },
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log: entry }) => {
        const text = `${entry.message}${entry.error ? `: ${entry.error}` : ''}`;
        if (level <= logLevel.ERROR) log.warn(`kafka: ${text}`);
        else log.debug(`kafka: ${text}`);
      },
    });
    this.env = {
      idleMs: config.idleMs,
      wallClock: Date.now,
      partitionsOf: (topic) => {
        const n = this.partitionCounts.get(topic);
        if (n === undefined) throw new Error(`unknown partition count of ${topic}`);
        return n;
      },
      send: (topic, partition, key, value, _timestamp, headers) => {
        const state = this.current;
        if (state === undefined) throw new Error('a record was sent outside a task');
        const kafkaTopic = this.names.kafka(topic);
        let list = state.pending.get(kafkaTopic);
        if (list === undefined) state.pending.set(kafkaTopic, (list = []));
        list.push({
          key: asBuffer(key),
          value: asBuffer(value),
          partition,
          // Records carry the time they were written, not event time: time-based retention of
          // repartition, dead-letter and late topics must not delete them on arrival.
          timestamp: String(Date.now()),
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

  private get exactlyOnce(): boolean {
    return this.config.guarantee === 'exactly-once';
  }

  /** Connects, checks and creates topics, joins the group and starts consuming. */
  async start(): Promise<void> {
    const { log } = this.config;
    if (this.config.storeKind === 'rocksdb') {
      const { RocksDbPersistence } = await import('../../../state-stores/rocksdb.ts');
      this.persistence = (location) => new RocksDbPersistence(location);
    }
    if (!abortedFilterInstalled()) log.warn('kafkajs was loaded before installAbortedFilter(): records of aborted transactions may be read as committed');
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (e) {
      throw new RetailStreamsError('broker-unreachable', `cannot reach Kafka at ${this.config.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
    }
    this.admin = admin;
    await this.ensureTopics(admin);
    if (!this.exactlyOnce) await this.renewProducer();
    const sessionTimeout = this.config.sessionTimeoutMs ?? 15_000;
    const consumer = this.kafka.consumer({
      groupId: this.config.applicationId,
      allowAutoTopicCreation: false,
      sessionTimeout,
      rebalanceTimeout: Math.max(30_000, sessionTimeout * 2),
      heartbeatInterval: Math.min(1_000, Math.floor(sessionTimeout / 3)),
      maxWaitTimeInMs: 50,
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      // Exactly-once reads committed data only: aborted partials never reach the combining task.
      readUncommitted: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned = new Set<string>();
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) for (const p of partitions) assigned.add(`${topic}/${p}`);
      this.assigned = assigned;
      log.info(`joined group ${this.config.applicationId}: ${[...assigned].sort().join(', ') || 'no partitions'}`);
      // Starting tasks early is an optimisation: if it fails (a leader still moving), they start
      // with their first batch instead.
      void this.enqueue(() => this.onAssignment().catch((err: unknown) => log.warn(`starting assigned tasks: ${(err as Error).message}`))).catch(() => {});
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) {
        this.crashed?.(e.payload.error);
        return;
      }
      // kafkajs restarts the consumer from the committed offsets. Exactly-once tasks may hold
      // state of a batch that never committed: they start again from the committed state.
      if (this.exactlyOnce) {
        log.warn(`the consumer restarts (${e.payload.error.message}); its tasks restart from their committed state`);
        for (const [id, s] of [...this.tasks]) if (this.forgetTask(id, s)) void this.enqueue(() => this.closeTask(s)).catch(() => {});
      }
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
    this.ticker = setInterval(() => this.tick(), tickMs);
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
      const configEntries = compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [];
      if (replicationFactor > 1) configEntries.push({ name: 'min.insync.replicas', value: String(Math.min(2, replicationFactor)) });
      create.push({ topic, numPartitions: partitions, replicationFactor, configEntries });
    };
    // Repartition topics get as many partitions as the input feeding them, like Kafka Streams.
    for (const sub of this.topology.subtopologies) {
      const n = Math.max(...sub.sourceTopics.map((t) => this.partitionCounts.get(t) ?? 0));
      for (const t of sub.sinkTopics) if (this.topology.internalTopics.has(t)) want(this.names.kafka(t), n, false, t);
    }
    for (const sub of this.topology.subtopologies) {
      const n = Math.max(...sub.sourceTopics.map((t) => this.partitionCounts.get(t)!));
      for (const s of sub.stores) {
        const name = changelogTopicName(this.config.applicationId, s);
        if (this.topology.stores.get(s)!.logged) want(name, n, true, name);
      }
    }
    for (const o of this.config.outputTopics) want(o.name, o.partitions, o.compacted, o.name);
    for (const t of this.topology.outputTopics()) if (!this.partitionCounts.has(t)) want(t, 1, false, t);
    if (create.length > 0) {
      try {
        await admin.createTopics({ topics: create, waitForLeaders: true });
      } catch (e) {
        // Another process of the group may have created them a moment ago.
        if (!/exists/i.test(String((e as Error).message))) throw e;
      }
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

  /** The task of a partition, created (and restored) once even when asked for twice at a time. */
  private taskFor(logicalTopic: string, partition: number): Promise<TaskState> {
    const sub = this.topology.subtopologyOf(logicalTopic)!;
    const id = `${sub.id}_${partition}`;
    const existing = this.tasks.get(id);
    if (existing !== undefined) return Promise.resolve(existing);
    let creating = this.creating.get(id);
    if (creating === undefined) {
      creating = this.createTask(sub, id, partition).finally(() => this.creating.delete(id));
      this.creating.set(id, creating);
    }
    return creating;
  }

  private async createTask(sub: Topology['subtopologies'][number], id: string, partition: number): Promise<TaskState> {
    let producer: Producer | undefined;
    if (this.exactlyOnce) {
      const p = this.kafka.producer({ transactionalId: `${this.config.applicationId}-${id}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      // kafkajs registers the transactional id only when a first transaction begins: begin and
      // abort an empty one now. That fences an older producer with this id and waits until its
      // last transaction is settled, committed or aborted with its markers written, so the
      // changelog and the committed offsets read from here on are final. The transaction
      // coordinator may be moving (a broker failing over): that is waited out.
      await this.withRetries(`starting the producer of task ${id}`, async () => {
        await p.connect();
        await (await p.transaction()).abort();
      });
      producer = p;
    }
    const persistence = this.persistence;
    const stores = new Map<string, StateStore>();
    for (const name of sub.stores) {
      const dir = join(this.config.stateDir, this.config.applicationId, id, name);
      const builder = this.topology.stores.get(name)!;
      // Exactly-once: the disk copy may hold writes of a transaction that never committed (a
      // crash, an unknown commit outcome), which the changelog would not overwrite. The
      // committed changelog alone is the state, so it is rebuilt from there.
      if (persistence !== undefined && this.exactlyOnce && builder.logged) await rm(dir, { recursive: true, force: true });
      const store = builder.build(persistence?.(dir));
      await store.open?.();
      stores.set(name, store);
    }
    const targets = [...stores.values()]
      .filter((s) => s.logged)
      .map((store) => ({ topic: changelogTopicName(this.config.applicationId, store.name), partition, store }));
    if (targets.length > 0) await restoreStores(this.kafka, this.admin!, targets, this.config.log);
    // Exactly-once: the state is the committed changelog, so the input must go on from the
    // committed offsets, read now that the last transaction is settled. The consumer's own
    // position may be ahead (this task replaces one whose work did not commit) or behind (it
    // read the offsets while that transaction was still committing).
    if (this.exactlyOnce) await this.rewindToCommitted(id, sub.sourceTopics, partition);
    // Processors' init may already send records: they belong to this task's pending outputs.
    const state = { pending: new Map(), producer } as TaskState;
    this.current = state;
    state.task = new StreamTask(this.topology, sub, partition, this.env, stores);
    this.tasks.set(id, state);
    this.config.log.info(`task ${id} started`);
    return state;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    // A slow commit (a sink retrying through an outage, a long restore) must not cost the group membership.
    const keepAlive = setInterval(() => void heartbeat().catch(() => {}), 2_000);
    try {
      const logical = this.names.logical(batch.topic);
      const state = await this.taskFor(logical, batch.partition);
      // A task just started may have rewound the partition: this batch is then fetched again.
      if (!isRunning() || isStale()) return;
      const records = batch.messages.map(toRaw);
      state.task.inputPending = true;
      await state.task.prepareBatch(logical, records);
      if (!isRunning() || isStale()) return;
      this.current = state;
      state.task.processBatch(logical, records);
      // Behind the end of the partition means more input is coming: not idle, whatever the clock says.
      state.task.inputPending = Number(batch.highWatermark) > Number(batch.lastOffset()) + 1;
      state.task.flush();
      this.env.count('records-processed', records.length);
      this.dirty.add(state);
      this.pendingOffsets.set(`${batch.topic}/${batch.partition}`, { topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) });
      // kafkajs fetches on from the resolved offset; what is committed is decided by the commits.
      resolveOffset(batch.lastOffset());
      // At-least-once group commit: the next batch is processed while this one's outputs are in
      // flight, and one commit covers every batch since the last (at most two wait behind it).
      // Exactly-once waits: kafkajs rejoins a rebalance only between batches, so the transaction
      // must be done before the partition's next owner reads the committed offsets.
      const committed = this.requestCommit();
      if (this.exactlyOnce || this.queuedCommits > 2) await committed;
    } finally {
      clearInterval(keepAlive);
    }
    await heartbeat();
  }

  /** Queues a commit of everything processed so far; failures are reported through `failure`. */
  private requestCommit(): Promise<void> {
    this.queuedCommits++;
    const done = this.enqueue(async () => {
      this.queuedCommits--;
      const states = [...this.dirty];
      this.dirty.clear();
      if (this.exactlyOnce) {
        for (const s of states) await this.commitTransaction(s);
        return;
      }
      const offsets = [...this.pendingOffsets.values()];
      this.pendingOffsets.clear();
      if (states.length > 0 || offsets.length > 0) await this.commit(states, offsets);
    });
    done.catch(() => {});
    return done;
  }

  /** Wall-clock punctuation for every task (idle partitions, windows closing without new data). */
  private tick(): void {
    for (const s of this.tasks.values()) {
      this.current = s;
      s.task.tick();
      s.task.flush();
      this.dirty.add(s);
    }
    if (this.dirty.size > 0) void this.requestCommit();
  }

  private takeOutputs(state: TaskState): { topic: string; messages: Message[] }[] {
    for (const { store, entries } of state.task.drainChanges()) {
      const topic = changelogTopicName(this.config.applicationId, store);
      let list = state.pending.get(topic);
      if (list === undefined) state.pending.set(topic, (list = []));
      for (const e of entries) list.push({ key: e.key, value: e.value, partition: state.task.partition });
    }
    const out = [...state.pending].map(([topic, messages]) => ({ topic, messages }));
    state.pending = new Map();
    return out;
  }

  private async commit(states: readonly TaskState[], offsets: readonly OffsetToCommit[]): Promise<void> {
    // At-least-once: files renamed first (a window's file must exist before the changelog says
    // the window is gone), then outputs and changelogs acknowledged, then offsets.
    for (const s of states) await s.task.commitSinks();
    const topicMessages = states.flatMap((s) => this.takeOutputs(s));
    if (topicMessages.length > 0) {
      await this.withRetries('send', async () => {
        try {
          return await this.producer!.sendBatch({ topicMessages, acks: -1 });
        } catch (e) {
          // Sent again by a new producer, part of the batch may be written twice: at-least-once.
          if (SEQUENCE_LOST_ERRORS.has(kafkaErrorType(e))) {
            this.config.log.warn(`send failed (${(e as Error).message}): a new producer sends from here`);
            await this.renewProducer();
          }
          throw e;
        }
      });
    }
    if (offsets.length === 0) return;
    try {
      await this.consumer!.commitOffsets([...offsets]);
    } catch (e) {
      // The group moved on while the batch was in hand: its new owner replays it (at-least-once).
      const type = kafkaErrorType(e);
      if (!REBALANCE_ERRORS.has(type)) throw e;
      this.env.count('commits-lost-to-rebalance', 1);
      this.config.log.warn(`offset commit lost to a rebalance (${type}); the batch will be replayed by the partition's new owner`);
    }
  }

  /** Replaces the at-least-once producer once the new one is connected. */
  private async renewProducer(): Promise<void> {
    const fresh = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await fresh.connect();
    const old = this.producer;
    this.producer = fresh;
    await old?.disconnect().catch(() => {});
  }

  /**
   * Retries a broker operation for about half a minute, as long as a broker failover takes. The
   * producer is idempotent, so a batch sent again is never written twice.
   */
  private async withRetries<T>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1, delay = 200; ; attempt++, delay = Math.min(delay * 2, 5_000)) {
      try {
        return await op();
      } catch (e) {
        if (attempt >= 10) throw e;
        this.config.log.warn(`${what} failed (${(e as Error).message}); retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private sameTask(s: TaskState, o: OffsetToCommit): boolean {
    return o.partition === s.task.partition && s.task.subtopology.sourceTopics.some((t) => this.names.kafka(t) === o.topic);
  }

  /**
   * One transaction per task: outputs, changelog writes and the input offsets. Files are renamed
   * inside it; their names are deterministic, so an aborted and replayed batch finds them done.
   */
  private async commitTransaction(s: TaskState): Promise<void> {
    // The task's changes and its input offsets are taken together, with nothing processed in
    // between: a transaction holding the state of a batch but not its offsets would, after a
    // restore from the changelog and a rewind to the committed offsets, count the batch twice.
    const topicMessages = this.takeOutputs(s);
    const offsets: OffsetToCommit[] = [];
    for (const [key, o] of this.pendingOffsets) {
      if (!this.sameTask(s, o)) continue;
      offsets.push(o);
      this.pendingOffsets.delete(key);
    }
    if (topicMessages.length === 0 && offsets.length === 0) {
      await s.task.commitSinks();
      return;
    }
    const groupOffsets = {
      consumerGroupId: this.config.applicationId,
      topics: [...new Set(offsets.map((o) => o.topic))].map((topic) => ({
        topic,
        partitions: offsets.filter((o) => o.topic === topic).map((o) => ({ partition: o.partition, offset: o.offset })),
      })),
    };
    // An aborted transaction leaves nothing visible, so the same messages and offsets can be
    // tried again while the broker side settles (a leader or coordinator moving, a transaction
    // completing): for about half a minute, as a broker failover takes.
    for (let attempt = 1, delay = 200; ; attempt++, delay = Math.min(delay * 2, 5_000)) {
      let txn: Awaited<ReturnType<Producer['transaction']>> | undefined;
      let committing = false;
      try {
        txn = await s.producer!.transaction();
        if (topicMessages.length > 0) await txn.sendBatch({ topicMessages, acks: -1 });
        if (offsets.length > 0) await txn.sendOffsets(groupOffsets);
        await s.task.commitSinks();
        committing = true;
        await commitOrFault(txn);
        return;
      } catch (e) {
        const type = kafkaErrorType(e);
        if (FENCED_ERRORS.has(type)) {
          // Another process owns the task now: this copy is a zombie. Drop it; its work is replayed there.
          this.config.log.warn(`task ${s.task.id} was fenced by its new owner; dropping it here`);
          await this.dropTask(s.task.id, s);
          return;
        }
        // A commit that failed, or a transaction kafkajs can no longer abort, has an unknown
        // outcome; a producer whose sequence numbers were lost fails every retry the same way.
        const aborted = !committing && (await txn?.abort().then(() => true, () => false)) !== false;
        if (!aborted || SEQUENCE_LOST_ERRORS.has(type) || /Transaction state exception/.test((e as Error).message)) {
          await this.recoverTask(s, (e as Error).message);
          return;
        }
        if (attempt >= 10) throw e;
        this.config.log.warn(`transaction of task ${s.task.id} failed (${(e as Error).message}); retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * A commit that failed half-way (its coordinator died during EndTxn) may or may not have
   * happened, and kafkajs can neither retry nor abort it. As Kafka Streams does with a corrupted
   * task: drop the task and start it again, which settles the transaction, restores the
   * committed state and rewinds the input to the committed offsets. Whichever way the
   * transaction went, state, outputs and offsets then agree.
   */
  private async recoverTask(s: TaskState, reason: string): Promise<void> {
    this.config.log.warn(`task ${s.task.id}: its transaction is in an unknown state (${reason}); restarting the task from its committed state`);
    await this.dropTask(s.task.id, s);
    await this.taskFor(s.task.subtopology.sourceTopics[0]!, s.task.partition);
  }

  /** Points the consumer at the committed offsets of a task's input partitions. */
  private async rewindToCommitted(id: string, sources: readonly string[], partition: number): Promise<void> {
    for (const logical of sources) {
      const topic = this.names.kafka(logical);
      const [committed] = await this.withRetries('reading committed offsets', () => this.admin!.fetchOffsets({ groupId: this.config.applicationId, topics: [topic] }));
      let offset = committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
      if (Number(offset) < 0) {
        const ends = await this.withRetries('reading topic offsets', () => this.admin!.fetchTopicOffsets(topic));
        offset = ends.find((e) => e.partition === partition)?.low ?? '0';
      }
      // Ignored by kafkajs for a partition this member does not hold (the task then moves away).
      this.consumer!.seek({ topic, partition, offset });
      this.config.log.debug(`task ${id}: ${topic}/${partition} from offset ${offset}`);
    }
  }

  /**
   * Closes tasks that moved away and starts (restores) every newly assigned one at once, so a
   * restarted task resumes sending its watermark even when its partition gets no new records.
   */
  private async onAssignment(): Promise<void> {
    await this.dropUnassignedTasks();
    for (const tp of this.assigned) {
      const at = tp.lastIndexOf('/');
      const logical = this.names.logical(tp.slice(0, at));
      if (this.topology.subtopologyOf(logical) === undefined) continue;
      await this.taskFor(logical, Number(tp.slice(at + 1)));
    }
  }

  private async dropTask(id: string, s: TaskState): Promise<void> {
    if (this.forgetTask(id, s)) await this.closeTask(s);
  }

  /** Takes a task out of service at once: later batches start a new one. */
  private forgetTask(id: string, s: TaskState): boolean {
    if (this.tasks.get(id) !== s) return false;
    this.tasks.delete(id);
    this.dirty.delete(s);
    for (const [key, o] of this.pendingOffsets) if (this.sameTask(s, o)) this.pendingOffsets.delete(key);
    return true;
  }

  private async closeTask(s: TaskState): Promise<void> {
    await s.task.close();
    await s.producer?.disconnect().catch(() => {});
  }

  private async dropUnassignedTasks(): Promise<void> {
    for (const [id, s] of this.tasks) {
      const topic = this.names.kafka(s.task.subtopology.sourceTopics[0]!);
      if (this.assigned.has(`${topic}/${s.task.partition}`)) continue;
      // Commits queued before the rebalance have run (this runs in the same queue); what is left
      // uncommitted is replayed by the partition's new owner. Its state lives in the changelog.
      await this.dropTask(id, s);
      this.config.log.info(`task ${id} moved away`);
    }
  }

  /** Finishes the batch in hand, commits, leaves the group and disconnects. */
  async stop(): Promise<void> {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    await this.consumer?.stop().catch(() => {});
    for (const s of this.tasks.values()) {
      this.current = s;
      s.task.flush();
      this.dirty.add(s);
    }
    await this.requestCommit().catch(() => {});
    await this.enqueue(async () => {
      const states = [...this.tasks.values()];
      this.tasks.clear();
      for (const s of states) await this.closeTask(s);
    }).catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }
}
