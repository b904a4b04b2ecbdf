/**
 * The benchmark's broker and its admin views: a single KRaft node started with
 * infra/kafka/kafka.sh (full JIT, unlike the tests' --fast-start), topics, end offsets, and the
 * "caught up" condition: a group's committed offsets on its input (and on its own repartition
 * topics) reach the end offsets.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const script = join(repoRoot, 'infra', 'kafka', 'kafka.sh');

export function kafkaSh(args: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script, ...args], { cwd: repoRoot, env, timeout: timeoutMs, maxBuffer: 64 << 20, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kafka.sh ${args[0]} failed: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

export interface Broker {
  readonly bootstrap: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Starts one broker; it never outlives this process (kafka.sh's watchdog on our PID). */
export async function startBroker(heap = '-Xms1g -Xmx1g'): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-kafka-'));
  const out = await kafkaSh(['start', '--dir', dir, '--partitions-default', '4', '--owner-pid', String(process.pid), '--owner-rm'], 10 * 60_000, {
    ...process.env,
    KAFKA_HEAP_OPTS: heap,
  });
  const bootstrap = out.trim().split('\n').pop() ?? '';
  if (!/^127\.0\.0\.1:\d+$/.test(bootstrap)) throw new Error(`kafka.sh start printed no bootstrap: ${out}`);
  return {
    bootstrap,
    dir,
    async stop() {
      try {
        await kafkaSh(['stop', '--dir', dir], 60_000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export function admin(bootstrap: string): Admin {
  return new Kafka({ clientId: 'retail-streams-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
}

export async function createTopic(a: Admin, topic: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
  const existing = await a.listTopics();
  if (existing.includes(topic)) return;
  await a.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }],
    waitForLeaders: true,
  });
}

/** High watermark per partition. */
export async function endOffsets(a: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await a.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

export const sum = (m: ReadonlyMap<number, number>): number => [...m.values()].reduce((s, x) => s + x, 0);

export interface CaughtUp {
  /** ms from `since` until the committed offsets on the input reached the end offsets. */
  readonly inputMs: number;
  /** ms until the group's repartition topics were caught up as well (all stages done). */
  readonly allStagesMs: number;
  /** ms until the first commit on the input (startup: process, group join, first batch). */
  readonly firstCommitMs: number;
  /** Records committed on the input at the first commit seen. */
  readonly firstCommitRecords: number;
}

/**
 * Polls the group's committed offsets until they reach the end offsets of the input, then of
 * the group's repartition topics (`<group>-...-repartition`, end offsets re-read each poll).
 */
export async function waitCaughtUp(
  a: Admin,
  opts: { group: string; input: string; inputEnd: ReadonlyMap<number, number>; since: number; timeoutMs: number; pollMs?: number; alive?: () => boolean },
): Promise<CaughtUp> {
  const poll = opts.pollMs ?? 100;
  const deadline = performance.now() + opts.timeoutMs;
  const total = sum(opts.inputEnd);
  let inputMs = Number.NaN;
  let firstCommitMs = Number.NaN;
  let firstCommitRecords = 0;
  const committedOn = async (topic: string): Promise<Map<number, number>> => {
    const res = await a.fetchOffsets({ groupId: opts.group, topics: [topic] });
    return new Map((res[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  };
  const reached = (committed: ReadonlyMap<number, number>, end: ReadonlyMap<number, number>) =>
    [...end].every(([p, e]) => e === 0 || (committed.get(p) ?? -1) >= e);
  let lastError: unknown;
  for (;; await new Promise((r) => setTimeout(r, poll))) {
    if (performance.now() > deadline) throw new Error(`group ${opts.group} not caught up after ${opts.timeoutMs} ms${lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`}`);
    if (opts.alive !== undefined && !opts.alive()) throw new Error(`group ${opts.group}: the process exited before catching up`);
    const now = performance.now() - opts.since;
    try {
      if (Number.isNaN(inputMs)) {
        const committed = await committedOn(opts.input);
        if (Number.isNaN(firstCommitMs)) {
          const n = [...committed.values()].reduce((s, o) => s + Math.max(0, o), 0);
          if (n > 0) {
            firstCommitMs = now;
            firstCommitRecords = n;
          }
        }
        if (reached(committed, opts.inputEnd)) {
          inputMs = now;
          if (Number.isNaN(firstCommitMs)) {
            firstCommitMs = now;
            firstCommitRecords = total;
          }
        }
      }
      if (!Number.isNaN(inputMs)) {
        const topics = (await a.listTopics()).filter((t) => t.startsWith(`${opts.group}-`) && t.endsWith('-repartition'));
        let all = true;
        for (const t of topics) if (!reached(await committedOn(t), await endOffsets(a, t))) all = false;
        if (all) return { inputMs, allStagesMs: performance.now() - opts.since, firstCommitMs, firstCommitRecords };
      }
    } catch (e) {
      // A group coordinator still loading (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS): poll again.
      lastError = e;
    }
  }
}
