/**
 * A quick try of the Kafka Streams peers and this library's DSL peer against `run`, outside
 * `make bench`: starts a broker (or uses TRY_BOOTSTRAP), preloads a small topic with
 * `simulate`, runs `run` once (its KPIs are the reference), then each contender of
 * kafkaStreamsContenders() once (prepare, then one measured run), and cross-checks every KPI
 * field and the dead-letter counts of each against `run`'s. Small and noisy by design: it shows
 * that the peers work and agree, not how fast they are.
 *
 *   node bench/try-peers.ts
 *   TRY_COUNT=200000 TRY_ONLY=peer.kstreams.papi.1t,peer.dsl.ours TRY_BOOTSTRAP=127.0.0.1:PORT node bench/try-peers.ts
 *
 * Logs go to a temporary folder printed at the start; the broker is stopped at the end.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { config as c } from './config.ts';
import { crossCheckAll } from './cross-check.ts';
import { CLI } from './dataset.ts';
import { kafkaStreamsContenders } from './kafka-streams-peer.ts';
import { kpiRun } from './kpi-run.ts';
import { runToEnd } from './support/child.ts';
import { admin as makeAdmin, createTopic, endOffsets, startBroker, sum, type Broker } from './support/kafka.ts';

const count = Number(process.env.TRY_COUNT ?? 200_000);
const only = (process.env.TRY_ONLY ?? '').split(',').filter((s) => s !== '');
const logDir = mkdtempSync(join(tmpdir(), 'retail-streams-try-peers-'));
const log = (name: string) => join(logDir, `${name}.log`);
const say = (m: string) => process.stderr.write(`[try-peers] ${m}\n`);
say(`logs in ${logDir}`);

let broker: Broker | undefined;
// Exit through process.exit so that support/child.ts kills the children (the broker's watchdog
// follows this process).
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
try {
  if (process.env.TRY_BOOTSTRAP === undefined) broker = await startBroker();
  const bootstrap = broker?.bootstrap ?? process.env.TRY_BOOTSTRAP!;
  say(`broker ${bootstrap}`);
  const admin = makeAdmin(bootstrap);
  await admin.connect();
  // As bench/run.ts makes them: `run`'s update topics with the broker's append time.
  await createTopic(admin, 'kpi-time', 1, { 'cleanup.policy': 'compact', 'message.timestamp.type': 'LogAppendTime' });
  await createTopic(admin, 'kpi-time-country', 1, { 'cleanup.policy': 'compact', 'message.timestamp.type': 'LogAppendTime' });
  const input = `try-invoices-${count}`;
  if (!(await admin.listTopics()).includes(input)) {
    const r = await runToEnd('simulate', process.execPath, [
      CLI, 'simulate', '--brokers', bootstrap, '--topic', input, '--rate', '0', '--count', String(count), '--partitions', String(c.partitions), '--seed', String(c.seed),
      '--start', c.start, '--event-rate', String(c.eventRate), '--out-of-order-ratio', String(c.outOfOrderRatio), '--late-ratio', '0', '--bad-ratio', String(c.badRatio),
    ], { logFile: log('simulate'), timeoutMs: 10 * 60_000 });
    if (r.exit.code !== 0) throw new Error(`simulate failed: ${r.child.lastLines()}`);
  }
  const inputEnd = await endOffsets(admin, input);
  say(`${sum(inputEnd)} invoices in ${input}`);
  const runId = Date.now().toString(36);
  const fmt = (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`;

  const ours = await kpiRun({ admin, bootstrap, group: `try-run-${runId}`, input, inputEnd, store: 'memory', logFile: log('run'), timeoutMs: 5 * 60_000 });
  say(`run: ${fmt(ours.rate)} (steady ${fmt(ours.steadyRate)}), start-up ${((ours.firstCommitMs / ours.inputMs) * 100).toFixed(0)}% of ${(ours.inputMs / 1000).toFixed(1)} s, peak RSS ${ours.peakRssMb.toFixed(0)} MiB`);

  for (const k of kafkaStreamsContenders().filter((k) => only.length === 0 || only.includes(k.key))) {
    try {
      const t0 = performance.now();
      await k.prepare({ admin, c, bootstrap, input, inputEnd, logFile: log(`${k.key}-prepare`) });
      say(`${k.key}: prepared in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${k.label}`);
      const r = await k.run({ admin, c, bootstrap, input, inputEnd, group: `try-${k.key.replace(/\./g, '-')}-${runId}`, logFile: log(k.key), timeoutMs: 5 * 60_000 });
      say(`${k.key}: ${fmt(r.rate)} (steady ${fmt(r.steadyRate)}, all stages ${fmt(r.allStagesRate)}), start-up ${((r.firstCommitMs / r.inputMs) * 100).toFixed(0)}% of ${(r.inputMs / 1000).toFixed(1)} s, peak RSS ${r.peakRssMb.toFixed(0)} MiB`);
      if (k.outputPrefix !== undefined) {
        const x = await crossCheckAll(bootstrap, admin, runId, '', k.outputPrefix);
        say(`${k.key}: cross-check ${x.same} of ${x.timeWindows + x.countryWindows} keys the same (${x.timeWindows} windows, ${x.countryWindows} window-countries); dead letters ours ${x.deadLetters.ours}, peer ${x.deadLetters.peer}${x.differing.length > 0 ? `\n  ${x.differing.join('\n  ')}` : ''}`);
      }
    } catch (e) {
      say(`${k.key} FAILED: ${(e as Error).message.split('\n').slice(0, 5).join(' | ')}`);
    }
  }
  await admin.disconnect();
} finally {
  await broker?.stop();
}
