import { randomUUID } from 'node:crypto';
import type { Admin, GroupAssignerFactory, KafkaClient } from './client/port.ts';
import type { Logger } from '../../api/log.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { StateStore } from '../../../state-stores/api.ts';
import { partitionKey } from './checkpoint.ts';
import { encodeMemberAssignment, encodeMemberMetadata } from './group-protocol.ts';

export interface ChangelogBounds {
  /** The log start offset: records before it are gone. */
  readonly low: bigint;
  /** The end offset (high watermark): the next offset to be written. */
  readonly high: bigint;
}

/** Start and end offsets of changelog partitions, by `topic/partition`; one look-up per topic. */
export async function fetchChangelogBounds(admin: Admin, partitions: readonly { topic: string; partition: number }[], log: Logger): Promise<Map<string, ChangelogBounds>> {
  const out = new Map<string, ChangelogBounds>();
  for (const topic of new Set(partitions.map((p) => p.topic))) {
    // Right after the changelog topics are created a look-up can meet a leader still being elected.
    const offsets = await retrying(`fetching the offsets of changelog ${topic}`, () => admin.fetchTopicOffsets(topic), BROKER_RETRY_POLICY, log);
    for (const o of offsets) out.set(partitionKey(topic, o.partition), { low: BigInt(o.low), high: BigInt(o.high) });
  }
  return out;
}

export interface RestoreTarget {
  readonly topic: string;
  readonly partition: number;
  readonly store: StateStore;
  /** First offset to apply: a checkpoint's, or the log start for a full restore. */
  readonly from: bigint;
  /** Where the restore stops: the end offset when the task started. */
  readonly end: bigint;
}

export interface RestoreResult {
  readonly target: RestoreTarget;
  /** Entries applied to the store. */
  readonly restored: number;
  /** Records the restore consumer handed over for the partition, applied or not (before `from`, past `end`). */
  readonly read: number;
  /** The next offset the store lacks now: `end`, or less when the partition stalled before it (read_committed markers). */
  readonly position: bigint;
}

export interface RestoreOptions {
  /** Prefix of the throwaway consumer group (`<prefix>-restore-<uuid>`). */
  readonly groupPrefix: string;
  readonly log: Logger;
  /** Called after every batch with where each target stands, for the restore metrics. */
  readonly progress?: (results: readonly RestoreResult[]) => void;
  readonly clock?: () => number;
}

/**
 * Replays changelog partitions, each from its own offset to its end, into stores. kafkajs has no
 * manual partition assignment (Kafka Streams' restore consumer uses `assign()`), so a
 * short-lived consumer joins a throwaway group whose assigner gives it exactly the wanted
 * partitions, and seeks each to its start offset as it joins (before its first fetch, so a
 * checkpointed restore never reads what precedes the checkpoint). It stops once every partition
 * reached its end offset.
 */
