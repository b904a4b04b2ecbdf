import type { Admin, Consumer, KafkaClient, Producer } from './client/port.ts';
import type { DeadLetterContext } from '../../api/handlers.ts';
import type { Subtopology, Topology } from '../../internals/compile.ts';
import { StreamTask, type TaskEnv } from '../../internals/task.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import { ActiveTask } from './active-task.ts';
import { scanCheckpoints } from './checkpoint.ts';
import type { ResolvedConfig } from './config.ts';
import type { LocalState } from './partition-assigner.ts';
import { RecordCollector } from './record-collector.ts';
import { restoreProgress, restoreStores, type RestoreTarget } from './restore.ts';
import { StandbyTasks, type ChangelogRecord } from './standby-task.ts';
import { StateCleaner } from './state-cleaner.ts';
import { openTaskState, tailTargets, type TaskState } from './state-manager.ts';
import type { TopicNames } from './topics.ts';

/** What the task manager needs from the stream thread that owns it. */
export interface TaskManagerDeps {
  readonly kafka: KafkaClient;
  /** Exactly-once with a transactional producer per task (clients without KIP-447); else the thread's committer owns the producer. */
  readonly perTaskProducers: boolean;
  readonly admin: Admin;
  readonly consumer: () => Consumer;
  readonly topology: Topology;
  readonly names: TopicNames;
  readonly config: ResolvedConfig;
  readonly partitionCounts: ReadonlyMap<string, number>;
  count(metric: string, n: number): void;
  /** Sets a gauge in the instance's metrics; undefined removes it. */
  gauge(metric: string, value: number | undefined): void;
  /** A record that failed deserialization or the event-time guard, from the task that read it. */
  deadLetter(task: ActiveTask, context: DeadLetterContext): void;
  /** A task left service: whatever the thread holds for it (uncommitted offsets, dirty marks) goes too. */
  forgotten(task: ActiveTask): void;
}

/** Prefix of the offset commit metadata that carries a task's stream time (at-least-once). */
export const STREAM_TIME_METADATA = 'rs-stream-time=';

/** A task being started: its producer and state are ready, its restore is not done yet. */
interface Starting {
  readonly sub: Subtopology;
  readonly id: string;
  readonly partition: number;
  readonly producer: Producer | undefined;
  readonly state: TaskState;
  readonly targets: readonly RestoreTarget[];
}

/**
 * Task lifecycle, as Kafka Streams' TaskManager: one task per assigned partition of a
 * sub-topology's sources, created once even when asked for twice at a time, its state restored
 * from the changelogs (the tail after its checkpoint, or after what its standby had applied)
 * before its processors start, closed when its partition moves away; and the standby tasks the
 * group assigned to this member.
 */
export class TaskManager {
  private readonly tasks = new Map<string, ActiveTask>();
  private readonly creating = new Map<string, Promise<ActiveTask>>();
  private readonly standbys: StandbyTasks;
  /** Checkpoints on disk of tasks this member runs in no form, for the group leader. */
  private readonly onDisk: Map<string, Map<string, bigint>>;
  private readonly d: TaskManagerDeps;
  /** Removes directories of tasks not assigned here (`stateCleanupDelayMs`). */
  private readonly cleaner: StateCleaner;
  /** Active and standby task ids of the latest assignment. */
  private assigned: ReadonlySet<string> = new Set();

  constructor(deps: TaskManagerDeps) {
    this.d = deps;
    this.onDisk = scanCheckpoints(deps.config.stateDir, deps.config.applicationId);
    const { stateDir, applicationId, stateCleanupDelayMs, clock, log, numStreamThreads } = deps.config;
    // The cleaner asks which tasks are in use synchronously, on the one thread that could start
    // them; stream threads in workers share the state directory and cannot answer for each other,
    // so there it keeps every directory (README, "Stream threads").
    const delayMs = numStreamThreads > 1 ? Number.POSITIVE_INFINITY : stateCleanupDelayMs;
    this.cleaner = new StateCleaner({ stateDir, applicationId, delayMs, clock, log });
    this.standbys = new StandbyTasks({
      topology: deps.topology,
      config: deps.config,
      admin: deps.admin,
      consumer: deps.consumer,
      count: deps.count,
      gauge: deps.gauge,
      checkpoint: (id, state) => this.checkpointState(id, state),
      opened: (id) => this.onDisk.delete(id),
    });
  }

