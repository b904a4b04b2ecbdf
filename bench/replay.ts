/**
 * Replay against its decode limit: `retail-streams replay` over a JSONL export of the same
 * invoices (no broker, one process) vs bench/bare-parse.ts over the same file. Both time
 * themselves from the first read to the last line, so Node's start-up is left out of both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './dataset.ts';
import { runToEnd } from './support/child.ts';
import { repoRoot } from './support/kafka.ts';

export interface FileRate {
  readonly lines: number;
  readonly seconds: number;
  readonly rate: number;
  /** Process start to exit, start-up and output included. */
  readonly wallSeconds: number;
  readonly peakRssMb: number;
}

export async function replayOnce(file: string, logFile: string): Promise<FileRate> {
  const out = mkdtempSync(join(tmpdir(), 'retail-streams-bench-replay-'));
  try {
    const r = await runToEnd('replay', process.execPath, [CLI, 'replay', '--input', file, '--out', out, '--overwrite'], { logFile, timeoutMs: 10 * 60_000 });
    if (r.exit.code !== 0) throw new Error(`replay failed (exit ${r.exit.code}):\n${r.child.lastLines()}`);
    const rate = /rate\s+(\d+) invoices\/s \(([\d.]+) s\)/.exec(r.stdout);
    const read = /read\s+(\d+)/.exec(r.stdout);
    if (rate === null || read === null) throw new Error(`replay printed no rate:\n${r.stdout}`);
    return { lines: Number(read[1]), seconds: Number(rate[2]), rate: Number(rate[1]), wallSeconds: r.elapsedMs / 1000, peakRssMb: r.peakRssKb / 1024 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export async function bareParseOnce(file: string, logFile: string): Promise<FileRate> {
  const r = await runToEnd('bare parse', process.execPath, [join(repoRoot, 'bench', 'bare-parse.ts'), file], { logFile, timeoutMs: 10 * 60_000 });
  const m = /parsed (\d+) lines .* in (\d+) ms \((\d+)\/s\)/.exec(r.stdout);
  if (r.exit.code !== 0 || m === null) throw new Error(`bare-parse failed (exit ${r.exit.code}):\n${r.child.lastLines()}`);
  return { lines: Number(m[1]), seconds: Number(m[2]) / 1000, rate: Number(m[3]), wallSeconds: r.elapsedMs / 1000, peakRssMb: r.peakRssKb / 1024 };
}
