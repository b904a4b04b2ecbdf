import type { Admin, Consumer, EachBatchPayload } from './client/port.ts';
import { decide, deadLetterHeaders, type DeadLetterContext } from '../../api/handlers.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import type { Topology } from '../../internals/compile.ts';
import { DEAD_LETTER_RECORDS, type RawRecord } from '../../internals/task.ts';
import { partitionFor } from '../../internals/partitioner.ts';
import type { ActiveTask, OffsetToCommit } from './active-task.ts';
import { AtLeastOnceCommitter } from './alos-committer.ts';
import type { KafkaClientFactory } from './client/port.ts';
import type { CommitHooks, Committer } from './committer.ts';
import type { ResolvedConfig } from './config.ts';
import { ExactlyOnceCommitter } from './eos-committer.ts';
import { ExactlyOnceV2Committer } from './eos-v2-committer.ts';
import { processId } from './process-id.ts';
import { streamsPartitionAssigner } from './partition-assigner.ts';
import { TaskManager } from './task-manager.ts';
import { provisionTopics, RepartitionPurger } from './topic-provisioner.ts';
import { TopicNames } from './topics.ts';
import { STREAM_TIME_METADATA } from './task-manager.ts';

export interface StreamThreadEvents {
  /** The group is rebalancing, or this member's tasks are being started. */
  rebalancing(): void;
  /** Every assigned task is started: processing. */
  running(): void;
  /** The thread failed for good and stopped processing (it still needs `stop()`). */
  failed(error: Error): void;
  /** A latency, for the latency histograms: a batch processed, a commit done. */
  observe?(metric: 'process-latency-ms' | 'commit-latency-ms', ms: number): void;
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
 * The poll loop, as Kafka Streams' StreamThread: one consumer-group member that feeds each
 * batch to its partition's task, punctuates on the wall clock, and commits. Everything that
 * commits or changes the set of tasks runs in one queue, so a tick never interleaves with a
 * batch commit or a rebalance.
 */
export class StreamThread {
  private readonly topology: Topology;
  private readonly config: ResolvedConfig;
  private readonly client: KafkaClientFactory;
  private readonly metrics: Map<string, number>;
  private readonly events: StreamThreadEvents;
  private readonly names: TopicNames;
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private committer: Committer | undefined;
  private tasks: TaskManager | undefined;
  private purger: RepartitionPurger | undefined;
  private dlqPartitions = 1;
  /** Tasks with outputs or state changes not yet committed, and the input offsets they cover. */
  private readonly dirty = new Set<ActiveTask>();
  private readonly pendingOffsets = new Map<string, OffsetToCommit>();
  private queuedCommits = 0;
  private serial: Promise<void> = Promise.resolve();
  private ticker: NodeJS.Timeout | undefined;
  private failed = false;
  private stopping = false;
  /** The batch being handled, if any: stop() lets it finish before committing. */
  private inFlight: Promise<void> = Promise.resolve();

  constructor(topology: Topology, config: ResolvedConfig, client: KafkaClientFactory, metrics: Map<string, number>, events: StreamThreadEvents) {
    this.topology = topology;
    this.config = config;
    this.client = client;
    this.metrics = metrics;
    this.events = events;
    this.names = new TopicNames(config.applicationId, topology);
  }

  private readonly count = (metric: string, n: number): void => {
    this.metrics.set(metric, (this.metrics.get(metric) ?? 0) + n);
  };

  private readonly gauge = (metric: string, value: number | undefined): void => {
    if (value === undefined) this.metrics.delete(metric);
    else this.metrics.set(metric, value);
  };

  /** Shared by the stream threads of one process (same state directory, same pid). */
  private get processId(): string {
    return (this.cachedProcessId ??= this.config.processId ?? processId(this.config.stateDir, this.config.applicationId, this.config.log));
  }

  private cachedProcessId: string | undefined;

  private get exactlyOnce(): boolean {
    return this.config.guarantee === 'exactly-once';
  }