  private get exactlyOnce(): boolean {
    return this.d.config.guarantee === 'exactly-once';
  }

  all(): ActiveTask[] {
    return [...this.tasks.values()];
  }

  /** Every changelog topic of the topology (what members subscribe to when they keep standbys). */
  changelogTopics(): string[] {
    return this.standbys.changelogTopics();
  }

  isChangelog(kafkaTopic: string): boolean {
    return this.standbys.isChangelog(kafkaTopic);
  }

  /** The standby task a changelog partition belongs to. */
  standbyIdOf(kafkaTopic: string, partition: number): string | undefined {
    return this.standbys.idOf(kafkaTopic, partition);
  }

  /** What this member holds, for the group leader: tasks, standbys and the offsets of all local state. */
  localState(): LocalState {
    const offsets = new Map<string, ReadonlyMap<string, bigint>>(this.onDisk);
    for (const s of this.standbys.values()) offsets.set(s.id, new Map(s.state.offsets));
    for (const t of this.tasks.values()) if (t.state !== undefined) offsets.set(t.id, new Map(t.state.offsets));
    return { active: [...this.tasks.keys()], standby: this.standbys.ids(), offsets };
  }

  /** The task of a partition, created (and restored) once even when asked for twice at a time. */
  taskFor(logicalTopic: string, partition: number): Promise<ActiveTask> {
    const sub = this.d.topology.subtopologyOf(logicalTopic);
    if (sub === undefined) throw new Error(`no sub-topology reads ${logicalTopic}`);
    const id = `${sub.id}_${partition}`;
    return this.tasks.get(id) !== undefined ? Promise.resolve(this.tasks.get(id)!) : this.start([{ sub, id, partition }])[0]!;
  }

  /**
   * Starts tasks, restoring all of their changelogs with one restore consumer (one group join
   * for the lot, not one per task). A task already starting is waited for, not started twice.
   */
  private start(wanted: readonly { sub: Subtopology; id: string; partition: number }[]): Promise<ActiveTask>[] {
    const fresh = wanted.filter((w) => !this.creating.has(w.id) && !this.tasks.has(w.id));
    const batch = fresh.length === 0 ? Promise.resolve(new Map<string, ActiveTask>()) : this.startAll(fresh);
    for (const w of fresh) {
      const one = batch.then((made) => made.get(w.id)!).finally(() => this.creating.delete(w.id));
      one.catch(() => {});
      this.creating.set(w.id, one);
    }
    return wanted.map((w) => (this.tasks.has(w.id) ? Promise.resolve(this.tasks.get(w.id)!) : this.creating.get(w.id)!));
  }

  private async startAll(wanted: readonly { sub: Subtopology; id: string; partition: number }[]): Promise<Map<string, ActiveTask>> {
    const prepared = await Promise.allSettled(wanted.map((w) => this.prepare(w.sub, w.id, w.partition)));
    const ready = prepared.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
    const failed = prepared.find((p): p is PromiseRejectedResult => p.status === 'rejected');
    try {
      if (failed !== undefined) throw failed.reason;
      await this.restore(ready);
      const made = new Map<string, ActiveTask>();
      for (const s of ready) made.set(s.id, await this.finish(s));
      return made;
    } catch (e) {
      for (const s of ready) if (!this.tasks.has(s.id)) await this.abandon(s);
      throw e;
    }
  }

  /** Closes tasks whose partitions moved away, starts every newly assigned one, and keeps the assigned standbys. */
  async assign(assigned: ReadonlySet<string>, standbys: ReadonlySet<string> = new Set()): Promise<void> {
    for (const t of this.all()) {
      if (assigned.has(`${t.sourceTopics[0]}/${t.task.partition}`)) continue;
      // Commits queued before the rebalance have run (this runs in the same queue); what is left
      // uncommitted is replayed by the partition's new owner. Its state lives in the changelog.
      if (this.forget(t)) await this.close(t, true);
      this.d.config.log.info(`task ${t.id} moved away`);
    }
    // A standby that turns active here is taken over by the new task as it starts.
    await this.standbys.retain((id) => standbys.has(id) || this.wantsActive(assigned, id));
    await this.standbys.start(standbys, (id) => this.tasks.has(id));
    // Starting every task now, not at its first batch, lets a restarted task send its watermark
    // at once even when its partition gets no new records.
    const wanted = new Map<string, { sub: Subtopology; id: string; partition: number }>();
    for (const tp of assigned) {
      const at = tp.lastIndexOf('/');
      const sub = this.d.topology.subtopologyOf(this.d.names.logical(tp.slice(0, at)));
      if (sub === undefined) continue;
      const partition = Number(tp.slice(at + 1));
      wanted.set(`${sub.id}_${partition}`, { sub, id: `${sub.id}_${partition}`, partition });
    }
    this.assigned = new Set([...wanted.keys(), ...standbys]);
    await Promise.all(this.start([...wanted.values()]));
  }