export async function restoreStores(kafka: KafkaClient, admin: Admin, targets: readonly RestoreTarget[], o: RestoreOptions): Promise<RestoreResult[]> {
  const clock = o.clock ?? Date.now;
  const wanted = new Map<string, { target: RestoreTarget; restored: number; read: number; position: bigint; lastBatchAt?: number }>();
  for (const t of targets) if (t.from < t.end) wanted.set(partitionKey(t.topic, t.partition), { target: t, restored: 0, read: 0, position: t.from });
  const results = (): RestoreResult[] =>
    targets.map((target) => {
      const w = wanted.get(partitionKey(target.topic, target.partition));
      return w === undefined ? { target, restored: 0, read: 0, position: target.from } : { target, restored: w.restored, read: w.read, position: w.position };
    });
  if (wanted.size === 0) return results();
  const byTopic = new Map<string, number[]>();
  for (const w of wanted.values()) byTopic.set(w.target.topic, [...(byTopic.get(w.target.topic) ?? []), w.target.partition]);
  const assignment = Object.fromEntries(byTopic);
  const assigner: GroupAssignerFactory = () => ({
    name: 'retail-streams-restore',
    version: 0,
    protocol: ({ topics }) => ({ name: 'retail-streams-restore', metadata: encodeMemberMetadata({ version: 0, topics }) }),
    // The group is this consumer's alone: it gets every wanted partition and nothing else.
    assign: async ({ members }) => members.map((m) => ({ memberId: m.memberId, memberAssignment: encodeMemberAssignment({ version: 0, assignment }) })),
  });
  const groupId = `${o.groupPrefix}-restore-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    assigner,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 32 * 1024 * 1024,
  });
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const finished = new Set<string>();
  const finish = (key: string) => {
    if (finished.has(key)) return;
    finished.add(key);
    const w = wanted.get(key)!;
    consumer.pause([{ topic: w.target.topic, partitions: [w.target.partition] }]);
    if (finished.size === wanted.size) resolveDone();
  };
  // Transaction markers occupy offsets a read-committed consumer never sees, so a partition
  // may end just short of its end offset: nothing new for a while also means done.
  const startedAt = clock();
  const watchdog = setInterval(() => {
    const now = clock();
    for (const [key, w] of wanted) {
      if (finished.has(key)) continue;
      const stalled = w.lastBatchAt !== undefined ? now - w.lastBatchAt > 3_000 : now - startedAt > 30_000;
      if (stalled) finish(key);
    }
  }, 500);
  try {
    // Emitted after the join, before the first fetch: the seeks decide where fetching starts.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const w of wanted.values()) consumer.seek({ topic: w.target.topic, partition: w.target.partition, offset: String(w.target.from) });
    });
    // Progress is counted here, after each batch: kafkajs reports the batches that read_committed
    // filtering left empty (an aborted transaction, markers only) too, which never reach
    // eachBatch. A changelog that ends on an aborted transaction would otherwise wait for the watchdog.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const key = partitionKey(payload.topic, payload.partition);
      const w = wanted.get(key);
      if (w === undefined) return;
      w.lastBatchAt = clock();
      const next = BigInt(payload.lastOffset) + 1n;
      if (next > w.position && !finished.has(key)) w.position = next < w.target.end ? next : w.target.end;
      if (next >= w.target.end) finish(key);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const key = partitionKey(batch.topic, batch.partition);
        const w = wanted.get(key);
        if (w === undefined) {
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          return;
        }
        // Once a partition counts as restored its task may run: a batch still in flight must
        // not write into the live store.
        if (finished.has(key)) return;
        const { store, from, end } = w.target;
        for (const m of batch.messages) {
          w.read++;
          const offset = BigInt(m.offset);
          if (offset < from) continue;
          if (offset >= end) break;
          store.restore({ key: m.key === null ? '' : m.key.toString('utf8'), value: m.value === null ? null : m.value.toString('utf8') });
          w.restored++;
        }
        o.progress?.(results());
      },
    });
    await done;
  } finally {
    clearInterval(watchdog);
    await consumer.disconnect().catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
  }
  const ms = clock() - startedAt;
  for (const w of wanted.values()) {
    const { store, topic, partition, from, end } = w.target;
    o.log.info(`restored ${w.restored} changelog entries of ${store.name} from ${topic}[${partition}] (offsets ${from} to ${end}; read ${w.read}) in ${ms} ms`);
  }
  return results();
}

export interface RestoreMetrics {
  count(metric: string, n: number): void;
  gauge(metric: string, value: number | undefined): void;
  readonly clock: () => number;
}

/**
 * The restore metrics of one restore of several tasks' changelogs: `restore-records-restored` and
 * `restore-records-to-restore` (totals since start, advanced as records are restored; equal once
 * no restore is in progress), `restore-rate` (records/s), and the same three per task
 * (`{task="1_0"}`) for its latest restore. `progress` goes to `restoreStores`, `done` after it.
 */
export function restoreProgress(targets: readonly RestoreTarget[], taskOf: (t: RestoreTarget) => string, m: RestoreMetrics): { progress(results: readonly RestoreResult[]): void; done(results: readonly RestoreResult[]): void } {
  const span = (t: RestoreTarget) => (t.end > t.from ? Number(t.end - t.from) : 0);
  const total = targets.reduce((n, t) => n + span(t), 0);
  const startedAt = m.clock();
  let reported = 0;
  m.count('restore-records-to-restore', total);
  const progress = (results: readonly RestoreResult[]) => {
    const elapsed = Math.max(1, m.clock() - startedAt) / 1000;
    const byTask = new Map<string, { restored: number; toRestore: number }>();
    let restored = 0;
    for (const r of results) {
      const id = taskOf(r.target);
      const agg = byTask.get(id) ?? { restored: 0, toRestore: 0 };
      agg.restored += r.restored;
      agg.toRestore += span(r.target);
      byTask.set(id, agg);
      restored += r.restored;
    }
    for (const [id, agg] of byTask) {
      m.gauge(`restore-records-restored{task="${id}"}`, agg.restored);
      m.gauge(`restore-records-to-restore{task="${id}"}`, agg.toRestore);
      m.gauge(`restore-rate{task="${id}"}`, agg.restored / elapsed);
    }
    m.count('restore-records-restored', restored - reported);
    reported = restored;
    m.gauge('restore-rate', restored / elapsed);
  };
  return {
    progress,
    done: (results) => {
      progress(results);
      // What a restore stopped short of (a stall on transaction markers) is left for the next one: not to restore any more.
      m.count('restore-records-to-restore', reported - total);
    },
  };
}
