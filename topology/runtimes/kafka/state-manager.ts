import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin } from './client/port.ts';
import type { Logger } from '../../api/log.ts';
import type { Subtopology, Topology } from '../../internals/compile.ts';
import type { StateStore } from '../../../state-stores/api.ts';
import type { StoreKind } from '../../../state-stores/stores.ts';
import { deleteCheckpoint, partitionKey, planStart, readCheckpoint, taskDirectory, writeCheckpoint } from './checkpoint.ts';
import { fetchChangelogBounds, type RestoreResult, type RestoreTarget } from './restore.ts';
import { changelogTopicName } from './topics.ts';

/** One store of a task and where its changelog is. */
export interface StoreSlot {
  readonly name: string;
  readonly store: StateStore;
  readonly dir: string;
  /** Its changelog partition, when logged. */
  readonly changelog: { readonly topic: string; readonly partition: number; readonly key: string } | undefined;
  readonly persistent: boolean;
}

export type Gauge = (metric: string, value: number | undefined) => void;

/**
 * The local state of one task, active or standby, as Kafka Streams' ProcessorStateManager keeps
 * it: its stores, the changelog offset each logged store reflects (`offsets`, the next offset it
 * lacks), and the task directory's checkpoint. An offset advances as restored or standby records
 * are applied and as the task's own changelog writes are acknowledged.
 */
export class TaskState {
  readonly taskId: string;
  readonly partition: number;
  readonly dir: string;
  readonly slots: readonly StoreSlot[];
  readonly offsets = new Map<string, bigint>();
  private written: string | undefined;

  constructor(taskId: string, partition: number, dir: string, slots: readonly StoreSlot[]) {
    this.taskId = taskId;
    this.partition = partition;
    this.dir = dir;
    this.slots = slots;
  }

  get stores(): Map<string, StateStore> {
    return new Map(this.slots.map((s) => [s.name, s.store]));
  }

  /** Changelog partitions of the logged stores. */
  get changelogs(): { topic: string; partition: number; key: string }[] {
    return this.slots.flatMap((s) => (s.changelog === undefined ? [] : [s.changelog]));
  }

  /** The offsets a checkpoint of this task holds: those of its persistent logged stores. */
  checkpointOffsets(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const s of this.slots) if (s.persistent && s.changelog !== undefined) out.set(s.changelog.key, this.offsets.get(s.changelog.key) ?? 0n);
    return out;
  }

  /** Acknowledged changelog writes (`topic/partition` -> next offset): the local state reflects them once flushed. */
  noteWritten(ends: ReadonlyMap<string, bigint>): void {
    for (const [key, at] of this.offsets) {
      const end = ends.get(key);
      if (end !== undefined && end > at) this.offsets.set(key, end);
    }
  }

  noteRestored(results: readonly RestoreResult[]): void {
    for (const r of results) {
      const key = partitionKey(r.target.topic, r.target.partition);
      if (this.offsets.has(key)) this.offsets.set(key, r.position);
    }
  }

  /**
   * Flushes the persistent stores, then writes the checkpoint if it changed. Returns the offsets
   * written, or undefined when the task has no persistent logged store (nothing to checkpoint).
   */
  async checkpoint(): Promise<Map<string, bigint> | undefined> {
    const offsets = this.checkpointOffsets();
    if (offsets.size === 0) return undefined;
    for (const s of this.slots) if (s.persistent) await s.store.flush();
    const text = JSON.stringify([...offsets].map(([k, v]) => [k, String(v)]));
    if (text !== this.written) {
      await writeCheckpoint(this.dir, offsets);
      this.written = text;
    }
    return offsets;
  }

  /** Removes the checkpoint: from now on a crash means the local state is wiped (exactly-once). */
  async dropCheckpoint(): Promise<void> {
    this.written = undefined;
    await deleteCheckpoint(this.dir);
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.store.close()));
  }

  /** Entries, bytes on disk and cache hit rate of every store, labelled by task and store. */
  reportMetrics(gauge: Gauge, closed = false): void {
    for (const s of this.slots) {
      const labels = `{task="${this.taskId}",store="${s.name}"}`;
      const m = closed ? undefined : s.store.metrics();
      gauge(`state-store-entries${labels}`, m?.entries);
      gauge(`state-store-bytes-on-disk${labels}`, m?.bytesOnDisk);
      gauge(`state-store-cache-hit-rate${labels}`, m?.cacheHitRate);
    }
  }
}