  private wantsActive(assigned: ReadonlySet<string>, id: string): boolean {
    const at = id.indexOf('_');
    const sub = this.d.topology.subtopologies.find((s) => String(s.id) === id.slice(0, at));
    return sub !== undefined && sub.sourceTopics.some((t) => assigned.has(`${this.d.names.kafka(t)}/${id.slice(at + 1)}`));
  }

  /** Fences the previous owner (exactly-once), then opens the state: from a standby's stores if there is one, else from the task directory. */
  private async prepare(sub: Subtopology, id: string, partition: number): Promise<Starting> {
    const { config, admin } = this.d;
    const producer = this.d.perTaskProducers ? await this.fencingProducer(id) : undefined;
    // Exactly-once v2 fences through the group, not the task's producer: the previous owner's
    // last transaction is settled once the task's committed offsets are stable.
    if (this.exactlyOnce && !this.d.perTaskProducers) await this.awaitStableOffsets(sub.sourceTopics);
    try {
      const standby = this.standbys.take(id);
      if (standby !== undefined) {
        // Exactly-once: from here on the stores take uncommitted writes; a crash must wipe them.
        if (this.exactlyOnce) await standby.state.dropCheckpoint();
        const targets = await tailTargets(standby.state, admin, config.log);
        if (targets !== undefined) {
          config.log.info(`task ${id}: taking over the stores of its standby (${standby.applied} records applied here)`);
          return { sub, id, partition, producer, state: standby.state, targets };
        }
        await standby.state.close();
      }
      const { state, targets } = await openTaskState({
        topology: this.d.topology, sub, partition, applicationId: config.applicationId, stateDir: config.stateDir, admin, log: config.log,
        dropCheckpoint: this.exactlyOnce, defaultStore: config.defaultStore,
      });
      if (this.exactlyOnce) this.onDisk.delete(id);
      return { sub, id, partition, producer, state, targets };
    } catch (e) {
      await producer?.disconnect().catch(() => {});
      throw e;
    }
  }

  /** Restores every starting task's changelogs together, reporting progress in the restore metrics. */
  private async restore(starting: readonly Starting[]): Promise<void> {
    const owner = new Map(starting.flatMap((s) => s.targets.map((t) => [t, s.id] as const)));
    const targets = [...owner.keys()];
    const { config } = this.d;
    const metrics = restoreProgress(targets, (t) => owner.get(t)!, { count: this.d.count, gauge: this.d.gauge, clock: config.clock });
    const results = await restoreStores(this.d.kafka, this.d.admin, targets, { groupPrefix: config.applicationId, log: config.log, clock: config.clock, progress: metrics.progress });
    metrics.done(results);
    for (const s of starting) s.state.noteRestored(results.filter((r) => owner.get(r.target) === s.id));
  }

