import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../../api/log.ts';
import { BROKER_RETRY_POLICY, retrying } from '../../internals/retry.ts';
import type { StateStore } from '../../../state-stores/api.ts';

export interface RestoreTarget {
  readonly topic: string;
  readonly partition: number;
  readonly store: StateStore;
}

/**
 * Replays changelog partitions into fresh stores. kafkajs has no manual partition assignment,
 * so a short-lived consumer in a throwaway group reads from the beginning, pauses the
 * partitions it does not need, and stops once every wanted partition reached its end offset.
 */
export async function restoreStores(kafka: Kafka, admin: Admin, targets: readonly RestoreTarget[], log: Logger): Promise<void> {
  const wanted = new Map<string, { target: RestoreTarget; end: bigint; restored: number; lastBatchAt?: number }>();
  for (const t of targets) {
    // Right after the changelog topics are created a look-up can meet a leader still being elected.
    const offsets = await retrying(`fetching the offsets of changelog ${t.topic}`, () => admin.fetchTopicOffsets(t.topic), BROKER_RETRY_POLICY, log);
    const p = offsets.find((o) => o.partition === t.partition);
    if (p === undefined) continue;
    if (BigInt(p.high) <= BigInt(p.low)) continue;
    wanted.set(`${t.topic}/${t.partition}`, { target: t, end: BigInt(p.high), restored: 0 });
  }
  if (wanted.size === 0) return;
  const started = Date.now();
  const groupId = `restore-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100, readUncommitted: false });
  const topics = [...new Set(targets.map((t) => t.topic))];
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
  const startedAt = Date.now();
  const watchdog = setInterval(() => {
    const now = Date.now();
    for (const [key, w] of wanted) {
      if (finished.has(key)) continue;
      const stalled = w.lastBatchAt !== undefined ? now - w.lastBatchAt > 3_000 : now - startedAt > 30_000;
      if (stalled) finish(key);
    }
  }, 500);
  try {
    // Progress is counted here, after each batch: kafkajs reports the batches that read_committed
    // filtering left empty (an aborted transaction, markers only) too, which never reach
    // eachBatch. A changelog that ends on an aborted transaction would otherwise wait for the watchdog.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const key = `${payload.topic}/${payload.partition}`;
      const w = wanted.get(key);
      if (w === undefined) return;
      w.lastBatchAt = Date.now();
      if (BigInt(payload.lastOffset) + 1n >= w.end) finish(key);
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}/${batch.partition}`;
        const w = wanted.get(key);
        if (w === undefined) {
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          return;
        }
        // Once a partition counts as restored its task may run: a batch still in flight must
        // not write into the live store.
        if (finished.has(key)) return;
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= w.end) break;
          w.target.store.restore({ key: m.key === null ? '' : m.key.toString('utf8'), value: m.value === null ? null : m.value.toString('utf8') });
          w.restored++;
        }
      },
    });
    await done;
  } finally {
    clearInterval(watchdog);
    await consumer.disconnect().catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
  }
  for (const w of wanted.values()) log.info(`restored ${w.restored} changelog entries of ${w.target.store.name} from ${w.target.topic}[${w.target.partition}] in ${Date.now() - started} ms`);
}
