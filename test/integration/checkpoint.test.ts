// Checkpoints on a real broker: a restart on the same state folder restores only the changelog
// tail after the checkpoint (at-least-once, a 1,000,000-entry changelog, after kill -9), an empty
// state folder restores everything, and exactly-once after kill -9 wipes and restores in full
// and still gives the reference KPIs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { itExactlyOnce } from '../support/eos.ts';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { ROOT, startCli, type CliProcess } from '../support/cli.ts';
import { readTopic } from '../support/topic-reader.ts';
import { latestByKey } from '../support/reference.ts';
import { expectExact } from '../support/kpi-check.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (name: string) => mkdtemp(join(tmpdir(), `rs-${name}-`));
const admin = async (kafka: KafkaCluster) => {
  const a = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).admin();
  await a.connect();
  return a;
};

/** Every line `restored N changelog entries of STORE from TOPIC[P] (offsets A to B; read R) in T ms` of a process's output. */
function restoreLines(output: string, store: string): { partition: number; restored: number; from: number; to: number; read: number; ms: number }[] {
  const re = new RegExp(`restored (\\d+) changelog entries of ${store} from \\S+\\[(\\d+)\\] \\(offsets (\\d+) to (\\d+); read (\\d+)\\) in (\\d+) ms`, 'g');
  return [...output.matchAll(re)].map((m) => ({ restored: Number(m[1]), partition: Number(m[2]), from: Number(m[3]), to: Number(m[4]), read: Number(m[5]), ms: Number(m[6]) }));
}

// ---------------------------------------------------------------- a KafkaStreams child process

/**
 * Counts records per key with KafkaStreams, the count store in RocksDB; writes the counts of
 * keys ending in 000 to the output topic. Logs on stderr; `SIGTERM` closes it cleanly. Its main
 * consumer fetches 256 KiB a partition: a fetch of 8 MiB of 20-byte records would make one commit
 * send ~300,000 changelog records to a partition in one record batch, beyond the broker's
 * `message.max.bytes` (1 MiB).
 */
const COUNTER = `
  import { KafkaStreams, Serdes, StreamsBuilder } from ${JSON.stringify(`${ROOT}index.ts`)};
  import { withFetchLimits } from ${JSON.stringify(`${ROOT}test/support/client.ts`)};
  const a = JSON.parse(process.argv[1]);
  const b = new StreamsBuilder();
  b.stream(a.input, { keySerde: Serdes.string, valueSerde: Serdes.string })
    .groupByKey()
    .count({ storeName: 'counts' })
    .toStream()
    .filter((key) => key.endsWith('000'))
    .to(a.output, { keySerde: Serdes.string, valueSerde: Serdes.json() });
  const client = await withFetchLimits(a.applicationId, 256 * 1024, 1024 * 1024);
  const streams = new KafkaStreams(b.build(), {
    applicationId: a.applicationId, bootstrapServers: a.bootstrap, stateDir: a.stateDir, defaultStore: 'rocksdb',
    processingGuarantee: a.guarantee, sessionTimeoutMs: a.sessionTimeoutMs ?? 6000, numStandbyReplicas: a.standbys ?? 0, client,
  });
  await streams.start();
  setInterval(() => process.stdout.write(JSON.stringify(Object.fromEntries(streams.metrics())) + '\\n'), 1000).unref();
  process.once('SIGTERM', () => void streams.close().then(() => process.exit(0)));
`;

interface Child {
  readonly proc: ChildProcess;
  output(): string;
  /** Until `pattern` appears in the output (after its first `since` characters). */
  waitFor(pattern: RegExp, timeoutMs?: number, since?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function startCounter(args: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', COUNTER, JSON.stringify(args)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let text = '';
  proc.stdout!.on('data', (d: Buffer) => void (text += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => void (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => (children.delete(proc), resolve(code))));
  return {
    proc,
    output: () => text,
    exited,
    async waitFor(pattern, timeoutMs = 120_000, since = 0) {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(text.slice(since))) {
        if (proc.exitCode !== null || Date.now() > until) throw new Error(`no ${pattern} (exit ${proc.exitCode}); output:\n${text.slice(-3000)}`);
        await sleep(100);
      }
    },
  };
}

/** The last metrics line a counter printed (its metrics map, every second). */
const lastMetrics = (c: Child): Record<string, number> => {
  const lines = c.output().split('\n').filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    try {
      return JSON.parse(line) as Record<string, number>;
    } catch {
      // A line cut by the other stream's output: the one before will do.
    }
  }
  return {};
};

/** Until the group has committed every record of the topic. */
async function caughtUp(kafka: KafkaCluster, group: string, topic: string, timeoutMs = 240_000): Promise<void> {
  const a = await admin(kafka);
  try {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const ends = await a.fetchTopicOffsets(topic);
      const [committed] = await a.fetchOffsets({ groupId: group, topics: [topic] });
      const behind = ends.some((e) => Number(committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? -1) < Number(e.high));
      if (!behind) return;
      if (Date.now() > until) throw new Error(`group ${group} did not catch up on ${topic}`);
      await sleep(250);
    }
  } finally {
    await a.disconnect();
  }
}