  private async finish(s: Starting): Promise<ActiveTask> {
    const { config, topology } = this.d;
    // At-least-once the state is checkpointed as it goes, from the restored offsets on.
    if (!this.exactlyOnce) await this.checkpointState(s.id, s.state);
    // Exactly-once: the state is the committed changelog, so the input must go on from the
    // committed offsets, read now that the last transaction is settled. The consumer's own
    // position may be ahead (this task replaces one whose work did not commit) or behind.
    if (this.exactlyOnce) await this.rewindToCommitted(s.id, s.sub.sourceTopics, s.partition);
    const collector = new RecordCollector(config.clock);
    const sourceTopics = s.sub.sourceTopics.map((t) => this.d.names.kafka(t));
    // The task is made with its own env, so whatever its processors send (their init included)
    // lands in its own collector.
    let active: ActiveTask | undefined;
    const env: TaskEnv = {
      idleMs: config.idleMs,
      maxFutureMs: config.maxFutureMs,
      wallClock: config.clock,
      partitionsOf: (topic) => {
        const n = this.d.partitionCounts.get(topic);
        if (n === undefined) throw new Error(`unknown partition count of ${topic}`);
        return n;
      },
      send: (topic, p, key, value, timestamp, headers) => collector.send(this.d.names.kafka(topic), p, key, value, timestamp, headers),
      count: this.d.count,
      deadLetter: (context) => this.d.deadLetter(active!, context),
    };
    const task = new StreamTask(topology, s.sub, s.partition, env, s.state.stores);
    if (!this.exactlyOnce && s.sub.streamTimeStore !== undefined) task.resumeStreamTimeAt(await this.committedStreamTime(s.sub.sourceTopics, s.partition));
    active = new ActiveTask(task, collector, s.producer, sourceTopics, config.applicationId, s.state);
    this.tasks.set(s.id, active);
    config.log.info(`task ${s.id} started`);
    return active;
  }

  private async abandon(s: Starting): Promise<void> {
    await s.state.close().catch(() => {});
    await s.producer?.disconnect().catch(() => {});
  }

  /**
   * kafkajs registers a transactional id only when a first transaction begins: one is begun and
   * aborted at once. That fences an older producer with this id and waits until its last
   * transaction is settled, so the changelog and committed offsets read next are final.
   */
  private async fencingProducer(id: string): Promise<Producer> {
    const p = this.d.kafka.producer({ transactionalId: `${this.d.config.applicationId}-${id}` });
    await retrying(
      `starting the producer of task ${id}`,
      async () => {
        await p.connect();
        await (await p.transaction()).abort();
      },
      BROKER_RETRY_POLICY,
      this.d.config.log,
    );
    return p;
  }

  private async awaitStableOffsets(sources: readonly string[]): Promise<void> {
    const { admin, config } = this.d;
    const topics = sources.map((t) => this.d.names.kafka(t));
    await retrying('reading stable committed offsets', () => admin.fetchOffsets({ groupId: config.applicationId, topics, requireStable: true }), BROKER_RETRY_POLICY, config.log);
  }

  /**
   * At-least-once: the stream time committed with the input offsets (their metadata). The
   * restored stream-time store may be ahead of it: its changelog is written before the offsets
   * are committed, so after a crash in between the batch is replayed, and judged against a
   * stream time that already includes it, its on-time records would turn late. Kafka Streams
   * keeps partition time in the commit metadata for the same reason. No committed offset means
   * the partition is read from its start: stream time starts from nothing too.
   */
  private async committedStreamTime(sources: readonly string[], partition: number): Promise<number> {
    const { admin, config } = this.d;
    let time = Number.NEGATIVE_INFINITY;
    for (const logical of sources) {
      if (this.d.topology.internalTopics.has(logical)) continue;
      const topic = this.d.names.kafka(logical);
      const [committed] = await retrying('reading committed offsets', () => admin.fetchOffsets({ groupId: config.applicationId, topics: [topic] }), BROKER_RETRY_POLICY, config.log);
      const meta = committed?.partitions.find((p) => p.partition === partition)?.metadata;
      if (typeof meta === 'string' && meta.startsWith(STREAM_TIME_METADATA)) {
        const t = Number(meta.slice(STREAM_TIME_METADATA.length));
        if (!Number.isNaN(t) && t > time) time = t;
      }
    }
    return time;
  }

  /** Points the consumer at the committed offsets of a task's input partitions. */
  private async rewindToCommitted(id: string, sources: readonly string[], partition: number): Promise<void> {
    const { admin, config } = this.d;
    for (const logical of sources) {
      const topic = this.d.names.kafka(logical);
      const [committed] = await retrying('reading committed offsets', () => admin.fetchOffsets({ groupId: config.applicationId, topics: [topic] }), BROKER_RETRY_POLICY, config.log);
      let offset = committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
      if (Number(offset) < 0) {
        const ends = await retrying('reading topic offsets', () => admin.fetchTopicOffsets(topic), BROKER_RETRY_POLICY, config.log);
        offset = ends.find((e) => e.partition === partition)?.low ?? '0';
      }
      // Ignored by kafkajs for a partition this member does not hold (the task then moves away).
      this.d.consumer().seek({ topic, partition, offset });
      config.log.debug(`task ${id}: ${topic}/${partition} from offset ${offset}`);
    }
  }

