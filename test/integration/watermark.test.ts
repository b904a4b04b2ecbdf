import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { runCli, startCli, type CliProcess } from '../support/cli.ts';
import { readTopic } from '../support/topic-reader.ts';
import { parseFeedLine } from '../support/reference.ts';
import { eventually, readDataset } from '../support/kpi-check.ts';

// The issue: 100,000 invoices produced at once onto 4 partitions, grace 10 minutes, a long
// --idle. Every window whose end + grace the slowest partition has passed must close within
// seconds of the input being consumed: on the watermark, not when idleness rescues it.
const WINDOW = 60_000;
const GRACE = 600_000;
const START = Date.UTC(2020, 8, 18, 10, 0, 0);
const COUNT = 100_000;
/** Seconds the watermark may take once the input is in: far below --idle (10 minutes). */
const PROMPT_MS = 30_000;

let kafka: KafkaCluster;
let brokers: string;

beforeAll(async () => {
  kafka = await startKafka();
  brokers = kafka.bootstrap.join(',');
});
afterAll(async () => {
  await kafka?.stop();
});

async function simulate(topic: string) {
  const r = await runCli([
    'simulate', '--brokers', brokers, '--topic', topic, '--rate', '0', '--count', String(COUNT), '--partitions', '4', '--seed', '42',
    '--start', new Date(START).toISOString(), '--event-rate', '19', '--grace', '10m',
  ]);
  expect(r.code, r.output).toBe(0);
}

/**
 * Computed from the input topic alone, not from the code under test: per partition, in offset
 * order, stream time is the largest event time so far and a record is late once stream time
 * reached its window's end + grace; the watermark is the smallest of the partitions' largest
 * event times; a window must be closed when its end + grace is at or below the watermark.
 */
async function expectedClosedWindows(topic: string): Promise<{ windows: string[]; watermark: number }> {
  const records = await readTopic(kafka.bootstrap, topic);
  expect(records).toHaveLength(COUNT);
  const streamTime = new Map<number, number>();
  const starts = new Set<number>();
  for (const r of [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
    const inv = r.value === null ? null : parseFeedLine(r.value);
    if (inv === null) continue;
    const st = Math.max(streamTime.get(r.partition) ?? Number.NEGATIVE_INFINITY, inv.ts);
    streamTime.set(r.partition, st);
    const start = inv.ts - (((inv.ts % WINDOW) + WINDOW) % WINDOW);
    if (st < start + WINDOW + GRACE) starts.add(start);
  }
  expect(streamTime.size).toBe(4);
  const watermark = Math.min(...streamTime.values());
  const windows = [...starts].filter((s) => s + WINDOW + GRACE <= watermark).sort((a, b) => a - b).map((s) => new Date(s).toISOString());
  return { windows, watermark };
}

/** Window starts of the final time KPIs in the file sink, each once. */
const closedInFiles = async (sink: string) =>
  [...new Set((await readDataset(join(sink, 'time-kpis'))).map((l) => (JSON.parse(l) as { window: { start: string } }).window.start))].sort();

const runArgs = (topic: string, group: string, sink: string) => [
  'run', '--brokers', brokers, '--input', topic, '--group', group, '--sink', sink, '--window', '1m', '--grace', '10m', '--idle', '10m',
  '--state-dir', join(sink, '.state'),
];

/** Waits until `p` has consumed every invoice (its progress line says so). */
const consumedAll = (p: CliProcess) => p.waitFor(new RegExp(`valid ${COUNT} `), 90_000);

describe('watermark propagation on a real broker (--idle 10m)', () => {
  it('closes every window the watermark allows within seconds of consuming 100,000 invoices produced at once', async () => {
    const topic = 'wm-at-once';
    await simulate(topic);
    const { windows } = await expectedClosedWindows(topic);
    expect(windows.length).toBeGreaterThan(70);
    const sink = await mkdtemp(join(tmpdir(), 'rs-wm-'));
    const p = startCli(runArgs(topic, 'g-wm-at-once', sink));
    try {
      await consumedAll(p);
      const consumedAt = Date.now();
      const files = await eventually(() => closedInFiles(sink), (w) => w.length >= windows.length, PROMPT_MS);
      expect(files, `closed ${files.length} of ${windows.length} windows ${Math.round((Date.now() - consumedAt) / 1000)} s after the input was consumed`).toEqual(windows);
      // The progress log counts the same windows.
      const m = await p.waitFor(new RegExp(`windows closed ${windows.length}\\b`), 15_000);
      expect(m).toBeTruthy();
    } finally {
      expect(await p.stop()).toBe(0);
    }
  });

  it('after a restart with nothing left to read, restored stream times still close the remaining windows within seconds', async () => {
    const topic = 'wm-restart';
    await simulate(topic);
    const { windows } = await expectedClosedWindows(topic);
    const sink = await mkdtemp(join(tmpdir(), 'rs-wm-restart-'));
    const first = startCli(runArgs(topic, 'g-wm-restart', sink));
    try {
      await first.waitFor(/task 1_3 started/);
      // Stop gracefully while the combining stage is still catching up: its input offsets and
      // the input tasks' stream times are committed, so the second process has (almost) nothing to read.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const second = startCli(runArgs(topic, 'g-wm-restart', sink));
    try {
      await second.waitFor(/task 1_3 started/);
      const files = await eventually(() => closedInFiles(sink), (w) => w.length >= windows.length, PROMPT_MS);
      expect(files, `closed ${files.length} of ${windows.length} windows`).toEqual(windows);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
