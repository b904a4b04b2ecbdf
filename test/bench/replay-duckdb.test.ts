import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { config } from '../../bench/config.ts';
import { exportJsonl } from '../../bench/dataset.ts';
import { checkReplayAgainstDuckdb, describeCheck } from '../../bench/replay-check.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const TIMEOUT = 60_000;

const line = (start: string, extra: Record<string, unknown>) =>
  JSON.stringify({ window: { start, end: new Date(Date.parse(start) + 60_000).toISOString() }, ...extra });

describe('the replay / DuckDB cross-check', () => {
  it('tells equal KPIs, differing fields and keys found on one side only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-check-'));
    const r = join(dir, 'replay');
    const d = join(dir, 'duckdb');
    for (const p of [join(r, 'time-kpis'), join(r, 'time-country-kpis'), d]) mkdirSync(p, { recursive: true });
    const w1 = '2020-09-18T00:00:00.000Z';
    const w2 = '2020-09-18T00:01:00.000Z';
    const t = (start: string, opm: number) => line(start, { OPM: opm, total_sale_volume: 10.5, average_transaction_size: 10.5 / opm, rate_of_return: 0 });
    writeFileSync(join(r, 'time-kpis', 'part-1.json'), `${t(w1, 1)}\n`);
    writeFileSync(join(r, 'time-kpis', 'part-2.json'), `${t(w2, 2)}\n`);
    writeFileSync(join(r, 'time-country-kpis', 'part-1.json'), `${line(w1, { country: 'España', OPM: 1, total_sale_volume: 10.5, rate_of_return: 0 })}\n`);
    // DuckDB writes 0.0 where replay writes 0: the same value.
    writeFileSync(join(d, 'time-kpis.jsonl'), `${t(w1, 1).replace('"rate_of_return":0', '"rate_of_return":0.0')}\n${t(w2, 3)}\n`);
    writeFileSync(join(d, 'time-country-kpis.jsonl'), `${line(w1, { country: 'España', OPM: 1, total_sale_volume: 10.5, rate_of_return: 0 })}\n${line(w1, { country: 'EIRE', OPM: 1, total_sale_volume: 1, rate_of_return: 0 })}\n`);
    const c = checkReplayAgainstDuckdb(r, d);
    expect(c.ok).toBe(false);
    expect(c.time).toMatchObject({ compared: 2, equal: 1, onlyReplay: 0, onlyDuckdb: 0 });
    expect(c.time.differences[0]).toMatch(/OPM replay 2 duckdb 3/);
    expect(c.country).toMatchObject({ compared: 1, equal: 1, onlyReplay: 0, onlyDuckdb: 1 });
    expect(describeCheck(c)).toMatch(/duckdb only/);
  });

  it(
    'finds DuckDB and replay computing the same KPIs on feed-shaped data with every bad-record class',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rs-duckdb-'));
      const file = join(dir, 'feed.jsonl');
      // Many bad records (5%), so that each class, cut-off lines included, shows up in 4,000 lines.
      await exportJsonl({ ...config, badRatio: 0.05 }, file, 4000, 'feed');
      const [replay, duckdb] = await Promise.all([
        run(process.execPath, [join(ROOT, 'bin/retail-streams.js'), 'replay', '--input', file, '--out', join(dir, 'replay')], { cwd: ROOT }),
        run(process.execPath, [join(ROOT, 'bench/peers/duckdb/kpi.ts'), '--input', file, '--out', join(dir, 'duckdb')], { cwd: ROOT }),
      ]);
      const valid = /valid\s+(\d+)/.exec(replay.stdout)?.[1];
      expect(duckdb.stdout).toMatch(new RegExp(`read 4000 lines, ${valid} valid`));
      const c = checkReplayAgainstDuckdb(join(dir, 'replay'), join(dir, 'duckdb'));
      expect(c.ok, describeCheck(c)).toBe(true);
      expect(c.country.compared).toBeGreaterThan(c.time.compared);
    },
    TIMEOUT,
  );
});
