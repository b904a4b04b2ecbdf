/**
 * Micro-benchmark of the invoice byte scanner (processors/invoice-scan.ts) alone: CPU per
 * record, without Kafka, files or KPIs, so that a change to the scanner shows up clearly on a
 * shared, noisy machine. Records of both line shapes come from the simulator's generator and
 * are encoded to Buffers before any timing; each round scans them all once.
 *
 * With `--compare FILE` a second scanner module (e.g. a copy of the previous invoice-scan.ts)
 * is timed too, its rounds interleaved with the project's so that both see the same load; the
 * median per shape is printed for each.
 *
 *   node --expose-gc bench/decode-speed.ts [--records N] [--rounds R] [--bad RATIO] [--compare FILE]
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { InvoiceGenerator, type LineShape } from '../simulator/generator.ts';
import { scanInvoice } from '../processors/invoice-scan.ts';
import type { Invoice } from '../processors/invoice.ts';

type Scan = (b: Uint8Array) => Invoice | null;

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '31' },
    bad: { type: 'string', default: '0' },
    compare: { type: 'string' },
  },
});
const records = Number(values.records);
const rounds = Number(values.rounds);
const badRatio = Number(values.bad);

const scanners: { name: string; scan: Scan }[] = [{ name: 'current', scan: scanInvoice }];
if (values.compare !== undefined) {
  const other = (await import(pathToFileURL(resolve(values.compare)).href)) as { scanInvoice: Scan };
  scanners.push({ name: 'compare', scan: other.scanInvoice });
}

/** The lines of one shape as separate Buffers, as Kafka records arrive. */
function dataset(shape: LineShape): Buffer[] {
  const gen = new InvoiceGenerator({ seed: 42, shape, badRatio, outOfOrderRatio: 0.05, lateRatio: 0.01 });
  // Event time as the feed's: a few dozen invoices per second.
  const start = Date.UTC(2020, 8, 18, 10);
  const out: Buffer[] = [];
  for (let i = 0; i < records; i++) out.push(Buffer.from(gen.next(start + Math.floor(i * 28)).text));
  return out;
}

const shapes: { shape: LineShape; lines: Buffer[] }[] = [
  { shape: 'compact', lines: dataset('compact') },
  { shape: 'feed', lines: dataset('feed') },
];

const gc = (globalThis as { gc?: () => void }).gc;
/** A sink for the results, so that the work cannot be optimised away. */
let sink = 0;

/**
 * ns of CPU per record for one pass, from the process's CPU time rather than the wall clock:
 * on a shared machine the time spent waiting for a core is not the scanner's. (Other threads
 * count too, but after a forced GC they have next to nothing to do.)
 */
function round(scan: Scan, lines: Buffer[]): number {
  gc?.();
  const t0 = process.cpuUsage();
  for (let i = 0; i < lines.length; i++) {
    const r = scan(lines[i]!);
    if (r !== null) sink += r.totalItems;
    else sink++;
  }
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / lines.length;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// Both scanners must agree before their speed means anything.
for (const { shape, lines } of shapes) {
  let scanned = 0;
  for (const line of lines) {
    const a = JSON.stringify(scanners[0]!.scan(line));
    if (a !== 'null') scanned++;
    for (const s of scanners.slice(1)) if (JSON.stringify(s.scan(line)) !== a) throw new Error(`${s.name} differs on ${shape} line ${line.toString()}`);
  }
  process.stdout.write(`${shape}: ${lines.length} records, ${scanned} scanned, ${(lines.reduce((n, l) => n + l.length, 0) / lines.length).toFixed(0)} bytes/record\n`);
}

// Warm-up rounds, then timed rounds: scanner order alternates from round to round.
const times = new Map<string, number[]>();
for (let r = -3; r < rounds; r++) {
  const order = r % 2 === 0 ? scanners : [...scanners].reverse();
  for (const { shape, lines } of shapes)
    for (const s of order) {
      const ns = round(s.scan, lines);
      if (r < 0) continue;
      const key = `${s.name} ${shape}`;
      times.set(key, [...(times.get(key) ?? []), ns]);
    }
}
for (const { shape } of shapes) {
  const line = scanners.map((s) => `${s.name} ${median(times.get(`${s.name} ${shape}`)!).toFixed(0)} ns (min ${Math.min(...times.get(`${s.name} ${shape}`)!).toFixed(0)})`).join(', ');
  const base = times.get(`compare ${shape}`);
  const ratio = base === undefined ? '' : `  (current/compare ${(median(times.get(`current ${shape}`)!) / median(base)).toFixed(3)})`;
  process.stdout.write(`${shape}: ${line} per record (median of ${rounds})${ratio}\n`);
}
if (sink === 0.5) process.stdout.write('\n');
