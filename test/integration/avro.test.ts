// Avro with a real schema registry (Apicurio, Confluent-compatible API) and a real broker:
// a topic mixing JSON, Avro v1 and Avro v2 gives the reference KPIs; an incompatible schema is
// refused; a registry outage in the middle of a stream neither loses nor dead-letters a record.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import avsc from 'avsc';
import { Kafka, logLevel } from 'kafkajs';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { startRegistry, type Registry } from '../support/registry.ts';
import { runCli, startCli, type CliProcess } from '../support/cli.ts';
import { parseFeedLine, referenceKpis, type RefInput, type RefInvoice } from '../support/reference.ts';
import { RegistryClient } from '../../processors/avro/registry.ts';
import { invoiceSchemaV1, invoiceSchemaV2 } from '../../processors/avro/schemas.ts';
import { eventually, readDataset } from '../support/kpi-check.ts';
import { readTopicBytes } from '../support/topic-reader.ts';

const WINDOW = 60_000;
const GRACE = 120_000;

let kafka: KafkaCluster;
let registry: Registry;
let brokers: string;

beforeAll(async () => {
  [kafka, registry] = await Promise.all([startKafka(), startRegistry()]);
  brokers = kafka.bootstrap.join(',');
  // The runtime writes rejected records with their event time (2020 here) as the Kafka
  // timestamp, so time-based retention would delete them within seconds: keep them for the test.
  const admin = new Kafka({ clientId: 'avro-test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: ['invoices-dead-letter', 'invoices-late'].map((topic) => ({ topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] })),
    waitForLeaders: true,
  });
  await admin.disconnect();
});
afterAll(async () => {
  await Promise.all([kafka?.stop(), registry?.stop()]);
});

const readRaw = (topic: string) => readTopicBytes(kafka.bootstrap, topic);

/** The registry's own copy of a schema, parsed by plain avsc: an independent reader. */
const schemaCache = new Map<string, avsc.Type | null>();
async function registrySchema(url: string, id: number): Promise<avsc.Type | null> {
  const key = `${url} ${id}`;
  if (!schemaCache.has(key)) {
    const res = await fetch(`${url}/schemas/ids/${id}`);
    schemaCache.set(key, res.status === 200 ? avsc.Type.forSchema(JSON.parse(((await res.json()) as { schema: string }).schema)) : null);
  }
  return schemaCache.get(key)!;
}

/** An independent reading of one input record: JSON feed line or Confluent-framed Avro. */
async function refParse(url: string, v: Buffer | null): Promise<RefInvoice | null> {
  if (v === null) return null;
  if (v[0] === 0) {
    if (v.length < 5) return null;
    const type = await registrySchema(url, v.readUInt32BE(1));
    if (type === null) return null;
    try {
      return parseFeedLine(JSON.stringify(type.fromBuffer(v.subarray(5))));
    } catch {
      return null;
    }
  }
  return parseFeedLine(v.toString('utf8'));
}

async function referenceFor(url: string, topic: string) {
  const records = await readRaw(topic);
  const inputs: RefInput[] = [];
  let invalid = 0;
  for (const r of records) {
    const inv = await refParse(url, r.value);
    if (inv === null) invalid++;
    else inputs.push({ partition: r.partition, invoice: inv });
  }
  const ref = referenceKpis(inputs, WINDOW, GRACE);
  const maxTs = Math.max(...inputs.map((i) => i.invoice.ts));
  const closed = (line: string) => Date.parse(JSON.parse(line).window.end) + GRACE <= maxTs;
  return { ref, invalid, total: records.length, closedTime: ref.time.filter(closed).sort(), closedCountry: ref.country.filter(closed).sort() };
}



/**
 * Latest value per key of a KPI topic for windows starting with `prefix` (keys are the window
 * start, or start|country); Avro values decoded with the registry's schema, as JSON text.
 */
async function latestKpis(url: string, topic: string, prefix: string): Promise<Map<string, string>> {
  const latest = new Map<string, string>();
  for (const r of await readRaw(topic)) {
    if (r.key === null || r.value === null || !r.key.startsWith(prefix)) continue;
    let text: string;
    if (r.value[0] === 0) {
      const type = await registrySchema(url, r.value.readUInt32BE(1));
      if (type === null) throw new Error(`KPI record with an unknown schema id ${r.value.readUInt32BE(1)}`);
      text = JSON.stringify(type.fromBuffer(r.value.subarray(5)));
    } else text = r.value.toString('utf8');
    latest.set(r.key, text);
  }
  return latest;
}

/** The latest values are exactly the reference lines (an update topic converges on them). */
const sameLines = (m: Map<string, string>, lines: readonly string[]) => JSON.stringify([...m.values()].sort()) === JSON.stringify([...lines].sort());

