import type { Admin, Consumer } from './client/port.ts';
import type { Subtopology, Topology } from '../../internals/compile.ts';
import { partitionKey } from './checkpoint.ts';
import type { ResolvedConfig } from './config.ts';
import { openTaskState, type TaskState } from './state-manager.ts';
import { changelogTopicName } from './topics.ts';

/** A changelog record as the consumer hands it over. */
export interface ChangelogRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

/**
 * A warm copy of another member's task, as Kafka Streams' StandbyTask: its stores only, no
 * processors, kept up to date by applying its changelog partitions as they grow (the stream
 * thread's consumer tails them; see partition-assigner.ts). It reads committed records only, so
 * its state is always a committed state of the task: it is checkpointed as it goes under both
 * guarantees, and when the task moves here its stores become the active task's, which then
 * restores only what the standby had not applied yet.
 */
export class StandbyTask {
  readonly id: string;
  readonly state: TaskState;
  private readonly stores: Map<string, TaskState['slots'][number]>;
  private readonly highWatermarks = new Map<string, bigint>();
  /** Records applied since the last checkpoint. */
  private sinceCheckpoint = 0;
  /** Records applied since the task started here. */
  applied = 0;

  constructor(state: TaskState) {
    this.id = state.taskId;
    this.state = state;
    this.stores = new Map(state.slots.flatMap((s) => (s.changelog === undefined ? [] : [[s.changelog.key, s] as const])));
  }

  /** Its changelog partitions and the offset each should be read from next. */
  positions(): { topic: string; partition: number; offset: bigint }[] {
    return this.state.changelogs.map((c) => ({ topic: c.topic, partition: c.partition, offset: this.state.offsets.get(c.key) ?? 0n }));
  }

  /** Applies a fetched batch of one of its changelog partitions; records it has already applied are skipped. */
  apply(topic: string, partition: number, records: readonly ChangelogRecord[], lastOffset: string, highWatermark: string): void {
    const key = partitionKey(topic, partition);
    const slot = this.stores.get(key);
    if (slot === undefined) return;
    let at = this.state.offsets.get(key) ?? 0n;
    for (const r of records) {
      const offset = BigInt(r.offset);
      if (offset < at) continue;
      slot.store.restore({ key: r.key === null ? '' : r.key.toString('utf8'), value: r.value === null ? null : r.value.toString('utf8') });
      this.applied++;
      this.sinceCheckpoint++;
      at = offset + 1n;
    }
    // Offsets the batch covered without records for us (transaction markers, aborted records) are
    // passed too, never beyond the end (kafkajs reports an empty batch's last offset as the high watermark).
    const hw = BigInt(highWatermark);
    const next = BigInt(lastOffset) + 1n;
    if (next > at) at = next < hw ? next : hw > at ? hw : at;
    this.state.offsets.set(key, at);
    this.highWatermarks.set(key, BigInt(highWatermark));
  }

  /** Records of its changelogs not applied yet, as of the last fetch (0 before any). */
  lag(): number {
    let lag = 0n;
    for (const c of this.state.changelogs) {
      const hw = this.highWatermarks.get(c.key);
      const at = this.state.offsets.get(c.key) ?? 0n;
      if (hw !== undefined && hw > at) lag += hw - at;
    }
    return Number(lag);
  }

  /** Whether anything was applied since the last checkpoint. */
  get advanced(): boolean {
    return this.sinceCheckpoint > 0;
  }

  markCheckpointed(): void {
    this.sinceCheckpoint = 0;
  }
}

/** What the standby tasks of a member need from its task manager. */
export interface StandbyTasksDeps {
  readonly topology: Topology;
  readonly config: ResolvedConfig;
  readonly admin: Admin;
  readonly consumer: () => Consumer;
  count(metric: string, n: number): void;
  gauge(metric: string, value: number | undefined): void;
  /** Flushes and checkpoints a state (the task manager keeps its record of what is on disk). */
  checkpoint(id: string, state: TaskState): Promise<void>;
  /** The standby's state is open here now: what the task manager knew from its checkpoint is superseded. */
  opened(id: string): void;
}

/** The standby tasks a member keeps, with their consumer positions and metrics. */
export class StandbyTasks {
  private readonly tasks = new Map<string, StandbyTask>();
  /** Changelog topic (Kafka name) -> the sub-topology whose store it logs. */
  private readonly owners = new Map<string, Subtopology>();
  private readonly d: StandbyTasksDeps;

  constructor(deps: StandbyTasksDeps) {
    this.d = deps;
    for (const sub of deps.topology.subtopologies)
      for (const s of sub.stores) if (deps.topology.stores.get(s)!.logged) this.owners.set(changelogTopicName(deps.config.applicationId, s), sub);
  }

  /** Every changelog topic of the topology (what members subscribe to when they keep standbys). */
  changelogTopics(): string[] {
    return [...this.owners.keys()];
  }

  isChangelog(kafkaTopic: string): boolean {
    return this.owners.has(kafkaTopic);
  }

