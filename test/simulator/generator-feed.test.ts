import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Effect from 'effect/Effect';
import * as Exit from 'effect/Exit';
import * as Cause from 'effect/Cause';
import * as Option from 'effect/Option';
import { describe, expect, it } from 'vitest';
import { config } from '../../bench/config.ts';
import { exportJsonl } from '../../bench/dataset.ts';
import { simulate } from '../../cli/simulate.ts';
import { silentLogger } from '../../topology/api/log.ts';
import { decodeInvoice } from '../../processors/invoice.ts';
import { scanInvoice } from '../../processors/invoice-scan.ts';
import { FEED_SHAPE, InvoiceGenerator, invoiceFeedLine, invoiceJsonLine, type Generated, type InvoiceFields } from '../../simulator/generator.ts';

const START = Date.UTC(2020, 8, 18);
const STEP = 1000 / FEED_SHAPE.eventRate;
const bytes = (s: string) => Buffer.from(s, 'utf8');

/** `n` records of a generator, with the event time each was asked for. */
function generate(shape: 'feed' | 'compact', n: number, ratios = { outOfOrderRatio: 0.05, badRatio: 0.01 }): { g: Generated; now: number }[] {
  const gen = new InvoiceGenerator({ seed: 7, ...ratios, shape });
  return Array.from({ length: n }, (_, i) => {
    const now = START + Math.floor(i * STEP);
    return { g: gen.next(now), now };
  });
}

/**
 * Whether `line` is laid out as Python's json.dumps writes it: outside strings, every `:` and
 * `,` is followed by exactly one space and there is no other white space.
 */
function pythonLayout(line: string): boolean {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === ':' || c === ',') {
      if (line[i + 1] !== ' ' || line[i + 2] === ' ') return false;
      i++;
    } else if (/\s/.test(c)) return false;
  }
  return !inString;
}

