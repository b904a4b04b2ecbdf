/**
 * DuckDB as the batch anchor for `replay` (issue 15): the same time and time-and-country KPIs,
 * final mode (one row per window, per window and country), from the same JSONL file, written
 * as two JSON-lines files shaped like replay's output lines:
 *
 *   node bench/peers/duckdb/kpi.ts --input FILE --out DIR [--window-ms 60000]
 *
 * writes DIR/time-kpis.jsonl and DIR/time-country-kpis.jsonl, and prints
 * `duckdb: read <lines> lines, <valid> valid, <windows> windows, <rows> country rows in <ms> ms`.
 *
 *   node bench/peers/duckdb/kpi.ts ... --reader ndjson     # faster, not line-exact (see below)
 *
 * Set up as a DuckDB user would: one scan of the file with an explicit structure (no schema
 * sampling; see below why lines rather than `read_ndjson`), both KPI sets from one GROUPING
 * SETS aggregation, default threads (every core).
 *
 * Exact money: prices are read as DECIMAL(18,6) (micros, as replay keeps them), line and
 * invoice totals are DECIMAL products and sums, total_sale_volume is ROUND(sum, 2) (DuckDB
 * rounds DECIMALs half away from zero, like replay). DECIMAL / integer is a DOUBLE in DuckDB,
 * so average_transaction_size and rate_of_return are integer divisions rounded half away from
 * zero, on HUGEINT micros and counts, then scaled as replay scales them (cents / 100, 1e-4 units).
 *
 * Invalid records are left out as replay dead-letters them. Covered, for every bad-record
 * class the generator writes: lines that are not JSON or are cut short (`json_valid`, one line
 * at a time), an invoice_no that is not an integer up to 2^63-1, a missing or blank
 * country, a timestamp that is not an instant, a type other than ORDER/RETURN, an items entry
 * without a positive quantity or a price >= 0 that is a number. Rules that differ from
 * replay's (no generated record meets them):
 * - timestamps: DuckDB's TIMESTAMPTZ cast is more lenient (`2020-9-18 1:2:3`, other offsets
 *   forms), replay accepts only `YYYY-MM-DD[T ]HH:MM:SS[.f][Z|±HH[:MM]]`;
 * - values of the wrong JSON type are cast rather than refused when they convert (an invoice_no
 *   or a price in quotes, "536365" or "4.95", a country 44; a fractional quantity or invoice_no
 *   is rounded where replay refuses it);
 * - `trim` drops spaces only, JavaScript's every Unicode white space (a country of tabs);
 * - no lateness and no `--max-future` guard: every valid record counts (the bench data has no
 *   late records and no future timestamps, so replay counts every valid record too);
 * - items that are not objects, duplicate keys, invalid UTF-8: DuckDB's own JSON rules.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';

const started = performance.now();
const { values } = parseArgs({
  options: { input: { type: 'string' }, out: { type: 'string' }, 'window-ms': { type: 'string', default: '60000' }, reader: { type: 'string', default: 'lines' } },
});
const windowMs = Number(values['window-ms']);
if (values.input === undefined || values.out === undefined || !Number.isSafeInteger(windowMs) || windowMs <= 0 || (values.reader !== 'lines' && values.reader !== 'ndjson')) {
  process.stderr.write('usage: kpi.ts --input FILE --out DIR [--window-ms 60000] [--reader lines|ndjson]\n');
  process.exit(2);
}
mkdirSync(values.out, { recursive: true });
/** A path or text as a SQL string literal. */
const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
export const TIME_FILE = 'time-kpis.jsonl';
export const COUNTRY_FILE = 'time-country-kpis.jsonl';

const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
// Timestamps without an offset are UTC, as the data contract says.
await c.run(`SET TimeZone = 'UTC'`);

// invoice_no as BIGINT: exactly the integers 0..2^63-1 once negatives are refused (a regular
// expression on its JSON text was exact for quoted digits too, but tripled the query's CPU time).
// A value that does not convert (an invoice_no "not-a-number", a price "free") is NULL, which
// the filters below refuse.
const columns = `{invoice_no: 'BIGINT', country: 'VARCHAR', timestamp: 'VARCHAR', type: 'VARCHAR', items: 'STRUCT(unit_price DECIMAL(18,6), quantity BIGINT)[]'}`;
// `lines` (the default): one record per line, as replay reads them. read_ndjson is about 3x
// faster, but its error recovery is not line-exact: a line cut off between a key and its value
// (a class of bad record the generator writes) runs on into the next line, and `ignore_errors`
// drops both, losing a valid invoice (3 in 200,000 feed-shaped lines). So the file is read as
// lines of text (read_csv with a separator and a quote that never occur in JSON lines) and each
// valid line is parsed on its own. `--reader ndjson` is the faster, inexact form, for comparison.
/** The same columns as a from_json structure. */
const structure = '{"invoice_no": "BIGINT", "country": "VARCHAR", "timestamp": "VARCHAR", "type": "VARCHAR", "items": [{"unit_price": "DECIMAL(18,6)", "quantity": "BIGINT"}]}';
const lines = `read_csv(${lit(values.input)}, columns = {'line': 'VARCHAR'}, header = false, delim = '\x1f', quote = '', escape = '', auto_detect = false, new_line = '\\n')`;
const source =
  values.reader === 'ndjson'
    ? `read_ndjson(${lit(values.input)}, columns = ${columns}, ignore_errors = true)`
    : // CASE, not WHERE: DuckDB may evaluate from_json before a WHERE filter, and it throws on invalid JSON.
      `(SELECT unnest(CASE WHEN json_valid(line) THEN from_json(line, ${lit(structure)}) END) FROM ${lines})`;