export interface OpenStateOptions {
  readonly topology: Topology;
  readonly sub: Subtopology;
  readonly partition: number;
  readonly applicationId: string;
  readonly stateDir: string;
  readonly admin: Admin;
  readonly log: Logger;
  /** Exactly-once active task: the checkpoint is removed once read (a crash from here on wipes). */
  readonly dropCheckpoint: boolean;
  /** The kind of stores the topology does not pin (`defaultStore`). */
  readonly defaultStore: StoreKind;
}

/**
 * Opens a task's stores from its directory and says what to restore. A persistent logged store
 * keeps its local state when the checkpoint covers it and the offset lies within the changelog
 * (`planStart`); otherwise it is wiped and restored in full. Memory stores restore in full.
 */
export async function openTaskState(o: OpenStateOptions): Promise<{ state: TaskState; targets: RestoreTarget[] }> {
  const taskId = `${o.sub.id}_${o.partition}`;
  const dir = taskDirectory(o.stateDir, o.applicationId, taskId);
  const checkpoint = await readCheckpoint(dir);
  if (o.dropCheckpoint && checkpoint !== undefined) await deleteCheckpoint(dir);
  const logged = o.sub.stores.filter((name) => o.topology.stores.get(name)!.logged);
  const bounds = await fetchChangelogBounds(o.admin, logged.map((name) => ({ topic: changelogTopicName(o.applicationId, name), partition: o.partition })), o.log);
  const slots: StoreSlot[] = [];
  const targets: RestoreTarget[] = [];
  for (const name of o.sub.stores) {
    const builder = o.topology.stores.get(name)!;
    const storeDir = join(dir, name);
    const hadLocal = existsSync(storeDir);
    const store = builder.build({ kind: o.defaultStore, directory: storeDir });
    const persistent = store.persistent;
    const topic = changelogTopicName(o.applicationId, name);
    const b = bounds.get(partitionKey(topic, o.partition));
    let from = b?.low ?? 0n;
    await store.open();
    if (persistent && builder.logged) {
      const plan = hadLocal ? planStart(checkpoint?.get(partitionKey(topic, o.partition)), from, b?.high ?? 0n) : ({ keep: false, reason: 'no local state' } as const);
      if (plan.keep) from = plan.from;
      else if (hadLocal) {
        o.log.info(`task ${taskId}: wiping the local state of ${name} (${plan.reason}); restoring it in full`);
        await store.wipe?.();
      }
    }
    const changelog = builder.logged ? { topic, partition: o.partition, key: partitionKey(topic, o.partition) } : undefined;
    slots.push({ name, store, dir: storeDir, changelog, persistent });
    if (changelog !== undefined) targets.push({ topic, partition: o.partition, store, from, end: b?.high ?? from });
  }
  const state = new TaskState(taskId, o.partition, dir, slots);
  for (const t of targets) state.offsets.set(partitionKey(t.topic, t.partition), t.from);
  return { state, targets };
}

/**
 * What a state already open (a standby becoming active) lacks of its changelogs: the tail from
 * its offsets to the end. Undefined when an offset lies outside the changelog (recreated,
 * truncated): the state must then be opened afresh and restored in full.
 */
export async function tailTargets(state: TaskState, admin: Admin, log: Logger): Promise<RestoreTarget[] | undefined> {
  const bounds = await fetchChangelogBounds(admin, state.changelogs, log);
  const targets: RestoreTarget[] = [];
  for (const s of state.slots) {
    if (s.changelog === undefined) continue;
    const b = bounds.get(s.changelog.key);
    const at = state.offsets.get(s.changelog.key) ?? 0n;
    if (b === undefined || !planStart(at, b.low, b.high).keep) return undefined;
    targets.push({ topic: s.changelog.topic, partition: s.changelog.partition, store: s.store, from: at, end: b.high });
  }
  return targets;
}
