/**
 * State (issue 12), with the library's KafkaStreams counting records per key
 * (bench/support/state-runner.ts), one run each (each phase builds on the previous one):
 *
 * - Restore of a 1,000,000-entry changelog (RocksDB count store, 2 partitions, at-least-once):
 *   (1) a process counts 1M distinct keys and is killed (kill -9) once caught up; (2) another on an
 *   empty state folder restores the whole changelog, then 5,000 more records are counted; (3) the
 *   first folder again, with its checkpoint, reads only that tail; (4) a second process with
 *   `numStandbyReplicas: 1` keeps a warm standby, the first is killed (kill -9) and the survivor
 *   takes its task over. Times and records read come from the library's restore log lines.
 * - Peak RSS (VmHWM) counting 5,000,000 distinct keys in a `--max-old-space-size=256` process, the
 *   count store in RocksDB (finishes) and in memory (dies of a full heap: where, is reported).
 * - Throughput of the count store in RocksDB against in memory on state that fits in memory
 *   (`throughputBench`). Every count store here is logged, as a Kafka Streams user runs it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { figure, missing, type Figure } from './report.ts';
import { Child } from './support/child.ts';
import { createTopic, endOffsets, repoRoot, waitCaughtUp } from './support/kafka.ts';

const RUNNER = join(repoRoot, 'bench', 'support', 'state-runner.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyOf = (i: number) => `k${String(i).padStart(8, '0')}`;

export interface StateSizes {
  /** Entries of the changelog restored. */
  readonly changelogKeys: number;
  /** Records written after the checkpoint: the tail a checkpointed restart reads. */
  readonly tail: number;
  /** Distinct keys of the RSS measurement. */
  readonly rssKeys: number;
  readonly heapMiB: number;
  /** Distinct keys of the throughput comparison (state that fits in memory), each counted `throughputRounds` times. */
  readonly throughputKeys: number;
  readonly throughputRounds: number;
  /** Repetitions of each store in the throughput comparison, the order of the two drawn at random in each round. */
  readonly throughputReps: number;
}

interface Opts {
  readonly admin: Admin;
  readonly bootstrap: string;
  readonly work: string;
  readonly runId: string;
  readonly sizes: StateSizes;
  readonly log: (name: string) => string;
  readonly say: (m: string) => void;
}

/**
 * The broker's console producer from a file of `key<TAB>1` lines: millions of records in seconds.
 * Keys `first` to `first + count - 1`, that sequence `rounds` times.
 */
async function produceKeys(o: Opts, topic: string, first: number, count: number, rounds = 1): Promise<void> {
  const file = join(o.work, `${topic}-${first}.tsv`);
  const out = createWriteStream(file);
  let chunk = '';
  for (let round = 0; round < rounds; round++) {
    for (let i = first; i < first + count; i++) {
      chunk += `${keyOf(i)}\t1\n`;
      if (chunk.length >= 1 << 20) {
        if (!out.write(chunk)) await once(out, 'drain');
        chunk = '';
      }
    }
  }
  out.end(chunk);
  await once(out, 'close');
  const producer = spawn('bash', [
    join(repoRoot, 'infra/kafka/kafka.sh'), 'console-producer', '--bootstrap-server', o.bootstrap, '--topic', topic,
    '--reader-property', 'parse.key=true', '--reader-property', 'key.separator=\t',
    '--command-property', 'acks=1', '--command-property', 'linger.ms=50', '--command-property', 'batch.size=1048576',
  ], { cwd: repoRoot, stdio: [openSync(file, 'r'), 'ignore', 'pipe'] });
  let stderr = '';
  producer.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
  const [code] = (await once(producer, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`console-producer exit ${code}: ${stderr}`);
}

/** A runner child with every output line kept, with the time it arrived. */
class Runner {
  readonly child: Child;
  readonly lines: { at: number; text: string }[] = [];
  constructor(name: string, args: Record<string, unknown>, logFile: string, nodeFlags: string[] = []) {
    this.child = new Child(name, process.execPath, [...nodeFlags, RUNNER, JSON.stringify(args)], { logFile });
    for (const s of [this.child.proc.stdout!, this.child.proc.stderr!]) {
      let carry = '';
      s.on('data', (chunk: string) => {
        const parts = (carry + chunk).split('\n');
        carry = parts.pop() ?? '';
        const at = performance.now();
        for (const text of parts) this.lines.push({ at, text });
      });
    }
  }
  /** Lines from index `from` on. */
  text(from = 0): string {
    return this.lines.slice(from).map((l) => l.text).join('\n');
  }
  lastEvent(event: string): Record<string, unknown> | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const t = this.lines[i]!.text;
      if (!t.startsWith(`{"event":"${event}"`)) continue;
      try {
        return JSON.parse(t) as Record<string, unknown>;
      } catch {
        // cut line
      }
    }
    return undefined;
  }
  /** Resolves with the arrival time of the first line from index `from` on matching `re`. */
  async until(re: RegExp, timeoutMs: number, from = 0): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find((l) => re.test(l.text));
      if (hit !== undefined) return hit.at;
      if (!this.child.running) throw new Error(`${re} not seen: the process exited\n${this.child.lastLines(8)}`);
      if (performance.now() > deadline) throw new Error(`${re} not seen after ${timeoutMs} ms\n${this.child.lastLines(8)}`);
      await sleep(100);
    }
  }
}

