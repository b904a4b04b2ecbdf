/**
 * The Kafka Streams (Java) peers, bench/peers/kafka-streams, and this library's DSL version of
 * the DSL peer (bench/peers/dsl/kpi-dsl.ts), as bench contenders (bench/support/peer.ts):
 *
 * - `peer.kstreams.papi.1t` / `.2t`: `run`'s algorithm in the Processor API (PapiTopology.java),
 *   1 or 2 stream threads;
 * - `peer.kstreams.dsl.1t` / `.2t`: the per-record DSL program (two groupBy + aggregate chains);
 * - `peer.dsl.ours`: that DSL program written with this library's DSL.
 *
 * Each is measured as `run` is (kpi-run.ts `measureCaughtUp`: process start until the group's
 * committed input offsets reach the end offsets, a fresh application id each time), and its
 * result carries `startupShare`: time to the first commit over the whole time.
 *
 * The JVM is set up as a Kafka Streams operator would for a throughput run: the newest JDK here
 * (Temurin 25), heap fixed (-Xms = -Xmx) so it never resizes, the Parallel collector (the highest
 * throughput of HotSpot's on 2 cores; pauses do not matter to a catch-up run), compact object
 * headers (JDK 25), and an AppCDS archive made once by a warm-up run in prepare() so that class
 * loading does not weigh on the measured start-up.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import type { BenchConfig } from './config.ts';
import { measureCaughtUp, type CaughtUpRun } from './kpi-run.ts';
import { Child, runToEnd } from './support/child.ts';
import { createTopic, repoRoot } from './support/kafka.ts';
import type { Contender, RunContext } from './support/peer.ts';

const projectDir = join(repoRoot, 'bench', 'peers', 'kafka-streams');
const jar = join(projectDir, 'target', 'kafka-streams-peer.jar');
const classPath = `${jar}:${join(projectDir, 'target', 'lib', '*')}`;
const dslScript = join(repoRoot, 'bench', 'peers', 'dsl', 'kpi-dsl.ts');

const JDK25 = '/usr/lib/jvm/temurin-25-jdk-amd64/bin/java';
const java = existsSync(JDK25) ? JDK25 : 'java';
const jdk = existsSync(JDK25) ? 'JDK 25 (Temurin)' : 'the default `java` (Temurin 25 not found)';
// The live set is small (open windows, a 64 MiB record cache, 32 MiB fetches, a 64 MiB producer
// buffer): 512 MiB leaves room without letting RSS grow to an unsized JVM's 800 MiB.
const HEAP = '512m';
const jvmBase = [`-Xms${HEAP}`, `-Xmx${HEAP}`, '-XX:+UseParallelGC', ...(java === JDK25 ? ['-XX:+UseCompactObjectHeaders'] : [])];

/** `mvn -q package` unless the jar is newer than every source file. */
async function buildPeer(logFile: string): Promise<void> {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((t, e) => Math.max(t, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  const sources = Math.max(newest(join(projectDir, 'src')), statSync(join(projectDir, 'pom.xml')).mtimeMs);
  if (existsSync(jar) && existsSync(join(projectDir, 'target', 'lib')) && statSync(jar).mtimeMs >= sources) return;
  // Built by the same JDK that runs it when there (the pom targets release 17, so `java` 17 runs it too).
  const env = java === JDK25 ? { ...process.env, JAVA_HOME: join(JDK25, '..', '..') } : process.env;
  const r = await runToEnd('mvn package', 'mvn', ['-q', '-B', '-Dstyle.color=never', 'package'], { cwd: projectDir, logFile, env, timeoutMs: 10 * 60_000 });
  if (r.exit.code !== 0) throw new Error(`mvn -q package failed in bench/peers/kafka-streams:\n${r.child.lastLines()}`);
}

let build: Promise<void> | undefined;
/** The jar, built once per bench process whichever contender asks first. */
const buildOnce = (logFile: string): Promise<void> => (build ??= buildPeer(logFile));

/**
 * The KPI topics compacted; dead-letter and late topics with the broker's append time, as `run`'s
 * (cli/run.ts): their records carry event times of 2020, which time retention would delete at once.
 */
async function createOutputTopics(a: Admin, prefix: string): Promise<void> {
  for (const t of ['kpi-time', 'kpi-time-country']) await createTopicRetrying(a, `${prefix}${t}`, { 'cleanup.policy': 'compact' });
  for (const t of ['dead-letter', 'late']) await createTopicRetrying(a, `${prefix}${t}`, { 'message.timestamp.type': 'LogAppendTime' });
}

/** kafkajs' wait for leaders can see UNKNOWN_TOPIC_OR_PARTITION while a new topic's metadata spreads: try again. */
async function createTopicRetrying(a: Admin, topic: string, config: Record<string, string>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createTopic(a, topic, 1, config);
    } catch (e) {
      if (attempt >= 5 || (e as { retriable?: boolean }).retriable !== true) throw e;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

type Mode = 'papi' | 'dsl';

function peerArgs(o: { mode: Mode; threads: number; bootstrap: string; applicationId: string; input: string; prefix: string; c: BenchConfig; stateDir: string }): string[] {
  return [
    'retailstreams.peer.KpiPeer', '--mode', o.mode, '--bootstrap', o.bootstrap, '--application-id', o.applicationId, '--input', o.input, '--output-prefix', o.prefix,
    '--window-ms', String(o.c.windowMs), '--grace-ms', String(o.c.graceMs), '--threads', String(o.threads), '--state-dir', o.stateDir,
  ];
}

/**
 * The AppCDS archive of one mode: a warm-up run over the input (its own application id) until a
 * few seconds after its first commit, so that the classes of the steady state (decode, stores,
 * producer, commit) are loaded, then SIGTERM: the JVM writes the dynamic archive as it exits.
 * Undefined when no archive came out (the contender then runs without it and says so).
 */
const archives = new Map<Mode, Promise<string | undefined>>();
function archiveOnce(mode: Mode, ctx: { admin: Admin; c: BenchConfig; bootstrap: string; input: string; logFile: string }, prefix: string): Promise<string | undefined> {
  let p = archives.get(mode);
  if (p === undefined) {
    p = (async () => {
      const file = join(projectDir, 'target', `kafka-streams-peer-${mode}.jsa`);
      rmSync(file, { force: true });
      const stateDir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-peer-warmup-'));
      const applicationId = `bench-peer-warmup-${mode}-${process.pid}-${Date.now().toString(36)}`;
      const child = new Child(`kafka-streams ${mode} warm-up`, java, [...jvmBase, `-XX:ArchiveClassesAtExit=${file}`, '-cp', classPath, ...peerArgs({ mode, threads: 1, bootstrap: ctx.bootstrap, applicationId, input: ctx.input, prefix, c: ctx.c, stateDir })], { logFile: ctx.logFile });
      try {
        const deadline = performance.now() + 90_000;
        while (child.running && performance.now() < deadline) {
          const res = await ctx.admin.fetchOffsets({ groupId: applicationId, topics: [ctx.input] }).catch(() => []);
          if ((res[0]?.partitions ?? []).some((x) => Number(x.offset) > 0)) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        await new Promise((r) => setTimeout(r, 3_000));
      } finally {
        await child.stop();
        rmSync(stateDir, { recursive: true, force: true });
      }
      return existsSync(file) ? file : undefined;
    })();
    archives.set(mode, p);
  }
  return p;
}

export type PeerRun = CaughtUpRun & {
  /** Time to the first commit over the whole time: what start-up weighs in `rate`. */
  readonly startupShare: number;
};

const withStartup = (r: CaughtUpRun): PeerRun => ({ ...r, startupShare: r.firstCommitMs / r.inputMs });

function kafkaStreamsContender(mode: Mode, threads: 1 | 2): Contender {
  const prefix = `ks-${mode}-${threads}t-`;
  let archive: string | undefined;
  let prepared = false;
  const what = mode === 'papi'
    ? "Processor API, `run`'s algorithm (pre-aggregation per partition flushed every 100 ms, one repartition of partials + watermarks, combine on the minimum watermark)"
    : 'DSL, per record (two groupBy + windowed aggregate chains, two repartition topics), 64 MiB record cache';
  return {
    key: `peer.kstreams.${mode}.${threads}t`,
    get label() {
      const settings = `Jackson streaming decoder, max.poll.records 10000, fetch 8 MiB/partition 32 MiB/request 50 ms, producer 512 KiB batches linger 5 ms, ${mode === 'papi' ? 'a commit after each flush' : 'commit.interval.ms 200'}`;
      const cds = !prepared ? 'AppCDS when prepared' : archive === undefined ? 'no AppCDS archive (the warm-up wrote none)' : 'AppCDS';
      return `Kafka Streams 4.4 (Java) ${what}, ${threads} stream thread${threads === 1 ? '' : 's'}, in-memory stores; ${settings}; ${jdk}, ${HEAP} heap, ParallelGC, ${cds}`;
    },
    unit: 'invoices/s',
    outputPrefix: prefix,
    async prepare(ctx) {
      await buildOnce(ctx.logFile);
      await createOutputTopics(ctx.admin, prefix);
      archive = await archiveOnce(mode, ctx, prefix);
      prepared = true;
    },
    async run(ctx: RunContext): Promise<PeerRun> {
      const stateDir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-peer-'));
      try {
        const cds = archive === undefined ? [] : [`-XX:SharedArchiveFile=${archive}`];
        const child = new Child(`kafka-streams ${mode} ${threads}t`, java, [...jvmBase, ...cds, '-cp', classPath, ...peerArgs({ mode, threads, bootstrap: ctx.bootstrap, applicationId: ctx.group, input: ctx.input, prefix, c: ctx.c, stateDir })], { logFile: ctx.logFile });
        return withStartup(await measureCaughtUp({ admin: ctx.admin, child, group: ctx.group, input: ctx.input, inputEnd: ctx.inputEnd, timeoutMs: ctx.timeoutMs }));
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}

/** This library's DSL running the DSL peer's topology (bench/peers/dsl/kpi-dsl.ts). */
export const DSL_OURS_PREFIX = 'dsl-';
function oursDslContender(): Contender {
  return {
    key: 'peer.dsl.ours',
    label: "retail-streams' DSL, the Kafka Streams DSL peer's topology (two per-record groupBy + windowed aggregate chains, updates collapsed per key and window each batch by the aggregates' record cache), 1 stream thread, in-memory stores, @platformatic/kafka",
    unit: 'invoices/s',
    outputPrefix: DSL_OURS_PREFIX,
    async prepare(ctx) {
      await createOutputTopics(ctx.admin, DSL_OURS_PREFIX);
    },
    async run(ctx: RunContext): Promise<PeerRun> {
      const child = new Child('kpi-dsl', process.execPath, [dslScript, ctx.bootstrap, ctx.group, ctx.input, DSL_OURS_PREFIX, String(ctx.c.windowMs), String(ctx.c.graceMs)], { logFile: ctx.logFile });
      return withStartup(await measureCaughtUp({ admin: ctx.admin, child, group: ctx.group, input: ctx.input, inputEnd: ctx.inputEnd, timeoutMs: ctx.timeoutMs }));
    },
  };
}

/** Every Kafka Streams peer and the DSL-to-DSL pair's other half. */
export function kafkaStreamsContenders(): Contender[] {
  // The DSL peer on 2 threads is left out of `make bench` for time (about 90 s a repetition on the
  // 4M topic; slower than on 1 thread here, 45k against 56k/s in bench/try-peers.ts): the
  // same-algorithm peer is the one measured on 1 and 2 threads.
  return [kafkaStreamsContender('papi', 1), kafkaStreamsContender('papi', 2), kafkaStreamsContender('dsl', 1), oursDslContender()];
}
