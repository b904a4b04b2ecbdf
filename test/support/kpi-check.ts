import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readTopic } from './topic-reader.ts';
import type { KafkaSecurity } from '../../topology/runtimes/kafka/security.ts';
import { latestByKey, parseFeedLine, referenceKpis, type RefInput, type RefKpis } from './reference.ts';

/** Every JSON line under a dataset folder of the local file sink, sorted; temp files excluded. */
export async function readDataset(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith('.json') && !e.name.startsWith('.')) lines.push(...(await readFile(join(d, e.name), 'utf8')).split('\n').filter((l) => l !== ''));
    }
  };
  await walk(dir);
  return lines.sort();
}

export interface TopicReference {
  readonly ref: RefKpis;
  readonly invalid: number;
  readonly total: number;
  /** Final time KPIs of the windows that must have closed, sorted. */
  readonly closedTime: string[];
  readonly closedCountry: string[];
}

/**
 * The input topic as the reference sees it: valid invoices per partition in offset order.
 * `closeBy` says up to when windows close: with every partition idle, at the largest event
 * time seen ('max'); with no idle timeout, at the smallest of the partitions' largest ('min').
 */
export async function referenceFor(
  brokers: readonly string[], topic: string, windowMs: number, graceMs: number, closeBy: 'max' | 'min', security?: KafkaSecurity,
): Promise<TopicReference> {
  const records = await readTopic(brokers, topic, { security });
  const inputs: RefInput[] = [];
  let invalid = 0;
  const maxByPartition = new Map<number, number>();
  for (const r of records) {
    const inv = r.value === null ? null : parseFeedLine(r.value);
    if (inv === null) {
      invalid++;
      continue;
    }
    inputs.push({ partition: r.partition, invoice: inv });
    maxByPartition.set(r.partition, Math.max(maxByPartition.get(r.partition) ?? -Infinity, inv.ts));
  }
  const ref = referenceKpis(inputs, windowMs, graceMs);
  const times = [...maxByPartition.values()];
  const closeAt = closeBy === 'max' ? Math.max(...times) : Math.min(...times);
  const closed = (line: string) => Date.parse((JSON.parse(line) as { window: { end: string } }).window.end) + graceMs <= closeAt;
  return { ref, invalid, total: records.length, closedTime: ref.time.filter(closed).sort(), closedCountry: ref.country.filter(closed).sort() };
}

/** Polls until `ok` holds or the time is up, and returns the last value either way. */
export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 1000));
    v = await probe();
  }
  return v;
}

/**
 * Exactly the reference KPIs of an input topic: every closed window's final in the file sink
 * (time and time-and-country datasets), and the latest committed `kpi-time` update per window.
 * `security`: read a secured broker as that user.
 */
export async function expectExact(brokers: readonly string[], topic: string, sink: string, windowMs: number, graceMs: number, security?: KafkaSecurity): Promise<void> {
  const { ref, closedTime, closedCountry } = await referenceFor(brokers, topic, windowMs, graceMs, 'min', security);
  expect(closedTime.length).toBeGreaterThan(1);
  const files = await eventually(() => readDataset(join(sink, 'time-kpis')), (l) => l.length >= closedTime.length, 180_000);
  expect(files).toEqual(closedTime);
  expect(await readDataset(join(sink, 'time-country-kpis'))).toEqual(closedCountry);
  const wanted = new Set(ref.time.map((t) => (JSON.parse(t) as { window: { start: string } }).window.start));
  const latest = await eventually(
    async () => [...latestByKey(await readTopic(brokers, 'kpi-time', { readCommitted: true, security })).entries()].filter(([k]) => wanted.has(k)).map(([, v]) => v).sort(),
    (v) => JSON.stringify(v) === JSON.stringify([...ref.time].sort()),
    60_000,
  );
  expect(latest).toEqual([...ref.time].sort());
}