  /**
   * A task whose transaction ended in an unknown state, as Kafka Streams handles a corrupted
   * task: closed and started again, which settles the transaction, restores the committed state
   * and rewinds the input to the committed offsets. Either way the transaction went, state,
   * outputs and offsets then agree.
   */
  async recover(t: ActiveTask, reason: string): Promise<void> {
    this.d.config.log.warn(`task ${t.id}: its transaction is in an unknown state (${reason}); restarting the task from its committed state`);
    await this.drop(t);
    await this.taskFor(t.task.subtopology.sourceTopics[0]!, t.task.partition);
  }

  /** Takes a task out of service without a checkpoint: its local state is not known to be committed. */
  async drop(t: ActiveTask): Promise<void> {
    if (this.forget(t)) await this.close(t, false);
  }

  /** Takes a task out of service at once: later batches start a new one. */
  forget(t: ActiveTask): boolean {
    if (this.tasks.get(t.id) !== t) return false;
    this.tasks.delete(t.id);
    this.d.forgotten(t);
    return true;
  }

  /**
   * At-least-once, after a commit: the tasks' stores are flushed and checkpointed at their
   * acknowledged changelog offsets. A failed write only leaves the previous checkpoint, which is
   * still true of the state (a restore from it replays a little more).
   */
  async checkpoint(tasks: readonly ActiveTask[]): Promise<void> {
    if (this.exactlyOnce) return;
    for (const t of tasks) if (t.state !== undefined && this.tasks.get(t.id) === t) await this.checkpointState(t.id, t.state);
  }

  private async checkpointState(id: string, state: TaskState): Promise<void> {
    try {
      const written = await state.checkpoint();
      if (written !== undefined) this.onDisk.set(id, written);
    } catch (e) {
      this.d.config.log.warn(`task ${id}: writing its checkpoint failed: ${(e as Error).message}`);
    }
  }

  /**
   * A clean close checkpoints the state. Exactly-once only when nothing is left uncommitted: a
   * change drained now would be a change no transaction holds.
   */
  private async close(t: ActiveTask, clean: boolean): Promise<void> {
    if (clean && t.state !== undefined) {
      const pending = this.exactlyOnce && t.takeOutputs().length > 0;
      if (!pending) await this.checkpointState(t.id, t.state);
      else this.d.config.log.info(`task ${t.id}: closed with uncommitted changes; its local state is not checkpointed`);
    }
    t.state?.reportMetrics(this.d.gauge, true);
    await t.task.close();
    await t.producer?.disconnect().catch(() => {});
  }

  /** Closes every task and standby; `clean` (a stop after the last commit) checkpoints them. */
  async closeAll(clean = true): Promise<void> {
    const all = this.all();
    this.tasks.clear();
    for (const t of all) await this.close(t, clean);
    await this.standbys.closeAll(clean);
  }

  // Standby tasks.

  /** See `StandbyTasks.position`: called as the member joins, before its first fetch. */
  positionStandbys(changelogPartitions: readonly { topic: string; partition: number }[]): { topic: string; partition: number }[] {
    return this.standbys.position(changelogPartitions);
  }

  /** Applies a fetched changelog batch to its standby; false when this member keeps no standby for it (yet). */
  applyStandby(kafkaTopic: string, partition: number, records: readonly ChangelogRecord[], lastOffset: string, highWatermark: string): boolean {
    return this.standbys.apply(kafkaTopic, partition, records, lastOffset, highWatermark);
  }

  /** Every second: checkpoints the standbys that advanced, refreshes the store and standby metrics. */
  async maintain(): Promise<void> {
    await this.standbys.maintain();
    for (const t of this.tasks.values()) t.state?.reportMetrics(this.d.gauge);
    const inUse = (id: string) => this.assigned.has(id) || this.tasks.has(id) || this.creating.has(id) || this.standbys.ids().includes(id);
    for (const id of await this.cleaner.maybeClean(inUse)) this.onDisk.delete(id);
  }
}
