/**
 * The Kafka Streams (Java) peer, bench/peers/kafka-streams: built once with Maven, then run
 * over the preloaded topic exactly as `retail-streams run` is measured (from process start until
 * the group's committed input offsets reach the end offsets, a fresh application id each time).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import type { BenchConfig } from './config.ts';
import { measureCaughtUp, type CaughtUpRun } from './kpi-run.ts';
import { Child, runToEnd } from './support/child.ts';
import { createTopic, repoRoot } from './support/kafka.ts';

const projectDir = join(repoRoot, 'bench', 'peers', 'kafka-streams');
const jar = join(projectDir, 'target', 'kafka-streams-peer.jar');
export const PEER_OUTPUT_PREFIX = 'peer-';

/** `mvn -q package` unless the jar is newer than every source file. */
export async function buildPeer(logFile: string): Promise<void> {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((t, e) => Math.max(t, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  const sources = Math.max(newest(join(projectDir, 'src')), statSync(join(projectDir, 'pom.xml')).mtimeMs);
  if (existsSync(jar) && existsSync(join(projectDir, 'target', 'lib')) && statSync(jar).mtimeMs >= sources) return;
  const r = await runToEnd('mvn package', 'mvn', ['-q', '-B', '-Dstyle.color=never', 'package'], { cwd: projectDir, logFile, timeoutMs: 10 * 60_000 });
  if (r.exit.code !== 0) throw new Error(`mvn -q package failed in bench/peers/kafka-streams:\n${r.child.lastLines()}`);
}

export async function createPeerTopics(a: Admin): Promise<void> {
  for (const t of ['kpi-time', 'kpi-time-country', 'dead-letter']) await createTopic(a, `${PEER_OUTPUT_PREFIX}${t}`, 1, t.startsWith('kpi') ? { 'cleanup.policy': 'compact' } : {});
}

export async function peerRun(o: {
  admin: Admin;
  c: BenchConfig;
  bootstrap: string;
  applicationId: string;
  input: string;
  inputEnd: ReadonlyMap<number, number>;
  logFile: string;
  timeoutMs: number;
}): Promise<CaughtUpRun> {
  const stateDir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-peer-'));
  try {
    const child = new Child('kafka-streams peer', 'java', [
      '-XX:+UseG1GC', '-cp', `${jar}:${join(projectDir, 'target', 'lib', '*')}`, 'retailstreams.peer.KpiPeer',
      '--bootstrap', o.bootstrap, '--application-id', o.applicationId, '--input', o.input, '--output-prefix', PEER_OUTPUT_PREFIX,
      '--window-ms', String(o.c.windowMs), '--grace-ms', String(o.c.graceMs), '--threads', '1', '--commit-ms', '1000', '--state-dir', stateDir,
    ], { logFile: o.logFile });
    return await measureCaughtUp({ admin: o.admin, child, group: o.applicationId, input: o.input, inputEnd: o.inputEnd, timeoutMs: o.timeoutMs });
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
