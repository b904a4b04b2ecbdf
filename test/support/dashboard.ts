// Helpers of the dashboard, interactive-query and metrics tests: a `run --http` process's address,
// JSON over HTTP, and the KPI topics read until they stop changing.
import { Kafka, logLevel } from 'kafkajs';
import type { CliProcess } from './cli.ts';
import { latestByKey } from './reference.ts';
import { readTopic } from './topic-reader.ts';

/** The dashboard address a `run --http` process logs once it listens. */
export async function dashboardUrl(p: CliProcess, timeoutMs = 60_000): Promise<string> {
  const m = await p.waitFor(/dashboard at (http:\/\/[^\s;]+\/)/, timeoutMs);
  return m[1]!;
}

export async function getJson<T = Record<string, unknown>>(url: string, token?: string): Promise<{ status: number; body: T }> {
  const r = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: r.status, body: (await r.json()) as T };
}

export async function getText(url: string, token?: string): Promise<string> {
  const r = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.text();
}

/** Latest value per key of a compacted KPI topic, read until two reads 2 s apart agree (the pipeline is idle). */
export async function settledLatest(brokers: readonly string[], topic: string, atLeast: number, timeoutMs = 120_000): Promise<Map<string, string>> {
  const until = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const latest = latestByKey(await readTopic(brokers, topic));
    const text = JSON.stringify([...latest].sort());
    if (latest.size >= atLeast && text === last) return latest;
    if (Date.now() > until) throw new Error(`${topic} did not settle with ${atLeast} keys: ${latest.size} keys`);
    last = text;
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

export async function createTopic(brokers: readonly string[], topic: string, partitions: number): Promise<void> {
  const admin = new Kafka({ clientId: 'test', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  await admin.disconnect();
}

/** Sum over every series of a metric name. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}