  /** Connects, provisions topics, joins the group and starts consuming. */
  async start(): Promise<void> {
    const { config } = this;
    const { log } = config;
    const kafka = this.client({ clientId: config.applicationId, brokers: config.brokers, log, ...(config.security === undefined ? {} : { security: config.security }) });
    if (this.exactlyOnce && typeof kafka.exactlyOnce === 'object')
      throw new RetailStreamsError('invalid-argument', `exactly-once is not available on the ${kafka.name} client: ${kafka.exactlyOnce.unsupported}`);
    const admin = kafka.admin();
    try {
      await admin.connect();
    } catch (e) {
      throw new RetailStreamsError('broker-unreachable', `cannot reach Kafka at ${config.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
    }
    this.admin = admin;
    const partitionCounts = await provisionTopics(admin, this.topology, this.names, config);
    if (config.deadLetterQueueTopic !== undefined) this.dlqPartitions = partitionCounts.get(config.deadLetterQueueTopic) ?? 1;
    this.purger = new RepartitionPurger(admin, config.repartitionPurgeIntervalMs, config.clock, log);
    const hooks: CommitHooks = {
      fenced: (t) => this.tasks!.drop(t),
      corrupted: (t, reason) => this.tasks!.recover(t, reason),
      committed: (offsets) => {
        for (const o of offsets) if (this.topology.internalTopics.has(this.names.logical(o.topic))) this.purger!.committedUpTo(o.topic, o.partition, o.offset);
      },
      checkpoint: (tasks) => this.tasks!.checkpoint(tasks),
      count: this.count,
    };
    // Exactly-once v2 where the client can send offsets with the group metadata (KIP-447), else a
    // producer per task; never on a client that cannot read committed data exactly.
    const perTaskProducers = this.exactlyOnce && kafka.exactlyOnce === 'per-task';
    if (perTaskProducers) this.committer = new ExactlyOnceCommitter(config.applicationId, hooks, config.faults, log);
    else if (this.exactlyOnce) {
      const c = new ExactlyOnceV2Committer({
        kafka,
        transactionalId: `${config.applicationId}-${this.processId}-${config.threadIndex}`,
        groupId: config.applicationId,
        consumer: () => this.consumer!,
        hooks,
        faults: config.faults,
        log,
      });
      await c.start();
      this.committer = c;
      log.info(`exactly-once v2 (${kafka.name}): one transactional producer for this thread`);
    }
    else {
      const c = new AtLeastOnceCommitter(kafka, () => this.consumer!, hooks, config.productionExceptionHandler, log);
      await c.start();
      this.committer = c;
    }
    const sessionTimeout = config.sessionTimeoutMs;
    const consumer = kafka.consumer({
      groupId: config.applicationId,
      sessionTimeout,
      rebalanceTimeout: Math.max(30_000, sessionTimeout * 2),
      heartbeatInterval: Math.min(1_000, Math.floor(sessionTimeout / 3)),
      maxWaitTimeInMs: 50,
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      // The client restarts a crashed consumer by itself; once stop() has begun it must stay
      // stopped, or a process asked to leave would rejoin and start its tasks again.
      restartOnFailure: async () => !this.stopping,
      // Every consumer reads committed records only: aborted outputs of upstream tasks never
      // reach the tasks reading them (nor aborted changelog writes the standbys).
      assigner: streamsPartitionAssigner({
          topology: this.topology,
          names: this.names,
          applicationId: config.applicationId,
          numStandbyReplicas: config.numStandbyReplicas,
          acceptableRecoveryLag: config.acceptableRecoveryLag,
          localState: () => ({ ...this.tasks!.localState(), process: this.processId, ...(config.applicationServer === undefined ? {} : { applicationServer: config.applicationServer }) }),
          endOffsets: (topics) => this.endOffsets(topics),
          log,
        }),
    });
    this.consumer = consumer;
    this.tasks = new TaskManager({
      kafka,
      perTaskProducers,
      admin,
      consumer: () => consumer,
      topology: this.topology,
      names: this.names,
      config,
      partitionCounts,
      count: this.count,
      gauge: this.gauge,
      deadLetter: (t, c) => this.deadLetter(t, c),
      forgotten: (t) => {
        this.dirty.delete(t);
        for (const [key, o] of this.pendingOffsets) if (t.reads(o)) this.pendingOffsets.delete(key);
      },
    });
    consumer.on(consumer.events.REBALANCING, () => this.events.rebalancing());
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned = new Set<string>();
      const changelogs: { topic: string; partition: number }[] = [];
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of partitions) {
          if (this.tasks!.isChangelog(topic)) changelogs.push({ topic, partition });
          else assigned.add(`${topic}/${partition}`);
        }
      }
      const standbys = new Set(changelogs.map((c) => this.tasks!.standbyIdOf(c.topic, c.partition)!));
      // Before the first fetch (this runs inside kafkajs's join): standby partitions start where
      // their state is, and those whose state is not open yet wait for it.
      const waiting = this.tasks!.positionStandbys(changelogs);
      if (waiting.length > 0) consumer.pause(waiting.map((c) => ({ topic: c.topic, partitions: [c.partition] })));
      const standbyText = standbys.size === 0 ? '' : `; standby tasks ${[...standbys].sort().join(', ')}`;
      log.info(`joined group ${config.applicationId}: ${[...assigned].sort().join(', ') || 'no partitions'}${standbyText}`);
      this.count('rebalances', 1);
      for (const key of this.metrics.keys()) if (key.startsWith('consumer-lag{')) this.metrics.delete(key);
      this.events.rebalancing();
      // Starting tasks early is an optimisation: if it fails (a leader still moving), they start
      // with their first batch instead.
      void this.enqueue(async () => {
        try {
          await this.tasks!.assign(assigned, standbys);
        } catch (err) {
          log.warn(`starting assigned tasks: ${(err as Error).message}`);
        }
        if (!this.failed) this.events.running();
      }).catch(() => {});
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.stopping) return;
      if (!e.payload.restart) {
        this.fail(e.payload.error);
        return;
      }
      // kafkajs restarts the consumer from the committed offsets. Exactly-once tasks may hold
      // state of a batch that never committed: they start again from the committed state.
      if (this.exactlyOnce) {
        log.warn(`the consumer restarts (${e.payload.error.message}); its tasks restart from their committed state`);
        for (const t of this.tasks!.all()) void this.enqueue(() => this.tasks!.drop(t)).catch(() => {});
      }
    });
    await consumer.connect();
    const sources = this.topology.subtopologies.flatMap((s) => s.sourceTopics).map((t) => this.names.kafka(t));
    // Standby tasks tail the changelogs with this same consumer: members subscribe to them, and
    // the assignor hands each member the changelog partitions of its standbys.
    const changelogs = config.numStandbyReplicas > 0 ? this.tasks.changelogTopics() : [];
    await consumer.subscribe({ topics: [...sources, ...changelogs], fromBeginning: true });
    this.events.rebalancing();
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: (payload) => {
        const handled = this.onBatch(payload);
        this.inFlight = handled.catch(() => {});
        return handled;
      },
    });
    this.ticker = setInterval(() => this.tick(), config.punctuateIntervalMs);
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.events.failed(error);
  }

  /**
   * The dead-letter path of a task: the record goes to the dead-letter topic when there is one
   * (its original bytes, the reason and origin in headers), is logged and counted. A
   * deserialization failure then stops the instance if the handler says so; a record refused
   * by the event-time guard never does.
   */
  private deadLetter(t: ActiveTask, c: DeadLetterContext): void {
    this.count(DEAD_LETTER_RECORDS, 1);
    const where = `${c.origin.topic}[${c.origin.partition}]@${c.origin.offset}`;
    const message = c.error instanceof Error ? c.error.message : String(c.error);
    const dlq = this.config.deadLetterQueueTopic;
    if (dlq !== undefined) {
      // Partitioned by key like any producer record, as Kafka Streams' dead-letter producer does.
      t.collector.send(dlq, partitionFor(c.key, this.dlqPartitions), c.key, c.value, c.timestamp, deadLetterHeaders(c));
      this.config.log.debug(`dead letter ${where} (${c.reason}): ${message}`);
    } else this.config.log.warn(`record ${where} skipped (${c.reason}): ${message}`);
    if (c.reason === 'future-timestamp') return;
    if (decide(this.config.deserializationExceptionHandler, c) === 'fail')
      throw new RetailStreamsError('fatal', `record ${where} could not be deserialized (${c.reason}: ${message}) and the deserialization handler says fail`, { cause: c.error });
  }

  /** The tasks this thread runs now: interactive queries read their stores. */
  activeTasks(): readonly ActiveTask[] {
    return this.tasks?.all() ?? [];
  }

  /** Serializes everything that commits, so a tick never interleaves with a batch commit. */
  private enqueue(work: () => Promise<void> | void): Promise<void> {
    const next = this.serial.then(work);
    this.serial = next.catch((e: unknown) => {
      this.config.log.error(`commit failed: ${(e as Error).message}`);
      this.fail(e as Error);
    });
    return next;
  }

  /** Changelog end offsets by `topic/partition`, for the assignor's lags. */
  private async endOffsets(topics: readonly string[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    for (const topic of topics) for (const o of await this.admin!.fetchTopicOffsets(topic)) out.set(`${topic}/${o.partition}`, BigInt(o.high));
    return out;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    if (this.failed || !isRunning() || isStale()) return;
    if (this.tasks!.isChangelog(batch.topic)) {
      // A standby's changelog: applied to its stores, nothing to commit. Not resolved while its
      // standby is not open yet: the partition is then paused and pointed at the state's offset.
      if (this.tasks!.applyStandby(batch.topic, batch.partition, batch.messages, batch.lastOffset(), batch.highWatermark)) resolveOffset(batch.lastOffset());
      await heartbeat();
      return;
    }
    if (batch.messages.length === 0) return;
    // A slow commit (a sink retrying through an outage, a long restore) must not cost the group membership.
    const keepAlive = setInterval(() => void heartbeat().catch(() => {}), 2_000);
    try {
      const logical = this.names.logical(batch.topic);
      const t = await this.tasks!.taskFor(logical, batch.partition);
      // A task just started may have rewound the partition: this batch is then fetched again.
      if (!isRunning() || isStale()) return;
      const startedAt = this.config.clock();
      const records = batch.messages.map(toRaw);
      t.task.inputPending = true;
      await t.task.prepareBatch(logical, records);
      if (this.failed || !isRunning() || isStale()) return;
      try {
        t.task.processBatch(logical, records);
      } catch (e) {
        // Half a batch is in the task's state: nothing of it may commit. The instance stops.
        this.fail(e as Error);
        return;
      }
      // Behind the end of the partition means more input is coming: not idle, whatever the clock says.
      t.task.inputPending = Number(batch.highWatermark) > Number(batch.lastOffset()) + 1;
      t.task.flush();
      this.count('records-processed', records.length);
      this.count(`records-in{topic="${batch.topic}",task="${t.id}"}`, records.length);
      this.gauge(`consumer-lag{topic="${batch.topic}",partition="${batch.partition}"}`, Math.max(0, Number(batch.highWatermark) - Number(batch.lastOffset()) - 1));
      this.events.observe?.('process-latency-ms', this.config.clock() - startedAt);
      this.dirty.add(t);
      this.pendingOffsets.set(`${batch.topic}/${batch.partition}`, {
        topic: batch.topic,
        partition: batch.partition,
        offset: String(Number(batch.lastOffset()) + 1),
        ...(this.topology.internalTopics.has(logical) ? {} : { metadata: `${STREAM_TIME_METADATA}${t.task.streamTime}` }),
      });
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

  /** Queues a commit of everything processed so far; failures are reported through `failed`. */
  private requestCommit(): Promise<void> {
    this.queuedCommits++;
    const done = this.enqueue(async () => {
      this.queuedCommits--;
      if (this.failed) return;
      const tasks = [...this.dirty];
      this.dirty.clear();
      const offsets: OffsetToCommit[] = [];
      for (const [key, o] of this.pendingOffsets) {
        // Exactly-once commits a task's offsets in its own transaction, only with its changes.
        if (this.exactlyOnce && !tasks.some((t) => t.reads(o))) continue;
        offsets.push(o);
        this.pendingOffsets.delete(key);
      }
      if (tasks.length > 0 || offsets.length > 0) {
        const startedAt = this.config.clock();
        await this.committer!.commit(tasks, offsets);
        this.events.observe?.('commit-latency-ms', this.config.clock() - startedAt);
        for (const t of tasks) for (const [topic, n] of t.collector.takeProduced()) this.count(`records-out{topic="${topic}",task="${t.id}"}`, n);
      }
      await this.purger!.maybePurge();
    });
    done.catch(() => {});
    return done;
  }

  /** Wall-clock punctuation for every task (idle partitions, windows closing without new data). */
  private tick(): void {
    if (this.failed) return;
    void this.enqueue(() => this.tasks!.maintain()).catch(() => {});
    for (const t of this.tasks!.all()) {
      try {
        t.task.tick();
        t.task.flush();
      } catch (e) {
        this.fail(e as Error);
        return;
      }
      this.dirty.add(t);
    }
    if (this.dirty.size > 0) void this.requestCommit();
  }

  /**
   * Finishes the batch in hand, commits (unless the thread failed), leaves the group and
   * disconnects. The commit comes before the consumer stops: only a member of the group may
   * commit offsets, and a stop that left first would lose the last batches' offsets (their
   * outputs already written), to be replayed by the next owner.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    const consumer = this.consumer;
    if (consumer !== undefined && !this.failed) {
      // No new batch starts once every topic is paused; the one in hand runs to its end.
      try {
        consumer.pause(this.topology.subtopologies.flatMap((s) => s.sourceTopics).map((t) => ({ topic: this.names.kafka(t) })));
      } catch {
        // Not running yet (a stop during start): there is no batch to wait for.
      }
      await this.inFlight;
    }
    if (!this.failed && this.tasks !== undefined) {
      for (const t of this.tasks.all()) {
        t.task.flush();
        this.dirty.add(t);
      }
      await this.requestCommit().catch(() => {});
      await this.enqueue(() => this.purger?.maybePurge(true)).catch(() => {});
    }
    await consumer?.stop().catch(() => {});
    // A thread that failed may hold half a batch in its stores: nothing of it is checkpointed.
    await this.enqueue(() => this.tasks?.closeAll(!this.failed)).catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
    await this.committer?.close().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }
}
