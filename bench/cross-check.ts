/**
 * Do `run` and the Kafka Streams peer compute the same KPIs? Compares the latest update per
 * window of `kpi-time` with the peer's `peer-kpi-time` (OPM and total_sale_volume): a check that
 * the throughput comparison is between programs doing the same work.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { endOffsets, sum } from './support/kafka.ts';

interface Kpi {
  readonly OPM: number;
  readonly total_sale_volume: number;
}

async function latestPerKey(bootstrap: string, admin: Admin, topic: string, group: string): Promise<Map<string, Kpi>> {
  const end = await endOffsets(admin, topic);
  const out = new Map<string, Kpi>();
  if (sum(end) === 0) return out;
  const consumer = new Kafka({ clientId: 'bench-cross-check', brokers: [bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen = new Map<number, number>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 120_000);
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (m.key !== null && m.value !== null) out.set(m.key.toString('utf8'), JSON.parse(m.value.toString('utf8')) as Kpi);
        }
        seen.set(batch.partition, Number(batch.lastOffset()) + 1);
        if ([...end].every(([p, e]) => (seen.get(p) ?? 0) >= e)) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

export async function crossCheck(bootstrap: string, admin: Admin, runId: string): Promise<{ windows: number; same: number; differing: string[] }> {
  const ours = await latestPerKey(bootstrap, admin, 'kpi-time', `bench-cross-check-ours-${runId}`);
  const peer = await latestPerKey(bootstrap, admin, 'peer-kpi-time', `bench-cross-check-peer-${runId}`);
  const differing: string[] = [];
  let same = 0;
  for (const [window, p] of peer) {
    const o = ours.get(window);
    if (o !== undefined && o.OPM === p.OPM && o.total_sale_volume === p.total_sale_volume) same++;
    else differing.push(`${window}: run ${o === undefined ? 'none' : `${o.OPM} / ${o.total_sale_volume}`}, peer ${p.OPM} / ${p.total_sale_volume}`);
  }
  return { windows: peer.size, same, differing };
}
