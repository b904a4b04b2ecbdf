// Standby replicas on a real broker: two `run` processes with `--standby-replicas 1` each keep a
// warm copy of the other's stateful tasks; one is killed with kill -9 and the survivor takes its
// tasks over from the standbys, restoring only the changelog tail; the KPIs equal the reference.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { itExactlyOnce } from '../support/eos.ts';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { startCli, type CliProcess } from '../support/cli.ts';
import { expectExact } from '../support/kpi-check.ts';

const WINDOW = 60_000;
const GRACE = 120_000;
const START = Date.UTC(2020, 8, 18, 10, 0, 0);
const STORES = ['kpi-time-store', 'kpi-country-store'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (name: string) => mkdtemp(join(tmpdir(), `rs-${name}-`));

/** Until `pattern` appears in what a process printed after its first `since` characters. */
async function waitAfter(p: CliProcess, since: number, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pattern.test(p.output().slice(since))) {
    if (p.proc.exitCode !== null || Date.now() > until) throw new Error(`no ${pattern} (exit ${p.proc.exitCode}); output:\n${p.output().slice(-3000)}`);
    await sleep(100);
  }
}

/** `restored N changelog entries of STORE from TOPIC[P] (offsets A to B; read R) in T ms` lines. */
const restoreLines = (output: string, store: string) =>
  [...output.matchAll(new RegExp(`restored (\\d+) changelog entries of ${store} from \\S+\\[(\\d+)\\] \\(offsets (\\d+) to (\\d+); read (\\d+)\\) in (\\d+) ms`, 'g'))].map((m) => ({
    at: m.index,
    restored: Number(m[1]),
    partition: Number(m[2]),
    from: Number(m[3]),
    to: Number(m[4]),
    read: Number(m[5]),
    ms: Number(m[6]),
  }));

/**
 * The tasks a process runs and keeps standbys of, from its last `joined group` line. Every task
 * of the KPI topology is stateful: the combining tasks (sub-topology 1, reading the repartition
 * topic) hold the KPI stores, the input tasks (0) their stream time.
 */
function lastAssignment(output: string, input: string): { active: string[]; standby: string[] } {
  const line = [...output.matchAll(/joined group \S+: ([^\n]*)/g)].at(-1)?.[1] ?? '';
  const [partitions = '', standbys = ''] = line.split('; standby tasks ');
  const active = [
    ...[...partitions.matchAll(new RegExp(`(?:^|, )${input}/(\\d+)`, 'g'))].map((m) => `0_${m[1]}`),
    ...[...partitions.matchAll(/kpi-partials-repartition\/(\d+)/g)].map((m) => `1_${m[1]}`),
  ];
  return { active, standby: standbys.split(', ').filter((s) => s !== '') };
}

