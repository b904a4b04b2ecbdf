import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { runCli, startCli, type CliProcess } from '../support/cli.ts';
import { readTopic } from '../support/topic-reader.ts';
import { latestByKey } from '../support/reference.ts';
import { eventually, readDataset, referenceFor as referenceForTopic } from '../support/kpi-check.ts';
import { InvoiceGenerator } from '../../simulator/generator.ts';
import { itExactlyOnce } from '../support/eos.ts';

const WINDOW = 60_000;
const GRACE = 120_000;
const START = Date.UTC(2020, 8, 18, 10, 0, 0);

let kafka: KafkaCluster;
let brokers: string;

beforeAll(async () => {
  kafka = await startKafka();
  brokers = kafka.bootstrap.join(',');
});
afterAll(async () => {
  await kafka?.stop();
});

const referenceFor = (topic: string) => referenceForTopic(kafka.bootstrap, topic, WINDOW, GRACE, 'max');

const runArgs = (topic: string, group: string, sink: string, extra: string[] = []) => [
  'run', '--brokers', brokers, '--input', topic, '--group', group, '--sink', sink, '--window', '1m', '--grace', '2m', '--idle', '2s', ...extra,
];

async function createTopic(topic: string, partitions: number) {
  const admin = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  await admin.disconnect();
}

async function simulate(topic: string, count: number, seed: number) {
  const r = await runCli([
    'simulate', '--brokers', brokers, '--topic', topic, '--rate', '0', '--count', String(count), '--partitions', '4', '--seed', String(seed),
    '--start', new Date(START).toISOString(), '--event-rate', '10', '--grace', '2m', '--late-ratio', '0.01', '--bad-ratio', '0.005', '--out-of-order-ratio', '0.05',
  ]);
  expect(r.code, r.output).toBe(0);
}

async function expectMatchesReference(topic: string, sink: string, group: string, prefix = '') {
  const { ref, invalid, closedTime, closedCountry } = await referenceFor(topic);
  expect(closedTime.length).toBeGreaterThan(5);
  const files = await eventually(() => readDataset(join(sink, 'time-kpis')), (l) => l.length >= closedTime.length);
  expect(files).toEqual(closedTime);
  expect(await readDataset(join(sink, 'time-country-kpis'))).toEqual(closedCountry);
  // Update mode: the compacted topic's latest value per window equals the reference, open windows included.
  const latest = await eventually(
    async () => latestByKey(await readTopic(kafka.bootstrap, `${prefix}kpi-time`)),
    (m) => [...m.values()].filter((v) => v.includes(`"start":"2020-09-18`)).length >= ref.time.length,
  );
  const ours = [...latest.values()].filter((v) => ref.time.some((t) => t.slice(0, 60) === v.slice(0, 60)));
  expect(ours.sort()).toEqual([...ref.time].sort());
  const dead = (await readTopic(kafka.bootstrap, `${prefix}invoices-dead-letter`)).filter((r) => r.headers['rs-source-topic'] === topic);
  expect(dead).toHaveLength(invalid);
  for (const d of dead) expect(d.headers['rs-reason']).toMatch(/^[a-z-]+$/);
  const late = (await readTopic(kafka.bootstrap, `${prefix}invoices-late`)).filter((r) => r.headers['rs-source-topic'] === topic);
  expect(late).toHaveLength(ref.late);
  void group;
}

