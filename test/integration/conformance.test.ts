// Every conformance case (test/conformance/cases.ts) on one real broker through KafkaStreams,
// against the same independent references as on the TopologyTestDriver
// (test/conformance/driver.test.ts). Input is produced with kafkajs, with explicit partitions and
// event timestamps (2021); outputs are read back with read_committed from the beginning.
//
// - each case on one KafkaStreams instance in this process, at-least-once;
// - page-views on two processes (test/conformance/runner.ts) in one group;
// - exactly-once with a process killed by SIGKILL mid-stream and started again: word-count on two
//   processes (killed while input is arriving), page-views and late-sums on one (killed at the
//   case's crash point, once everything before it has committed). Results must equal the
//   reference exactly: read_committed sees no duplicate and nothing lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaStreams } from '../../index.ts';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { itExactlyOnce } from '../support/eos.ts';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { caseNames, makeCase, topicsToRead, type CaseName, type ConformanceCase, type Expected, type InputRecord, type OutputRecord, type TopicSpec } from '../conformance/cases.ts';
import { streamsConfigFor, type RunnerArgs } from '../conformance/runner.ts';

const RUNNER = fileURLToPath(new URL('../conformance/runner.ts', import.meta.url));
/** After the expected number of records has arrived, how long to wait for any that should not. */
const SETTLE_MS = 2_500;
/** No new output for this long: the run is done, short of what was expected. Above a rebalance after a kill (6 s session timeout). */
const QUIET_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (name: string) => mkdtemp(join(tmpdir(), `rs-conformance-${name}-`));

async function until(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

let kafka: KafkaCluster;
let client: Kafka;
let admin: Admin;

beforeAll(async () => {
  kafka = await startKafka();
  client = new Kafka({ clientId: 'conformance', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING });
  admin = client.admin();
  await admin.connect();
});
afterAll(async () => {
  await admin?.disconnect();
  await kafka?.stop();
});

// ---------------------------------------------------------------- topics, input, output

/**
 * Input and output topics, made by the test. Output topics too: their records carry event time
 * from 2021, which the default time retention (7 days) would delete within seconds (this
 * broker checks every 10 s); KafkaStreams' `outputTopics` has no retention setting.
 */
async function createTopics(c: ConformanceCase): Promise<void> {
  const spec = (t: TopicSpec) => ({
    topic: t.name,
    numPartitions: t.partitions,
    replicationFactor: 1,
    configEntries: [
      { name: 'retention.ms', value: '-1' },
      ...(t.compacted === true ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
      ...Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
    ],
  });
  await admin.createTopics({ topics: [...c.inputTopics, ...c.outputTopics].map(spec), waitForLeaders: true });
}

/** Sends records in input order: each partition's records in order, with their partition and event time. */
class Feeder {
  private readonly producer: Producer = client.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  async connect(): Promise<this> {
    await this.producer.connect();
    return this;
  }
  async send(records: readonly InputRecord[]): Promise<void> {
    if (records.length === 0) return;
    const byTopic = new Map<string, InputRecord[]>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (list === undefined) byTopic.set(r.topic, (list = []));
      list.push(r);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, rs]) => ({
        topic,
        messages: rs.map((r) => ({ partition: r.partition, key: r.key, value: r.value, timestamp: String(r.timestamp) })),
      })),
    });
  }
  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

async function produce(records: readonly InputRecord[]): Promise<void> {
  const f = await new Feeder().connect();
  try {
    await f.send(records);
  } finally {
    await f.disconnect();
  }
}

/** Reads output topics from the beginning, read_committed, for as long as it runs. */
class Collector {
  readonly outputs = new Map<string, OutputRecord[]>();
  private readonly consumer: Consumer;
  private constructor(consumer: Consumer, topics: readonly string[]) {
    this.consumer = consumer;
    for (const t of topics) this.outputs.set(t, []);
  }

  static async start(topics: readonly string[]): Promise<Collector> {
    // Topics the application creates (the dead-letter topic) must exist before subscribing.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) break;
      if (Date.now() > deadline) throw new Error(`output topics never appeared: ${missing.join(', ')}`);
      await sleep(250);
    }
    const consumer = client.consumer({ groupId: `conformance-reader-${Math.random().toString(36).slice(2)}`, readUncommitted: false, maxWaitTimeInMs: 100 });
    const c = new Collector(consumer, topics);
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const list = c.outputs.get(batch.topic)!;
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
          list.push({
            topic: batch.topic,
            partition: batch.partition,
            key: m.key === null ? null : m.key.toString('utf8'),
            value: m.value === null ? null : m.value.toString('utf8'),
            timestamp: Number(m.timestamp),
            ...(Object.keys(headers).length === 0 ? {} : { headers }),
          });
        }
      },
    });
    return c;
  }

  count(topic: string): number {
    return this.outputs.get(topic)?.length ?? 0;
  }

  /**
   * Waits until every topic holds at least its expected count, then a little longer for extras
   * (duplicates). Gives up early when nothing has arrived for `QUIET_MS` (a run that lost records).
   */
  async waitFor(counts: Readonly<Record<string, number>>, timeoutMs: number): Promise<void> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    const total = () => [...this.outputs.values()].reduce((n, l) => n + l.length, 0);
    let seen = total();
    let lastChange = started;
    while (Date.now() < deadline && !Object.entries(counts).every(([t, n]) => this.count(t) >= n)) {
      await sleep(200);
      const now = total();
      if (now !== seen) [seen, lastChange] = [now, Date.now()];
      else if (Date.now() - lastChange > QUIET_MS) break;
    }
    await sleep(SETTLE_MS);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

