/**
 * Replay against its decode limit and its batch anchor (issue 15), each timed as a whole
 * process, start-up and output included, on the same JSONL file:
 * - `replayOnce`: `retail-streams replay` (KPI files out, no broker, one process);
 * - `scanLoopOnce`: bench/scan-loop.ts, the same reads and the same decoder, no KPIs;
 * - `duckdbOnce`: bench/peers/duckdb/kpi.ts, the same KPIs computed by DuckDB.
 * `rate` is lines / wall seconds (process start to exit): what a user waiting for the result sees.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './dataset.ts';
import { runToEnd } from './support/child.ts';
import { repoRoot } from './support/kafka.ts';

export interface FileRate {
  readonly lines: number;
  /** The program's own timing (first read to last line or output), start-up left out. */
  readonly seconds: number;
  /** Process start to exit, start-up and output included. */
  readonly wallSeconds: number;
  /** lines / wallSeconds. */
  readonly rate: number;
  readonly peakRssMb: number;
}

const TIMEOUT_MS = 10 * 60_000;
/**
 * Node's compile cache for all three from their first module on, where Node looks by default
 * (bin/retail-streams.js enables it there itself, but only after its own entry is compiled; a
 * .ts entry would load Node's TypeScript stripper, ~30 ms, on every start without it).
 */
const ENV = { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'node-compile-cache') };

/** Runs `args` under this Node to the end; `out` (a directory) is kept when given, else a temporary one is removed. */
async function timed(name: string, args: (out: string) => string[], logFile: string, out: string | undefined, parse: (stdout: string) => { lines: number; seconds: number } | null): Promise<FileRate> {
  // An empty directory either way: removing an earlier run's files (thousands, one per window
  // and country) must not be timed as part of this run.
  if (out !== undefined) rmSync(out, { recursive: true, force: true });
  const dir = out ?? mkdtempSync(join(tmpdir(), `retail-streams-bench-${name.replace(/\W+/g, '-')}-`));
  try {
    const r = await runToEnd(name, process.execPath, args(dir), { logFile, timeoutMs: TIMEOUT_MS, env: ENV });
    const p = r.exit.code === 0 ? parse(r.stdout) : null;
    if (p === null) throw new Error(`${name} failed (exit ${r.exit.code}):\n${r.child.lastLines()}`);
    const wallSeconds = r.elapsedMs / 1000;
    return { lines: p.lines, seconds: p.seconds, wallSeconds, rate: p.lines / wallSeconds, peakRssMb: r.peakRssKb / 1024 };
  } finally {
    if (out === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** `retail-streams replay --input file --out <out or a temporary directory> --overwrite`. */
export const replayOnce = (file: string, logFile: string, out?: string): Promise<FileRate> =>
  timed('replay', (dir) => [CLI, 'replay', '--input', file, '--out', dir, '--overwrite'], logFile, out, (stdout) => {
    const rate = /rate\s+\d+ invoices\/s \(([\d.]+) s\)/.exec(stdout);
    const read = /read\s+(\d+)/.exec(stdout);
    return rate === null || read === null ? null : { lines: Number(read[1]), seconds: Number(rate[1]) };
  });

/** bench/scan-loop.ts over the file: the decode limit. */
export const scanLoopOnce = (file: string, logFile: string): Promise<FileRate> =>
  timed('scan loop', () => [join(repoRoot, 'bench', 'scan-loop.ts'), file], logFile, undefined, (stdout) => {
    const m = /scanned (\d+) lines .* in (\d+) ms/.exec(stdout);
    return m === null ? null : { lines: Number(m[1]), seconds: Number(m[2]) / 1000 };
  });

/**
 * bench/peers/duckdb/kpi.ts over the file, its KPI files in `out` (kept when given). `reader`:
 * `lines` (line-exact, the anchor) or `ndjson` (DuckDB's faster reader, which loses the valid
 * line after a line cut off mid-record: for comparison only).
 */
export const duckdbOnce = (file: string, logFile: string, out?: string, reader: 'lines' | 'ndjson' = 'lines'): Promise<FileRate> =>
  timed(`duckdb ${reader}`, (dir) => [join(repoRoot, 'bench', 'peers', 'duckdb', 'kpi.ts'), '--input', file, '--out', dir, '--reader', reader], logFile, out, (stdout) => {
    const m = /duckdb: read (\d+) lines, .* in (\d+) ms/.exec(stdout);
    return m === null ? null : { lines: Number(m[1]), seconds: Number(m[2]) / 1000 };
  });