describe('retail-streams run on a real broker', () => {
  it('one process gives the reference KPIs in files and topics, and dead-letters poison pills', async () => {
    const sink = await mkdtemp(join(tmpdir(), 'rs-run1-'));
    await simulate('inv-one', 6000, 7);
    const p = startCli(runArgs('inv-one', 'g-one', sink));
    try {
      await p.waitFor(/joined group g-one/);
      await expectMatchesReference('inv-one', sink, 'g-one');
    } finally {
      expect(await p.stop()).toBe(0);
    }
    expect(p.output()).toMatch(/stopped; processed \d+ records/);
  });

  it('two processes in one group share the partitions and still give the reference KPIs', async () => {
    const sink = await mkdtemp(join(tmpdir(), 'rs-run2-'));
    const procs: CliProcess[] = [];
    try {
      // Both join before the data arrives, so the group settles first.
      await createTopic('inv-two', 4);
      procs.push(startCli(runArgs('inv-two', 'g-two', sink)));
      await procs[0]!.waitFor(/joined group g-two/);
      procs.push(startCli(runArgs('inv-two', 'g-two', sink)));
      await procs[1]!.waitFor(/joined group g-two: (?!no partitions)/);
      await procs[0]!.waitFor(/joined group g-two[^\n]*\n(?:.*\n)*.*joined group g-two/);
      await simulate('inv-two', 8000, 11);
      await expectMatchesReference('inv-two', sink, 'g-two');
    } finally {
      for (const p of procs) await p.stop();
    }
  });

  it('--threads 2 runs two stream threads (worker threads, one group member each) that share the partitions and give the reference KPIs', async () => {
    const sink = await mkdtemp(join(tmpdir(), 'rs-run-threads-'));
    await createTopic('inv-threads', 4);
    // The unprefixed dead-letter topic exists whatever ran before (created here when missing), so that it can be read below.
    await createTopic('invoices-dead-letter', 1);
    // --topic-prefix too: its outputs go to t2-kpi-time, t2-invoices-dead-letter, ... only.
    const p = startCli(runArgs('inv-threads', 'g-threads', sink, ['--threads', '2', '--topic-prefix', 't2-']));
    try {
      // Each thread is a member with partitions of its own: both say so, under their own tag.
      await p.waitFor(/\[thread-1\] joined group g-threads: (?!no partitions)/);
      await p.waitFor(/\[thread-2\] joined group g-threads: (?!no partitions)/);
      await simulate('inv-threads', 8000, 13);
      await expectMatchesReference('inv-threads', sink, 'g-threads', 't2-');
      expect((await readTopic(kafka.bootstrap, 'invoices-dead-letter')).filter((r) => r.headers['rs-source-topic'] === 'inv-threads')).toHaveLength(0);
    } finally {
      expect(await p.stop()).toBe(0);
    }
    // The instance's counters sum its threads' (every input record processed once at least).
    expect(Number(/stopped; processed (\d+) records/.exec(p.output())?.[1])).toBeGreaterThanOrEqual(8000);
  });

  itExactlyOnce('--threads 2 under exactly-once: a transactional producer per thread, the reference KPIs', async () => {
    const sink = await mkdtemp(join(tmpdir(), 'rs-run-threads-eos-'));
    await createTopic('inv-threads-eos', 4);
    const p = startCli(runArgs('inv-threads-eos', 'g-threads-eos', sink, ['--threads', '2', '--guarantee', 'exactly-once', '--idle', '30m']));
    try {
      await p.waitFor(/\[thread-1\] joined group g-threads-eos: (?!no partitions)/);
      await p.waitFor(/\[thread-2\] joined group g-threads-eos: (?!no partitions)/);
      expect(p.output()).toMatch(/\[thread-1\] exactly-once v2/);
      expect(p.output()).toMatch(/\[thread-2\] exactly-once v2/);
      await simulate('inv-threads-eos', 8000, 17);
      await expectMatchesReference('inv-threads-eos', sink, 'g-threads-eos');
    } finally {
      expect(await p.stop()).toBe(0);
    }
  });

  it('counts an on-time backlog of a partition that runs far behind the others', async () => {
    const topic = 'inv-backlog';
    const sink = await mkdtemp(join(tmpdir(), 'rs-backlog-'));
    const client = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING });
    await createTopic(topic, 4);
    const producer = client.producer();
    await producer.connect();
    const gen = new InvoiceGenerator({ seed: 5, outOfOrderRatio: 0.05, graceMs: GRACE });
    // 40 minutes of event time on every partition; partition 3 is produced only later.
    const perPartition = (p: number) => Array.from({ length: 800 }, (_, i) => ({ value: gen.next(START + i * 3000 + p * 100).text, partition: p }));
    const early = [0, 1, 2].flatMap(perPartition);
    const behind = perPartition(3);
    await producer.send({ topic, messages: early });
    const p = startCli(runArgs(topic, 'g-backlog', sink, ['--idle', '10m']));
    try {
      await p.waitFor(/joined group g-backlog/);
      // Partitions 0-2 are consumed to the end; partition 3 has not even started.
      await eventually(async () => (await readTopic(kafka.bootstrap, 'kpi-time')).length, (n) => n > 0);
      await new Promise((r) => setTimeout(r, 3000));
      await producer.send({ topic, messages: behind });
      const { ref, closedTime } = await referenceFor(topic);
      expect(ref.late).toBe(0);
      const files = await eventually(() => readDataset(join(sink, 'time-kpis')), (l) => l.length >= closedTime.length);
      expect(files).toEqual(closedTime);
      const late = (await readTopic(kafka.bootstrap, 'invoices-late')).filter((r) => r.headers['rs-source-topic'] === topic);
      expect(late).toHaveLength(0);
    } finally {
      await producer.disconnect();
      await p.stop();
    }
  });

  it('dead-letters bytes that are not an invoice and goes on', async () => {
    const topic = 'inv-poison';
    const sink = await mkdtemp(join(tmpdir(), 'rs-poison-'));
    const client = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING });
    await createTopic(topic, 1);
    const producer = client.producer();
    await producer.connect();
    const gen = new InvoiceGenerator({ seed: 9 });
    await producer.send({
      topic,
      messages: [
        { value: Buffer.from([0xff, 0xfe, 0x00, 0x41]) },
        { value: null },
        { value: '{"invoice_no": 1, "country": "France"' },
        { value: gen.invoice(START) },
        { value: '[]' },
        { value: gen.invoice(START + 1000) },
      ],
    });
    await producer.disconnect();
    const p = startCli(runArgs(topic, 'g-poison', sink));
    try {
      const dead = await eventually(
        async () => (await readTopic(kafka.bootstrap, 'invoices-dead-letter')).filter((r) => r.headers['rs-source-topic'] === topic),
        (d) => d.length >= 4,
      );
      expect(dead.map((d) => d.headers['rs-reason']).sort()).toEqual(['not-an-object', 'not-json', 'not-json', 'not-json']);
      expect(dead.map((d) => Number(d.headers['rs-source-offset'])).sort()).toEqual([0, 1, 2, 4]);
      const latest = await eventually(async () => latestByKey(await readTopic(kafka.bootstrap, 'kpi-time')), (m) => [...m.keys()].includes('2020-09-18T10:00:00.000Z'));
      expect(JSON.parse(latest.get('2020-09-18T10:00:00.000Z')!).OPM).toBe(2);
    } finally {
      await p.stop();
    }
  });

  it('fails clearly when the broker cannot be reached', async () => {
    const r = await runCli(['run', '--brokers', '127.0.0.1:1', '--sink', await mkdtemp(join(tmpdir(), 'rs-x-'))]);
    expect(r.code).toBe(4);
    expect(r.output).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1/);
  });
});
