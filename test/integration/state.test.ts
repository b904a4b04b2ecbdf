import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { itExactlyOnce } from '../support/eos.ts';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { runCli, startCli, type CliProcess } from '../support/cli.ts';
import { readTopic } from '../support/topic-reader.ts';
import { latestByKey } from '../support/reference.ts';
import { eventually, expectExact as expectExactKpis, readDataset, referenceFor } from '../support/kpi-check.ts';

const WINDOW = 60_000;
const GRACE = 120_000;
const START = Date.UTC(2020, 8, 18, 10, 0, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (name: string) => mkdtemp(join(tmpdir(), `rs-${name}-`));

async function createTopic(kafka: KafkaCluster, topic: string, partitions: number, replicationFactor = 1) {
  const admin = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor }], waitForLeaders: true });
  await admin.disconnect();
}

/** The simulator as a background process: seeded, event time from `startAt` at 20 invoices/s. */
const simulator = (kafka: KafkaCluster, topic: string, o: { count: number; rate: number; seed: number; startAt?: number }) =>
  startCli([
    'simulate', '--brokers', kafka.bootstrap.join(','), '--topic', topic, '--rate', String(o.rate), '--count', String(o.count), '--seed', String(o.seed),
    '--start', new Date(o.startAt ?? START).toISOString(), '--event-rate', '20', '--grace', '2m',
    '--late-ratio', '0.01', '--bad-ratio', '0.005', '--out-of-order-ratio', '0.05',
  ]);

const runArgs = (kafka: KafkaCluster, topic: string, group: string, sink: string, extra: readonly string[]) => [
  'run', '--brokers', kafka.bootstrap.join(','), '--input', topic, '--group', group, '--sink', sink,
  '--window', '1m', '--grace', '2m', '--session-timeout', '6s', ...extra,
];

/** A failing test keeps the whole output of `run` beside its KPI files; returns the file's path. */
async function keepOutput(p: CliProcess, sink: string): Promise<string> {
  const log = join(sink, 'run-output.log');
  await writeFile(log, p.output());
  return log;
}

/** Files and committed KPI topics against the reference; windows close on the slowest partition. */
const expectExact = (kafka: KafkaCluster, topic: string, sink: string) => expectExactKpis(kafka.bootstrap, topic, sink, WINDOW, GRACE);

/**
 * Three `run` processes of one group while the simulator produces; every 5-9 s one of them, at
 * random, is killed with SIGKILL and started again with a fresh state folder. `check` runs once
 * the simulator is done, with the processes still up.
 */
async function chaos(
  kafka: KafkaCluster, topic: string, sink: string, extra: readonly string[],
  sim: { count: number; rate: number; seed: number }, check: () => Promise<void>,
): Promise<{ kills: number }> {
  const args = async () => runArgs(kafka, topic, `g-${topic}`, sink, [...extra, '--idle', '30m', '--state-dir', await tmp('state')]);
  const procs: CliProcess[] = [];
  for (let i = 0; i < 3; i++) procs.push(startCli(await args()));
  for (const p of procs) await p.waitFor(/joined group/);
  const producer = simulator(kafka, topic, sim);
  let kills = 0;
  try {
    while (producer.proc.exitCode === null) {
      await sleep(5_000 + Math.random() * 4_000);
      const i = Math.floor(Math.random() * procs.length);
      procs[i]!.proc.kill('SIGKILL');
      await procs[i]!.exited;
      kills++;
      procs[i] = startCli(await args());
    }
    expect(await producer.exited).toBe(0);
    await check();
    return { kills };
  } finally {
    await producer.stop();
    for (const p of procs) await p.stop();
  }
}

