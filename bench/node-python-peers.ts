/**
 * The Node and Python peers users would pick instead of this library (issue 15): @kafkats/flow
 * (bench/peers/kafkats/kpi.ts) and Quix Streams (bench/peers/quix/kpi.py), each computing the
 * KPIs of `retail-streams run` on the same preloaded topic, measured by the same stopping rule
 * (kpi-run.ts `measureCaughtUp`: from process start until the group's committed input offsets
 * reach the end offsets). Both write `<prefix>kpi-time`, `<prefix>kpi-time-country` and
 * `<prefix>dead-letter` for the cross-check.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Admin } from 'kafkajs';
import { measureCaughtUp, type CaughtUpRun } from './kpi-run.ts';
import { Child, runToEnd, type ChildExit } from './support/child.ts';
import { createTopic, endOffsets, repoRoot } from './support/kafka.ts';
import type { Contender, RunContext } from './support/peer.ts';

const KAFKATS_PREFIX = 'kafkats-';
const QUIX_PREFIX = 'quix-';
const kafkatsProgram = join(repoRoot, 'bench', 'peers', 'kafkats', 'kpi.ts');
const quixDir = join(repoRoot, 'bench', 'peers', 'quix');

/** Compacted KPI topics (update mode, latest per key) and the dead-letter topic, one partition each as the other peers'. */
async function createOutputTopics(a: Admin, prefix: string): Promise<void> {
  for (const t of ['kpi-time', 'kpi-time-country', 'dead-letter']) await createTopic(a, `${prefix}${t}`, 1, t.startsWith('kpi') ? { 'cleanup.policy': 'compact' } : {});
}

/** The installed version of an npm package, or an Error saying it is not installed. */
function npmVersion(name: string): string {
  const require = createRequire(join(repoRoot, 'package.json'));
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`${name} is not installed (npm ci installs it as a dev dependency)`);
  }
  // Its exports map hides package.json: read the one above the resolved entry point.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
    if (pkg.name === name) return pkg.version;
  }
  throw new Error(`${name}: no package.json found above ${entry}`);
}

function kafkatsContender(): Contender {
  return {
    key: 'peer.kafkats',
    label:
      '@kafkats/flow peer (Node): per-record DSL, two explicit repartition topics (window; window+country), ' +
      'changelogged KV stores, every send awaited per record; event-time windows as keys (no timestamp extractor, no grace)',
    unit: 'invoices/s',
    outputPrefix: KAFKATS_PREFIX,
    // ~140 invoices/s here (every send and changelog put awaited one at a time): 10,000 invoices take a minute.
    topic: 'tiny',
    async prepare(ctx) {
      const flowVersion = npmVersion('@kafkats/flow');
      npmVersion('@kafkats/client');
      if (!/^0\.12\./.test(flowVersion)) throw new Error(`@kafkats/flow ${flowVersion} installed; bench/peers/kafkats/kpi.ts is written against 0.12.x`);
      await createOutputTopics(ctx.admin, KAFKATS_PREFIX);
    },
    async run(ctx: RunContext): Promise<CaughtUpRun> {
      const child = new Child('kafkats peer', process.execPath, [
        kafkatsProgram, '--bootstrap', ctx.bootstrap, '--group', ctx.group, '--input', ctx.input, '--prefix', KAFKATS_PREFIX, '--window-ms', String(ctx.c.windowMs),
      ], { logFile: ctx.logFile });
      return await measureCaughtUp({ admin: ctx.admin, child, group: ctx.group, input: ctx.input, inputEnd: ctx.inputEnd, timeoutMs: ctx.timeoutMs });
    },
  };
}

/**
 * Quix names its repartition topics `repartition__<group>--<stream>--<operation>`, which
 * `waitCaughtUp` (it looks for `<group>-...-repartition`) does not see. This child is stopped only
 * once the group has committed those to their end too: the KPI topics are then complete for the
 * cross-check, and the time it took is the peer's all-stages figure. The input's time is
 * measured as for every contender.
 */