interface RestoreLine { partition: number; restored: number; from: number; to: number; read: number; ms: number }
function restoreLines(output: string): RestoreLine[] {
  const re = /restored (\d+) changelog entries of counts from \S+\[(\d+)\] \(offsets (\d+) to (\d+); read (\d+)\) in (\d+) ms/g;
  return [...output.matchAll(re)].map((m) => ({ restored: Number(m[1]), partition: Number(m[2]), from: Number(m[3]), to: Number(m[4]), read: Number(m[5]), ms: Number(m[6]) }));
}
const sumOf = (ls: RestoreLine[], k: 'restored' | 'read') => ls.reduce((n, l) => n + l[k], 0);
const fmtN = (n: number) => n.toLocaleString('en-US');

/** The restore figures: empty state, checkpointed state, warm standby. */
async function restoreBench(o: Opts, figures: Record<string, Figure>): Promise<void> {
  const { changelogKeys: KEYS, tail: TAIL } = o.sizes;
  const input = `bench-state-keys-${o.runId}`;
  const group = `bench-state-${o.runId}`;
  await createTopic(o.admin, input, 2);
  await createTopic(o.admin, `${input}-out`, 1);
  await produceKeys(o, input, 0, KEYS);
  const dir = (name: string) => {
    const d = join(o.work, 'state', name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const base = { bootstrap: [o.bootstrap], input, output: `${input}-out`, applicationId: group, storeType: 'rocksdb', sessionTimeoutMs: 10_000 };
  const caughtUp = async (r: Runner) => waitCaughtUp(o.admin, { group, input, inputEnd: await endOffsets(o.admin, input), since: r.child.startedAt, timeoutMs: 300_000, alive: () => r.child.running });
  const runners: Runner[] = [];
  const start = (name: string, args: Record<string, unknown>) => {
    const r = new Runner(name, { ...base, ...args }, o.log(`state-${name}`));
    runners.push(r);
    return r;
  };
  const tasksStarted = async (r: Runner, from = 0) => Math.max(await r.until(/task 0_0 started/, 240_000, from), await r.until(/task 0_1 started/, 240_000, from));
  try {
    // 1. Count the keys: a changelog of KEYS entries, checkpointed at each commit; then kill -9.
    const first = start('first', { stateDir: dir('a') });
    const c1 = await caughtUp(first);
    o.say(`state: ${fmtN(KEYS)} keys counted in ${(c1.inputMs / 1000).toFixed(1)} s (RocksDB, changelog on)`);
    await sleep(1_000);
    first.child.kill();
    await first.child.exited;

    // 2. An empty state folder: the whole changelog.
    const empty = start('empty', { stateDir: dir('empty') });
    const emptyReady = await tasksStarted(empty);
    const full = restoreLines(empty.text());
    const fullMs = Math.max(...full.map((l) => l.ms));
    figures['state.restore.empty'] = figure(`Restore of a ${fmtN(KEYS)}-entry changelog, empty state folder (RocksDB)`, 'ms', [fullMs], {
      lowerIsBetter: true,
      note: `one run; ${fmtN(sumOf(full, 'read'))} changelog records read, ${fmtN(sumOf(full, 'restored'))} restored (${full.map((l) => `p${l.partition}: ${l.from}..${l.to} in ${l.ms} ms`).join('; ')}); process start to tasks running ${((emptyReady - empty.child.startedAt) / 1000).toFixed(1)} s (the group first waits out the killed member's 10 s session)`,
    });
    o.say(`state: empty folder restored ${fmtN(sumOf(full, 'restored'))} entries in ${fullMs} ms`);
    await produceKeys(o, input, 0, TAIL);
    await caughtUp(empty);
    await empty.child.stop();

    // 3. The first folder again: its checkpoint, then only the tail. With a standby for step 4.
    const again = start('checkpointed', { stateDir: join(o.work, 'state', 'a'), standbys: 1 });
    const againReady = await tasksStarted(again);
    const tail = restoreLines(again.text());
    const tailMs = tail.length > 0 ? Math.max(...tail.map((l) => l.ms)) : 0;
    const wiped = /wiping the local state of counts/.test(again.text());
    figures['state.restore.checkpoint'] = figure(`Restore after kill -9 on a checkpointed folder, ${fmtN(TAIL)} records behind`, 'ms', [tailMs], {
      lowerIsBetter: true,
      note: `one run; ${fmtN(sumOf(tail, 'read'))} changelog records read (${((sumOf(tail, 'read') / KEYS) * 100).toFixed(2)}% of ${fmtN(KEYS)})${wiped ? ', WIPED' : ''}; process start to tasks running ${((againReady - again.child.startedAt) / 1000).toFixed(1)} s`,
    });
    o.say(`state: checkpointed restart read ${fmtN(sumOf(tail, 'read'))} records in ${tailMs} ms`);

    // 4. A second process with a warm standby of the first's task; kill -9 the first.
    const other = start('standby', { stateDir: dir('b'), standbys: 1 });
    const joinRe = new RegExp(`joined group ${group}: [^\\n]*; standby tasks 0_\\d`);
    await other.until(joinRe, 120_000);
    const lags = () => [again, other].map((r) => Object.entries((r.lastEvent('progress')?.['metrics'] ?? {}) as Record<string, number>).filter(([k]) => k.startsWith('standby-lag{')).map(([, v]) => v));
    const deadline = performance.now() + 150_000;
    while (!lags().every((l) => l.length === 1 && l[0] === 0)) {
      if (performance.now() > deadline) throw new Error(`standbys not caught up: lags ${JSON.stringify(lags())}`);
      await sleep(500);
    }
    const lastJoin = [...again.text().matchAll(new RegExp(`joined group ${group}: ([^\\n]*)`, 'g'))].at(-1)?.[1] ?? '';
    const moving = new RegExp(`^${input}/(\\d)`).exec(lastJoin)?.[1];
    if (moving === undefined) throw new Error(`which task moves? last join of the victim: ${lastJoin}`);
    const applied = Number(((other.lastEvent('progress')?.['metrics'] ?? {}) as Record<string, number>)['standby-records-applied'] ?? Number.NaN);
    const from = other.lines.length;
    const killedAt = performance.now();
    again.child.kill();
    const startedAt = await other.until(new RegExp(`task 0_${moving} started`), 120_000, from);
    const rebalancedAt = await other.until(/joined group/, 1_000, from);
    const after = other.text(from);
    const read = sumOf(restoreLines(after), 'read');
    const tookOver = new RegExp(`task 0_${moving}: taking over the stores of its standby`).test(after);
    figures['state.restore.standby'] = figure('Failover to a warm standby (kill -9 of the active): rebalance to task running', 'ms', [startedAt - rebalancedAt], {
      lowerIsBetter: true,
      note: `one run; ${fmtN(read)} changelog records read after the kill${tookOver ? ', standby stores taken over' : ', NO standby take-over'} (${fmtN(applied)} records applied by the standby); kill to task running ${((startedAt - killedAt) / 1000).toFixed(1)} s (session timeout 10 s)`,
    });
    o.say(`state: standby took task 0_${moving} over ${((startedAt - rebalancedAt) / 1000).toFixed(2)} s after the rebalance, ${read} records read, ${((startedAt - killedAt) / 1000).toFixed(1)} s after the kill`);
    await other.child.stop();
  } finally {
    for (const r of runners) r.child.kill();
    await Promise.all(runners.map((r) => r.child.exited));
  }
}

/** Peak RSS counting `rssKeys` distinct keys in a `heapMiB` heap, RocksDB then memory. */
async function rssBench(o: Opts, figures: Record<string, Figure>): Promise<void> {
  const { rssKeys: KEYS, heapMiB } = o.sizes;
  const input = `bench-state-big-${o.runId}`;
  await createTopic(o.admin, input, 2);
  await createTopic(o.admin, `${input}-out`, 1);
  const began = performance.now();
  await produceKeys(o, input, 0, KEYS);
  o.say(`state: ${fmtN(KEYS)} keys produced in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  for (const store of ['rocksdb', 'memory'] as const) {
    const r = new Runner(`rss-${store}`, {
      bootstrap: [o.bootstrap], input, output: `${input}-out`, applicationId: `bench-state-big-${store}-${o.runId}`, stateDir: join(o.work, 'state', `big-${store}`),
      storeType: store, fetchKiB: 1024, records: KEYS,
    }, o.log(`state-rss-${store}`), [`--max-old-space-size=${heapMiB}`]);
    let hwmKb = 0;
    // A process being reaped has no VmHWM line any more (NaN): such a sample is skipped.
    const sampler = setInterval(() => {
      const kb = r.child.vm()?.hwmKb ?? 0;
      if (Number.isFinite(kb)) hwmKb = Math.max(hwmKb, kb);
    }, 250);
    const timer = setTimeout(() => r.child.kill(), store === 'rocksdb' ? 400_000 : 150_000);
    const exit = await r.child.exited;
    clearInterval(sampler);
    clearTimeout(timer);
    const seconds = (performance.now() - r.child.startedAt) / 1000;
    const done = r.lastEvent('done');
    const processed = Number(done?.['processed'] ?? r.lastEvent('progress')?.['processed'] ?? 0);
    const peakMiB = Math.max(hwmKb / 1024, Number(done?.['hwmMiB'] ?? 0));
    const oom = /JavaScript heap out of memory|Reached heap limit/.test(r.text());
    const label = `Peak RSS (VmHWM), ${fmtN(KEYS)} distinct keys counted, ${store === 'rocksdb' ? 'RocksDB' : 'in-memory'} store, ${heapMiB} MiB heap`;
    if (done !== undefined && exit.code === 0) {
      figures[`state.rss.${store}`] = figure(label, 'MiB', [peakMiB], { lowerIsBetter: true, note: `one run; finished, ${fmtN(processed)} records in ${seconds.toFixed(0)} s (${fmtN(Math.round(processed / seconds))}/s from process start); count store logged (changelog on)` });
    } else {
      const how = oom ? 'died with a heap OOM' : `did not finish (exit ${exit.code}, signal ${exit.signal})`;
      figures[`state.rss.${store}`] = { ...missing(label, 'MiB', 'failed', `one run; ${how} after ${fmtN(processed)} of ${fmtN(KEYS)} records (last progress report), ${seconds.toFixed(0)} s; peak RSS until then ${peakMiB.toFixed(0)} MiB`), reps: [peakMiB] };
    }
    o.say(`state: ${store} ${done !== undefined ? 'finished' : oom ? 'heap OOM' : 'did not finish'} at ${fmtN(processed)} records, peak RSS ${peakMiB.toFixed(0)} MiB, ${seconds.toFixed(0)} s`);
  }
}

/**
 * Throughput of the count store in RocksDB against in memory, on state that fits in memory: the
 * same topic for every run (`throughputKeys` distinct keys, that sequence `throughputRounds`
 * times, 2 partitions), each run a fresh group and state folder, measured like `run`'s rows:
 * records / time from process start until the group's committed offsets reach the topic's end.
 * Rounds of one run of each store, the order within a round drawn at random.
 */
async function throughputBench(o: Opts, figures: Record<string, Figure>): Promise<void> {
  const { throughputKeys: KEYS, throughputRounds: ROUNDS, throughputReps: REPS } = o.sizes;
  const input = `bench-state-tput-${o.runId}`;
  await createTopic(o.admin, input, 2);
  await createTopic(o.admin, `${input}-out`, 1);
  await produceKeys(o, input, 0, KEYS, ROUNDS);
  const inputEnd = await endOffsets(o.admin, input);
  const records = [...inputEnd.values()].reduce((n, e) => n + e, 0);
  const rates = { rocksdb: [] as number[], memory: [] as number[] };
  const errors: string[] = [];
  const orders: string[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const order = Math.random() < 0.5 ? (['rocksdb', 'memory'] as const) : (['memory', 'rocksdb'] as const);
    orders.push(order.map((s) => (s === 'rocksdb' ? 'R' : 'M')).join(''));
    for (const store of order) {
      const group = `bench-state-tput-${store}-${o.runId}-${rep}`;
      const r = new Runner(`tput-${store}-${rep}`, {
        bootstrap: [o.bootstrap], input, output: `${input}-out`, applicationId: group, stateDir: join(o.work, 'state', `tput-${store}-${rep}`), storeType: store,
      }, o.log(`state-tput-${store}-${rep}`));
      try {
        const c = await waitCaughtUp(o.admin, { group, input, inputEnd, since: r.child.startedAt, timeoutMs: 300_000, alive: () => r.child.running });
        const rate = records / (c.inputMs / 1000);
        rates[store].push(rate);
        o.say(`state: throughput ${store} #${rep}: ${fmtN(Math.round(rate))} records/s`);
      } catch (e) {
        errors.push(`${store} #${rep}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
        o.say(`state: throughput ${store} #${rep} FAILED: ${errors.at(-1)}`);
      } finally {
        await r.child.stop();
      }
    }
  }
  const data = `${fmtN(records)} records, ${fmtN(KEYS)} distinct keys each counted ${ROUNDS} times, 2 partitions; count store logged, at-least-once; orders (R = RocksDB, M = memory) ${orders.join(' ')}${errors.length > 0 ? `; ${errors.length} failed: ${errors[0]}` : ''}`;
  for (const store of ['rocksdb', 'memory'] as const) {
    const label = `Count per key, ${store === 'rocksdb' ? 'RocksDB' : 'in-memory'} store, state in memory (KafkaStreams, process start to caught up)`;
    figures[`state.throughput.${store}`] = rates[store].length > 0 ? figure(label, 'records/s', rates[store], { note: data }) : missing(label, 'records/s', 'failed', errors[0] ?? 'no repetition finished');
  }
}

/** Every state figure; a failed part is reported as such, not thrown. */
export async function stateBench(o: Opts): Promise<Record<string, Figure>> {
  const figures: Record<string, Figure> = {};
  const err = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
  try {
    await throughputBench(o, figures);
  } catch (e) {
    o.say(`state: throughput FAILED: ${err(e)}`);
    for (const k of ['rocksdb', 'memory']) figures[`state.throughput.${k}`] ??= missing(`Count per key, ${k} store, state in memory`, 'records/s', 'failed', err(e));
  }
  try {
    await restoreBench(o, figures);
  } catch (e) {
    o.say(`state: restore FAILED: ${err(e)}`);
    for (const k of ['empty', 'checkpoint', 'standby']) {
      if (figures[`state.restore.${k}`] === undefined) figures[`state.restore.${k}`] = missing(`Restore of a ${fmtN(o.sizes.changelogKeys)}-entry changelog, ${k}`, 'ms', 'failed', err(e));
    }
  }
  try {
    await rssBench(o, figures);
  } catch (e) {
    o.say(`state: RSS FAILED: ${err(e)}`);
    figures['state.rss.rocksdb'] ??= missing(`Peak RSS, ${fmtN(o.sizes.rssKeys)} keys, RocksDB`, 'MiB', 'failed', err(e));
  }
  return figures;
}