// Parsed lines go to a table first: inline, DuckDB evaluates the from_json expression once per
// field referenced below (measured: 3-4x the CPU time of the whole program).
if (values.reader === 'lines') await c.run(`CREATE TEMP TABLE invoice_lines AS SELECT * FROM ${source}`);
const rows = values.reader === 'lines' ? 'invoice_lines' : source;
/** n / d rounded half away from zero, on integers (d > 0). */
const roundDiv = (n: string, d: string) => `(sign(${n}) * ((2 * abs(${n}) + ${d}) // (2 * ${d})))`;
await c.run(`
  CREATE TEMP TABLE agg AS
  WITH parsed AS (
    SELECT
      invoice_no AS no,
      country,
      try_cast(timestamp AS TIMESTAMPTZ) AS ts,
      type,
      items
    FROM ${rows}
  ),
  invoices AS (
    SELECT
      country,
      CAST(floor(epoch_ms(ts) / ${windowMs}) AS BIGINT) * ${windowMs} AS ws,
      type = 'RETURN' AS is_return,
      coalesce(list_sum(list_transform(items, x -> x.unit_price * x.quantity)), 0) * CASE WHEN type = 'RETURN' THEN -1 ELSE 1 END AS total
    FROM parsed
    WHERE no >= 0
      AND country IS NOT NULL AND trim(country) <> ''
      AND ts IS NOT NULL
      AND type IN ('ORDER', 'RETURN')
      AND items IS NOT NULL
      -- list_bool_and skips NULLs: a NULL (unreadable) price or quantity must count as false.
      AND coalesce(list_bool_and(list_transform(items, x -> coalesce(x.quantity > 0 AND x.unit_price >= 0, false))), true)
  )
  SELECT ws, country, grouping(country) AS overall, count(*) AS opm, count_if(is_return) AS returns, sum(total) AS volume
  FROM invoices
  GROUP BY GROUPING SETS ((ws), (ws, country))
`);
const window = `{'start': strftime(make_timestamp(ws * 1000), '%Y-%m-%dT%H:%M:%S.%gZ'), 'end': strftime(make_timestamp((ws + ${windowMs}) * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')}`;
const micros = `CAST(volume * 1000000 AS HUGEINT)`;
const rate = `CAST(${roundDiv('CAST(returns AS HUGEINT) * 10000', 'opm')} AS DOUBLE) / 10000`;
await c.run(`
  COPY (
    SELECT ${window} AS "window", opm AS "OPM", round(volume, 2) AS total_sale_volume,
      CAST(${roundDiv(micros, 'CAST(opm AS HUGEINT) * 10000')} AS DOUBLE) / 100 AS average_transaction_size,
      ${rate} AS rate_of_return
    FROM agg WHERE overall = 1 ORDER BY ws
  ) TO ${lit(join(values.out, TIME_FILE))} (FORMAT JSON)`);
await c.run(`
  COPY (
    SELECT ${window} AS "window", country, opm AS "OPM", round(volume, 2) AS total_sale_volume, ${rate} AS rate_of_return
    FROM agg WHERE overall = 0 ORDER BY ws, country
  ) TO ${lit(join(values.out, COUNTRY_FILE))} (FORMAT JSON)`);
const counts = (await c.runAndReadAll(`
  SELECT (SELECT count(*) FROM ${values.reader === 'ndjson' ? source : lines}) AS lines,
    (SELECT sum(opm) FROM agg WHERE overall = 1) AS valid,
    (SELECT count(*) FROM agg WHERE overall = 1) AS windows,
    (SELECT count(*) FROM agg WHERE overall = 0) AS countries`)).getRowObjectsJson()[0]!;
c.closeSync();
process.stdout.write(`duckdb: read ${counts.lines} lines, ${counts.valid} valid, ${counts.windows} windows, ${counts.countries} country rows in ${(performance.now() - started).toFixed(0)} ms\n`);
