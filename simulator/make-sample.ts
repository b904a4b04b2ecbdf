// Writes the sample shipped in samples/: a seeded hour of invoices with out-of-order, late and
// malformed records. Run: node simulator/make-sample.ts > samples/invoices.jsonl
import { InvoiceGenerator } from './generator.ts';

const gen = new InvoiceGenerator({ seed: 42, outOfOrderRatio: 0.05, lateRatio: 0.01, badRatio: 0.005 });
const start = Date.UTC(2020, 8, 18, 10, 0, 0);
const lines: string[] = [];
for (let i = 0; i < 6000; i++) lines.push(gen.next(start + i * 600).text);
process.stdout.write(lines.join('\n') + '\n');