/** `count` records, key `k<7 digits>` from `first`, in sends of 20,000. */
async function produceKeys(kafka: KafkaCluster, topic: string, first: number, count: number): Promise<void> {
  const producer = new Kafka({ clientId: 'test-producer', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  for (let at = first; at < first + count; at += 20_000) {
    const messages = Array.from({ length: Math.min(20_000, first + count - at) }, (_, i) => ({ key: `k${String(at + i).padStart(7, '0')}`, value: 'x' }));
    await producer.send({ topic, messages, acks: -1 });
  }
  await producer.disconnect();
}

describe('checkpoints on a real broker', () => {
  let kafka: KafkaCluster;
  beforeAll(async () => {
    kafka = await startKafka();
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  it('at-least-once: a restart after kill -9 restores under 1% of a 1,000,000-entry changelog; an empty state folder restores all of it', { timeout: 600_000 }, async () => {
    const input = 'ckpt-keys';
    const output = 'ckpt-counts';
    const group = 'ckpt';
    const a = await admin(kafka);
    await a.createTopics({ topics: [{ topic: input, numPartitions: 2 }, { topic: output, numPartitions: 1 }], waitForLeaders: true });
    await a.disconnect();
    const KEYS = 1_000_000;
    const UPDATES = 5_000;
    await produceKeys(kafka, input, 0, KEYS);
    const stateDir = await tmp('ckpt-state');
    const args = { applicationId: group, bootstrap: kafka.bootstrap, input, output, stateDir, guarantee: 'at-least-once' };
    const measures: string[] = [];
    const logs: Child[] = [];
    try {
      // 1. Count a million distinct keys: a changelog of a million entries, checkpointed at every
      //    commit. Then kill -9.
      const first = startCounter(args);
      logs.push(first);
      let began = Date.now();
      await first.waitFor(/joined group ckpt/);
      await caughtUp(kafka, group, input);
      measures.push(`first run: ${KEYS} records counted in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      // Long enough for the checkpoint of the last commit (written right after it), then kill -9.
      await sleep(1_000);
      first.proc.kill('SIGKILL');
      await first.exited;

      // 2. Another process, on an empty state folder, takes the tasks over: it restores the whole
      //    changelog, then counts more updates (the tail the first folder has not seen).
      began = Date.now();
      const other = startCounter({ ...args, stateDir: await tmp('ckpt-empty') });
      logs.push(other);
      await other.waitFor(/restored \d+ changelog entries of counts from \S+\[0\]/, 240_000);
      await other.waitFor(/restored \d+ changelog entries of counts from \S+\[1\]/, 240_000);
      const full = restoreLines(other.output(), 'counts');
      const restored = full.reduce((n, l) => n + l.restored, 0);
      measures.push(`empty state folder: ${restored} changelog entries restored in ${Math.max(...full.map((l) => l.ms))} ms (${full.map((l) => `p${l.partition}: ${l.from}..${l.to}`).join('; ')}); process start to restored ${((Date.now() - began) / 1000).toFixed(1)} s`);
      expect(restored).toBeGreaterThanOrEqual(KEYS);
      expect(full.every((l) => l.from === 0)).toBe(true);
      await produceKeys(kafka, input, 0, UPDATES);
      await caughtUp(kafka, group, input);
      other.proc.kill('SIGTERM');
      expect(await other.exited).toBe(0);

      // 3. The first state folder again: only the tail after its last checkpoint is read.
      began = Date.now();
      const second = startCounter(args);
      logs.push(second);
      await second.waitFor(/task 0_0 started/);
      await second.waitFor(/task 0_1 started/);
      const tail = restoreLines(second.output(), 'counts');
      const readTail = tail.reduce((n, l) => n + l.read, 0);
      measures.push(`restart on the checkpointed state: ${readTail} changelog records read (${tail.map((l) => `p${l.partition}: ${l.from}..${l.to} read ${l.read} in ${l.ms} ms`).join('; ')}), started in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      expect(second.output()).not.toMatch(/wiping the local state of counts/);
      expect(readTail).toBeGreaterThanOrEqual(UPDATES);
      expect(readTail).toBeLessThan(KEYS / 100);
      expect(tail.every((l) => l.from > 0)).toBe(true);
      // The counts go on from the restored state: one more record of each sampled key.
      const sampled = Array.from({ length: KEYS / 1000 }, (_, i) => i * 1000);
      const producer = new Kafka({ clientId: 'test-producer', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({ topic: input, messages: sampled.map((i) => ({ key: `k${String(i).padStart(7, '0')}`, value: 'x' })), acks: -1 });
      await producer.disconnect();
      await caughtUp(kafka, group, input);
      const counts = latestByKey(await readTopic(kafka.bootstrap, output));
      let doubled = 0;
      for (const i of sampled) {
        const key = `k${String(i).padStart(7, '0')}`;
        const expected = i < UPDATES ? 3 : 2;
        const got = Number(counts.get(key));
        // At-least-once: the kill -9 may have left a batch to be counted again.
        expect(got, key).toBeGreaterThanOrEqual(expected);
        expect(got, key).toBeLessThanOrEqual(expected + 1);
        doubled += got - expected;
      }
      measures.push(`sampled counts: ${sampled.length} keys right, ${doubled} counted twice (kill -9, at-least-once)`);
      second.proc.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      console.log(`checkpoint measurements:\n  ${measures.join('\n  ')}`);
    } catch (e) {
      const dir = await tmp('ckpt-failed');
      for (const [i, c] of logs.entries()) await writeFile(join(dir, `run-${i + 1}.log`), c.output());
      throw new Error(`${(e as Error).message}\nmeasures so far: ${measures.join('; ')}\nlogs in ${dir}`, { cause: e });
    } finally {
      for (const c of logs) c.proc.kill('SIGKILL');
    }
  });

  it('a warm standby takes a 1,000,000-entry changelog over without restoring it', { timeout: 600_000 }, async () => {
    const input = 'standby-keys';
    const group = 'standby-keys';
    const a = await admin(kafka);
    await a.createTopics({ topics: [{ topic: input, numPartitions: 2 }, { topic: `${input}-out`, numPartitions: 1 }], waitForLeaders: true });
    await a.disconnect();
    const KEYS = 1_000_000;
    // Two processes counting and keeping standbys of each other's task share two cores with the
    // broker: a session timeout of 15 s rides out their busiest moments.
    const args = async () => ({ applicationId: group, bootstrap: kafka.bootstrap, input, output: `${input}-out`, stateDir: await tmp('standby-keys'), guarantee: 'at-least-once', standbys: 1, sessionTimeoutMs: 15_000 });
    await produceKeys(kafka, input, 0, KEYS);
    const procs = [startCounter(await args()), startCounter(await args())];
    try {
      for (const p of procs) await p.waitFor(/joined group standby-keys: \S+; standby tasks 0_\d/);
      await caughtUp(kafka, group, input, 400_000);
      // Both standbys have applied the other's changelog to its end.
      const until = Date.now() + 120_000;
      const lags = () => procs.map((p) => Object.entries(lastMetrics(p)).filter(([k]) => k.startsWith('standby-lag{')).map(([, v]) => v));
      while (!lags().every((l) => l.length === 1 && l[0] === 0) && Date.now() < until) await sleep(500);
      expect(lags()).toEqual([[0], [0]]);
      const [victim, survivor] = procs as [Child, Child];
      const lastJoin = [...victim.output().matchAll(/joined group standby-keys: ([^\n]*)/g)].at(-1)?.[1] ?? '';
      const moving = /^standby-keys\/(\d);/.exec(lastJoin)![1];
      const applied = lastMetrics(survivor)['standby-records-applied']!;
      const before = survivor.output().length;
      const killedAt = Date.now();
      victim.proc.kill('SIGKILL');
      await survivor.waitFor(new RegExp(`task 0_${moving} started`), 90_000, before);
      const after = survivor.output().slice(before);
      const read = restoreLines(after, 'counts').reduce((n, l) => n + l.read, 0);
      const stamp = (re: RegExp) => Date.parse(after.match(re)![0].slice(0, 24));
      const fromRebalance = stamp(new RegExp(`^\\S+ INFO {2}\\[${group}\\] task 0_${moving} started`, 'm')) - stamp(/^\S+ INFO {2}\[\S+\] joined group[^\n]*/m);
      console.log(
        `warm standby of a 1,000,000-entry changelog: ${applied} records applied by the standbys; after the kill, ${read} changelog records read, ` +
          `task 0_${moving} started ${fromRebalance} ms after the rebalance, ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (session timeout 15 s)`,
      );
      expect(after).toMatch(new RegExp(`task 0_${moving}: taking over the stores of its standby`));
      expect(read).toBeLessThan(KEYS / 100);
    } catch (e) {
      const dir = await tmp('standby-keys-failed');
      for (const [i, c] of procs.entries()) await writeFile(join(dir, `run-${i + 1}.log`), c.output());
      throw new Error(`${(e as Error).message}\nlogs in ${dir}`, { cause: e });
    } finally {
      for (const c of procs) c.proc.kill('SIGKILL');
    }
  });

  itExactlyOnce('exactly-once: a restart after kill -9 wipes the RocksDB state, restores it in full, and gives the reference KPIs', async () => {
    const topic = 'ckpt-eos';
    const WINDOW = 60_000;
    const GRACE = 120_000;
    const START = Date.UTC(2020, 8, 18, 10, 0, 0);
    const a = await admin(kafka);
    await a.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    await a.disconnect();
    const sink = await tmp('ckpt-eos-sink');
    const stateDir = await tmp('ckpt-eos-state');
    const run = () =>
      startCli([
        'run', '--brokers', kafka.bootstrap.join(','), '--input', topic, '--group', 'g-ckpt-eos', '--sink', sink, '--window', '1m', '--grace', '2m',
        '--session-timeout', '6s', '--idle', '30m', '--guarantee', 'exactly-once', '--store', 'rocksdb', '--state-dir', stateDir,
      ]);
    const simulator = startCli([
      'simulate', '--brokers', kafka.bootstrap.join(','), '--topic', topic, '--rate', '300', '--count', '6000', '--seed', '71',
      '--start', new Date(START).toISOString(), '--event-rate', '20', '--grace', '2m', '--late-ratio', '0.01', '--bad-ratio', '0.005', '--out-of-order-ratio', '0.05',
    ]);
    let first: CliProcess | undefined;
    let second: CliProcess | undefined;
    try {
      first = run();
      await first.waitFor(/task 1_\d started/);
      await first.waitFor(/restored|task 1_3 started/);
      await sleep(8_000);
      first.proc.kill('SIGKILL');
      await first.exited;
      second = run();
      await second.waitFor(/joined group/);
      expect(await simulator.exited).toBe(0);
      // Every stateful task found no checkpoint (removed when it started), wiped its stores and read the changelog from its start.
      await second.waitFor(/task 1_3 started/);
      const out = second.output();
      for (const store of ['kpi-time-store', 'kpi-country-store']) {
        expect(out).toMatch(new RegExp(`wiping the local state of ${store} \\(no checkpoint\\); restoring it in full`));
        const lines = restoreLines(out, store);
        expect(lines.length).toBeGreaterThan(0);
        for (const l of lines) expect(l.from, `${store}[${l.partition}]`).toBe(0);
      }
      await expectExact(kafka.bootstrap, topic, sink, WINDOW, GRACE);
      const restored = ['kpi-time-store', 'kpi-country-store'].flatMap((s) => restoreLines(out, s));
      console.log(`exactly-once kill -9: restored in full ${restored.reduce((n, l) => n + l.restored, 0)} changelog entries (${restored.map((l) => `${l.from}..${l.to}`).join(', ')}) in ${Math.max(...restored.map((l) => l.ms))} ms`);
    } catch (e) {
      const dir = await tmp('ckpt-eos-failed');
      if (first !== undefined) await writeFile(join(dir, 'first.log'), first.output());
      if (second !== undefined) await writeFile(join(dir, 'second.log'), second.output());
      throw new Error(`${(e as Error).message}\nlogs in ${dir}`, { cause: e });
    } finally {
      await simulator.stop();
      await first?.stop();
      await second?.stop();
    }
  });
});
