import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feedTimestamp, referenceKpis, type RefInput, type RefInvoice } from '../support/reference.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/retail-streams.js');
const SAMPLE = join(ROOT, 'samples/invoices.jsonl');
const TIMEOUT = 60_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the CLI may exit before reading stdin
    child.stdin.end(stdin ?? '');
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rs-replay-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
const outDir = (name: string) => join(tmp, name);

/** Every line of every `*.json` file of one dataset, parsed. */
async function readDataset(out: string, dataset: string): Promise<unknown[]> {
  const dir = join(out, dataset);
  if (!existsSync(dir)) return [];
  const rows: unknown[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    if (!name.endsWith('.json') || name.split('/').some((part) => part.startsWith('.'))) continue;
    const text = await readFile(join(dir, name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') rows.push(JSON.parse(line));
  }
  return rows;
}

interface Kpi {
  readonly window: { readonly start: string; readonly end: string };
  readonly country?: string;
}
const byWindowThenCountry = (a: Kpi, b: Kpi) =>
  a.window.start < b.window.start ? -1 : a.window.start > b.window.start ? 1 : (a.country ?? '') < (b.country ?? '') ? -1 : (a.country ?? '') > (b.country ?? '') ? 1 : 0;
const sortedKpis = (rows: readonly unknown[]) => [...(rows as Kpi[])].sort(byWindowThenCountry);
const parsedSorted = (lines: readonly string[]) => sortedKpis(lines.map((l) => JSON.parse(l) as unknown));

interface Rejected {
  readonly reason: string;
  readonly source: { readonly topic: string; readonly partition: number; readonly offset: number };
  readonly value: string | null;
}
const byOffset = (rows: readonly unknown[]) => [...(rows as Rejected[])].sort((a, b) => a.source.offset - b.source.offset);

/* ------------------------------------------------------------------------------------------ */
/* A generated file: offsets, out-of-order and late records, malformed lines, non-ASCII.        */
/* ------------------------------------------------------------------------------------------ */

const BASE = Date.UTC(2021, 2, 14, 9, 0, 0);
const WINDOW = 60_000;
const GRACE = 120_000;
const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** ISO-8601 text of `ms` as seen at a UTC offset of `offsetMin` minutes, with the offset written as given. */
function isoAt(ms: number, offsetMin: number, suffix: string, fraction = ''): string {
  const d = new Date(ms + offsetMin * 60_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction}${suffix}`;
}

type Line =
  | { readonly kind: 'valid'; readonly invoice: RefInvoice; readonly text: string; readonly late?: true }
  | { readonly kind: 'bad'; readonly reason: string; readonly text: string }
  | { readonly kind: 'blank'; readonly text: string };

let nextNo = 1000;
function valid(ts: number, country: string, type: 'ORDER' | 'RETURN', items: readonly [number, number][], timestampText = feedTimestamp(ts), late?: true): Line {
  const invoice: RefInvoice = { invoice_no: nextNo++, country, ts, type, items: items.map(([unit_price, quantity]) => ({ unit_price, quantity })) };
  const text = JSON.stringify({
    invoice_no: invoice.invoice_no,
    country,
    timestamp: timestampText,
    type,
    items: items.map(([unit_price, quantity], k) => ({ SKU: String(20000 + k), title: 'ARTICLE', unit_price, quantity })),
  });
  return late ? { kind: 'valid', invoice, text, late } : { kind: 'valid', invoice, text };
}
const bad = (reason: string, text: string): Line => ({ kind: 'bad', reason, text });
const good = (patch: Record<string, unknown>) =>
  JSON.stringify({ invoice_no: 77, country: 'France', timestamp: feedTimestamp(BASE + 30_000), type: 'ORDER', items: [{ SKU: '1', title: 'T', unit_price: 1.25, quantity: 2 }], ...patch });

const s = (n: number) => BASE + n * 1000;
const GENERATED: Line[] = [
  valid(s(5), 'United Kingdom', 'ORDER', [[4.95, 6], [0.1, 3]]),
  valid(s(20), 'Österreich', 'RETURN', [[12.5, 1]], isoAt(s(20), 0, 'Z')),
  valid(s(65), '日本', 'ORDER', [[0.1, 7], [0.2, 3]], isoAt(s(65), 120, '+02:00')),
  bad('not-json', 'this is not json'),
  // Out of order, within grace; written at -05:30.
  valid(s(30), 'España', 'ORDER', [[19.99, 2]], isoAt(s(30), -330, '-0530')),
  { kind: 'blank', text: '' },
  bad('not-json', '{"invoice_no":1,"coun'),
  // The last millisecond of the first window.
  valid(s(59) + 999, 'Côte d\u2019Ivoire', 'ORDER', [[0.3, 3]], isoAt(s(59), 0, 'Z', '.999')),
  valid(s(240), 'United Kingdom', 'ORDER', [[1, 1]]), // stream time 240 s: [0, 60 s) closed (60 + 120 <= 240)
  valid(s(10), 'United Kingdom', 'ORDER', [[100, 1]], undefined, true), // late
  bad('unknown-type', good({ type: 'EXCHANGE' })),
  valid(s(119), 'Germany', 'RETURN', [[3.5, 2]], undefined, true), // [60 s, 120 s) closes at exactly 240 s: late
  valid(s(121), 'Germany', 'ORDER', [[2.25, 4]]), // [120 s, 180 s) still open
  bad('wrong-type', good({ items: [{ SKU: '1', title: 'T', unit_price: 1.25, quantity: '2' }] })),
  bad('bad-timestamp', good({ timestamp: '2021-02-30 10:00:00' })),
  bad('missing-field', JSON.stringify({ invoice_no: 5, timestamp: feedTimestamp(BASE), type: 'ORDER', items: [] })),
  { kind: 'blank', text: '' },
  bad('bad-invoice-no', good({ invoice_no: 0 }).replace('"invoice_no":0', '"invoice_no":9223372036854775808')),
  bad('bad-quantity', good({ items: [{ SKU: '1', title: 'T', unit_price: 1.25, quantity: -2 }] })),
  // An invalid record far in the future must not move stream time.
  bad('unknown-type', good({ type: 'EXCHANGE', timestamp: feedTimestamp(BASE + 3_600_000) })),
  valid(s(270), 'Ελλάδα', 'ORDER', Array.from({ length: 40 }, (_, i): [number, number] => [[0.1, 0.2, 0.7][i % 3]!, 1 + (i % 4)]), isoAt(s(270), 0, 'Z', '.250')),
  bad('not-an-object', '[1,2]'),
  bad('not-json', '   '),
  valid(s(300), 'United Kingdom', 'RETURN', [[0.05, 1]]),
];
// invoice_no beyond 2^53 keeps its place among valid records (KPIs do not depend on it).
{
  const line = valid(s(301), 'United Kingdom', 'ORDER', [[7.77, 1]]);
  if (line.kind === 'valid') GENERATED.push({ ...line, text: line.text.replace(/"invoice_no":\d+/, '"invoice_no":9223372036854775807') });
}

const genLines = GENERATED.map((l) => l.text);
const genRef = referenceKpis(
  GENERATED.flatMap((l): RefInput[] => (l.kind === 'valid' ? [{ partition: 0, invoice: l.invoice }] : [])),
  WINDOW,
  GRACE,
);
/** 1-based line numbers, as the replay numbers them. */
const genBad = GENERATED.flatMap((l, i) => (l.kind === 'bad' ? [{ line: i + 1, reason: l.reason, text: l.text }] : []));
const genLate = GENERATED.flatMap((l, i) => (l.kind === 'valid' && l.late ? [i + 1] : []));

async function expectGeneratedResult(out: string): Promise<void> {
  expect(sortedKpis(await readDataset(out, 'time-kpis'))).toEqual(parsedSorted(genRef.time));
  expect(sortedKpis(await readDataset(out, 'time-country-kpis'))).toEqual(parsedSorted(genRef.country));
  const dead = byOffset(await readDataset(out, 'dead-letter'));
  expect(dead.map((r) => ({ line: r.source.offset, reason: r.reason, text: r.value }))).toEqual(genBad);
  for (const r of dead) expect(r.source).toMatchObject({ topic: 'invoices', partition: 0 });
  const late = byOffset(await readDataset(out, 'late'));
  expect(late.map((r) => r.source.offset)).toEqual(genLate);
  expect(late.map((r) => r.value)).toEqual(genLate.map((n) => genLines[n - 1]));
}

describe.concurrent('retail-streams replay on a generated file', () => {
  it('the generated data exercises what it claims to', () => {
    // Guards the test data itself: two late records by the reference, windows with several countries.
    expect(genRef.late).toBe(2);
    expect(genLate).toHaveLength(2);
    expect(genRef.time.length).toBeGreaterThanOrEqual(4);
    expect(genRef.country.some((l) => l.includes('日本'))).toBe(true);
  });

  it(
    'writes the reference KPIs, every bad line to dead-letter with its line number, and late lines to late',
    async () => {
      const input = join(tmp, 'generated.jsonl');
      await writeFile(input, genLines.join('\n') + '\n');
      const out = outDir('generated');
      const run = await cli(['replay', '--input', input, '--out', out, '--window', '1m', '--grace', '2m']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      await expectGeneratedResult(out);
    },
    TIMEOUT,
  );

  it(
    'gives the same result for a CRLF file without a final newline',
    async () => {
      const input = join(tmp, 'generated-crlf.jsonl');
      await writeFile(input, genLines.join('\r\n'));
      const out = outDir('generated-crlf');
      const run = await cli(['replay', '--input', input, '--out', out, '--window', '60s', '--grace', '120000']);
      expect(run.code).toBe(0);
      await expectGeneratedResult(out);
    },
    TIMEOUT,
  );

  it(
    'reads stdin with --input -',
    async () => {
      const out = outDir('generated-stdin');
      const run = await cli(['replay', '--input', '-', '--out', out, '--window', '1m', '--grace', '2m'], genLines.join('\n') + '\n');
      expect(run.code).toBe(0);
      await expectGeneratedResult(out);
    },
    TIMEOUT,
  );
});

/* ------------------------------------------------------------------------------------------ */
/* The shipped sample, against the reference with an independent validity check.              */
/* ------------------------------------------------------------------------------------------ */

/** The data contract, checked here without the application's decoder: a RefInvoice or null. */
function contractInvoice(line: string): RefInvoice | null {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const o = doc as Record<string, unknown>;
  if (typeof o.invoice_no !== 'number' || !Number.isInteger(o.invoice_no) || o.invoice_no < 0) return null;
  if (typeof o.country !== 'string' || o.country.trim() === '') return null;
  if (o.type !== 'ORDER' && o.type !== 'RETURN') return null;
  if (typeof o.timestamp !== 'string' || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(o.timestamp)) return null;
  const iso = `${o.timestamp.replace(' ', 'T')}.000Z`;
  const ts = Date.parse(iso);
  if (Number.isNaN(ts) || new Date(ts).toISOString() !== iso) return null;
  if (!Array.isArray(o.items)) return null;
  const items: { unit_price: number; quantity: number }[] = [];
  for (const it of o.items as unknown[]) {
    if (typeof it !== 'object' || it === null || Array.isArray(it)) return null;
    const { unit_price, quantity } = it as Record<string, unknown>;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0) return null;
    if (typeof unit_price !== 'number' || !Number.isFinite(unit_price) || unit_price < 0) return null;
    items.push({ unit_price, quantity });
  }
  return { invoice_no: o.invoice_no, country: o.country, ts, type: o.type, items };
}

describe.concurrent('retail-streams replay on samples/invoices.jsonl', () => {
  it(
    'writes the reference KPIs and dead-letters exactly the lines that break the contract',
    async () => {
      const lines = (await readFile(SAMPLE, 'utf8')).split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      const records: RefInput[] = [];
      const badLines: number[] = [];
      lines.forEach((line, i) => {
        const inv = contractInvoice(line);
        if (inv === null) badLines.push(i + 1);
        else records.push({ partition: 0, invoice: inv });
      });
      const ref = referenceKpis(records, 60_000, 600_000);
      expect(badLines.length).toBeGreaterThan(0);
      expect(ref.late).toBeGreaterThan(0);

      const out = outDir('sample');
      const run = await cli(['replay', '--input', SAMPLE, '--out', out]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`valid\\s+${records.length}\\b`));
      expect(run.stdout).toMatch(new RegExp(`invalid\\s+${badLines.length}\\b`));
      expect(sortedKpis(await readDataset(out, 'time-kpis'))).toEqual(parsedSorted(ref.time));
      expect(sortedKpis(await readDataset(out, 'time-country-kpis'))).toEqual(parsedSorted(ref.country));
      const dead = byOffset(await readDataset(out, 'dead-letter'));
      expect(dead.map((r) => r.source.offset)).toEqual(badLines);
      for (const r of dead) {
        expect(r.value).toBe(lines[r.source.offset - 1]);
        expect(r.reason).toMatch(/^[a-z-]+$/);
      }
      expect(await readDataset(out, 'late')).toHaveLength(ref.late);
    },
    TIMEOUT,
  );
});

/* ------------------------------------------------------------------------------------------ */
/* Errors.                                                                                     */
/* ------------------------------------------------------------------------------------------ */

describe.concurrent('retail-streams replay errors', () => {
  it(
    'exits 2 with a clear message for a bad --window',
    async () => {
      const run = await cli(['replay', '--input', SAMPLE, '--out', outDir('bad-window'), '--window', 'abc']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('--window');
      expect(run.stderr).toContain('abc');
      expect(existsSync(join(outDir('bad-window'), 'time-kpis'))).toBe(false);
    },
    TIMEOUT,
  );

  it(
    'exits 2 for an unknown flag, naming it',
    async () => {
      const run = await cli(['replay', '--input', SAMPLE, '--out', outDir('unknown-flag'), '--bogus', 'x']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('--bogus');
    },
    TIMEOUT,
  );

  it(
    'exits 2 when --input is missing, and for a zero window',
    async () => {
      const [noInput, zero] = await Promise.all([
        cli(['replay', '--out', outDir('no-input')]),
        cli(['replay', '--input', SAMPLE, '--out', outDir('zero-window'), '--window', '0s']),
      ]);
      expect(noInput.code).toBe(2);
      expect(noInput.stderr).toContain('input');
      expect(zero.code).toBe(2);
      expect(zero.stderr).toContain('--window');
    },
    TIMEOUT,
  );

  it(
    'exits 3 for an input file that does not exist or is a directory, naming it',
    async () => {
      const missing = join(tmp, 'does-not-exist.jsonl');
      const run = await cli(['replay', '--input', missing, '--out', outDir('missing')]);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(missing);
      const dir = await cli(['replay', '--input', tmp, '--out', outDir('dir-input')]);
      expect(dir.code).toBe(3);
      expect(dir.stderr).toContain(tmp);
    },
    TIMEOUT,
  );
});

/* ------------------------------------------------------------------------------------------ */
/* The event-time guard: an invoice stamped far ahead of the (real) wall clock.                */
/* ------------------------------------------------------------------------------------------ */

describe.concurrent('retail-streams replay and --max-future', () => {
  const at = (ts: number, timestampText = feedTimestamp(ts)) =>
    JSON.stringify({ invoice_no: nextNo++, country: 'France', timestamp: timestampText, type: 'ORDER', items: [{ SKU: '1', title: 'T', unit_price: 2.5, quantity: 2 }] });
  const typo = at(0, '9999-12-31 23:59:59');
  const lines = [at(s(5)), typo, at(s(15))];
  const windowStart = new Date(BASE).toISOString();

  it(
    'by default (1h) the 9999 invoice closes no window: it goes to dead-letter as future-timestamp, the next invoice is on time',
    async () => {
      const input = join(tmp, 'future.jsonl');
      await writeFile(input, lines.join('\n') + '\n');
      const out = outDir('future-default');
      const run = await cli(['replay', '--input', input, '--out', out, '--window', '1m', '--grace', '1m']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/invalid\s+1\b/);
      expect(run.stdout).toMatch(/late\s+0\b/);
      expect(await readDataset(out, 'late')).toEqual([]);
      expect(await readDataset(out, 'time-kpis')).toEqual([expect.objectContaining({ window: expect.objectContaining({ start: windowStart }), OPM: 2, total_sale_volume: 10 })]);
      const dead = await readDataset(out, 'dead-letter');
      expect(dead).toEqual([
        {
          reason: 'future-timestamp',
          detail: expect.stringMatching(/^9999-12-31T23:59:59\.000Z is more than 3600000 ms ahead of the wall clock \d{4}-/),
          source: { topic: 'invoices', partition: 0, offset: 2 },
          value: typo,
        },
      ]);
    },
    TIMEOUT,
  );

  it(
    '--max-future off trusts it: the window closes on it and the next invoice is late',
    async () => {
      const input = join(tmp, 'future-off.jsonl');
      await writeFile(input, lines.join('\n') + '\n');
      const out = outDir('future-off');
      const run = await cli(['replay', '--input', input, '--out', out, '--window', '1m', '--grace', '1m', '--max-future', 'off']);
      expect(run.code).toBe(0);
      expect(await readDataset(out, 'dead-letter')).toEqual([]);
      expect(byOffset(await readDataset(out, 'late')).map((r) => r.source.offset)).toEqual([3]);
      expect(await readDataset(out, 'time-kpis')).toHaveLength(2);
    },
    TIMEOUT,
  );

  it(
    '--max-future takes a duration, measured from the real wall clock',
    async () => {
      // 45 minutes ahead of now: refused with 30m, trusted with the default hour.
      const soon = at(Math.floor(Date.now() / 1000) * 1000 + 45 * 60_000);
      const input = join(tmp, 'future-soon.jsonl');
      await writeFile(input, soon + '\n');
      const [strict, lenient] = await Promise.all([
        cli(['replay', '--input', input, '--out', outDir('future-30m'), '--max-future', '30m']),
        cli(['replay', '--input', input, '--out', outDir('future-1h')]),
      ]);
      expect(strict.code).toBe(0);
      expect(lenient.code).toBe(0);
      expect((await readDataset(outDir('future-30m'), 'dead-letter')).map((r) => (r as Rejected).reason)).toEqual(['future-timestamp']);
      expect(await readDataset(outDir('future-1h'), 'dead-letter')).toEqual([]);
      expect(await readDataset(outDir('future-1h'), 'time-kpis')).toHaveLength(1);
    },
    TIMEOUT,
  );

  it(
    'exits 2 for a --max-future that is neither off nor a duration',
    async () => {
      const run = await cli(['replay', '--input', SAMPLE, '--out', outDir('bad-max-future'), '--max-future', 'soon']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('--max-future');
      expect(run.stderr).toContain('soon');
    },
    TIMEOUT,
  );
});
