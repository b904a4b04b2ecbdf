/**
 * The seeded data set every measurement reads: the input topic, preloaded with the simulator
 * as fast as the broker takes it, and the same invoices as a JSONL file for replay.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { FEED_SHAPE, InvoiceGenerator, type LineShape } from '../simulator/generator.ts';
import type { BenchConfig } from './config.ts';
import { runToEnd } from './support/child.ts';
import { repoRoot } from './support/kafka.ts';

export const CLI = join(repoRoot, 'bin', 'retail-streams.js');

export interface Preload {
  readonly invoices: number;
  readonly seconds: number;
  readonly rate: number;
}

/**
 * Preloads `topic` with `simulate --rate 0`. `count` (default: the config's invoice count) and
 * `shape`: `feed` sends feed-shaped invoices at the feed's event rate (as `exportJsonl` writes them).
 */
export async function preloadTopic(c: BenchConfig, bootstrap: string, topic: string, logFile: string, opts: { count?: number; shape?: LineShape } = {}): Promise<Preload> {
  const count = opts.count ?? c.invoices;
  const shape = opts.shape ?? 'compact';
  const eventRate = shape === 'feed' ? FEED_SHAPE.eventRate : c.eventRate;
  const args = [
    CLI, 'simulate', '--brokers', bootstrap, '--topic', topic, '--rate', '0', '--count', String(count),
    '--partitions', String(c.partitions), '--seed', String(c.seed), '--start', c.start, '--event-rate', String(eventRate),
    '--out-of-order-ratio', String(c.outOfOrderRatio), '--late-ratio', String(c.lateRatio), '--bad-ratio', String(c.badRatio),
    '--shape', shape,
  ];
  const r = await runToEnd('simulate', process.execPath, args, { logFile, timeoutMs: 15 * 60_000 });
  if (r.exit.code !== 0) throw new Error(`simulate failed (exit ${r.exit.code}):\n${r.child.lastLines()}`);
  return { invoices: count, seconds: r.elapsedMs / 1000, rate: count / (r.elapsedMs / 1000) };
}

/**
 * The first `lines` invoices of the topic, in the simulator's order (same seed, ratios, clock).
 * `shape: 'feed'` writes them as the original feed looks instead (simulator/generator.ts
 * `FEED_SHAPE`), at its event rate rather than the config's: what `simulate --shape feed` sends.
 */
export async function exportJsonl(c: BenchConfig, path: string, lines: number, shape: LineShape = 'compact'): Promise<{ lines: number; bytes: number }> {
  const gen = new InvoiceGenerator({ seed: c.seed, outOfOrderRatio: c.outOfOrderRatio, lateRatio: c.lateRatio, badRatio: c.badRatio, shape });
  const start = Date.parse(c.start);
  const step = 1000 / (shape === 'feed' ? FEED_SHAPE.eventRate : c.eventRate);
  const out = createWriteStream(path);
  let bytes = 0;
  let chunk: string[] = [];
  for (let i = 0; i < lines; i++) {
    chunk.push(gen.next(start + Math.floor(i * step)).text);
    if (chunk.length === 10_000 || i === lines - 1) {
      const text = chunk.join('\n') + '\n';
      bytes += Buffer.byteLength(text);
      chunk = [];
      if (!out.write(text)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
  return { lines, bytes };
}