function expectConformance(where: string, c: ConformanceCase, outputs: ReadonlyMap<string, readonly OutputRecord[]>, expected: Expected, metrics?: ReadonlyMap<string, number>): void {
  const actual = c.observe(outputs);
  for (const [facet, want] of Object.entries(expected.facets)) expect.soft(actual[facet], `${where}: facet "${facet}"`).toEqual(want);
  for (const [topic, n] of Object.entries(expected.counts)) expect.soft(outputs.get(topic)?.length ?? 0, `${where}: records in ${topic}`).toBe(n);
  if (metrics !== undefined) for (const [name, n] of Object.entries(expected.metrics)) expect.soft(metrics.get(name) ?? 0, `${where}: metric ${name}`).toBe(n);
}

// ---------------------------------------------------------------- runner processes

interface RunnerEvent {
  readonly event: string;
  readonly state?: string;
  readonly message?: string;
  readonly metrics?: Record<string, number>;
  readonly at: number;
}

interface Runner {
  readonly proc: ChildProcess;
  readonly events: RunnerEvent[];
  readonly exited: Promise<number | null>;
  log(): string;
  state(): string | undefined;
  /** SIGTERM, then the metrics it printed while closing (SIGKILL after 60 s). */
  stop(): Promise<Record<string, number> | undefined>;
}

const liveRunners = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of liveRunners) p.kill('SIGKILL');
});

function startRunner(args: RunnerArgs): Runner {
  const proc = spawn(process.execPath, [RUNNER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  liveRunners.add(proc);
  const events: RunnerEvent[] = [];
  let text = '';
  let pending = '';
  proc.stdout!.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      text += `${line}\n`;
      try {
        events.push({ ...(JSON.parse(line) as Omit<RunnerEvent, 'at'>), at: Date.now() });
      } catch {
        // not one of ours
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => void (text += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      liveRunners.delete(proc);
      resolve(code);
    }),
  );
  return {
    proc,
    events,
    exited,
    log: () => text.slice(-6_000),
    state: () => events.filter((e) => e.event === 'state').at(-1)?.state,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
      return events.find((e) => e.event === 'metrics')?.metrics;
    },
  };
}

/** Every runner RUNNING, and no state change for `quietMs`: the group has settled. */
async function groupSettled(runners: readonly Runner[], quietMs = 3_000, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = Math.max(...runners.map((r) => r.events.filter((e) => e.event === 'state').at(-1)?.at ?? Infinity));
    if (runners.every((r) => r.state() === 'RUNNING') && Date.now() - last >= quietMs) return;
    const failed = runners.find((r) => r.proc.exitCode !== null || r.events.some((e) => e.event === 'error'));
    if (failed !== undefined) throw new Error(`a runner failed before the group settled:\n${failed.log()}`);
    if (Date.now() > deadline) throw new Error(`the group never settled: ${runners.map((r) => r.state()).join(', ')}\n${runners.map((r) => r.log()).join('\n---\n')}`);
    await sleep(200);
  }
}

const sumMetrics = (all: readonly (Record<string, number> | undefined)[]): Map<string, number> => {
  const out = new Map<string, number>();
  for (const m of all) for (const [k, v] of Object.entries(m ?? {})) out.set(k, (out.get(k) ?? 0) + v);
  return out;
};

// ---------------------------------------------------------------- the runs

