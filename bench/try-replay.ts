/**
 * A driver for replay's speed on its own, outside `make bench`: builds a JSONL file of each
 * shape (bench/dataset.ts `exportJsonl`, the bench's seed and ratios; `feed` shaped like the
 * original feed, `compact` like the bench's own data), then for each file runs replay, the scan
 * loop (bench/scan-loop.ts, the decode limit) and DuckDB (bench/peers/duckdb/kpi.ts, line-exact,
 * and its faster read_ndjson form for comparison) `--reps`
 * times, the three in a fresh random order each round (the machine is shared and noisy:
 * interleaving spreads the noise over all three), and prints medians of whole-process rates (and the ratios round by round),
 * wall times and peak RSS, the ratios the issue targets (replay >= 0.8x the scan loop, >= 1.0x
 * DuckDB) and a cross-check of every KPI field of replay's output against DuckDB's.
 *
 *   node bench/try-replay.ts [--lines 200000] [--reps 3] [--shapes feed,compact] [--work DIR]
 *
 * Files are kept in --work (default: a directory under the OS temp dir) and reused when present.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LINE_SHAPES, type LineShape } from '../simulator/generator.ts';
import { config } from './config.ts';
import { exportJsonl } from './dataset.ts';
import { duckdbOnce, replayOnce, scanLoopOnce, type FileRate } from './replay.ts';
import { checkReplayAgainstDuckdb, describeCheck } from './replay-check.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    reps: { type: 'string', default: '3' },
    shapes: { type: 'string', default: 'feed,compact' },
    work: { type: 'string', default: join(tmpdir(), 'retail-streams-try-replay') },
  },
});
const lines = Number(values.lines);
const reps = Number(values.reps);
const shapes = values.shapes.split(',').map((s) => s.trim()) as LineShape[];
if (!Number.isSafeInteger(lines) || lines < 1 || !Number.isSafeInteger(reps) || reps < 1 || shapes.some((s) => !LINE_SHAPES.includes(s))) {
  process.stderr.write(`usage: try-replay.ts [--lines N] [--reps N] [--shapes ${LINE_SHAPES.join(',')}] [--work DIR]\n`);
  process.exit(2);
}
const work = values.work;
mkdirSync(work, { recursive: true });
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spread = (xs: readonly number[]) => `${Math.round(Math.min(...xs)).toLocaleString('en-US')}-${Math.round(Math.max(...xs)).toLocaleString('en-US')}`;

// `duckdb nd`: DuckDB's read_ndjson, faster but not line-exact (bench/peers/duckdb/kpi.ts):
// shown for what the anchor would be if exactness on cut-off lines did not matter.
type Runner = 'replay' | 'scan loop' | 'duckdb' | 'duckdb nd';
for (const shape of shapes) {
  const file = join(work, `invoices-${shape}-${config.seed}-${lines}.jsonl`);
  if (!existsSync(file)) await exportJsonl(config, file, lines, shape);
  process.stdout.write(`\n== ${shape}: ${file} (${lines.toLocaleString('en-US')} lines, ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB)\n`);
  const results: Record<Runner, FileRate[]> = { replay: [], 'scan loop': [], duckdb: [], 'duckdb nd': [] };
  const replayOut = join(work, `out-replay-${shape}`);
  const duckdbOut = join(work, `out-duckdb-${shape}`);
  const run: Record<Runner, () => Promise<FileRate>> = {
    replay: () => replayOnce(file, join(work, 'replay.log'), replayOut),
    'scan loop': () => scanLoopOnce(file, join(work, 'scan-loop.log')),
    duckdb: () => duckdbOnce(file, join(work, 'duckdb.log'), duckdbOut),
    'duckdb nd': () => duckdbOnce(file, join(work, 'duckdb.log'), undefined, 'ndjson'),
  };
  for (let rep = 1; rep <= reps; rep++) {
    const order = (Object.keys(run) as Runner[]).map((k) => [Math.random(), k] as const).sort((a, b) => a[0] - b[0]).map(([, k]) => k);
    for (const k of order) {
      const r = await run[k]();
      results[k].push(r);
      process.stdout.write(`  #${rep} ${k.padEnd(9)} ${Math.round(r.rate).toLocaleString('en-US').padStart(9)} lines/s  wall ${r.wallSeconds.toFixed(2)} s (own timing ${r.seconds.toFixed(2)} s)  peak RSS ${r.peakRssMb.toFixed(0)} MiB\n`);
    }
  }
  const rate = (k: Runner) => median(results[k].map((r) => r.rate));
  for (const k of Object.keys(run) as Runner[]) {
    const rs = results[k];
    process.stdout.write(`  ${k.padEnd(9)} median ${Math.round(rate(k)).toLocaleString('en-US').padStart(9)} lines/s (range ${spread(rs.map((r) => r.rate))}), wall ${median(rs.map((r) => r.wallSeconds)).toFixed(2)} s, own ${median(rs.map((r) => r.seconds)).toFixed(2)} s, peak RSS ${median(rs.map((r) => r.peakRssMb)).toFixed(0)} MiB\n`);
  }
  const vsScan = rate('replay') / rate('scan loop');
  const vsDuck = rate('replay') / rate('duckdb');
  process.stdout.write(`  replay / scan loop ${vsScan.toFixed(2)}x (target >= 0.8: ${vsScan >= 0.8 ? 'met' : 'NOT met'}), replay / DuckDB ${vsDuck.toFixed(2)}x (target >= 1.0: ${vsDuck >= 1 ? 'met' : 'NOT met'}; ${(rate('replay') / rate('duckdb nd')).toFixed(2)}x its read_ndjson form)\n`);
  // The same ratios round by round (runs of one round are minutes apart at most, so they share more of the machine's noise).
  const perRound = (a: Runner, b: Runner) => results[a].map((r, i) => (r.rate / results[b][i]!.rate).toFixed(2)).join(', ');
  process.stdout.write(`  per round: replay / scan loop ${perRound('replay', 'scan loop')}; replay / DuckDB ${perRound('replay', 'duckdb')}\n`);
  const check = checkReplayAgainstDuckdb(replayOut, duckdbOut);
  process.stdout.write(`  cross-check, replay against DuckDB: ${check.ok ? 'same KPIs' : 'KPIs DIFFER'}\n  ${describeCheck(check).replaceAll('\n', '\n  ')}\n`);
  rmSync(replayOut, { recursive: true, force: true });
  rmSync(duckdbOut, { recursive: true, force: true });
}