class QuixChild extends Child {
  drainedAt = Number.NaN;
  private readonly admin: Admin;
  private readonly group: string;
  private readonly deadline: number;
  constructor(admin: Admin, group: string, deadline: number, ...args: ConstructorParameters<typeof Child>) {
    super(...args);
    this.admin = admin;
    this.group = group;
    this.deadline = deadline;
  }

  override async stop(graceMs?: number): Promise<ChildExit> {
    const prefix = `repartition__${this.group}--`;
    while (this.running && performance.now() < this.deadline) {
      try {
        const topics = (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
        let done = topics.length > 0;
        for (const t of topics) {
          const end = await endOffsets(this.admin, t);
          const committed = new Map(((await this.admin.fetchOffsets({ groupId: this.group, topics: [t] }))[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
          if (![...end].every(([p, e]) => e === 0 || (committed.get(p) ?? -1) >= e)) done = false;
        }
        if (done) {
          this.drainedAt = performance.now();
          break;
        }
      } catch {
        // A coordinator still loading: poll again.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return super.stop(graceMs);
  }
}

function quixContender(): Contender {
  let python: string | undefined;
  return {
    key: 'peer.quix',
    label:
      'Quix Streams peer (Python, librdkafka): per-record StreamingDataFrame, two group_by repartitions ("all"; country), ' +
      'tumbling_window(60 s, grace 10 min).reduce().current(), RocksDB window state',
    unit: 'invoices/s',
    outputPrefix: QUIX_PREFIX,
    // ~7,000 invoices/s here: the whole topic would take 5 minutes a repetition.
    topic: 'short',
    async prepare(ctx) {
      const r = await runToEnd('quix install', 'bash', [join(quixDir, 'install.sh')], { logFile: ctx.logFile, timeoutMs: 10 * 60_000 });
      const last = r.stdout.trim().split('\n').pop() ?? '';
      if (r.exit.code !== 0 || !last.endsWith('/python')) throw new Error(`Quix Streams could not be installed (bench/peers/quix/install.sh exit ${r.exit.code}):\n${r.child.lastLines(8)}`);
      python = last;
      const v = await runToEnd('quix version', python, ['-c', 'import quixstreams, confluent_kafka; print(quixstreams.__version__, confluent_kafka.libversion()[0])'], { logFile: ctx.logFile, timeoutMs: 60_000 });
      if (v.exit.code !== 0) throw new Error(`quixstreams does not import in ${python}:\n${v.child.lastLines(8)}`);
      await createOutputTopics(ctx.admin, QUIX_PREFIX);
    },
    async run(ctx: RunContext): Promise<CaughtUpRun> {
      if (python === undefined) throw new Error('peer.quix: prepare() did not run');
      const stateDir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-quix-'));
      try {
        const child = new QuixChild(ctx.admin, ctx.group, performance.now() + ctx.timeoutMs, 'quix peer', python, [
          join(quixDir, 'kpi.py'), '--bootstrap', ctx.bootstrap, '--group', ctx.group, '--input', ctx.input, '--state-dir', stateDir,
          '--prefix', QUIX_PREFIX, '--window-ms', String(ctx.c.windowMs), '--grace-ms', String(ctx.c.graceMs),
        ], { logFile: ctx.logFile, env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONWARNINGS: 'ignore' } });
        const r = await measureCaughtUp({ admin: ctx.admin, child, group: ctx.group, input: ctx.input, inputEnd: ctx.inputEnd, timeoutMs: ctx.timeoutMs });
        if (Number.isNaN(child.drainedAt)) return { ...r, allStagesMs: Number.NaN, allStagesRate: Number.NaN };
        const allStagesMs = child.drainedAt - child.startedAt;
        return { ...r, allStagesMs, allStagesRate: r.records / (allStagesMs / 1000) };
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}

export function nodePythonContenders(): Contender[] {
  return [kafkatsContender(), quixContender()];
}
