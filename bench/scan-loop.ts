/**
 * The decode limit replay is held to (issue 15): a loop that reads the file as replay does
 * (1 MiB chunks, lines split the same way, only a line straddling two chunks copied) and
 * decodes each line with the project's own decoder, `decodeInvoice` of processors/invoice.ts
 * (the byte scanner of processors/invoice-scan.ts, the JSON.parse reference for what it
 * declines, bad records included), exactly what replay's serde calls. No KPIs, no outputs.
 * Prints `scanned <lines> lines (<valid> valid) in <ms> ms (<rate>/s)`; the bench times it as
 * a whole process, start-up included, as it times replay.
 *
 *   node bench/scan-loop.ts FILE
 */
import * as nodeModule from 'node:module';
import { createReadStream } from 'node:fs';

// The same start-up treatment as bin/retail-streams.js: compiled code cached across runs.
nodeModule.enableCompileCache?.();
const { decodeInvoice } = await import('../processors/invoice.ts');

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: scan-loop.ts FILE\n');
  process.exit(2);
}
const started = performance.now();
let lines = 0;
let valid = 0;
const NEWLINE = 10;
const decode = (line: Buffer) => {
  let end = line.length;
  if (end > 0 && line[end - 1] === 13) end--; // CRLF files, as replay
  if (end === 0) return;
  lines++;
  if (decodeInvoice(end === line.length ? line : line.subarray(0, end)).valid) valid++;
};
let carry: Buffer | null = null;
for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
  let from = 0;
  if (carry !== null) {
    const nl = chunk.indexOf(NEWLINE);
    if (nl === -1) {
      carry = Buffer.concat([carry, chunk]);
      continue;
    }
    decode(Buffer.concat([carry, chunk.subarray(0, nl)]));
    carry = null;
    from = nl + 1;
  }
  for (let nl = chunk.indexOf(NEWLINE, from); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
    decode(chunk.subarray(from, nl));
    from = nl + 1;
  }
  carry = from < chunk.length ? Buffer.from(chunk.subarray(from)) : null;
}
if (carry !== null) decode(carry);
const ms = performance.now() - started;
process.stdout.write(`scanned ${lines} lines (${valid} valid) in ${ms.toFixed(0)} ms (${Math.round(lines / (ms / 1000))}/s)\n`);
