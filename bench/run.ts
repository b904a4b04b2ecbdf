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
import { crossCheck } from './cross-check.ts';
import { exportJsonl, preloadTopic, CLI } from './dataset.ts';
import { buildPeer, createPeerTopics, peerRun } from './kafka-streams-peer.ts';
import { cliAccepts, kpiRun, type StoreKind } from './kpi-run.ts';
import { latencyRep, type LatencyRep } from './latency.ts';
import { bareParseOnce, replayOnce, type FileRate } from './replay.ts';
import { stateBench } from './state.ts';
import { figure, makeRatio, markdown, missing, ratioOf, svg, updateReadme, type Figure, type Machine, type Report } from './report.ts';
import { runToEnd } from './support/child.ts';
import { admin as makeAdmin, createTopic, endOffsets, repoRoot, startBroker, sum, type Broker } from './support/kafka.ts';
import { startRegistry, type Registry } from './support/registry.ts';
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
  const peerBuild = c.steps.has('peer') ? buildPeer(log('mvn')).then(() => undefined, (e: unknown) => e as Error) : Promise.resolve(undefined);
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
  await createPeerTopics(admin);

  // ------------------------------------------------------------------ data set
  const input = `bench-invoices-${c.invoices}`;
  const file = join(work, 'invoices.jsonl');
  const exported = exportJsonl(c, file, c.replayLines);
  let inputEnd = (await admin.listTopics()).includes(input) ? await endOffsets(admin, input) : new Map<number, number>();
  if (sum(inputEnd) !== c.invoices) {
    if (inputEnd.size > 0) throw new Error(`topic ${input} exists with ${sum(inputEnd)} records, not ${c.invoices}: use a fresh broker`);
    say(`preloading ${c.invoices.toLocaleString('en-US')} invoices into ${input} (${c.partitions} partitions)`);
    const p = await preloadTopic(c, bootstrap, input, log('simulate'));
    figures['preload'] = figure('Preload with `simulate --rate 0` (kafkajs producer, acks=all)', 'invoices/s', [p.rate], { note: `${c.invoices.toLocaleString('en-US')} invoices in ${p.seconds.toFixed(0)} s; set-up, not a target` });
    say(`preloaded in ${p.seconds.toFixed(1)} s (${fmtRate(p.rate)})`);
    inputEnd = await endOffsets(admin, input);
  }
  const total = sum(inputEnd);
  const { bytes: fileBytes } = await exported;
  const avgBytes = fileBytes / c.replayLines;
  say(`exported ${c.replayLines.toLocaleString('en-US')} lines for replay (${(fileBytes / 2 ** 20).toFixed(0)} MiB, ${avgBytes.toFixed(0)} B/invoice)`);

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

  // ------------------------------------------------------------------ throughput: clients, run, peer (interleaved)
  type Throughput = { rate: number; steadyRate?: number; allStagesRate?: number; peakRssMb?: number };
  type Contender = { key: string; label: string; unit: string; run: (rep: number) => Promise<Throughput> };
  const contenders: Contender[] = [];
  const rawClient = (key: string, label: string, script: string): Contender => ({
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
    contenders.push(rawClient('client.kafkajs', 'kafkajs, consume only (eachBatch, no commits)', 'kafkajs-consume.ts'));
    contenders.push(rawClient('client.platformatic', '@platformatic/kafka, consume only (stream, no commits)', 'platformatic-consume.ts'));
  }
  const runVariant = (key: string, label: string, store: StoreKind, topic: string, end: ReadonlyMap<number, number>, registryUrl?: string, how: { client?: 'kafkajs' | 'platformatic'; guarantee?: 'at-least-once' | 'exactly-once' } = {}): Contender => ({
    key,
    label,
    unit: 'invoices/s',
    run: (rep) => kpiRun({ admin, bootstrap, group: `bench-${key.replace(/\./g, '-')}-${runId}-${rep}`, input: topic, inputEnd: end, store, logFile: log(key), timeoutMs: 8 * 60_000, ...(registryUrl === undefined ? {} : { registry: registryUrl }), ...how }),
  });
  if (c.steps.has('run')) {
    // The in-memory JSON run last of the three: its kpi-time updates are the ones the peer's are checked against.
    if (avroInput !== undefined) contenders.push(runVariant('run.memory.avro', '`run`, in-memory store, Avro', 'memory', avroInput.topic, avroInput.end, registry!.url));
    if (rocksdb) contenders.push(runVariant('run.rocksdb.json', '`run`, RocksDB store, JSON', 'rocksdb', input, inputEnd));
    // Per client adapter: at-least-once on both, exactly-once (v2) on @platformatic/kafka, the
    // default; kafkajs refuses exactly-once (README, Kafka clients).
    contenders.push(runVariant('run.kafkajs.json', '`run --client kafkajs`, in-memory, JSON', 'memory', input, inputEnd, undefined, { client: 'kafkajs' }));
    contenders.push(runVariant('run.platformatic.eos', '`run --guarantee exactly-once` (@platformatic/kafka, v2), in-memory, JSON', 'memory', input, inputEnd, undefined, { guarantee: 'exactly-once' }));
    contenders.push(runVariant('run.memory.json', '`run`, in-memory store, JSON (@platformatic/kafka, at-least-once)', 'memory', input, inputEnd));
  }
  if (c.steps.has('peer')) {
    const built = await peerBuild;
    if (built instanceof Error) {
      figures['peer'] = missing('Kafka Streams 4.4 peer (Java), in-memory stores', 'invoices/s', 'failed', errorText(built));
    } else {
      contenders.push({
        key: 'peer',
        label: 'Kafka Streams 4.4 peer (Java, 1 stream thread), in-memory stores',
        unit: 'invoices/s',
        run: (rep) => peerRun({ admin, c, bootstrap, applicationId: `bench-peer-${runId}-${rep}`, input, inputEnd, logFile: log('peer'), timeoutMs: 8 * 60_000 }),
      });
    }
  }
  const results = new Map<string, { rates: number[]; steady: number[]; allStages: number[]; rss: number[]; errors: string[] }>();
  for (const k of contenders) results.set(k.key, { rates: [], steady: [], allStages: [], rss: [], errors: [] });
  // Rounds of one repetition each, so that background load hits every contender alike. A round
  // that would end past the time budget (less what replay, latency and state take) is not started.
  const budgetMs = c.budgetMinutes * 60_000;
  let lastRoundMs = 0;
  for (let rep = 1; rep <= c.reps && contenders.length > 0; rep++) {
    const roundStart = performance.now();
    if (rep > 1 && roundStart - t0 + lastRoundMs > budgetMs - (c.steps.has('state') ? 12 : 4) * 60_000) {
      const text = `Time budget (${c.budgetMinutes} min): throughput measured in ${rep - 1} repetitions, not ${c.reps}.`;
      notes.push(text);
      say(text);
      break;
    }
    for (const k of contenders) {
      const acc = results.get(k.key)!;
      try {
        const r = await k.run(rep);
        acc.rates.push(r.rate);
        if (r.steadyRate !== undefined) acc.steady.push(r.steadyRate);
        if (r.allStagesRate !== undefined) acc.allStages.push(r.allStagesRate);
        if (r.peakRssMb !== undefined) acc.rss.push(r.peakRssMb);
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

  if (results.get('peer')?.rates.length && results.get('run.memory.json')?.rates.length) {
    try {
      const x = await crossCheck(bootstrap, admin, runId);
      const text = `KPIs cross-checked: the peer's latest kpi-time update equals \`run\`'s (OPM and total_sale_volume) in ${x.same} of ${x.windows} windows${x.differing.length > 0 ? `; first difference: ${x.differing[0]}` : ''}.`;
      notes.push(text);
      say(text);
    } catch (e) {
      notes.push(`KPI cross-check with the peer failed: ${errorText(e)}`);
    }
  }

  // ------------------------------------------------------------------ replay vs the bare parse loop (interleaved)
  if (c.steps.has('replay')) {
    const replays: FileRate[] = [];
    const bares: FileRate[] = [];
    for (let rep = 1; rep <= c.reps; rep++) {
      try {
        const b = await bareParseOnce(file, log('bare-parse'));
        bares.push(b);
        const r = await replayOnce(file, log('replay'));
        replays.push(r);
        say(`replay #${rep}: ${fmtRate(r.rate)} vs bare parse ${fmtRate(b.rate)} (${((r.rate / b.rate) * 100).toFixed(0)}%)`);
      } catch (e) {
        say(`replay #${rep} FAILED: ${errorText(e)}`);
        notes.push(`replay repetition ${rep} failed: ${errorText(e)}`);
      }
    }
    const lines = `${c.replayLines.toLocaleString('en-US')} lines, ${(fileBytes / 2 ** 20).toFixed(0)} MiB`;
    figures['replay'] = replays.length > 0 ? figure('`replay` (file in, KPI files out, no broker)', 'invoices/s', replays.map((r) => r.rate), { note: `${lines}; peak RSS ${median(replays.map((r) => r.peakRssMb)).toFixed(0)} MiB` }) : missing('`replay`', 'invoices/s', 'failed', '');
    figures['bare-parse'] = bares.length > 0 ? figure('Bare loop: read lines + JSON.parse (the decode limit)', 'lines/s', bares.map((r) => r.rate), { note: lines }) : missing('Bare parse loop', 'lines/s', 'failed', '');
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
  const ratios = [
    makeRatio('Replay ≥ 70% of the bare parse loop', 'replay / bare parse', ratioOf(f('replay'), f('bare-parse')), 0.7, 'at-least'),
    makeRatio('`run` ≥ 80% of the raw client (its default, @platformatic/kafka)', 'run (memory, JSON) / @platformatic/kafka consume only', ratioOf(f('run.memory.json'), f('client.platformatic')), 0.8, 'at-least'),
    makeRatio('`run` ≥ the Kafka Streams peer', 'run (memory, JSON) / Kafka Streams', ratioOf(f('run.memory.json'), f('peer')), 1, 'at-least'),
    makeRatio('RocksDB ≥ 70% of in-memory', 'run RocksDB / run in-memory', ratioOf(f('run.rocksdb.json'), f('run.memory.json')), 0.7, 'at-least'),
    makeRatio('RocksDB ≥ 70% of in-memory, state in memory', 'count store RocksDB / in-memory (bench/state.ts)', ratioOf(f('state.throughput.rocksdb'), f('state.throughput.memory')), 0.7, 'at-least'),
    makeRatio('p99 ≤ 100 ms at half load', 'p99 per invoice, produce → KPI update', f('latency.invoice.p99')?.status === 'ok' ? f('latency.invoice.p99')!.median : Number.NaN, 100, 'at-most'),
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
  notes.unshift(
    `Data: ${total.toLocaleString('en-US')} seeded invoices (seed ${c.seed}, ${c.eventRate}/s of event time from ${c.start}, ${c.outOfOrderRatio * 100}% out of order, ${c.lateRatio * 100}% late, ${c.badRatio * 100}% malformed, ~${avgBytes.toFixed(0)} B each) on ${c.partitions} partitions; windows ${c.windowMs / 1000} s, grace ${c.graceMs / 60_000} min.`,
    'Throughput "to caught up": invoices / time from process start until the group\'s committed offsets on the input topic reach its end offsets (polled every 100 ms); the raw clients: from process start until every record has arrived. The Kafka Streams peer commits every 1 s (commit.interval.ms=1000), `run` as its batches complete (group commits).',
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
  const md = markdown(report);
  writeFileSync(join(outDir, `${date}.json`), JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(join(outDir, `${date}.md`), `# Benchmark ${date}\n\n${md}`);
  writeFileSync(join(outDir, `${date}.svg`), svg(report));
  if (c.official) {
    updateReadme(join(repoRoot, 'README.md'), `\`make bench\` (bench/run.ts; sizes in bench/config.ts) starts a broker, preloads the topic and measures everything below in one run, in about ${Math.ceil(report.durationSeconds / 60)} minutes. Latest results ([${date}.md](bench/results/${date}.md), [json](bench/results/${date}.json), chart below):\n\n${md}\n![ratios to the targets](bench/results/${date}.svg)\n`);
  }
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
