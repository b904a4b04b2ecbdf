import type { Readable } from 'node:stream';
import type { Topology } from '../internals/compile.ts';
import type { RawRecord } from '../internals/task.ts';
import { InProcessRuntime, type InProcessOptions } from './in-process.ts';

/**
 * `wallClock` is what the event-time guard compares with: the real clock by default, since the
 * file's invoices are as real as a topic's. The deserialization handler defaults to `log-and-fail`;
 * `deadLetterSink` is where dead letters go (dropped, but counted, without one).
 */
export interface ReplayOptions extends Pick<InProcessOptions, 'maxFutureMs' | 'deserializationExceptionHandler' | 'deadLetterSink' | 'wallClock' | 'log'> {
  /** Topic the lines are fed to, as partition 0. */
  readonly topic: string;
  /** Lines per batch: one flush (pre-aggregation, watermark) per batch. */
  readonly batchLines?: number;
  /** Batches between sink commits, which bounds what sinks hold in memory. */
  readonly commitEveryBatches?: number;
}

export interface ReplayResult {
  readonly lines: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly metrics: ReadonlyMap<string, number>;
}

const NEWLINE = 10;

/**
 * Replays a newline-delimited file through a topology, in constant memory: the file is read
 * in chunks, each line becomes a record whose offset is its line number (from 1), and at the
 * end every window closes. Blank lines are skipped, but keep their line numbers.
 */
export async function replayLines(topology: Topology, input: Readable, options: ReplayOptions): Promise<ReplayResult> {
  const runtime = new InProcessRuntime(topology, {
    partitions: { [options.topic]: 1 },
    maxFutureMs: options.maxFutureMs,
    deserializationExceptionHandler: options.deserializationExceptionHandler,
    deadLetterSink: options.deadLetterSink,
    wallClock: options.wallClock,
    log: options.log,
  });
  const batchLines = options.batchLines ?? 4096;
  const commitEvery = options.commitEveryBatches ?? 64;
  const started = performance.now();
  let lineNo = 0;
  let bytes = 0;
  let batches = 0;
  let batch: RawRecord[] = [];
  let carry: Buffer | null = null;

  const emit = async () => {
    runtime.processBatch(options.topic, 0, batch);
    batch = [];
    if (++batches % commitEvery === 0) await runtime.commit();
  };
  const push = (line: Buffer) => {
    lineNo++;
    let end = line.length;
    if (end > 0 && line[end - 1] === 13) end--; // CRLF files
    if (end === 0) return;
    batch.push({ key: null, value: end === line.length ? line : line.subarray(0, end), timestamp: 0, offset: lineNo });
  };

  for await (const chunk of input as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    let from = 0;
    if (carry !== null) {
      // Only the line that straddles the chunks is joined: copying every chunk behind the
      // carry would cost a pass over all the input.
      const nl = chunk.indexOf(NEWLINE);
      if (nl === -1) {
        carry = Buffer.concat([carry, chunk]);
        continue;
      }
      push(Buffer.concat([carry, chunk.subarray(0, nl)]));
      carry = null;
      from = nl + 1;
      if (batch.length >= batchLines) await emit();
    }
    for (let nl = chunk.indexOf(NEWLINE, from); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
      push(chunk.subarray(from, nl));
      from = nl + 1;
      if (batch.length >= batchLines) await emit();
    }
    // Copy the tail: it must not pin the whole chunk in memory.
    carry = from < chunk.length ? Buffer.from(chunk.subarray(from)) : null;
  }
  if (carry !== null) push(carry);
  if (batch.length > 0) await emit();
  runtime.endOfInput();
  await runtime.commit();
  await runtime.close();
  return { lines: lineNo, bytes, elapsedMs: performance.now() - started, metrics: runtime.metrics };
}
