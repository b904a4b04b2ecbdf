/**
 * The scaling measurement of docs/deployment.md: N `retail-streams run` processes in one consumer
 * group (N = 1, 2, 4) over an input of P partitions (P = 8, 16, 32), against one local broker
 * started with infra/kafka/kafka.sh, the input preloaded with `simulate`. For each (P, N): invoices/s
 * from the first process's start until the group's committed input offsets reach the end offsets
 * (group join and rebalances included), the same from the first commit on (steady state), and the
 * peak RSS of each process. A fresh group each time, so every run reads the whole topic.
 *
 *   node infra/scaling.ts            # `make scaling`; SCALING_INVOICES (2,000,000), SCALING_PARTITIONS (8,16,32), SCALING_PROCESSES (1,2,4)
 *
 * Writes docs/scaling/<date>.json and prints a Markdown table.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Child, runToEnd } from '../bench/support/child.ts';
import { admin as adminOf, endOffsets, repoRoot, startBroker, sum, waitCaughtUp } from '../bench/support/kafka.ts';

// kafkajs schedules timers from broker throttle times that Node reports as negative: noise.
process.removeAllListeners('warning');
process.on('warning', (w) => w.name !== 'TimeoutNegativeWarning' && process.stderr.write(`${w.name}: ${w.message}\n`));

const CLI = join(repoRoot, 'bin/retail-streams.js');
const INVOICES = Number(process.env.SCALING_INVOICES ?? 2_000_000);
const PARTITIONS = (process.env.SCALING_PARTITIONS ?? '8,16,32').split(',').map(Number);
const PROCESSES = (process.env.SCALING_PROCESSES ?? '1,2,4').split(',').map(Number);

interface Run {
  readonly partitions: number;
  readonly processes: number;
  readonly invoices: number;
  /** Invoices/s from the first process's start until the input was committed to the end. */
  readonly rate: number;
  /** Invoices/s from the first commit on (process start, group join and first batch excluded). */
  readonly steadyRate: number;
  /** ms from start to the first commit on the input. */
  readonly firstCommitMs: number;
  /** ms until the repartition topic was drained as well. */
  readonly allStagesMs: number;
  /** Peak RSS (VmHWM) of each process, MiB. */
  readonly peakRssMb: number[];
}

const work = mkdtempSync(join(tmpdir(), 'retail-streams-scaling-'));
const log = join(work, 'scaling.log');
const started = Date.now();
const broker = await startBroker('-Xms1g -Xmx1g');
const admin = adminOf(broker.bootstrap);
await admin.connect();
const runs: Run[] = [];
const preloads: { partitions: number; seconds: number }[] = [];
try {
  for (const partitions of PARTITIONS) {
    const topic = `invoices-p${partitions}`;
    const t0 = performance.now();
    const pre = await runToEnd(
      'simulate',
      process.execPath,
      [CLI, 'simulate', '--brokers', broker.bootstrap, '--topic', topic, '--rate', '0', '--count', String(INVOICES), '--partitions', String(partitions),
        '--seed', '42', '--start', '2020-09-18T00:00:00Z', '--event-rate', '1000', '--out-of-order-ratio', '0.05', '--late-ratio', '0', '--bad-ratio', '0.001'],
      { logFile: log, timeoutMs: 10 * 60_000 },
    );
    if (pre.exit.code !== 0) throw new Error(`simulate failed: ${pre.child.lastLines()}`);
    preloads.push({ partitions, seconds: (performance.now() - t0) / 1000 });
    const inputEnd = await endOffsets(admin, topic);
    const invoices = sum(inputEnd);
    for (const processes of PROCESSES) {
      const group = `scale-p${partitions}-n${processes}`;
      const dir = join(work, group);
      const since = performance.now();
      const children = Array.from({ length: processes }, (_, i) => {
        const args = [CLI, 'run', '--brokers', broker.bootstrap, '--group', group, '--input', topic, '--store', 'memory', '--sink', join(dir, 'sink'), '--state-dir', join(dir, `state-${i}`)];
        return new Child(`${group}-${i}`, process.execPath, args, { logFile: log });
      });
      const hwm = children.map(() => 0);
      const sampler = setInterval(() => children.forEach((c, i) => (hwm[i] = Math.max(hwm[i]!, c.vm()?.hwmKb ?? 0))), 250);
      try {
        const c = await waitCaughtUp(admin, { group, input: topic, inputEnd, since, timeoutMs: 10 * 60_000, alive: () => children.every((ch) => ch.running) });
        children.forEach((ch, i) => (hwm[i] = Math.max(hwm[i]!, ch.vm()?.hwmKb ?? 0)));
        const run: Run = {
          partitions,
          processes,
          invoices,
          rate: invoices / (c.inputMs / 1000),
          steadyRate: c.firstCommitRecords >= invoices ? Number.NaN : (invoices - c.firstCommitRecords) / Math.max(1e-3, (c.inputMs - c.firstCommitMs) / 1000),
          firstCommitMs: c.firstCommitMs,
          allStagesMs: c.allStagesMs,
          peakRssMb: hwm.map((kb) => Math.round(kb / 1024)),
        };
        runs.push(run);
        process.stderr.write(`P=${partitions} N=${processes}: ${Math.round(run.rate)}/s (steady ${Math.round(run.steadyRate)}/s), first commit ${(run.firstCommitMs / 1000).toFixed(1)} s, RSS ${run.peakRssMb.join('/')} MiB\n`);
      } finally {
        clearInterval(sampler);
        await Promise.all(children.map((ch) => ch.stop()));
        rmSync(dir, { recursive: true, force: true });
      }
    }
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  }
} finally {
  await admin.disconnect();
  await broker.stop();
}

const minutes = (Date.now() - started) / 60_000;
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}`;
const date = new Date().toISOString().slice(0, 10);
mkdirSync(join(repoRoot, 'docs/scaling'), { recursive: true });
writeFileSync(join(repoRoot, `docs/scaling/${date}.json`), JSON.stringify({ date, machine, minutes, invoices: INVOICES, preloads, runs }, null, 2) + '\n');
const base = new Map(runs.filter((r) => r.processes === 1).map((r) => [r.partitions, r.rate]));
const lines = [
  `Measured ${date} in ${minutes.toFixed(1)} min: ${machine}; one Kafka broker on the same machine; ${INVOICES.toLocaleString('en-US')} invoices per topic.`,
  '',
  '| partitions | processes | invoices/s (start to caught up) | vs 1 process | steady invoices/s | first commit | peak RSS per process |',
  '|---:|---:|---:|---:|---:|---:|---|',
  ...runs.map((r) =>
    [r.partitions, r.processes, Math.round(r.rate).toLocaleString('en-US'), `${((r.rate / (base.get(r.partitions) ?? r.rate)) * 100).toFixed(0)}%`, Number.isNaN(r.steadyRate) ? 'n/a' : Math.round(r.steadyRate).toLocaleString('en-US'), `${(r.firstCommitMs / 1000).toFixed(1)} s`, `${r.peakRssMb.join(', ')} MiB`].join(' | '),
  ).map((row) => `| ${row} |`),
];
process.stdout.write(lines.join('\n') + '\n');
rmSync(work, { recursive: true, force: true });
