/**
 * The decode limit replay is held to: a bare loop that reads the same file in the same chunks
 * and only JSON.parses each line (UTF-8 to string, then parse), nothing else.
 * Prints `parsed <lines> lines in <ms> ms (<rate>/s)`.
 *
 *   node bench/bare-parse.ts FILE
 */
import { createReadStream } from 'node:fs';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: bare-parse.ts FILE\n');
  process.exit(2);
}
const started = performance.now();
let lines = 0;
let objects = 0;
let carry: Buffer | null = null;
const parse = (buf: Buffer, from: number, to: number) => {
  if (to > from && buf[to - 1] === 13) to--;
  if (to === from) return;
  lines++;
  try {
    if (typeof JSON.parse(buf.toString('utf8', from, to)) === 'object') objects++;
  } catch {
    // a malformed line costs its parse attempt, as in replay
  }
};
for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
  const buf: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
  let from = 0;
  for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
    parse(buf, from, nl);
    from = nl + 1;
  }
  carry = from < buf.length ? Buffer.from(buf.subarray(from)) : null;
}
if (carry !== null) parse(carry, 0, carry.length);
const ms = performance.now() - started;
process.stdout.write(`parsed ${lines} lines (${objects} objects) in ${ms.toFixed(0)} ms (${Math.round(lines / (ms / 1000))}/s)\n`);
