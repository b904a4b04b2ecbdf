/**
 * Do `replay` and the DuckDB peer compute the same KPIs? Compares every KPI field of every
 * window (time KPIs) and every window and country (time-and-country KPIs) of replay's output
 * directory (`<out>/time-kpis/*.json`, `<out>/time-country-kpis/*.json`: one JSON line per
 * final KPI, see processors/file-outputs.ts) with bench/peers/duckdb/kpi.ts's two files, so
 * that the speed comparison is between programs doing the same work.
 *
 *   node bench/replay-check.ts REPLAY_OUT_DIR DUCKDB_OUT_DIR
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TIME_FIELDS = ['OPM', 'total_sale_volume', 'average_transaction_size', 'rate_of_return'] as const;
const COUNTRY_FIELDS = ['OPM', 'total_sale_volume', 'rate_of_return'] as const;

interface KpiLine {
  readonly window: { readonly start: string; readonly end: string };
  readonly country?: string;
  readonly [field: string]: unknown;
}

export interface DatasetCheck {
  /** Keys (windows, or windows and countries) present on both sides. */
  readonly compared: number;
  /** Of those, the ones whose every field is equal. */
  readonly equal: number;
  readonly onlyReplay: number;
  readonly onlyDuckdb: number;
  /** The first few differences, as text. */
  readonly differences: readonly string[];
}

export interface ReplayCheck {
  readonly time: DatasetCheck;
  readonly country: DatasetCheck;
  readonly ok: boolean;
}

const linesOf = (text: string): KpiLine[] => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as KpiLine);
const keyOf = (k: KpiLine) => (k.country === undefined ? `${k.window.start}/${k.window.end}` : `${k.window.start}/${k.window.end} ${JSON.stringify(k.country)}`);

function byKey(lines: KpiLine[], side: string): Map<string, KpiLine> {
  const m = new Map<string, KpiLine>();
  for (const l of lines) {
    const k = keyOf(l);
    // Final mode writes one line per key: a second one is a difference in itself.
    if (m.has(k)) throw new Error(`${side}: two lines for ${k}`);
    m.set(k, l);
  }
  return m;
}

function compare(replay: KpiLine[], duckdb: KpiLine[], fields: readonly string[], maxShown: number): DatasetCheck {
  const r = byKey(replay, 'replay');
  const d = byKey(duckdb, 'duckdb');
  const differences: string[] = [];
  const note = (s: string) => differences.length < maxShown && differences.push(s);
  let compared = 0;
  let equal = 0;
  let onlyReplay = 0;
  for (const [k, a] of r) {
    const b = d.get(k);
    if (b === undefined) {
      onlyReplay++;
      note(`${k}: replay only`);
      continue;
    }
    compared++;
    // Both sides print numbers that parse to the same double when the values are equal
    // (DuckDB writes 0.0 for replay's 0): compare the parsed values.
    const differing = fields.filter((f) => a[f] !== b[f]);
    if (differing.length === 0) equal++;
    else note(`${k}: ${differing.map((f) => `${f} replay ${String(a[f])} duckdb ${String(b[f])}`).join(', ')}`);
  }
  let onlyDuckdb = 0;
  for (const k of d.keys())
    if (!r.has(k)) {
      onlyDuckdb++;
      note(`${k}: duckdb only`);
    }
  return { compared, equal, onlyReplay, onlyDuckdb, differences };
}

const readDir = (dir: string): KpiLine[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json') || f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => linesOf(readFileSync(join(dir, f), 'utf8')));

/** Compares replay's `--out` directory with the DuckDB peer's output directory. */
export function checkReplayAgainstDuckdb(replayOut: string, duckdbOut: string, maxShown = 5): ReplayCheck {
  const time = compare(readDir(join(replayOut, 'time-kpis')), linesOf(readFileSync(join(duckdbOut, 'time-kpis.jsonl'), 'utf8')), TIME_FIELDS, maxShown);
  const country = compare(readDir(join(replayOut, 'time-country-kpis')), linesOf(readFileSync(join(duckdbOut, 'time-country-kpis.jsonl'), 'utf8')), COUNTRY_FIELDS, maxShown);
  const clean = (c: DatasetCheck) => c.compared > 0 && c.equal === c.compared && c.onlyReplay === 0 && c.onlyDuckdb === 0;
  return { time, country, ok: clean(time) && clean(country) };
}

export const describeCheck = (c: ReplayCheck): string =>
  (['time', 'country'] as const)
    .map((k) => {
      const d = c[k];
      return `${k === 'time' ? 'time KPIs' : 'time-and-country KPIs'}: ${d.compared} compared, ${d.equal} equal, ${d.onlyReplay} only in replay, ${d.onlyDuckdb} only in DuckDB${d.differences.length > 0 ? `\n    ${d.differences.join('\n    ')}` : ''}`;
    })
    .join('\n');

if (import.meta.main) {
  const [replayOut, duckdbOut] = process.argv.slice(2);
  if (replayOut === undefined || duckdbOut === undefined) {
    process.stderr.write('usage: replay-check.ts REPLAY_OUT_DIR DUCKDB_OUT_DIR\n');
    process.exit(2);
  }
  const c = checkReplayAgainstDuckdb(replayOut, duckdbOut);
  process.stdout.write(`${describeCheck(c)}\n${c.ok ? 'same KPIs' : 'KPIs DIFFER'}\n`);
  process.exitCode = c.ok ? 0 : 1;
}
