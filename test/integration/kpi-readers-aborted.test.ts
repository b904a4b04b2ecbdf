// `watch` and the dashboard's KPI feed read the KPI topics, which `run --guarantee exactly-once`
// writes in transactions: neither may ever show a KPI of an aborted transaction. The records are
// written so that a reader already caught up is left between two interleaved aborted
// transactions, the fetch kafkajs's read_committed filter gets wrong (kafkajs-read-committed.test.ts):
// a bare kafkajs consumer, as both readers had before, reads alongside and must leak one.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { KpiFeed, type KpiUpdate } from '../../cli/http/kpi-feed.ts';
import { kpiTopics } from '../../cli/run-topology.ts';
import { timeKpi } from '../../processors/kpi.ts';
import { platformaticClient } from '../../topology/runtimes/kafka/client/platformatic.ts';
import { createLogger } from '../../topology/api/log.ts';
import { startCli, type CliProcess } from '../support/cli.ts';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { memoryLog } from '../support/memory-log.ts';

const W = 60_000;
const T0 = Date.UTC(2020, 8, 18, 10, 0);
const topics = kpiTopics();

let kafka: KafkaCluster;
beforeAll(async () => {
  kafka = await startKafka();
}, 180_000);
afterAll(async () => {
  await kafka?.stop();
});

/** A time KPI record of window `minute` (after T0) whose OPM is `opm`, keyed as `run` keys them. */
const kpiRecord = (minute: number, opm: number) => {
  const kpi = timeKpi(T0 + minute * W, W, { invoices: opm, returns: 0, micros: opm * 1_000_000 });
  return { key: kpi.window.start, value: JSON.stringify(kpi) };
};
/** How `watch` prints the row of window `minute`: "2020-09-18 10:03". */
const watchRow = (minute: number) => new Date(T0 + minute * W).toISOString().slice(0, 16).replace('T', ' ');

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the KPI readers (watch, the dashboard feed) read committed', () => {
  it('never show a KPI written in an aborted transaction, where kafkajs would', async () => {
    // Both readers start before `run` would have created the KPI topics: they wait for them.
    const { log } = memoryLog();
    const feed = new KpiFeed({ brokers: kafka.bootstrap, topics, inputTopic: 'invoices', groupId: 'app', windowMs: W, log, pollMs: 500 });
    const delivered: KpiUpdate[] = [];
    feed.subscribe((u) => void delivered.push(...u));
    feed.start();
    const watch: CliProcess = startCli(['watch', '--brokers', kafka.bootstrap.join(','), '--every', '1s', '--windows', '100']);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(feed.status().reading).toBe(false);
    const raw = new Kafka({ clientId: 'kpi-writer', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING });
    const admin = raw.admin();
    await admin.connect();
    await admin.createTopics({ topics: [topics.time, topics.country].map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
    await admin.disconnect();
    const plain = raw.producer();
    await plain.connect();
    const [a, b] = await Promise.all(['A', 'B'].map(async (id): Promise<Producer> => {
      const p = raw.producer({ transactionalId: `kpi-aborted-${id}`, idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    }));

    // The reader both had before: kafkajs, read_committed, from the beginning with a throwaway group.
    const control = raw.consumer({ groupId: `kpi-control-${randomUUID()}`, maxWaitTimeInMs: 100 });
    const controlSeen: number[] = [];
    await control.connect();
    await control.subscribe({ topics: [topics.time], fromBeginning: true });
    await control.run({ eachMessage: async ({ message }) => void controlSeen.push((JSON.parse(message.value!.toString()) as { OPM: number }).OPM) });
    const ends = platformaticClient({ clientId: 'kpi-ends', brokers: kafka.bootstrap, log: createLogger('kpi-ends', 'error') }).admin();
    await ends.connect();
    try {
      // Offset 0, committed: every reader has read it, so each one's next fetch starts at 1.
      await plain.send({ topic: topics.time, messages: [kpiRecord(0, 11)] });
      await until('the feed reads the first KPI', () => feed.snapshot().time.some((k) => k.OPM === 11));
      expect(feed.status().kafka.reachable).toBe(true);
      await watch.waitFor(new RegExp(`${watchRow(0)} +11 `));
      await until('kafkajs reads the first KPI', () => controlSeen.includes(11));

      // A@1, B@2, A@3, B@4, each a window of its own; A's abort marker at 5, B's at 6.
      const ta = await a!.transaction();
      const tb = await b!.transaction();
      await ta.send({ topic: topics.time, messages: [kpiRecord(1, 901)] });
      await tb.send({ topic: topics.time, messages: [kpiRecord(2, 902)] });
      await ta.send({ topic: topics.time, messages: [kpiRecord(3, 903)] });
      await tb.send({ topic: topics.time, messages: [kpiRecord(4, 904)] });
      // The log end offset shows a marker once written (the coordinator writes it after EndTxn answers).
      const markerWritten = (end: number) => until(`abort marker below ${end}`, async () => Number((await ends.fetchTopicOffsets(topics.time))[0]!.high) >= end, 20_000);
      await ta.abort();
      await markerWritten(6);
      // With A decided the last stable offset is 2: the readers move past A@1 and wait at B@2,
      // where a fetch begins inside both aborted transactions once B aborts.
      await new Promise((r) => setTimeout(r, 2_000));
      await tb.abort();
      await markerWritten(7);
      await plain.send({ topic: topics.time, messages: [kpiRecord(5, 12)] });

      await until('the feed reads the last KPI', () => feed.snapshot().time.some((k) => k.OPM === 12));
      await watch.waitFor(new RegExp(`${watchRow(5)} +12 `));
      await until('kafkajs reads the last KPI', () => controlSeen.includes(12));
      // A table printed after the last KPI arrived: everything watch will ever show of these.
      const printed = watch.output().length;
      await until('watch prints its table again', () => watch.output().slice(printed).includes('KPIs at '), 10_000);

      expect(feed.snapshot().time.map((k) => k.OPM)).toEqual([11, 12]);
      expect(delivered.map((u) => u.kpi.OPM)).toEqual([11, 12]);
      for (const minute of [1, 2, 3, 4]) expect(watch.output()).not.toContain(watchRow(minute));
      expect(watch.output()).toContain(watchRow(0));
      // The scenario does trip kafkajs: it hands on B's first record. When this starts failing,
      // kafkajs was fixed (or the fetches fell differently) and the test no longer proves the point.
      expect(controlSeen).toEqual([11, 902, 12]);
    } finally {
      await feed.close();
      const code = await watch.stop('SIGINT');
      expect(code, watch.output().slice(-3000)).toBe(0);
      await control.disconnect();
      await ends.disconnect();
      for (const p of [a!, b!, plain]) await p.disconnect();
    }
  });
});