describe('standby replicas on a real broker', () => {
  let kafka: KafkaCluster;
  beforeAll(async () => {
    kafka = await startKafka();
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  itExactlyOnce('kill -9 of one of two processes: the survivor takes its tasks over from warm standbys, restoring only the tail, with the reference KPIs', async () => {
    const topic = 'invoices-standby';
    const admin = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    await admin.disconnect();
    const sink = await tmp('standby-sink');
    const run = async () =>
      startCli([
        'run', '--brokers', kafka.bootstrap.join(','), '--input', topic, '--group', 'g-standby', '--sink', sink, '--window', '1m', '--grace', '2m',
        '--session-timeout', '6s', '--idle', '30m', '--guarantee', 'exactly-once', '--store', 'rocksdb', '--standby-replicas', '1',
        '--state-dir', await tmp('standby-state'),
      ]);
    const procs: CliProcess[] = [await run(), await run()];
    const simulator = startCli([
      'simulate', '--brokers', kafka.bootstrap.join(','), '--topic', topic, '--rate', '250', '--count', '10000', '--seed', '81',
      '--start', new Date(START).toISOString(), '--event-rate', '20', '--grace', '2m', '--late-ratio', '0.01', '--bad-ratio', '0.005', '--out-of-order-ratio', '0.05',
    ]);
    const [victim, survivor] = procs as [CliProcess, CliProcess];
    const notes: string[] = [];
    try {
      // Both joined with a share of the stateful tasks and standbys of the other's.
      for (const p of procs) await p.waitFor(/joined group g-standby: [^\n]*kpi-partials-repartition[^\n]*; standby tasks [^\n]*1_/, 120_000);
      await sleep(12_000);
      const moving = lastAssignment(victim.output(), topic).active;
      expect(moving.filter((t) => t.startsWith('1_')).length).toBeGreaterThan(0);
      expect(lastAssignment(survivor.output(), topic).standby.sort()).toEqual([...moving].sort());
      const before = survivor.output().length;
      const killedAt = Date.now();
      victim.proc.kill('SIGKILL');
      await victim.exited;
      for (const id of moving) await waitAfter(survivor, before, new RegExp(`task ${id}: taking over the stores of its standby \\((\\d+) records applied here\\)`));
      for (const id of moving) await waitAfter(survivor, before, new RegExp(`task ${id} started`));
      const takeover = survivor.output().slice(before);
      // From the rebalance (the survivor joining with the dead member's tasks) to the last of them started, by the log's clock.
      const at = (re: RegExp) => Date.parse(takeover.match(re)![0].slice(0, 24));
      const rejoined = at(/^\S+ INFO {2}\[run\] joined group[^\n]*/m);
      const started = Math.max(...moving.map((id) => at(new RegExp(`^\\S+ INFO {2}\\[run\\] task ${id} started`, 'm'))));
      notes.push(`takeover: tasks started ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (session timeout 6 s), ${started - rejoined} ms after the rebalance`);
      let applied = 0;
      for (const id of moving) {
        const line = takeover.match(new RegExp(`task ${id}: taking over[^\\n]*`))![0];
        if (id.startsWith('1_')) applied += Number(/\((\d+) records applied here\)/.exec(line)![1]);
        notes.push(line);
      }
      // The standbys held the KPI state: there was something to keep warm.
      expect(applied).toBeGreaterThan(0);
      // What the survivor read of the moved tasks' changelogs: only what its standbys had not applied yet.
      const partitions = new Set(moving.filter((id) => id.startsWith('1_')).map((id) => Number(id.split('_')[1])));
      let tail = 0;
      for (const store of STORES) {
        for (const l of restoreLines(takeover, store).filter((l) => partitions.has(l.partition))) {
          tail += l.read;
          notes.push(`${store}[${l.partition}]: restored ${l.restored} of offsets ${l.from}..${l.to} (read ${l.read}) in ${l.ms} ms`);
          expect(l.from, `${store}[${l.partition}] restores from the standby's offset, not the start`).toBeGreaterThan(0);
          expect(l.read, `${store}[${l.partition}] reads the tail only`).toBeLessThan(Math.max(50, (l.to * 0.2) | 0));
        }
      }
      notes.push(`changelog records read at the takeover: ${tail} (of ${applied} the standbys had applied)`);
      expect(takeover).not.toMatch(/wiping the local state/);
      expect(await simulator.exited).toBe(0);
      // The KPIs, exactly.
      await expectExact(kafka.bootstrap, topic, sink, WINDOW, GRACE);
      console.log(`standby failover:\n  ${notes.join('\n  ')}`);
    } catch (e) {
      const dir = await tmp('standby-failed');
      for (const [i, p] of procs.entries()) await writeFile(join(dir, `run-${i + 1}.log`), p.output());
      throw new Error(`${(e as Error).message}\nnotes: ${notes.join('; ')}\nlogs in ${dir}`, { cause: e });
    } finally {
      await simulator.stop();
      for (const p of procs) await p.stop();
    }
  });
});