describe('state that survives, on one broker', () => {
  let kafka: KafkaCluster;
  beforeAll(async () => {
    kafka = await startKafka();
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  itExactlyOnce('exactly-once: kill -9 of random processes of three, restarted, gives exactly the reference KPIs', async () => {
    const topic = 'chaos-eos';
    await createTopic(kafka, topic, 8);
    const sink = await tmp('chaos-eos');
    const { kills } = await chaos(kafka, topic, sink, ['--guarantee', 'exactly-once'], { count: 16_000, rate: 250, seed: 21 }, () => expectExact(kafka, topic, sink));
    expect(kills).toBeGreaterThan(3);
  });

  it('at-least-once: kill -9 under load loses no invoice, and reports what was counted twice', async () => {
    const topic = 'chaos-alos';
    await createTopic(kafka, topic, 8);
    const sink = await tmp('chaos-alos');
    await chaos(kafka, topic, sink, [], { count: 10_000, rate: 250, seed: 23 }, async () => {
      const { ref } = await referenceFor(kafka.bootstrap, topic, WINDOW, GRACE, 'min');
      const expected = new Map(ref.time.map((t) => [(JSON.parse(t) as { window: { start: string } }).window.start, (JSON.parse(t) as { OPM: number }).OPM]));
      const latest = await eventually(
        async () => latestByKey(await readTopic(kafka.bootstrap, 'kpi-time')),
        (m) => [...expected].every(([k, opm]) => JSON.parse(m.get(k) ?? '{"OPM":0}').OPM >= opm),
        120_000,
      );
      let doubled = 0;
      for (const [k, opm] of expected) {
        const ours = (JSON.parse(latest.get(k) ?? '{"OPM":0}') as { OPM: number }).OPM;
        expect(ours, `window ${k}`).toBeGreaterThanOrEqual(opm);
        doubled += ours - opm;
      }
      console.log(`at-least-once chaos: ${doubled} of ${[...expected.values()].reduce((a, b) => a + b, 0)} invoices counted twice`);
    });
  });

  itExactlyOnce('exactly-once: a commit whose outcome is unknown restarts the task from committed state, exactly', async () => {
    const topic = 'txn-unknown';
    await createTopic(kafka, topic, 4);
    const sink = await tmp('txn-unknown');
    // Every 4th commit fails as if its coordinator died mid-commit, half of them after committing.
    const p = startCli(runArgs(kafka, topic, 'g-txn-unknown', sink, ['--guarantee', 'exactly-once', '--idle', '30m', '--state-dir', await tmp('state')]), { RS_FAULT_TXN_UNKNOWN: '4' });
    try {
      await p.waitFor(/joined group/);
      expect(await simulator(kafka, topic, { count: 4000, rate: 400, seed: 61 }).exited).toBe(0);
      await expectExact(kafka, topic, sink);
      expect(p.output()).toMatch(/fault hook txnUnknownEvery: commit \d+ fails after committing/);
      expect(p.output()).toMatch(/fault hook txnUnknownEvery: commit \d+ fails before committing/);
      expect(p.output()).toMatch(/restarting the task from its committed state/);
      expect(p.proc.exitCode).toBeNull();
    } catch (e) {
      throw new Error(`${(e as Error).message}\nrun output in ${await keepOutput(p, sink)}`, { cause: e });
    } finally {
      await p.stop();
    }
  });

  itExactlyOnce('scales from one process to three and back with the reference KPIs', async () => {
    const topic = 'scale';
    await createTopic(kafka, topic, 6);
    const sink = await tmp('scale');
    const args = async () => runArgs(kafka, topic, 'g-scale', sink, ['--guarantee', 'exactly-once', '--idle', '30m', '--state-dir', await tmp('state')]);
    const first = startCli(await args());
    const more: CliProcess[] = [];
    try {
      await first.waitFor(/joined group/);
      expect(await simulator(kafka, topic, { count: 3000, rate: 0, seed: 31 }).exited).toBe(0);
      await eventually(async () => (await readTopic(kafka.bootstrap, 'kpi-time', { readCommitted: true })).length, (n) => n > 0);
      for (let i = 0; i < 2; i++) more.push(startCli(await args()));
      for (const p of more) await p.waitFor(/joined group g-scale: (?!no partitions)/);
      expect(await simulator(kafka, topic, { count: 3000, rate: 0, seed: 32, startAt: START + 150_000 }).exited).toBe(0);
      await sleep(5_000);
      for (const p of more) expect(await p.stop()).toBe(0);
      expect(await simulator(kafka, topic, { count: 3000, rate: 0, seed: 33, startAt: START + 300_000 }).exited).toBe(0);
      await expectExact(kafka, topic, sink);
    } finally {
      for (const p of more) await p.stop();
      await first.stop();
    }
  });

  it('restores state from the changelog into an empty state folder (RocksDB store)', async () => {
    const topic = 'restore';
    await createTopic(kafka, topic, 4);
    const sink = await tmp('restore');
    const first = startCli(runArgs(kafka, topic, 'g-restore', sink, ['--store', 'rocksdb', '--idle', '30m', '--state-dir', await tmp('state-a')]));
    await first.waitFor(/joined group/);
    expect(await simulator(kafka, topic, { count: 3000, rate: 0, seed: 41 }).exited).toBe(0);
    await eventually(async () => (await readTopic(kafka.bootstrap, 'kpi-time')).length, (n) => n > 0);
    await sleep(3_000);
    expect(await first.stop()).toBe(0);
    const second = startCli(runArgs(kafka, topic, 'g-restore', sink, ['--store', 'rocksdb', '--idle', '30m', '--state-dir', await tmp('state-b')]));
    try {
      // Tasks start, and restore, when their partitions get data again.
      expect(await simulator(kafka, topic, { count: 3000, rate: 0, seed: 42, startAt: START + 150_000 }).exited).toBe(0);
      await second.waitFor(/restored \d+ changelog entries of kpi-time-store/);
      await expectExact(kafka, topic, sink);
    } finally {
      await second.stop();
    }
  });
});

describe('broker failover on three brokers', () => {
  let kafka: KafkaCluster;
  beforeAll(async () => {
    kafka = await startKafka({ brokers: 3 });
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  itExactlyOnce('goes on when one of three brokers is killed and comes back, losing nothing', async () => {
    const topic = 'failover';
    await createTopic(kafka, topic, 4, 3);
    const sink = await tmp('failover');
    const p = startCli(runArgs(kafka, topic, 'g-failover', sink, ['--guarantee', 'exactly-once', '--replication-factor', '3', '--idle', '30m', '--state-dir', await tmp('state')]));
    const sim = simulator(kafka, topic, { count: 8000, rate: 250, seed: 51 });
    // Each step is timed so that a failure says which step was slow, with both processes' output.
    // The test fails itself before vitest's timeout would, which prints nothing of this.
    const began = Date.now();
    let deadlineTimer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      deadlineTimer = setTimeout(() => reject(new Error('the test ran out of time')), 280_000);
    });
    // `run` must ride the failover out: its exit fails the test at once.
    const crashed = p.exited.then((code) => Promise.reject(new Error(`run exited (${code}) during the test`)));
    crashed.catch(() => {});
    const steps: string[] = [];
    const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      const t = Date.now();
      try {
        return await Promise.race([f(), deadline, crashed]);
      } finally {
        steps.push(`${name}: ${((Date.now() - t) / 1000).toFixed(1)} s (at ${((Date.now() - began) / 1000).toFixed(0)} s)`);
      }
    };
    try {
      await step('join', () => p.waitFor(/joined group/, 120_000));
      await step('before kill', () => sleep(8_000));
      await step('kill broker 2', () => kafka.stopNode(2, { kill: true }));
      await step('broker 2 down', () => sleep(12_000));
      await step('restart broker 2', () => kafka.startNode(2));
      expect(await step('simulator', () => sim.exited)).toBe(0);
      await step('KPIs', () => expectExact(kafka, topic, sink));
      expect(p.proc.exitCode).toBeNull();
      const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;
      console.log(
        `broker failover: ${count(p.output(), /restarting the task from its committed state/g)} task restart(s) after a transaction in an unknown state, ` +
          `${count(sim.output(), /sending again with a new producer/g)} simulator producer renewal(s); steps: ${steps.join('; ')}`,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\nsteps:\n${steps.join('\n')}\nrun output (all of it in ${await keepOutput(p, sink)}):\n${p.output().slice(-4000)}\nsimulator output:\n${sim.output().slice(-2000)}`, { cause: e });
    } finally {
      clearTimeout(deadlineTimer);
      await sim.stop();
      await p.stop();
    }
  });
});
