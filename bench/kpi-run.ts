/**
 * `retail-streams run` over the preloaded topic: invoices/s from process start until the group's
 * committed input offsets reach the end offsets (and, reported beside it, until its repartition
 * topic is drained too), and the process's peak RSS (VmHWM) over the whole topic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { CLI } from './dataset.ts';
import { Child, runToEnd } from './support/child.ts';
import { sum, waitCaughtUp, type CaughtUp } from './support/kafka.ts';

export interface CaughtUpRun extends CaughtUp {
  readonly records: number;
  /** Invoices/s from process start until the input was caught up. */
  readonly rate: number;
  /** Invoices/s from the first commit on until caught up (startup excluded). */
  readonly steadyRate: number;
  /** Invoices/s until every stage (repartition topics too) was caught up. */
  readonly allStagesRate: number;
  readonly peakRssMb: number;
  /**
   * Resident set size (VmRSS, MiB, summed over the processes) sampled every 500 ms from process
   * start: what "memory bounded by open windows" is judged on (RSS early in the run against late).
   */
  readonly rssSamples: readonly { readonly ms: number; readonly mb: number }[];
}

export function caughtUpRun(c: CaughtUp, records: number, hwmKb: number, rssSamples: CaughtUpRun['rssSamples'] = []): CaughtUpRun {
  return {
    ...c,
    records,
    rssSamples,
    rate: records / (c.inputMs / 1000),
    steadyRate: c.firstCommitRecords >= records ? Number.NaN : (records - c.firstCommitRecords) / Math.max(1e-3, (c.inputMs - c.firstCommitMs) / 1000),
    allStagesRate: records / (c.allStagesMs / 1000),
    peakRssMb: hwmKb / 1024,
  };
}

/**
 * Measures processes that consume `input` as `group` until caught up, then stops them (SIGTERM).
 * Peak RSS is the sum of the processes' peaks; time counts from the first one's start.
 */
export async function measureCaughtUp(o: {
  admin: Admin;
  child: Child | readonly Child[];
  group: string;
  input: string;
  inputEnd: ReadonlyMap<number, number>;
  timeoutMs: number;
}): Promise<CaughtUpRun> {
  const children = Array.isArray(o.child) ? (o.child as readonly Child[]) : [o.child as Child];
  const hwm = children.map(() => 0);
  const samples: { ms: number; mb: number }[] = [];
  const since = Math.min(...children.map((c) => c.startedAt));
  const sample = () => {
    let rssKb = 0;
    children.forEach((c, i) => {
      const vm = c.vm();
      hwm[i] = Math.max(hwm[i]!, vm?.hwmKb ?? 0);
      rssKb += vm?.rssKb ?? 0;
    });
    if (rssKb > 0) samples.push({ ms: Math.round(performance.now() - since), mb: Math.round(rssKb / 1024) });
  };
  const sampler = setInterval(sample, 500);
  try {
    const c = await waitCaughtUp(o.admin, { group: o.group, input: o.input, inputEnd: o.inputEnd, since, timeoutMs: o.timeoutMs, alive: () => children.every((ch) => ch.running) }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${children.map((ch) => ch.lastLines(1)).join(' | ')}`);
    });
    sample();
    return caughtUpRun(c, sum(o.inputEnd), hwm.reduce((a, b) => a + b, 0), samples);
  } finally {
    clearInterval(sampler);
    await Promise.all(children.map((ch) => ch.stop()));
  }
}

export type StoreKind = 'memory' | 'rocksdb';

export async function kpiRun(o: {
  admin: Admin;
  bootstrap: string;
  group: string;
  input: string;
  inputEnd: ReadonlyMap<number, number>;
  store: StoreKind;
  /** The client adapter (`run --client`); default the CLI's. */
  client?: 'kafkajs' | 'platformatic';
  guarantee?: 'at-least-once' | 'exactly-once';
  /** `run --threads N` (stream threads in worker threads). */
  threads?: number;
  /** Processes of `run` in the group, started together (default 1). */
  processes?: number;
  /** `run --topic-prefix`: KPI, dead-letter and late topics of their own. */
  topicPrefix?: string;
  /** Extra arguments for the node process (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  /** Schema registry for Avro input. */
  registry?: string;
  logFile: string;
  timeoutMs: number;
}): Promise<CaughtUpRun> {
  const work = mkdtempSync(join(tmpdir(), 'retail-streams-bench-run-'));
  try {
    const args = (i: number) => [CLI, 'run', '--brokers', o.bootstrap, '--group', o.group, '--input', o.input, '--store', o.store, '--sink', join(work, 'sink'), '--state-dir', join(work, `state-${i}`), ...extra];
    const extra: string[] = [];
    if (o.registry !== undefined) extra.push('--registry', o.registry);
    if (o.client !== undefined) extra.push('--client', o.client);
    if (o.guarantee !== undefined) extra.push('--guarantee', o.guarantee);
    if (o.threads !== undefined) extra.push('--threads', String(o.threads));
    if (o.topicPrefix !== undefined) extra.push('--topic-prefix', o.topicPrefix);
    const children = Array.from({ length: o.processes ?? 1 }, (_, i) => new Child(`run ${i + 1}`, process.execPath, [...(o.nodeArgs ?? []), ...args(i)], { logFile: o.logFile }));
    return await measureCaughtUp({ admin: o.admin, child: children, group: o.group, input: o.input, inputEnd: o.inputEnd, timeoutMs: o.timeoutMs });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Whether the CLI takes a flag value (a capability that may not be built yet), tried where it
 * fails fast either way: flag checking rejects an unknown value or option before any broker or
 * registry is contacted; a known one gets as far as a missing topic or a missing --registry.
 */
export async function cliAccepts(command: 'run' | 'simulate', flag: string, value: string, bootstrap: string, logFile: string): Promise<boolean> {
  const probe = join(tmpdir(), `bench-probe-${process.pid}`);
  const missing = `bench-no-such-topic-${process.pid}`;
  const args = command === 'run'
    ? [CLI, 'run', '--brokers', bootstrap, '--group', `bench-probe-${process.pid}`, '--input', missing, `--${flag}`, value, '--sink', join(probe, 'sink'), '--state-dir', join(probe, 'state')]
    : [CLI, 'simulate', '--brokers', bootstrap, '--topic', missing, '--count', '1', `--${flag}`, value];
  const r = await runToEnd(`${command} --${flag} ${value}`, process.execPath, args, { logFile, timeoutMs: 60_000 });
  rmSync(probe, { recursive: true, force: true });
  const out = r.child.lastLines(40);
  return !out.includes(`Unknown option '--${flag}'`) && !out.includes(`--${flag}: Expected undefined, actual "${value}"`);
}