describe('the feed shape of the generator', () => {
  const records = generate('feed', 20_000);
  const good = records.filter((r) => r.g.kind !== 'bad');

  it("lays lines out as Python's json module does, prices as Python floats, UTF-8 unescaped", () => {
    for (const { g } of good) {
      expect(pythonLayout(g.text), g.text).toBe(true);
      for (const m of g.text.matchAll(/"unit_price": ([^,}]+)/g)) expect(m[1]).toMatch(/^\d+\.\d+$/);
    }
    expect(good.some(({ g }) => /"unit_price": \d+\.0[,}]/.test(g.text))).toBe(true);
    expect(good.some(({ g }) => /[^\x00-\x7f]/.test(g.text))).toBe(true);
    expect(good.some(({ g }) => g.text.includes(`"country": "Côte d'Ivoire"`))).toBe(true);
    expect(good.every(({ g }) => !g.text.includes('\\u'))).toBe(true);
  });

  it('writes second-resolution timestamps, some in ISO form at +01:00, for the same instant', () => {
    const offsets = good.filter(({ g }) => /"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+01:00"/.test(g.text)).length;
    const plain = good.filter(({ g }) => /"timestamp": "\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"/.test(g.text)).length;
    expect(offsets + plain).toBe(good.length);
    expect(offsets / good.length).toBeGreaterThan(FEED_SHAPE.offsetRatio * 0.8);
    expect(offsets / good.length).toBeLessThan(FEED_SHAPE.offsetRatio * 1.2);
    for (const { g, now } of good) {
      const d = decodeInvoice(bytes(g.text));
      expect(d.valid).toBe(true);
      if (!d.valid) continue;
      expect(d.timestamp % 1000).toBe(0);
      // On time: the second of `now`; out of order: seconds earlier, within the grace period.
      if (g.kind === 'on-time') expect(d.timestamp).toBe(Math.floor(now / 1000) * 1000);
      else expect(now - d.timestamp).toBeLessThanOrEqual(300_000 + 1000);
    }
  });

  it('spreads a few dozen invoices over each second of event time, out of order', () => {
    const times = good.map(({ g }) => (decodeInvoice(bytes(g.text)) as { timestamp: number }).timestamp);
    // Over the event time of the run (out-of-order records reach back before its start).
    const span = (good[good.length - 1]!.now - START) / 1000;
    expect(good.length / span).toBeGreaterThan(20);
    expect(good.length / span).toBeLessThan(60);
    // Nearly every second of it has invoices.
    expect(new Set(times.filter((t) => t >= START)).size).toBeGreaterThan(span * 0.95);
    let max = -Infinity;
    let behind = 0;
    let changes = 0;
    for (let i = 0; i < times.length; i++) {
      if (times[i]! < max) behind++;
      max = Math.max(max, times[i]!);
      if (i > 0 && good[i]!.g.text.match(/"timestamp": "[^"]*"/)![0] !== good[i - 1]!.g.text.match(/"timestamp": "[^"]*"/)![0]) changes++;
    }
    expect(behind / times.length).toBeGreaterThan(0.3);
    // The point of the shape: consecutive lines mostly differ in their timestamp text.
    expect(changes / times.length).toBeGreaterThan(0.5);
  });

  it('decodes as the compact line of the same invoice does, and the scanner answers by itself', () => {
    const gen = new InvoiceGenerator({ seed: 3, shape: 'feed' });
    for (let i = 0; i < 2000; i++) {
      const f: InvoiceFields = gen.invoiceFields(START + i * 1000);
      const feed = decodeInvoice(bytes(invoiceFeedLine(f)));
      expect(feed).toStrictEqual(decodeInvoice(bytes(invoiceJsonLine(f))));
      expect(scanInvoice(bytes(invoiceFeedLine(f)))).toStrictEqual(feed);
    }
    for (const { g } of good) expect(scanInvoice(bytes(g.text)), g.text).not.toBeNull();
  });

  it('writes every class of bad record in the shape, and each is refused', () => {
    const bad = records.filter((r) => r.g.kind === 'bad');
    expect(bad.length).toBeGreaterThan(100);
    const reasons = new Set<string>();
    for (const { g } of bad) {
      const d = decodeInvoice(bytes(g.text));
      expect(d.valid, g.text).toBe(false);
      if (!d.valid) reasons.add(d.reason);
    }
    expect([...reasons].sort()).toEqual(['bad-quantity', 'bad-timestamp', 'missing-field', 'not-json', 'unknown-type', 'wrong-type']);
  });

  it('leaves the compact shape as it was: compact separators, no offsets, ordered apart from the out-of-order share', () => {
    const compact = generate('compact', 2000, { outOfOrderRatio: 0, badRatio: 0 });
    for (const { g, now } of compact) {
      expect(g.text.startsWith('{"invoice_no":')).toBe(true);
      expect(g.text).not.toContain('": ');
      expect((decodeInvoice(bytes(g.text)) as { timestamp: number }).timestamp).toBe(Math.floor(now / 1000) * 1000);
    }
  });
});

describe('feed-shaped data in the bench and the CLI', () => {
  it('exportJsonl writes the feed shape at its event rate', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rs-feed-')), 'f.jsonl');
    expect(await exportJsonl(config, path, 3600, 'feed')).toMatchObject({ lines: 3600 });
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3600);
    expect(lines.filter(pythonLayout).length).toBeGreaterThan(3500);
    const times = lines.map((l) => decodeInvoice(bytes(l))).flatMap((d) => (d.valid ? [d.timestamp] : []));
    // 3,600 lines at 36 a second: 100 s of event time.
    expect((Math.max(...times) - Date.parse(config.start)) / 1000).toBeCloseTo(100, -1);
  });

  const failure = async (argv: string[]): Promise<string> => {
    const exit = await Effect.runPromiseExit(simulate(argv, { logger: () => silentLogger }));
    if (Exit.isSuccess(exit)) throw new Error('expected a failure');
    const f = Cause.failureOption(exit.cause);
    return Option.isSome(f) ? f.value.message : Cause.pretty(exit.cause);
  };

  it('simulate --shape takes compact or feed and refuses anything else', async () => {
    expect(await failure(['--brokers', '127.0.0.1:1', '--shape', 'python'])).toMatch(/--shape: Expected "compact", actual "python"\n {2}--shape: Expected "feed", actual "python"/);
    // A valid shape passes flag validation: the next check (--rate 0 without a bound) is what fails.
    for (const shape of ['feed', 'compact']) expect(await failure(['--brokers', '127.0.0.1:1', '--shape', shape, '--rate', '0'])).toMatch(/--rate 0 \(unlimited\) needs --count/);
  });
});
