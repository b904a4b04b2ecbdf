import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { DeadLetterContext } from '../../api/handlers.ts';
import type { Subtopology, Topology } from '../../internals/compile.ts';
import { StreamTask, type TaskEnv } from '../../internals/task.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { StateStore } from '../../../state-stores/api.ts';
import type { Persistence } from '../../../state-stores/memory.ts';
import { ActiveTask } from './active-task.ts';
import type { ResolvedConfig } from './config.ts';
import { RecordCollector } from './record-collector.ts';
import { restoreStores } from './restore.ts';
import { changelogTopicName, type TopicNames } from './topics.ts';

/** What the task manager needs from the stream thread that owns it. */
export interface TaskManagerDeps {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly consumer: () => Consumer;
  readonly topology: Topology;
  readonly names: TopicNames;
  readonly config: ResolvedConfig;
  readonly partitionCounts: ReadonlyMap<string, number>;
  readonly persistence: ((location: string) => Persistence) | undefined;
  count(metric: string, n: number): void;
  /** A record that failed deserialization or the event-time guard, from the task that read it. */
  deadLetter(task: ActiveTask, context: DeadLetterContext): void;
  /** A task left service: whatever the thread holds for it (uncommitted offsets, dirty marks) goes too. */
  forgotten(task: ActiveTask): void;
}

/**
 * Task lifecycle, as Kafka Streams' TaskManager: one task per assigned partition of a
 * sub-topology's sources, created once even when asked for twice at a time, its state restored
 * from the changelogs before its processors start, closed when its partition moves away.
 */
export class TaskManager {
  private readonly tasks = new Map<string, ActiveTask>();
  private readonly creating = new Map<string, Promise<ActiveTask>>();
  private readonly d: TaskManagerDeps;

  constructor(deps: TaskManagerDeps) {
    this.d = deps;
  }

  private get exactlyOnce(): boolean {
    return this.d.config.guarantee === 'exactly-once';
  }

  all(): ActiveTask[] {
    return [...this.tasks.values()];
  }

  /** The task of a partition, created (and restored) once even when asked for twice at a time. */
  taskFor(logicalTopic: string, partition: number): Promise<ActiveTask> {
    const sub = this.d.topology.subtopologyOf(logicalTopic);
    if (sub === undefined) throw new Error(`no sub-topology reads ${logicalTopic}`);
    const id = `${sub.id}_${partition}`;
    const existing = this.tasks.get(id);
    if (existing !== undefined) return Promise.resolve(existing);
    let creating = this.creating.get(id);
    if (creating === undefined) {
      creating = this.create(sub, id, partition).finally(() => this.creating.delete(id));
      this.creating.set(id, creating);
    }
    return creating;
  }

  /** Closes tasks whose partitions moved away and starts every newly assigned one, restored, at once. */
  async assign(assigned: ReadonlySet<string>): Promise<void> {
    for (const t of this.all()) {
      if (assigned.has(`${t.sourceTopics[0]}/${t.task.partition}`)) continue;
      // Commits queued before the rebalance have run (this runs in the same queue); what is left
      // uncommitted is replayed by the partition's new owner. Its state lives in the changelog.
      await this.drop(t);
      this.d.config.log.info(`task ${t.id} moved away`);
    }
    // Starting every task now, not at its first batch, lets a restarted task send its watermark
    // at once even when its partition gets no new records.
    for (const tp of assigned) {
      const at = tp.lastIndexOf('/');
      const logical = this.d.names.logical(tp.slice(0, at));
      if (this.d.topology.subtopologyOf(logical) === undefined) continue;
      await this.taskFor(logical, Number(tp.slice(at + 1)));
    }
  }

  private async create(sub: Subtopology, id: string, partition: number): Promise<ActiveTask> {
    const { config, topology } = this.d;
    const producer = this.exactlyOnce ? await this.fencingProducer(id) : undefined;
    const stores = new Map<string, StateStore>();
    for (const name of sub.stores) {
      const dir = join(config.stateDir, config.applicationId, id, name);
      const builder = topology.stores.get(name)!;
      // Exactly-once: the disk copy may hold writes of a transaction that never committed (a
      // crash, an unknown commit outcome), which the changelog would not overwrite. The
      // committed changelog alone is the state, so it is rebuilt from there.
      if (this.d.persistence !== undefined && this.exactlyOnce && builder.logged) await rm(dir, { recursive: true, force: true });
      const store = builder.build(this.d.persistence?.(dir));
      await store.open?.();
      stores.set(name, store);
    }
    const targets = [...stores.values()].filter((s) => s.logged).map((store) => ({ topic: changelogTopicName(config.applicationId, store.name), partition, store }));
    if (targets.length > 0) await restoreStores(this.d.kafka, this.d.admin, targets, config.log);
    // Exactly-once: the state is the committed changelog, so the input must go on from the
    // committed offsets, read now that the last transaction is settled. The consumer's own
    // position may be ahead (this task replaces one whose work did not commit) or behind.
    if (this.exactlyOnce) await this.rewindToCommitted(id, sub.sourceTopics, partition);
    const collector = new RecordCollector(config.clock);
    const sourceTopics = sub.sourceTopics.map((t) => this.d.names.kafka(t));
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
    const task = new StreamTask(topology, sub, partition, env, stores);
    active = new ActiveTask(task, collector, producer, sourceTopics, config.applicationId);
    this.tasks.set(id, active);
    config.log.info(`task ${id} started`);
    return active;
  }

  /**
   * kafkajs registers a transactional id only when a first transaction begins: one is begun and
   * aborted at once. That fences an older producer with this id and waits until its last
   * transaction is settled, so the changelog and committed offsets read next are final.
   */
  private async fencingProducer(id: string): Promise<Producer> {
    const p = this.d.kafka.producer({ transactionalId: `${this.d.config.applicationId}-${id}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
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

  async drop(t: ActiveTask): Promise<void> {
    if (this.forget(t)) await this.close(t);
  }

  /** Takes a task out of service at once: later batches start a new one. */
  forget(t: ActiveTask): boolean {
    if (this.tasks.get(t.id) !== t) return false;
    this.tasks.delete(t.id);
    this.d.forgotten(t);
    return true;
  }

  private async close(t: ActiveTask): Promise<void> {
    await t.task.close();
    await t.producer?.disconnect().catch(() => {});
  }

  async closeAll(): Promise<void> {
    const all = this.all();
    this.tasks.clear();
    for (const t of all) await this.close(t);
  }
}
