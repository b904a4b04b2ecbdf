/**
 * `make bench`: one run that starts a real broker, preloads a seeded topic, measures every figure
 * of docs/design.md's targets side by side (each the median of several repetitions, a fresh consumer
 * group each time, repetitions of competing programs interleaved so that background load hits
 * them alike), and writes bench/results/<date>.{json,md,svg} and the README's Benchmarks section.
 * Sizes and switches: bench/config.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { consumerPerf, producerPerf } from './broker-limits.ts';
import { config as c } from './config.ts';
import { crossCheckAll } from './cross-check.ts';
import { exportJsonl, preloadTopic, CLI } from './dataset.ts';
import { kafkaStreamsContenders } from './kafka-streams-peer.ts';
import { cliAccepts, kpiRun } from './kpi-run.ts';
import { latencyRep, type LatencyRep } from './latency.ts';
import { nodePythonContenders } from './node-python-peers.ts';
import { describeProfile, profileDir } from './profile.ts';
import { duckdbOnce, replayOnce, scanLoopOnce, type FileRate } from './replay.ts';
import { checkReplayAgainstDuckdb, describeCheck } from './replay-check.ts';
import { stateBench } from './state.ts';
import { figure, makeRatio, markdown, missing, ratioOf, writeReport, type Figure, type Machine, type Report } from './report.ts';
import { runToEnd } from './support/child.ts';
import { admin as makeAdmin, createTopic, endOffsets, repoRoot, startBroker, sum, type Broker } from './support/kafka.ts';
import { startRegistry, type Registry } from './support/registry.ts';
import { Random } from '../simulator/random.ts';
import type { BenchTopic, Contender } from './support/peer.ts';
import { median } from './support/stats.ts';

const t0 = performance.now();
const startedAt = new Date();
const date = startedAt.toISOString().slice(0, 10);
const runId = startedAt.getTime().toString(36);
const resultsDir = join(repoRoot, 'bench', 'results');
const outDir = c.official ? resultsDir : join(resultsDir, 'raw');
const logDir = join(resultsDir, 'raw', `logs-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(logDir, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'retail-streams-bench-'));
const log = (name: string) => join(logDir, `${name}.log`);

const elapsed = () => {
  const s = Math.round((performance.now() - t0) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const say = (m: string) => process.stderr.write(`[bench ${elapsed()}] ${m}\n`);
const fmtRate = (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`;
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

const figures: Record<string, Figure> = {};
const notes: string[] = [];
const crossChecks: { key: string; label: string; keys: number; same: number; deadLetters: { ours: number; peer: number }; first: string | undefined }[] = [];

/** A copy in random order (Fisher-Yates, seeded: the order of one run is reproducible from its seed). */
const shuffled = <T>(xs: readonly T[], random: Random): T[] => {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

/** Runs `fn` for each repetition; a failed repetition is logged and left out of the median. */
async function reps<T>(name: string, fn: (rep: number) => Promise<T>, describe: (t: T) => string, spareAttempts = 0): Promise<{ ok: T[]; errors: string[] }> {
  const ok: T[] = [];
  const errors: string[] = [];
  for (let r = 1; ok.length < c.reps && r <= c.reps + spareAttempts; r++) {
    try {
      const t = await fn(r);
      ok.push(t);
      say(`${name} #${r}: ${describe(t)}`);
    } catch (e) {
      errors.push(errorText(e));
      say(`${name} #${r} FAILED: ${errorText(e)} (log: ${logDir})`);
    }
  }
  return { ok, errors };
}

function machine(): Machine {
  let java = 'unknown';
  try {
    // `java -version` prints on stderr
    java = execFileSync('bash', ['-c', 'java -version 2>&1'], { encoding: 'utf8' }).split('\n').find((l) => /version/.test(l)) ?? java;
  } catch {
    // no java: the peer and the broker would have failed already
  }
  return {
    cores: cpus().length,
    cpu: (cpus()[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `Linux ${release()}`,
    node: process.versions.node,
    java: java.replace(/^openjdk version "([^"]+)".*/, 'OpenJDK $1').trim(),
    kafka: '4.4.0',
  };
}

let broker: Broker | undefined;
let registry: Registry | undefined;
const cleanups: (() => Promise<void>)[] = [];
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

try {
  say(`scale ${c.scale}, ${c.reps} repetitions, steps ${[...c.steps].join(',')}; logs in ${logDir}`);
  if (c.bootstrap === undefined) {
    broker = await startBroker();
    say(`broker up at ${broker.bootstrap}`);
  }
  const bootstrap = broker?.bootstrap ?? c.bootstrap!;
  const admin = makeAdmin(bootstrap);
  await admin.connect();
  cleanups.push(() => admin.disconnect());

  // The KPI update topics, made by us so that their records carry the broker's append time (latency).
  await createTopic(admin, 'kpi-time', 1, { 'cleanup.policy': 'compact', 'message.timestamp.type': 'LogAppendTime' });
  await createTopic(admin, 'kpi-time-country', 1, { 'cleanup.policy': 'compact', 'message.timestamp.type': 'LogAppendTime' });

  // ------------------------------------------------------------------ data set
  // The throughput topic (the bench's compact JSON, 1,000 invoices per event-second), its first
  // tenth (the RSS baseline: memory over a run 10x shorter), and the same invoices shaped like
  // the original feed (Python's JSON formatting, a few dozen invoices per event-second, offsets,
  // non-ASCII countries); the replay files in both shapes.
  const file = join(work, 'invoices.jsonl');
  const feedFile = join(work, 'invoices-feed.jsonl');
  const exported = exportJsonl(c, file, c.replayLines);
  const feedExported = c.steps.has('replay') ? exportJsonl(c, feedFile, c.replayLines, 'feed') : Promise.resolve({ lines: 0, bytes: 0 });
  const preloaded = async (topic: string, count: number, shape: 'compact' | 'feed'): Promise<{ topic: string; end: Map<number, number>; records: number }> => {
    let end = (await admin.listTopics()).includes(topic) ? await endOffsets(admin, topic) : new Map<number, number>();
    if (sum(end) !== count) {
      if (end.size > 0) throw new Error(`topic ${topic} exists with ${sum(end)} records, not ${count}: use a fresh broker`);
      say(`preloading ${count.toLocaleString('en-US')} ${shape}-shaped invoices into ${topic} (${c.partitions} partitions)`);
      const p = await preloadTopic(c, bootstrap, topic, log(`simulate-${shape}-${count}`), { count, shape });
      if (topic === input) figures['preload'] = figure('Preload with `simulate --rate 0` (acks=all)', 'invoices/s', [p.rate], { note: `${count.toLocaleString('en-US')} invoices in ${p.seconds.toFixed(0)} s; set-up, not a target` });
      say(`preloaded in ${p.seconds.toFixed(1)} s (${fmtRate(p.rate)})`);
      end = await endOffsets(admin, topic);
    }
    return { topic, end, records: sum(end) };
  };
  const input = `bench-invoices-${c.invoices}`;
  const inputEnd = (await preloaded(input, c.invoices, 'compact')).end;
  const total = sum(inputEnd);
  const shortInput = c.steps.has('run') || c.steps.has('peers') ? await preloaded(`bench-invoices-${Math.round(c.invoices / 10)}`, Math.round(c.invoices / 10), 'compact') : undefined;
  const tinyInput = c.steps.has('peers') ? await preloaded(`bench-invoices-${c.tinyInvoices}`, c.tinyInvoices, 'compact') : undefined;
  /** The topic a contender is measured on, and the prefix of `run`'s KPI topics over the same records. */
  const benchTopic = (t: BenchTopic = 'full') =>
    t === 'short' && shortInput !== undefined ? { ...shortInput, runPrefix: 'bench-short-' } : t === 'tiny' && tinyInput !== undefined ? { ...tinyInput, runPrefix: 'bench-tiny-' } : { topic: input, end: inputEnd, records: total, runPrefix: '' };
  // Half the size: a few dozen invoices per event-second make many more windows per invoice, not more throughput to show.
  const feedInput = c.steps.has('run') ? await preloaded(`bench-invoices-feed-${Math.round(c.invoices / 2)}`, Math.round(c.invoices / 2), 'feed') : undefined;
  const { bytes: fileBytes } = await exported;
  const { bytes: feedBytes } = await feedExported;
  const avgBytes = fileBytes / c.replayLines;
  say(`exported ${c.replayLines.toLocaleString('en-US')} lines for replay (${(fileBytes / 2 ** 20).toFixed(0)} MiB, ${avgBytes.toFixed(0)} B/invoice; feed-shaped ${(feedBytes / 2 ** 20).toFixed(0)} MiB)`);

  // ------------------------------------------------------------------ broker limits
  if (c.steps.has('broker')) {
    const payload = join(work, 'payloads.txt');
    writeFileSync(payload, readFileSync(file, 'utf8').split('\n', 20_000).filter((l) => l !== '').join('\n'));
    await createTopic(admin, 'bench-perf-producer', c.partitions);
    const prod = await reps('kafka-producer-perf-test', () => producerPerf({ bootstrap, topic: 'bench-perf-producer', records: c.perfProducerRecords, payloadFile: payload }), (p) => `${fmtRate(p.recordsPerSec)} (${p.mbPerSec} MB/s)`);
    figures['broker.produce'] = prod.ok.length > 0
      ? figure('Broker limit: kafka-producer-perf-test (JVM, acks=all, invoice payloads)', 'records/s', prod.ok.map((p) => p.recordsPerSec), { note: `${c.perfProducerRecords.toLocaleString('en-US')} records a run` })
      : missing('Broker limit: kafka-producer-perf-test', 'records/s', 'failed', prod.errors[0] ?? '');
    const cons = await reps('kafka-consumer-perf-test', (r) => consumerPerf({ bootstrap, topic: input, records: total, group: `bench-perf-consumer-${runId}-${r}` }), (p) => `${fmtRate(p.recordsPerSec)} (fetch only ${fmtRate(p.fetchRecordsPerSec)})`);
    figures['broker.consume'] = cons.ok.length > 0
      ? figure('Broker limit: kafka-consumer-perf-test (JVM), whole topic', 'records/s', cons.ok.map((p) => p.recordsPerSec), { note: `group join included; fetch only: ${fmtRate(median(cons.ok.map((p) => p.fetchRecordsPerSec)))}` })
      : missing('Broker limit: kafka-consumer-perf-test', 'records/s', 'failed', cons.errors[0] ?? '');
  }

  // ------------------------------------------------------------------ capabilities not built yet show as such
  const rocksdb = c.steps.has('run') && (await cliAccepts('run', 'store', 'rocksdb', bootstrap, log('probe')));
  const avro = c.steps.has('run') && (await cliAccepts('simulate', 'format', 'avro', bootstrap, log('probe')));
  let avroInput: { topic: string; end: Map<number, number> } | undefined;
  if (avro) {
    try {
      registry = await startRegistry();
      say(`schema registry up at ${registry.url}`);
      const topic = `bench-invoices-avro-${c.invoices}`;
      let end = (await admin.listTopics()).includes(topic) ? await endOffsets(admin, topic) : new Map<number, number>();
      if (sum(end) !== c.invoices) {
        say(`preloading ${c.invoices.toLocaleString('en-US')} Avro invoices into ${topic}`);
        const r = await runToEnd('simulate avro', process.execPath, [
          CLI, 'simulate', '--brokers', bootstrap, '--topic', topic, '--rate', '0', '--count', String(c.invoices), '--format', 'avro', '--registry', registry.url,
          '--partitions', String(c.partitions), '--seed', String(c.seed), '--start', c.start, '--event-rate', String(c.eventRate),
          '--out-of-order-ratio', String(c.outOfOrderRatio), '--late-ratio', String(c.lateRatio), '--bad-ratio', String(c.badRatio),
        ], { logFile: log('simulate-avro'), timeoutMs: 15 * 60_000 });
        if (r.exit.code !== 0) throw new Error(`simulate --format avro failed:\n${r.child.lastLines()}`);
        say(`preloaded Avro in ${(r.elapsedMs / 1000).toFixed(1)} s`);
        end = await endOffsets(admin, topic);
      }
      avroInput = { topic, end };
    } catch (e) {
      notes.push(`Avro: could not set up (${errorText(e)}).`);
      say(`Avro set-up FAILED: ${errorText(e)}`);
    }
  }

  // ------------------------------------------------------------------ throughput: clients, run, peers (interleaved, order shuffled each round)
  // Every contender is measured by one stopping rule (kpi-run.ts measureCaughtUp: from process
  // start until the group's committed input offsets reach the end offsets; the raw clients until
  // every record has arrived), a fresh group each time, one repetition of each per round.
  type Measured = { rate: number; steadyRate?: number; allStagesRate?: number; peakRssMb?: number; firstCommitMs?: number; inputMs?: number };
  type Entry = { key: string; label: string; unit: string; outputPrefix?: string; prepare?: () => Promise<void>; run: (rep: number) => Promise<Measured> };
  const contenders: Entry[] = [];
  const rawClient = (key: string, label: string, script: string): Entry => ({
    key,
    label,
    unit: 'records/s',
    run: async (rep) => {
      const r = await runToEnd(label, process.execPath, [join(repoRoot, 'bench', 'clients', script), bootstrap, input, `bench-${key}-${runId}-${rep}`, String(total)], { logFile: log(key), timeoutMs: 5 * 60_000 });
      // done <records> <ms since its start> <ms at the first record> <bytes>
      const m = /done (\d+) (\d+) (\d+)/.exec(r.stdout);
      if (r.exit.code !== 0 || m === null) throw new Error(`${label} exit ${r.exit.code}: ${r.child.lastLines(5)}`);
      return { rate: total / (Number(m[2]) / 1000), steadyRate: total / ((Number(m[2]) - Number(m[3])) / 1000) };
    },
  });
  // @confluentinc/kafka-javascript builds from its own librdkafka source here (Debian's is too old:
  // docs/clients/confluent.md), once, into .cache, outside the timed rounds.
  let confluentError = '';
  if (c.steps.has('clients') && !process.env.CONFLUENT_CLIENT) {
    try {
      process.env.CONFLUENT_CLIENT = execFileSync(join(repoRoot, 'infra', 'confluent-client.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 }).trim().split('\n').pop();
    } catch (e) {
      confluentError = (e as { stderr?: string }).stderr?.trim().split('\n').pop() ?? errorText(e);
    }
  }
  if (c.steps.has('clients')) {
    if (process.env.CONFLUENT_CLIENT) contenders.push(rawClient('client.confluent', '@confluentinc/kafka-javascript (librdkafka), consume only (KafkaJS API, eachBatch, no commits)', 'confluent-consume.ts'));
    contenders.push(rawClient('client.kafkajs', 'kafkajs, consume only (eachBatch, no commits; run\'s fetch settings)', 'kafkajs-consume.ts'));
    contenders.push(rawClient('client.platformatic', '@platformatic/kafka, consume only (its consumer stream, no commits; run\'s fetch settings)', 'platformatic-consume.ts'));
    contenders.push(rawClient('client.adapter', 'the runtime\'s own consumer (@platformatic/kafka adapter: own Fetch reading and record decoder), consume only', 'adapter-consume.ts'));
  }
  const runVariant = (key: string, label: string, topic: string, end: ReadonlyMap<number, number>, how: Partial<Parameters<typeof kpiRun>[0]> = {}): Entry => ({
    key,
    label,
    unit: 'invoices/s',
    run: (rep) => kpiRun({ admin, bootstrap, group: `bench-${key.replace(/\./g, '-')}-${runId}-${rep}`, input: topic, inputEnd: end, store: 'memory', logFile: log(key), timeoutMs: 8 * 60_000, ...how }),
  });
  if (c.steps.has('run')) {
    // Its own KPI topics too (the Avro simulator's invoices are not the JSON topic's).
    if (avroInput !== undefined) contenders.push(runVariant('run.memory.avro', '`run`, in-memory store, Avro', avroInput.topic, avroInput.end, { registry: registry!.url, topicPrefix: 'bench-avro-' }));
    if (rocksdb) contenders.push(runVariant('run.rocksdb.json', '`run`, RocksDB store, JSON', input, inputEnd, { store: 'rocksdb' }));
    // Per client adapter: at-least-once on both, exactly-once (v2) on @platformatic/kafka, the
    // default; kafkajs refuses exactly-once (README, Kafka clients).
    contenders.push(runVariant('run.kafkajs.json', '`run --client kafkajs`, in-memory, JSON', input, inputEnd, { client: 'kafkajs' }));
    contenders.push(runVariant('run.platformatic.eos', '`run --guarantee exactly-once` (@platformatic/kafka, v2), in-memory, JSON', input, inputEnd, { guarantee: 'exactly-once' }));
    contenders.push(runVariant('run.threads2', '`run --threads 2` (two stream threads in worker threads), in-memory, JSON', input, inputEnd, { threads: 2 }));
    contenders.push(runVariant('run.processes2', '`run`, two processes in one group, in-memory, JSON', input, inputEnd, { processes: 2 }));
    // Other data, so KPI topics of their own: `run`'s (same data whatever the variant) are what the peers are checked against.
    if (feedInput !== undefined) contenders.push(runVariant('run.feed', '`run` on the feed-shaped topic, in-memory', feedInput.topic, feedInput.end, { topicPrefix: 'bench-feed-' }));
    if (shortInput !== undefined) contenders.push(runVariant('run.short', `\`run\` over the first ${shortInput.records.toLocaleString('en-US')} invoices only (the RSS baseline, and the work of the peers measured on it)`, shortInput.topic, shortInput.end, { topicPrefix: 'bench-short-' }));
    if (tinyInput !== undefined) contenders.push(runVariant('run.tiny', `\`run\` over the first ${tinyInput.records.toLocaleString('en-US')} invoices only (the work of the peers measured on it)`, tinyInput.topic, tinyInput.end, { topicPrefix: 'bench-tiny-' }));
    contenders.push(runVariant('run.memory.json', '`run`, in-memory store, JSON (@platformatic/kafka, at-least-once)', input, inputEnd));
  }
  // The peers: each prepared (built, installed, topics made) outside the timed rounds; one that
  // cannot run here is reported with the reason its prepare() gave.
  const peerCtx = { admin, c, bootstrap, input, inputEnd };
  const referenceOf = new Map<string, { key: string; prefix: string }>();
  const peers: Contender[] = [...(c.steps.has('peer') ? kafkaStreamsContenders() : []), ...(c.steps.has('peers') ? nodePythonContenders() : [])];
  for (const p of peers) {
    const t = performance.now();
    try {
      await p.prepare({ ...peerCtx, logFile: log(`${p.key}-prepare`) });
      say(`${p.key}: prepared in ${((performance.now() - t) / 1000).toFixed(0)} s`);
      const on = benchTopic(p.topic);
      referenceOf.set(p.key, { key: on.runPrefix === '' ? 'run.memory.json' : on.runPrefix === 'bench-short-' ? 'run.short' : 'run.tiny', prefix: on.runPrefix });
      contenders.push({
        key: p.key,
        label: on.topic === input ? p.label : `${p.label} (on the first ${on.records.toLocaleString('en-US')} invoices)`,
        unit: p.unit,
        ...(p.outputPrefix === undefined ? {} : { outputPrefix: p.outputPrefix }),
        run: (rep) => p.run({ ...peerCtx, input: on.topic, inputEnd: on.end, group: `bench-${p.key.replace(/\./g, '-')}-${runId}-${rep}`, logFile: log(p.key), timeoutMs: 10 * 60_000 }),
      });
    } catch (e) {
      figures[p.key] = missing(p.label, p.unit, 'not installable', errorText(e));
      say(`${p.key}: cannot run here: ${errorText(e)}`);
    }
  }
  const results = new Map<string, { rates: number[]; steady: number[]; allStages: number[]; rss: number[]; startupShare: number[]; errors: string[] }>();
  for (const k of contenders) results.set(k.key, { rates: [], steady: [], allStages: [], rss: [], startupShare: [], errors: [] });
  // Rounds of one repetition each, so that background load hits every contender alike, in an
  // order shuffled each round (seeded: the log says which), so that none always runs first or
  // last. A round that would end past the time budget (less what the later steps take) is not started.
  const budgetMs = c.budgetMinutes * 60_000;
  let lastRoundMs = 0;
  const random = new Random(c.seed);
  for (let rep = 1; rep <= c.reps && contenders.length > 0; rep++) {
    const roundStart = performance.now();
    if (rep > 1 && roundStart - t0 + lastRoundMs > budgetMs - (c.steps.has('state') ? 12 : 4) * 60_000) {
      const text = `Time budget (${c.budgetMinutes} min): throughput measured in ${rep - 1} repetitions, not ${c.reps}.`;
      notes.push(text);
      say(text);
      break;
    }
    const order = shuffled(contenders, random);
    say(`round ${rep}: ${order.map((k) => k.key).join(', ')}`);
    for (const k of order) {
      const acc = results.get(k.key)!;
      try {
        const r = await k.run(rep);
        acc.rates.push(r.rate);
        if (r.steadyRate !== undefined && Number.isFinite(r.steadyRate)) acc.steady.push(r.steadyRate);
        if (r.allStagesRate !== undefined) acc.allStages.push(r.allStagesRate);
        if (r.peakRssMb !== undefined) acc.rss.push(r.peakRssMb);
        if (r.firstCommitMs !== undefined && r.inputMs !== undefined && r.inputMs > 0) acc.startupShare.push(r.firstCommitMs / r.inputMs);
        say(`${k.key} #${rep}: ${fmtRate(r.rate)}${r.steadyRate === undefined ? '' : `, after the first records ${fmtRate(r.steadyRate)}`}${r.allStagesRate === undefined ? '' : `, all stages ${fmtRate(r.allStagesRate)}`}${r.peakRssMb === undefined ? '' : `, peak RSS ${r.peakRssMb.toFixed(0)} MiB`}`);
      } catch (e) {
        acc.errors.push(errorText(e));
        say(`${k.key} #${rep} FAILED: ${errorText(e)} (log: ${logDir})`);
      }
    }
    lastRoundMs = performance.now() - roundStart;
  }
  for (const k of contenders) {
    const acc = results.get(k.key)!;
    if (acc.rates.length === 0) {
      figures[k.key] = missing(k.label, k.unit, 'failed', acc.errors[0] ?? 'no repetition finished');
      continue;
    }
    const extra = [
      acc.steady.length > 0 ? `after the first records: ${fmtRate(median(acc.steady))}` : '',
      acc.startupShare.length > 0 ? `start-up (to the first commit) ${(median(acc.startupShare) * 100).toFixed(0)}% of the time` : '',
      acc.allStages.length > 0 ? `until the repartition topic is drained too: ${fmtRate(median(acc.allStages))}` : '',
      acc.errors.length > 0 ? `${acc.errors.length} failed: ${acc.errors[0]}` : '',
    ].filter((s) => s !== '').join('; ');
    figures[k.key] = figure(k.label, k.unit, acc.rates, { note: `from process start to caught up${extra === '' ? '' : `; ${extra}`}` });
    if (acc.rss.length > 0) figures[`${k.key}.rss`] = figure(`Peak RSS (VmHWM) of ${k.label.replace(/^`run`, /, '`run` ')}, whole topic`, 'MiB', acc.rss, { lowerIsBetter: true });
  }
  if (c.steps.has('clients') && !process.env.CONFLUENT_CLIENT) figures['client.confluent'] = missing('@confluentinc/kafka-javascript, consume only', 'records/s', 'not built', confluentError);
  if (c.steps.has('run')) {
    if (!rocksdb) figures['run.rocksdb.json'] = missing('`run`, RocksDB store, JSON', 'invoices/s', 'not built', '`run --store rocksdb` is not accepted yet');
    if (!avro) figures['run.memory.avro'] = missing('`run`, in-memory store, Avro', 'invoices/s', 'not built', '`simulate --format avro` is not accepted yet');
  }

  // Every KPI field, overall and per country, and the dead-letter count of each peer that writes
  // KPIs, against `run`'s topics (the latest update per key on both sides).
  {
    for (const k of contenders) {
      const ref = referenceOf.get(k.key) ?? { key: 'run.memory.json', prefix: '' };
      if (k.outputPrefix === undefined || !results.get(k.key)?.rates.length || !results.get(ref.key)?.rates.length) continue;
      try {
        const x = await crossCheckAll(bootstrap, admin, runId, ref.prefix, k.outputPrefix, results.get(k.key)!.rates.length + results.get(k.key)!.errors.length);
        const keys = x.timeWindows + x.countryWindows;
        crossChecks.push({ key: k.key, label: k.label, keys, same: x.same, deadLetters: x.deadLetters, first: x.differing[0] });
        say(`cross-check ${k.key}: ${x.same} of ${keys} keys equal in every field; dead letters run ${x.deadLetters.ours}, peer ${x.deadLetters.peer}${x.differing.length > 0 ? `; first difference: ${x.differing[0]}` : ''}`);
      } catch (e) {
        crossChecks.push({ key: k.key, label: k.label, keys: 0, same: 0, deadLetters: { ours: Number.NaN, peer: Number.NaN }, first: `cross-check failed: ${errorText(e)}` });
      }
    }
  }

  // Where `run`'s CPU goes: one more run, profiled, outside the timed rounds (its rate is not reported).
  if (c.steps.has('run')) {
    const prof = profileDir();
    try {
      await kpiRun({ admin, bootstrap, group: `bench-profile-${runId}`, input, inputEnd, store: 'memory', logFile: log('run-profile'), timeoutMs: 8 * 60_000, nodeArgs: prof.nodeArgs, topicPrefix: 'bench-profile-' });
      const text = describeProfile('`run` (in-memory, JSON, the whole topic; "(idle)" is waiting on the broker)', prof.summary());
      notes.push(text);
      say(text);
    } catch (e) {
      notes.push(`Profile of \`run\` failed: ${errorText(e)}`);
    }
  }

  // ------------------------------------------------------------------ replay against the scan loop and DuckDB, as whole processes, on both shapes (interleaved, shuffled)
  if (c.steps.has('replay')) {
    for (const shape of ['feed', 'compact'] as const) {
      const f = shape === 'feed' ? feedFile : file;
      const bytes = shape === 'feed' ? feedBytes : fileBytes;
      const programs = [
        { key: `replay.${shape}`, label: `\`replay\` (file in, KPI files out, no broker), ${shape}-shaped file`, unit: 'invoices/s', once: (rep: number) => replayOnce(f, log(`replay-${shape}`), join(work, `replay-${shape}-${rep}`)) },
        { key: `scan.${shape}`, label: `Scan loop: read + the project's own invoice decoder, no KPIs (the decode limit), ${shape}-shaped`, unit: 'lines/s', once: () => scanLoopOnce(f, log(`scan-${shape}`)) },
        { key: `duckdb.${shape}`, label: `DuckDB (@duckdb/node-api) computing the same KPIs from the same file, ${shape}-shaped`, unit: 'invoices/s', once: (rep: number) => duckdbOnce(f, log(`duckdb-${shape}`), join(work, `duckdb-${shape}-${rep}`)) },
      ];
      const got = new Map<string, FileRate[]>(programs.map((p) => [p.key, []]));
      for (let rep = 1; rep <= c.reps; rep++) {
        for (const p of shuffled(programs, random)) {
          try {
            const r = await p.once(rep);
            got.get(p.key)!.push(r);
            say(`${p.key} #${rep}: ${fmtRate(r.rate)} (${r.wallSeconds.toFixed(2)} s whole process, ${r.seconds.toFixed(2)} s its own timing)`);
          } catch (e) {
            say(`${p.key} #${rep} FAILED: ${errorText(e)}`);
            notes.push(`${p.key} repetition ${rep} failed: ${errorText(e)}`);
          }
        }
      }
      const lines = `${c.replayLines.toLocaleString('en-US')} lines, ${(bytes / 2 ** 20).toFixed(0)} MiB; lines / whole-process seconds (start-up included)`;
      for (const p of programs) {
        const rs = got.get(p.key)!;
        figures[p.key] = rs.length > 0 ? figure(p.label, p.unit, rs.map((r) => r.rate), { note: `${lines}; peak RSS ${median(rs.map((r) => r.peakRssMb)).toFixed(0)} MiB` }) : missing(p.label, p.unit, 'failed', '');
      }
      try {
        const x = checkReplayAgainstDuckdb(join(work, `replay-${shape}-1`), join(work, `duckdb-${shape}-1`));
        const text = `Replay against DuckDB, ${shape}-shaped file: ${describeCheck(x).replace(/\n/g, '; ')}.`;
        notes.push(text);
        say(text);
      } catch (e) {
        notes.push(`Replay against DuckDB, ${shape}-shaped file: the check failed: ${errorText(e)}`);
      }
    }
  }

  // ------------------------------------------------------------------ state: restore (empty, checkpoint, standby) and RSS with 5M keys
  if (c.steps.has('state')) {
    const t = performance.now();
    Object.assign(figures, await stateBench({ admin, bootstrap, work, runId, sizes: c.state, log, say }));
    notes.push(`State (bench/state.ts, one run each, ${((performance.now() - t) / 60_000).toFixed(1)} min): KafkaStreams counting keys, RocksDB count store, 2 partitions, at-least-once, session timeout 10 s. Restore times are the library's own restore log lines (the slowest partition); the standby figure is the survivor's time from its rebalance to the task running. RSS: \`--max-old-space-size=${c.state.heapMiB}\`, count store logged (changelog on), VmHWM sampled every 250 ms. Count-store throughput: RocksDB and in-memory runs on the same topic, interleaved in random order, each from process start to caught up.`);
  }

  // ------------------------------------------------------------------ Avro against JSON decode (the invoice serde, same invoices)
  {
    const { encodeInvoices, measureDecode } = await import('../processors/avro/bench-helpers.ts');
    const data = encodeInvoices(200_000, { seed: c.seed });
    const runs = Array.from({ length: Math.max(3, c.reps) }, () => measureDecode(data));
    const note = `200,000 invoices through the invoice serde in process; ${(data.jsonBytes / 200_000).toFixed(0)} B JSON vs ${(data.avroBytes / 200_000).toFixed(0)} B Avro each`;
    figures['decode.json'] = figure('Decode: JSON invoices (invoice serde, no broker)', 'records/s', runs.map((r) => r.json.perSecond), { note });
    figures['decode.avro'] = figure('Decode: the same invoices as Confluent-framed Avro', 'records/s', runs.map((r) => r.avro.perSecond), {
      note: `${(median(runs.map((r) => r.ratio)) * 100).toFixed(0)}% of JSON`,
    });
    say(`decode: Avro at ${(median(runs.map((r) => r.ratio)) * 100).toFixed(0)}% of JSON`);
  }

  // ------------------------------------------------------------------ latency at half of the maximum throughput
  if (c.steps.has('latency')) {
    const max = figures['run.memory.json']?.status === 'ok' ? figures['run.memory.json'].median : Number(process.env.BENCH_MAX_RATE ?? Number.NaN);
    if (!Number.isFinite(max)) {
      figures['latency.invoice.p99'] = missing('Latency p99, produce → KPI update', 'ms', 'skipped', 'needs the `run` throughput (step run) or BENCH_MAX_RATE');
    } else {
      const rate = Math.round(max / 2);
      for (const t of ['kpi-time', 'kpi-time-country']) {
        const type = (await admin.describeConfigs({ resources: [{ type: 2, name: t, configNames: ['message.timestamp.type'] }], includeSynonyms: false }))
          .resources[0]?.configEntries.find((e) => e.configName === 'message.timestamp.type')?.configValue;
        if (type !== 'LogAppendTime') throw new Error(`${t} does not carry LogAppendTime (made by an earlier run?): use a fresh broker`);
      }
      const lat = await reps('latency', (rep) => latencyRep({ admin, bootstrap, rate, seconds: c.latencySeconds, warmupSeconds: c.latencyWarmupSeconds, seed: c.seed + rep, id: `${runId}-${rep}`, timeTopic: 'kpi-time', countryTopic: 'kpi-time-country', logFile: log('latency-run') }),
        (l: LatencyRep) => `at ${fmtRate(l.achievedRate)} (target ${fmtRate(l.targetRate)}): per invoice p50 ${l.invoiceP50Ms} ms, p99 ${l.invoiceP99Ms} ms, max ${l.invoiceMaxMs} ms (${l.invoices} invoices, ${l.uncovered} uncovered); per kpi-time update p50 ${l.updateP50Ms} ms, p99 ${l.updateP99Ms} ms (${l.updates} updates)`, 1);
      if (lat.errors.length > 0) notes.push(`Latency: ${lat.errors.length} repetition(s) failed and were repeated once: ${lat.errors.join('; ')}`);
      const ls = lat.ok;
      if (ls.length === 0) {
        figures['latency.invoice.p99'] = missing('Latency p99, produce → KPI update', 'ms', 'failed', lat.errors[0] ?? '');
      } else {
        const at = `at ${fmtRate(median(ls.map((l) => l.achievedRate)))} produced (target ${fmtRate(rate)}: half of the in-memory \`run\` median), ${c.latencySeconds} s measured after ${c.latencyWarmupSeconds} s warm-up`;
        figures['latency.invoice.p50'] = figure('Latency p50 per invoice: produce → first kpi-time-country update counting it', 'ms', ls.map((l) => l.invoiceP50Ms), { lowerIsBetter: true, note: at });
        figures['latency.invoice.p99'] = figure('Latency p99 per invoice', 'ms', ls.map((l) => l.invoiceP99Ms), { lowerIsBetter: true, note: `max ${median(ls.map((l) => l.invoiceMaxMs))} ms; ${median(ls.map((l) => l.invoices)).toLocaleString('en-US')} invoices a repetition, ${median(ls.map((l) => l.uncovered))} never counted` });
        figures['latency.update.p50'] = figure('Latency p50 per kpi-time update (append − produce time of the newest invoice it covers, bound)', 'ms', ls.map((l) => l.updateP50Ms), { lowerIsBetter: true });
        figures['latency.update.p99'] = figure('Latency p99 per kpi-time update', 'ms', ls.map((l) => l.updateP99Ms), { lowerIsBetter: true, note: `${median(ls.map((l) => l.updates))} updates a repetition` });
      }
    }
  }

  // ------------------------------------------------------------------ ratios and report
  const f = (k: string) => figures[k];
  const value = (k: string) => (f(k)?.status === 'ok' ? f(k)!.median : Number.NaN);
  // Memory bounded by open windows: the peak RSS of `run` over the whole topic against over its first tenth.
  const rssFlat = ratioOf(f('run.memory.json.rss'), f('run.short.rss'));
  const peerTargets = [
    ['peer.kstreams.papi.1t', 'run.memory.json', 'the same-algorithm Kafka Streams peer (1 stream thread)'],
    ['peer.kstreams.papi.2t', 'run.threads2', 'the same-algorithm Kafka Streams peer, 2 stream threads (against `run --threads 2`)'],
    ['peer.kstreams.dsl.1t', 'run.memory.json', 'the per-record Kafka Streams DSL peer'],
    ['peer.kafkats', referenceOf.get('peer.kafkats')?.key ?? 'run.tiny', '@kafkats/flow (on the same first records)'],
    ['peer.quix', referenceOf.get('peer.quix')?.key ?? 'run.short', 'Quix Streams (on the same first records)'],
  ] as const;
  const ratios = [
    makeRatio('Replay ≥ 80% of the scan loop (own decoder, no KPIs), whole processes, feed-shaped data', 'replay / scan loop (feed shape)', ratioOf(f('replay.feed'), f('scan.feed')), 0.8, 'at-least'),
    makeRatio('Replay ≥ DuckDB on the same file, whole processes, feed-shaped data', 'replay / DuckDB (feed shape)', ratioOf(f('replay.feed'), f('duckdb.feed')), 1, 'at-least'),
    makeRatio('`run` ≥ 80% of the raw client, same fetch settings (default client, @platformatic/kafka)', 'run (memory, JSON) / @platformatic/kafka consume only', ratioOf(f('run.memory.json'), f('client.platformatic')), 0.8, 'at-least'),
    ...peerTargets.map(([peer, ours, what]) => makeRatio(`\`run\` ≥ ${what}`, `${ours} / ${peer}`, ratioOf(f(ours), f(peer)), 1, 'at-least', f(peer)?.status === 'ok' || f(peer) === undefined ? undefined : `${f(peer)!.status}: ${f(peer)!.note ?? ''}`)),
    makeRatio('This library\'s DSL ≥ the Kafka Streams DSL, the same per-record topology', 'DSL (ours) / Kafka Streams DSL', ratioOf(f('peer.dsl.ours'), f('peer.kstreams.dsl.1t')), 1, 'at-least'),
    makeRatio('Both cores: 2 stream threads ≥ 1', '`run --threads 2` / `run`', ratioOf(f('run.threads2'), f('run.memory.json')), 1, 'at-least'),
    makeRatio('Both cores: 2 processes in one group ≥ 1', '2 `run` processes / 1', ratioOf(f('run.processes2'), f('run.memory.json')), 1, 'at-least'),
    makeRatio('p99 ≤ 100 ms at half load', 'p99 per invoice, produce → KPI update', value('latency.invoice.p99'), 100, 'at-most'),
    makeRatio('Memory bounded by open windows: RSS flat over a run 10x longer (≤ 1.25x)', 'peak RSS of run over the topic / over its first tenth', rssFlat, 1.25, 'at-most', undefined, 'ratio'),
    makeRatio('RocksDB ≥ 70% of in-memory', 'run RocksDB / run in-memory', ratioOf(f('run.rocksdb.json'), f('run.memory.json')), 0.7, 'at-least'),
    makeRatio('RocksDB ≥ 70% of in-memory, state in memory', 'count store RocksDB / in-memory (bench/state.ts)', ratioOf(f('state.throughput.rocksdb'), f('state.throughput.memory')), 0.7, 'at-least'),
  ];
  const info: string[] = [];
  const avroRatio = ratioOf(f('run.memory.avro'), f('run.memory.json'));
  if (!Number.isNaN(avroRatio)) info.push(`Avro input runs at ${(avroRatio * 100).toFixed(0)}% of JSON input (no target).`);
  const confluentRatio = ratioOf(f('client.confluent'), f('client.kafkajs'));
  if (!Number.isNaN(confluentRatio)) info.push(`@confluentinc/kafka-javascript (librdkafka 2.15, KafkaJS API) consumes at ${(confluentRatio * 100).toFixed(0)}% of kafkajs's rate.`);
  const clientRatio = ratioOf(f('client.platformatic'), f('client.kafkajs'));
  if (!Number.isNaN(clientRatio)) info.push(`@platformatic/kafka consumes at ${(clientRatio * 100).toFixed(0)}% of kafkajs's rate (consume only, from process start).`);
  const brokerRatio = ratioOf(f('client.kafkajs'), f('broker.consume'));
  const eos = ratioOf(f('run.platformatic.eos'), f('run.memory.json'));
  if (!Number.isNaN(eos)) info.push(`@platformatic/kafka: exactly-once v2 runs at ${(eos * 100).toFixed(0)}% of at-least-once; kafkajs: exactly-once refuses to start (no exact read_committed).`);
  const runClients = ratioOf(f('run.kafkajs.json'), f('run.memory.json'));
  if (!Number.isNaN(runClients)) info.push(`\`run --client kafkajs\` runs at ${(runClients * 100).toFixed(0)}% of \`run\` on @platformatic/kafka (at-least-once); it reaches ${(ratioOf(f('run.kafkajs.json'), f('client.kafkajs')) * 100).toFixed(0)}% of kafkajs's consume-only rate.`);
  if (!Number.isNaN(brokerRatio)) info.push(`kafkajs consumes at ${(brokerRatio * 100).toFixed(0)}% of the JVM consumer's rate (kafka-consumer-perf-test).`);
  const adapterRatio = ratioOf(f('run.memory.json'), f('client.adapter'));
  if (!Number.isNaN(adapterRatio)) info.push(`\`run\` reaches ${(adapterRatio * 100).toFixed(0)}% of its own consumer consuming only (the same fetch reading and decoder, nothing processed), which consumes at ${(ratioOf(f('client.adapter'), f('client.platformatic')) * 100).toFixed(0)}% of @platformatic/kafka's own consumer's rate.`);
  const feedRun = ratioOf(f('run.feed'), f('run.memory.json'));
  if (!Number.isNaN(feedRun)) info.push(`\`run\` on the feed-shaped topic runs at ${(feedRun * 100).toFixed(0)}% of the compact one (longer lines: ${(feedBytes / Math.max(1, c.replayLines)).toFixed(0)} against ${avgBytes.toFixed(0)} B).`);
  const compactReplay = ratioOf(f('replay.compact'), f('scan.compact'));
  if (!Number.isNaN(compactReplay)) info.push(`On the bench's compact data, replay runs at ${(compactReplay * 100).toFixed(0)}% of the scan loop and at ${(ratioOf(f('replay.compact'), f('duckdb.compact')) * 100).toFixed(0)}% of DuckDB (no target).`);
  for (const x of crossChecks) {
    info.push(x.keys === 0 ? `KPI cross-check of ${x.label}: ${x.first}` : `KPIs cross-checked, every field overall and per country: ${x.label} equals \`run\` in ${x.same} of ${x.keys} keys (latest update per key); dead letters run ${x.deadLetters.ours}, peer ${x.deadLetters.peer}${x.first === undefined ? '' : `; first difference: ${x.first}`}.`);
  }
  notes.unshift(
    `Data: ${total.toLocaleString('en-US')} seeded invoices (seed ${c.seed}, ${c.eventRate}/s of event time from ${c.start}, ${c.outOfOrderRatio * 100}% out of order, ${c.lateRatio * 100}% late, ${c.badRatio * 100}% malformed, ~${avgBytes.toFixed(0)} B each) on ${c.partitions} partitions; windows ${c.windowMs / 1000} s, grace ${c.graceMs / 60_000} min.`,
    'Throughput "to caught up": invoices / time from process start until the group\'s committed offsets on the input topic reach its end offsets (polled every 100 ms), the same rule for every peer; the raw clients: from process start until every record has arrived. Contenders run one repetition each per round, in an order shuffled each round (seeded; the log shows it). Each peer\'s label says how it is set up; bench/kafka-streams-peer.ts and bench/node-python-peers.ts say why.',
    'Latency (bench/latency.ts): invoices keyed by country (a country always on one partition, processed in order), so an update of (window, country) with OPM = n counts exactly that country\'s first n invoices of the window; an invoice\'s latency is the broker append time (LogAppendTime) of the first update counting it minus the time it was handed to the producer. Per kpi-time update: append time − produce time of the n-th invoice of the window, an upper bound on the age of the newest invoice it covers. The load generator, the broker and `run` share the 2 cores.',
    ...info,
  );
  if (c.scale !== 1) notes.push(`Scaled run (BENCH_SCALE=${c.scale}): not comparable with full-size results.`);

  const report: Report = {
    date,
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((performance.now() - t0) / 1000),
    official: c.official,
    machine: machine(),
    config: { scale: c.scale, reps: c.reps, invoices: total, partitions: c.partitions, replayLines: c.replayLines, perfProducerRecords: c.perfProducerRecords, latencySeconds: c.latencySeconds, seed: c.seed, eventRate: c.eventRate, steps: [...c.steps] },
    figures,
    ratios,
    notes,
  };
  mkdirSync(outDir, { recursive: true });
  writeReport(report, outDir, c.official ? join(repoRoot, 'README.md') : undefined);
  const md = markdown(report);
  process.stdout.write(`\n${md}\nwritten: ${join(outDir, `${date}.{json,md,svg}`)}${c.official ? ' and README.md' : ''}; took ${elapsed()}\n`);
} catch (e) {
  say(`FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
} finally {
  for (const f of cleanups.reverse()) await f().catch(() => {});
  if (registry !== undefined) await registry.stop().catch((e: unknown) => say(`registry stop: ${errorText(e)}`));
  if (broker !== undefined) await broker.stop().catch((e: unknown) => say(`broker stop: ${errorText(e)}`));
  rmSync(work, { recursive: true, force: true });
}