type Format = 'json' | 'v1' | 'v2';
async function simulate(url: string, topic: string, format: Format, o: { count: number; seed: number; start: number; eventRate: number; badRatio: number; partitions: number }) {
  const args = [
    'simulate', '--brokers', brokers, '--topic', topic, '--rate', '0', '--count', String(o.count), '--partitions', String(o.partitions), '--seed', String(o.seed),
    '--start', new Date(o.start).toISOString(), '--event-rate', String(o.eventRate), '--grace', '2m', '--late-ratio', '0.01', '--bad-ratio', String(o.badRatio), '--out-of-order-ratio', '0.05',
    ...(format === 'json' ? [] : ['--format', 'avro', '--registry', url, '--schema-version', format === 'v1' ? '1' : '2']),
  ];
  const r = await runCli(args);
  expect(r.code, r.output).toBe(0);
  const m = /schema id (\d+)/.exec(r.output);
  return m === null ? undefined : Number(m[1]);
}

const runArgs = (topic: string, group: string, sink: string, url: string, extra: string[] = []) => [
  'run', '--brokers', brokers, '--input', topic, '--group', group, '--sink', sink, '--window', '1m', '--grace', '2m', '--idle', '2s', '--registry', url, ...extra,
];

describe('Avro with a real schema registry', () => {
  it('a topic mixing JSON, Avro v1 and Avro v2 gives the reference KPIs, in files and in Avro KPI topics', async () => {
    const topic = 'avro-mixed';
    const start = Date.UTC(2020, 8, 18, 10, 0, 0);
    const formats: Format[] = ['v1', 'json', 'v2'];
    const ids = new Map<Format, Set<number>>();
    // Twelve chunks of 75 s of event time, the format changing every chunk: most windows mix two.
    for (let k = 0; k < 12; k++) {
      const f = formats[k % 3]!;
      const id = await simulate(registry.url, topic, f, { count: 150, seed: 100 + k, start: start + k * 75_000, eventRate: 2, badRatio: 0.05, partitions: 4 });
      if (id !== undefined) ids.set(f, (ids.get(f) ?? new Set()).add(id));
    }
    // One id per schema version, the same each time it is registered; v2 is a new version.
    expect(ids.get('v1')!.size).toBe(1);
    expect(ids.get('v2')!.size).toBe(1);
    expect([...ids.get('v1')!][0]).not.toBe([...ids.get('v2')!][0]);
    const versions = (await (await fetch(`${registry.url}/subjects/${topic}-value/versions`)).json()) as number[];
    expect(versions).toHaveLength(2);

    const sink = await mkdtemp(join(tmpdir(), 'rs-avro-'));
    const p = startCli(runArgs(topic, 'g-avro', sink, registry.url, ['--output-format', 'avro']));
    try {
      await p.waitFor(/joined group g-avro/);
      const { ref, invalid, closedTime, closedCountry } = await referenceFor(registry.url, topic);
      expect(closedTime.length).toBeGreaterThan(5);
      const files = await eventually(() => readDataset(join(sink, 'time-kpis')), (l) => l.length >= closedTime.length);
      expect(files).toEqual(closedTime);
      expect(await readDataset(join(sink, 'time-country-kpis'))).toEqual(closedCountry);
      // The update topics are Avro, registered under <topic>-value, and end on the reference values.
      const latest = await eventually(() => latestKpis(registry.url, 'kpi-time', '2020-09-18'), (m) => sameLines(m, ref.time));
      expect([...latest.values()].sort()).toEqual([...ref.time].sort());
      const country = await eventually(() => latestKpis(registry.url, 'kpi-time-country', '2020-09-18'), (m) => sameLines(m, ref.country));
      expect([...country.values()].sort()).toEqual([...ref.country].sort());
      // Every bad record, JSON or Avro, is dead-lettered with its reason and origin.
      const dead = (await readRaw('invoices-dead-letter')).filter((r) => r.headers['rs-source-topic'] === topic);
      expect(dead).toHaveLength(invalid);
      const reasons = new Set(dead.map((d) => d.headers['rs-reason']));
      for (const r of ['unknown-schema', 'bad-avro', 'bad-magic-byte', 'not-json']) expect(reasons).toContain(r);
      for (const d of dead) expect(Number(d.headers['rs-source-offset'])).toBeGreaterThanOrEqual(0);
      const unknown = dead.find((d) => d.headers['rs-reason'] === 'unknown-schema')!;
      expect(unknown.headers['rs-detail']).toMatch(/not in the schema registry at .*not found/i);
      const late = (await readRaw('invoices-late')).filter((r) => r.headers['rs-source-topic'] === topic);
      expect(late).toHaveLength(ref.late);
    } finally {
      expect(await p.stop()).toBe(0);
    }
  });

  it('an incompatible schema version is refused by the registry, and simulate says so', async () => {
    const r = await runCli(['simulate', '--brokers', brokers, '--topic', 'avro-mixed', '--count', '10', '--format', 'avro', '--registry', registry.url, '--schema-version', 'incompatible']);
    expect(r.code).toBe(5);
    expect(r.output).toMatch(/refused the schema for subject avro-mixed-value: .*incompatible/i);
    expect(r.output).toMatch(/nothing was sent/);
    const noRegistry = await runCli(['simulate', '--brokers', brokers, '--count', '10', '--format', 'avro'], { RS_REGISTRY: '' });
    expect(noRegistry.code).toBe(2);
    expect(noRegistry.output).toMatch(/--format avro needs --registry/);
  });

  it('a registry outage mid-stream: records wait, none is lost or dead-lettered', async () => {
    const topic = 'avro-outage';
    const start = Date.UTC(2020, 8, 19, 10, 0, 0);
    // A registry of its own, so its content ids are known from the start.
    const reg = await startRegistry();
    const proxy = await tcpProxy(Number(new URL(reg.url).port));
    const proxied = reg.url.replace(`:${new URL(reg.url).port}/`, `:${proxy.port}/`);
    const sink = await mkdtemp(join(tmpdir(), 'rs-avro-outage-'));
    const chunk = { count: 300, eventRate: 2, badRatio: 0, partitions: 2 };
    let p: CliProcess | undefined;
    try {
      const v1 = await simulate(reg.url, topic, 'v1', { ...chunk, seed: 1, start });
      // A long --idle: while a batch waits for the registry the whole process waits, and with a
      // short one the combining task would take the stalled partition for idle and close its
      // windows early once the other partition's backlog arrives (wall-clock idleness; see README).
      p = startCli(runArgs(topic, 'g-outage', sink, proxied, ['--idle', '10m']));
      await p.waitFor(/joined group g-outage/);
      await eventually(() => latestKpis(reg.url, 'kpi-time', '2020-09-19T10:0'), (m) => m.size >= 2);

      // The run's registry goes away; v2 records (an id the run has not seen) and JSON arrive.
      proxy.down();
      const v2 = await simulate(reg.url, topic, 'v2', { ...chunk, seed: 2, start: start + 150_000 });
      await simulate(reg.url, topic, 'json', { ...chunk, seed: 3, start: start + 300_000 });
      await p.waitFor(/unavailable, retrying/);
      const run = p;

      // The registry itself stops and starts (in-memory: empty again); the schemas are registered
      // again in the same order, and content ids come out the same.
      await reg.restart();
      const client = new RegistryClient(reg.url);
      expect(await client.register(`${topic}-value`, invoiceSchemaV1)).toBe(v1);
      expect(await client.register(`${topic}-value`, invoiceSchemaV2)).toBe(v2);
      await new Promise((r) => setTimeout(r, 3000));
      expect(run.output()).not.toMatch(/answered for schema id/);
      proxy.up();
      await run.waitFor(/answered for schema id \d+ after \d+ retries/);

      const { ref, invalid, total, closedTime } = await referenceFor(reg.url, topic);
      expect(invalid).toBe(0);
      expect(total).toBe(900);
      const latest = await eventually(() => latestKpis(reg.url, 'kpi-time', '2020-09-19'), (m) => sameLines(m, ref.time));
      expect([...latest.values()].sort()).toEqual([...ref.time].sort());
      const files = await eventually(() => readDataset(join(sink, 'time-kpis')), (l) => l.filter((x) => x.includes('2020-09-19')).length >= closedTime.length);
      expect(files.filter((x) => x.includes('2020-09-19'))).toEqual(closedTime);
      const dead = (await readRaw('invoices-dead-letter')).filter((r) => r.headers['rs-source-topic'] === topic);
      expect(dead).toHaveLength(0);
      const late = (await readRaw('invoices-late')).filter((r) => r.headers['rs-source-topic'] === topic);
      expect(late).toHaveLength(ref.late);
    } finally {
      await p?.stop();
      if (process.env['AVRO_TEST_LOG'] !== undefined) await writeFile(process.env['AVRO_TEST_LOG'], p?.output() ?? '');
      await proxy.close();
      await reg.stop();
    }
  });
});

/** A TCP proxy to a local port that can refuse connections (down) and accept them again (up). */
async function tcpProxy(target: number): Promise<{ port: number; down(): void; up(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(target, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);
  const down = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    down,
    up: () => void listen(port),
    close: async () => down(),
  };
}