  /** The task a changelog partition belongs to. */
  idOf(kafkaTopic: string, partition: number): string | undefined {
    const sub = this.owners.get(kafkaTopic);
    return sub === undefined ? undefined : `${sub.id}_${partition}`;
  }

  values(): IterableIterator<StandbyTask> {
    return this.tasks.values();
  }

  ids(): string[] {
    return [...this.tasks.keys()];
  }

  has(id: string): boolean {
    return this.tasks.has(id);
  }

  /** Takes a standby out, its state still open, for the active task starting in its place. */
  take(id: string): StandbyTask | undefined {
    const s = this.tasks.get(id);
    if (s === undefined) return undefined;
    this.tasks.delete(id);
    this.report(s, true);
    return s;
  }

  /**
   * Called as the member joins, before its first fetch: points the consumer at the positions of
   * the standbys it keeps, and returns the changelog partitions it has no standby for yet (the
   * caller pauses them until `start` has opened their state, then they are pointed and resumed).
   */
  position(changelogPartitions: readonly { topic: string; partition: number }[]): { topic: string; partition: number }[] {
    const missing: { topic: string; partition: number }[] = [];
    for (const tp of changelogPartitions) {
      const id = this.idOf(tp.topic, tp.partition);
      const at = id === undefined ? undefined : this.tasks.get(id)?.positions().find((p) => p.topic === tp.topic && p.partition === tp.partition);
      if (at === undefined) missing.push(tp);
      else this.d.consumer().seek({ topic: tp.topic, partition: tp.partition, offset: String(at.offset) });
    }
    return missing;
  }

  /** Closes (checkpointed) the standbys `keep` does not want. */
  async retain(keep: (id: string) => boolean): Promise<void> {
    for (const [id, s] of this.tasks) {
      if (keep(id)) continue;
      this.tasks.delete(id);
      await this.close(s, true);
    }
  }

  /** Opens the state of every standby of `ids` not kept yet (from its checkpoint, when it has one), then lets the consumer fetch for it. */
  async start(ids: ReadonlySet<string>, skip: (id: string) => boolean): Promise<void> {
    const { config } = this.d;
    for (const id of ids) {
      if (this.tasks.has(id) || skip(id)) continue;
      const at = id.indexOf('_');
      const sub = this.d.topology.subtopologies.find((s) => String(s.id) === id.slice(0, at));
      if (sub === undefined) continue;
      // Committed records only: the state is committed state, kept across restarts by its checkpoint.
      const { state } = await openTaskState({
        topology: this.d.topology, sub, partition: Number(id.slice(at + 1)), applicationId: config.applicationId, stateDir: config.stateDir,
        admin: this.d.admin, log: config.log, dropCheckpoint: false, defaultStore: config.defaultStore,
      });
      const standby = new StandbyTask(state);
      this.tasks.set(id, standby);
      this.d.opened(id);
      const consumer = this.d.consumer();
      for (const p of standby.positions()) consumer.seek({ topic: p.topic, partition: p.partition, offset: String(p.offset) });
      consumer.resume(standby.positions().map((p) => ({ topic: p.topic, partitions: [p.partition] })));
      config.log.info(`standby task ${id} started from ${standby.positions().map((p) => `${p.topic}[${p.partition}]@${p.offset}`).join(', ')}`);
    }
  }

  /** Applies a fetched changelog batch to its standby; false when this member keeps no standby for it (yet). */
  apply(kafkaTopic: string, partition: number, records: readonly ChangelogRecord[], lastOffset: string, highWatermark: string): boolean {
    const id = this.idOf(kafkaTopic, partition);
    const s = id === undefined ? undefined : this.tasks.get(id);
    if (s === undefined) return false;
    const before = s.applied;
    s.apply(kafkaTopic, partition, records, lastOffset, highWatermark);
    this.d.count('standby-records-applied', s.applied - before);
    this.d.gauge(`standby-lag{task="${s.id}"}`, s.lag());
    return true;
  }

  /** Checkpoints the standbys that advanced, and refreshes their metrics. */
  async maintain(): Promise<void> {
    for (const s of this.tasks.values()) {
      if (s.advanced) {
        await this.d.checkpoint(s.id, s.state);
        s.markCheckpointed();
      }
      this.report(s, false);
    }
  }

  async closeAll(clean: boolean): Promise<void> {
    const all = [...this.tasks.values()];
    this.tasks.clear();
    for (const s of all) await this.close(s, clean);
  }

  private report(s: StandbyTask, closed: boolean): void {
    s.state.reportMetrics(this.d.gauge, closed);
    this.d.gauge(`standby-lag{task="${s.id}"}`, closed ? undefined : s.lag());
  }

  private async close(s: StandbyTask, clean: boolean): Promise<void> {
    if (clean) await this.d.checkpoint(s.id, s.state);
    this.report(s, true);
    await s.state.close().catch(() => {});
    this.d.config.log.info(`standby task ${s.id} closed`);
  }
}
