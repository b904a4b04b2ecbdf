/**
 * A small end-to-end try of the Node and Python peers (bench/node-python-peers.ts), outside
 * `make bench`: starts a broker (or uses BENCH_BOOTSTRAP), preloads a topic with the simulator,
 * runs `retail-streams run` over it, then each peer, prints their rates and compares, key by key,
 * the latest value of every KPI field (overall and per country) and the dead-letter counts
 * with run's.
 *
 *   node bench/try-node-python-peers.ts                     # 200,000 invoices, both peers
 *   TRY_COUNT=50000 TRY_PEERS=peer.quix node bench/try-node-python-peers.ts
 *   BENCH_BOOTSTRAP=127.0.0.1:PORT node bench/try-node-python-peers.ts   # a broker already up
 *
 * Logs go to bench/results/raw/try-node-python-peers-*.log (git-ignored). Exit code 1 when a
 * peer fails or its KPIs differ from run's.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { config } from './config.ts';
import { CLI } from './dataset.ts';
import { kpiRun } from './kpi-run.ts';
import { nodePythonContenders } from './node-python-peers.ts';
import { runToEnd } from './support/child.ts';
import { admin as makeAdmin, endOffsets, repoRoot, startBroker, sum, type Broker } from './support/kafka.ts';

const count = Number(process.env.TRY_COUNT ?? 200_000);
const only = (process.env.TRY_PEERS ?? '').split(',').filter((s) => s !== '');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const logDir = join(repoRoot, 'bench', 'results', 'raw');
mkdirSync(logDir, { recursive: true });
const logFile = join(logDir, `try-node-python-peers-${stamp}.log`);

/** Every record of a topic up to its current end: the latest value per key, and how many records. */
async function readTopic(bootstrap: string, a: Admin, topic: string): Promise<{ latest: Map<string, Record<string, unknown>>; records: number }> {
  const end = await endOffsets(a, topic);
  const latest = new Map<string, Record<string, unknown>>();
  if (sum(end) === 0) return { latest, records: 0 };
  const consumer = new Kafka({ clientId: 'try-peers', brokers: [bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: `try-peers-read-${topic}-${stamp}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let records = 0;
  const seen = new Map<number, number>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 120_000);
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          records++;
          if (m.key !== null && m.value !== null) {
            try {
              latest.set(m.key.toString('utf8'), JSON.parse(m.value.toString('utf8')) as Record<string, unknown>);
            } catch {
              // dead-letter values are the invalid input itself
            }
          }
        }
        seen.set(batch.partition, Number(batch.lastOffset()) + 1);
        if ([...end].every(([p, e]) => e === 0 || (seen.get(p) ?? 0) >= e)) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return { latest, records };
}

/** Keys and fields where the peer's latest values differ from run's. */
function compare(what: string, ours: Map<string, Record<string, unknown>>, peer: Map<string, Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const [k, o] of ours) {
    const p = peer.get(k);
    if (p === undefined) {
      out.push(`${what} ${k}: missing in peer (run ${JSON.stringify(o)})`);
      continue;
    }
    for (const field of new Set([...Object.keys(o), ...Object.keys(p)])) {
      if (JSON.stringify(o[field]) !== JSON.stringify(p[field])) out.push(`${what} ${k} ${field}: run ${JSON.stringify(o[field])}, peer ${JSON.stringify(p[field])}`);
    }
  }
  for (const k of peer.keys()) if (!ours.has(k)) out.push(`${what} ${k}: only in peer (${JSON.stringify(peer.get(k))})`);
  return out;
}

let broker: Broker | undefined;
let failed = false;
const bootstrap = config.bootstrap ?? (broker = await startBroker()).bootstrap;
const a = makeAdmin(bootstrap);
await a.connect();
try {
  const input = `try-peers-invoices-${stamp}`;
  console.log(`broker ${bootstrap}; preloading ${count} invoices into ${input}; log ${logFile}`);
  const sim = await runToEnd('simulate', process.execPath, [
    CLI, 'simulate', '--brokers', bootstrap, '--topic', input, '--rate', '0', '--count', String(count), '--partitions', '4', '--seed', String(config.seed),
    '--start', config.start, '--event-rate', String(config.eventRate), '--late-ratio', '0', '--bad-ratio', String(config.badRatio),
  ], { logFile, timeoutMs: 10 * 60_000 });
  if (sim.exit.code !== 0) throw new Error(`simulate failed:\n${sim.child.lastLines()}`);
  const inputEnd = await endOffsets(a, input);

  const ours = await kpiRun({ admin: a, bootstrap, group: `try-peers-run-${stamp}`, input, inputEnd, store: 'memory', logFile, timeoutMs: 10 * 60_000 });
  console.log(`run: ${ours.rate.toFixed(0)} invoices/s (steady ${ours.steadyRate.toFixed(0)}, all stages ${ours.allStagesRate.toFixed(0)}), peak RSS ${ours.peakRssMb.toFixed(0)} MiB`);
  const runTime = await readTopic(bootstrap, a, 'kpi-time');
  const runCountry = await readTopic(bootstrap, a, 'kpi-time-country');
  const runDead = sum(await endOffsets(a, 'invoices-dead-letter'));
  console.log(`run: ${runTime.latest.size} windows, ${runCountry.latest.size} window-country keys, ${runDead} dead letters`);

  for (const peer of nodePythonContenders()) {
    if (only.length > 0 && !only.includes(peer.key)) continue;
    try {
      await peer.prepare({ admin: a, c: config, bootstrap, input, inputEnd, logFile });
    } catch (e) {
      console.log(`${peer.key}: cannot run here: ${(e as Error).message}`);
      failed = true;
      continue;
    }
    let r;
    try {
      r = await peer.run({ admin: a, c: config, bootstrap, input, inputEnd, group: `try-${peer.key}-${stamp}`, logFile, timeoutMs: 15 * 60_000 });
    } catch (e) {
      console.log(`${peer.key}: failed: ${(e as Error).message}`);
      failed = true;
      continue;
    }
    console.log(`${peer.key}: ${r.rate.toFixed(0)} invoices/s (steady ${r.steadyRate.toFixed(0)}, all stages ${r.allStagesRate.toFixed(0)}, first commit ${(r.firstCommitMs / 1000).toFixed(1)} s), peak RSS ${r.peakRssMb.toFixed(0)} MiB; ${r.rate / ours.rate >= 1 ? '' : 'run/peer '}${(ours.rate / r.rate).toFixed(2)}x`);
    const prefix = peer.outputPrefix!;
    const time = await readTopic(bootstrap, a, `${prefix}kpi-time`);
    const country = await readTopic(bootstrap, a, `${prefix}kpi-time-country`);
    const dead = sum(await endOffsets(a, `${prefix}dead-letter`));
    const diffs = [...compare('time', runTime.latest, time.latest), ...compare('country', runCountry.latest, country.latest)];
    if (dead !== runDead) diffs.push(`dead letters: run ${runDead}, peer ${dead}`);
    console.log(
      `${peer.key}: ${time.latest.size} windows (${time.records} updates), ${country.latest.size} window-country keys (${country.records} updates), ${dead} dead letters: ` +
        (diffs.length === 0 ? 'every KPI field and the dead-letter count equal to run\'s' : `${diffs.length} differences`),
    );
    for (const d of diffs.slice(0, 20)) console.log(`  ${d}`);
    if (diffs.length > 0) failed = true;
  }
} finally {
  await a.disconnect();
  await broker?.stop();
}
process.exit(failed ? 1 : 0);