describe('conformance cases on a real broker', () => {
  for (const name of caseNames) {
    it(`${name}: one KafkaStreams instance (at-least-once) equals the reference`, async () => {
      const prefix = `one-${name}`;
      const c = makeCase(name, prefix);
      await createTopics(c);
      await produce(c.input);
      const streams = new KafkaStreams(c.build(), streamsConfigFor(c, { applicationId: `cf-${prefix}`, bootstrap: kafka.bootstrap, guarantee: 'at-least-once', stateDir: await tmp(prefix) }));
      const states: string[] = [];
      const errors: string[] = [];
      streams.setStateListener((next) => void states.push(next));
      streams.setUncaughtExceptionHandler((e) => void errors.push(String(e)));
      let collector: Collector | undefined;
      try {
        await streams.start();
        await until(() => streams.state === 'RUNNING' || streams.state === 'ERROR', 60_000, `${name} RUNNING`);
        expect(streams.state, errors.join('\n')).toBe('RUNNING');
        collector = await Collector.start(topicsToRead(c));
        const expected = c.reference(Date.now());
        await collector.waitFor(expected.counts, 60_000);
        expectConformance(name, c, collector.outputs, expected, streams.metrics());
        expect.soft(errors, `${name}: uncaught errors`).toEqual([]);
      } finally {
        await collector?.stop();
        await streams.close();
      }
      expect.soft(states, `${name}: states`).toContain('RUNNING');
      expect.soft(streams.state, `${name}: state after close`).toBe('NOT_RUNNING');
    });
  }

  it('page-views: two processes in one group equal the reference', async () => {
    const prefix = 'two-page-views';
    const c = makeCase('page-views', prefix);
    await createTopics(c);
    const args = async (): Promise<RunnerArgs> => ({ case: 'page-views', prefix, applicationId: `cf-${prefix}`, bootstrap: kafka.bootstrap, guarantee: 'at-least-once', stateDir: await tmp(prefix) });
    const runners = [startRunner(await args())];
    let collector: Collector | undefined;
    try {
      // The first takes every partition; the second's arrival splits them; then the data comes.
      await groupSettled(runners);
      runners.push(startRunner(await args()));
      await groupSettled(runners);
      const group = await admin.describeGroups([`cf-${prefix}`]);
      expect(group.groups[0]?.members.length, 'members of the group').toBe(2);
      collector = await Collector.start(topicsToRead(c));
      await produce(c.input);
      const expected = c.reference(Date.now());
      await collector.waitFor(expected.counts, 90_000);
      const metrics = sumMetrics(await Promise.all(runners.map((r) => r.stop())));
      expectConformance('page-views on two processes', c, collector.outputs, expected, metrics);
      for (const r of runners) expect.soft(r.events.filter((e) => e.event === 'error'), r.log()).toEqual([]);
    } finally {
      await collector?.stop();
      for (const r of runners) await r.stop();
    }
  });

  /**
   * Exactly-once; `processes` runners in one group; the first is killed with SIGKILL and started
   * again. At the case's crash point once everything before it has committed, or, for a case
   * without one, while input is still arriving (after the first outputs are visible).
   */
  async function killAndRestart(name: CaseName, processes: 1 | 2): Promise<void> {
    const prefix = `kill-${name}`;
    const c = makeCase(name, prefix);
    await createTopics(c);
    const args = async (): Promise<RunnerArgs> => ({ case: name, prefix, applicationId: `cf-${prefix}`, bootstrap: kafka.bootstrap, guarantee: 'exactly-once', stateDir: await tmp(prefix) });
    const runners: Runner[] = [];
    for (let i = 0; i < processes; i++) {
      runners.push(startRunner(await args()));
      await groupSettled(runners);
    }
    const feeder = await new Feeder().connect();
    let collector: Collector | undefined;
    try {
      collector = await Collector.start(topicsToRead(c));
      const crashAt = c.crashPoint?.index;
      const kill = async () => {
        runners[0]!.proc.kill('SIGKILL');
        await runners[0]!.exited;
        runners[0] = startRunner(await args());
      };
      if (crashAt !== undefined) {
        const before = c.input.slice(0, crashAt);
        await feeder.send(before);
        // Everything before the crash point is processed and committed: its outputs are visible.
        await collector.waitFor(c.reference(Date.now(), before).counts, 60_000);
        await kill();
        await feeder.send(c.input.slice(crashAt));
      } else {
        const chunks = 12;
        const size = Math.ceil(c.input.length / chunks);
        for (let i = 0; i < chunks; i++) {
          await feeder.send(c.input.slice(i * size, (i + 1) * size));
          await sleep(300);
          if (i === 4) {
            await until(() => topicsToRead(c).some((t) => collector!.count(t) > 0), 60_000, 'the first committed outputs');
            const total = Object.values(c.reference(Date.now()).counts).reduce((a, b) => a + b, 0);
            const sofar = topicsToRead(c).reduce((n, t) => n + collector!.count(t), 0);
            expect.soft(sofar, 'outputs committed when the process is killed: some, not all').toBeLessThan(total);
            await kill();
          }
        }
      }
      const expected = c.reference(Date.now());
      await collector.waitFor(expected.counts, 120_000);
      expectConformance(`${name}, exactly-once, kill -9 and restart`, c, collector.outputs, expected);
      expect.soft(runners[0]!.proc.exitCode, 'the restarted runner is still running').toBeNull();
    } finally {
      await feeder.disconnect();
      await collector?.stop();
      for (const r of runners) await r.stop();
    }
  }

  itExactlyOnce('word-count: exactly-once on two processes, one killed with SIGKILL while input arrives and restarted: exactly the reference', async () => {
    await killAndRestart('word-count', 2);
  });

  itExactlyOnce('page-views: exactly-once, killed with SIGKILL at open suppressed windows and restarted: exactly one final per window and page', async () => {
    await killAndRestart('page-views', 1);
  });

  itExactlyOnce('late-sums: exactly-once, killed with SIGKILL before a record late only by the earlier stream time, restarted: exactly the reference', async () => {
    await killAndRestart('late-sums', 1);
  });
});
