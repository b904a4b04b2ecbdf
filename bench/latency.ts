/**
 * Latency from an invoice being produced to a KPI update that counts it, at a fixed produce rate
 * (half of the measured maximum throughput).
 *
 * Method. This process produces on-time invoices at the target rate with the wall clock as event
 * time, keyed by country (each country always on the same one of 4 partitions, as a producer
 * keyed by country does), and notes each invoice's produce time (when it was handed to the
 * client). A `retail-streams run` (fresh group, in-memory store) computes the KPIs; this process
 * reads `kpi-time` and `kpi-time-country`, which the benchmark created with
 * message.timestamp.type=LogAppendTime: each update carries the broker's append time A (same
 * machine, same clock), so how soon this reader gets it does not count.
 *  - Per invoice (the target's figure, exact): a country's invoices sit on one partition, which
 *    is processed in order, so an update of (window W, country c) with OPM = n counts exactly
 *    the first n invoices of c in W. An invoice's latency is A of the first such update with
 *    OPM >= its rank, minus its produce time. Every invoice counts, so emitting rarely cannot
 *    hide behind few, fresh updates.
 *  - Per update of `kpi-time`: an update of W with OPM = n counts at least one invoice produced
 *    at or after P_W(n), the produce time of the n-th invoice of W (pigeonhole), so A - P_W(n)
 *    bounds the age of the newest invoice it covers from above.
 * The first seconds (group join, task start) are a warm-up: only invoices produced in the
 * measured span count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { COUNTRIES } from '../simulator/catalog.ts';
import { formatFeedTime, InvoiceGenerator } from '../simulator/generator.ts';
import { CLI } from './dataset.ts';
import { Child } from './support/child.ts';
import { createTopic } from './support/kafka.ts';
import { percentile } from './support/stats.ts';

export interface LatencyRep {
  readonly targetRate: number;
  readonly achievedRate: number;
  /** Invoices produced in the measured span. */
  readonly invoices: number;
  readonly invoiceP50Ms: number;
  readonly invoiceP99Ms: number;
  readonly invoiceMaxMs: number;
  /** Measured invoices that no update counted before the end (should be 0). */
  readonly uncovered: number;
  readonly updates: number;
  readonly updateP50Ms: number;
  readonly updateP99Ms: number;
}

interface Update {
  readonly key: string;
  readonly opm: number;
  readonly appendedAt: number;
}

const TICK_MS = 5;
const SEND_CHUNK = 1000;
const MAX_IN_FLIGHT = 4;
const POOL = 50_000;
const SENTINEL_TIME = Date.UTC(2000, 0, 1);
const SENTINEL_TEXT = formatFeedTime(SENTINEL_TIME);
const PARTITIONS = 4;

/** Each country on one partition, the heaviest first onto the least loaded. */
const partitionOfCountry: ReadonlyMap<string, number> = (() => {
  const load = new Array<number>(PARTITIONS).fill(0);
  const out = new Map<string, number>();
  for (const [country, weight] of [...COUNTRIES].sort((a, b) => b[1] - a[1])) {
    const p = load.indexOf(Math.min(...load));
    out.set(country, p);
    load[p]! += weight;
  }
  return out;
})();

const COUNTRY = /"country":("(?:[^"\\]|\\.)*")/;

const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => {
  const l = m.get(k);
  if (l === undefined) m.set(k, [v]);
  else l.push(v);
};

export async function latencyRep(o: {
  admin: Admin;
  bootstrap: string;
  rate: number;
  seconds: number;
  warmupSeconds: number;
  seed: number;
  id: string;
  timeTopic: string;
  countryTopic: string;
  logFile: string;
}): Promise<LatencyRep> {
  const topic = `bench-latency-${o.id}`;
  await createTopic(o.admin, topic, PARTITIONS);
  const work = mkdtempSync(join(tmpdir(), 'retail-streams-bench-latency-'));
  const kafka = new Kafka({ clientId: 'bench-latency', brokers: [o.bootstrap], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-latency-reader-${o.id}`, maxWaitTimeInMs: 20 });
  // The load generator's producer is @platformatic/kafka: about 3x kafkajs's send rate here, so
  // that the generator, which shares the 2 cores with `run` and the broker, reaches the rate.
  // Idempotent: a retried send never reorders a partition, which the per-invoice figure relies on.
  const producer = new Producer({ clientId: 'bench-latency-load', bootstrapBrokers: [o.bootstrap], idempotent: true, acks: -1, serializers: stringSerializers });
  const run = new Child('run (latency)', process.execPath, [
    CLI, 'run', '--brokers', o.bootstrap, '--group', `bench-latency-${o.id}`, '--input', topic, '--store', 'memory',
    '--sink', join(work, 'sink'), '--state-dir', join(work, 'state'),
  ], { logFile: o.logFile });
  try {
    const timeUpdates: Update[] = [];
    const countryUpdates: Update[] = [];
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: [o.timeTopic, o.countryTopic], fromBeginning: false });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const into = batch.topic === o.timeTopic ? timeUpdates : countryUpdates;
        for (const m of batch.messages) {
          if (m.value === null) continue;
          const v = JSON.parse(m.value.toString('utf8')) as { window?: { start?: string }; country?: string; OPM?: number };
          const window = Date.parse(v.window?.start ?? '');
          if (Number.isNaN(window) || typeof v.OPM !== 'number') continue;
          into.push({ key: batch.topic === o.timeTopic ? String(window) : `${window}|${JSON.stringify(v.country)}`, opm: v.OPM, appendedAt: Number(m.timestamp) });
        }
      },
    });
    await joined;
    await run.waitForLine(/running group/, 60_000);

    // Invoices made before the clock starts, so that the load generator spends its CPU on sending:
    // a pool of seeded invoices, each split around its timestamp, which is the send time's.
    const gen = new InvoiceGenerator({ seed: o.seed });
    const pool: { pre: string; post: string; country: string; partition: number }[] = [];
    for (let i = 0; i < POOL; i++) {
      const text = gen.next(SENTINEL_TIME).text;
      const at = text.indexOf(SENTINEL_TEXT);
      const country = COUNTRY.exec(text)?.[1] ?? '""';
      pool.push({ pre: text.slice(0, at), post: text.slice(at + SENTINEL_TEXT.length), country, partition: partitionOfCountry.get(JSON.parse(country) as string) ?? 0 });
    }
    // Produce at the target rate; produce times per window and per (window, country), in order.
    const byWindow = new Map<string, number[]>();
    const byCountry = new Map<string, number[]>();
    const inFlight: Promise<unknown>[] = [];
    const started = Date.now();
    const measureFrom = started + o.warmupSeconds * 1000;
    const end = measureFrom + o.seconds * 1000;
    let sent = 0;
    while (Date.now() < end) {
      const now = Date.now();
      const due = Math.floor(((now - started) / 1000) * o.rate) - sent;
      if (due <= 0) {
        await new Promise((r) => setTimeout(r, TICK_MS));
        continue;
      }
      // The feed's timestamps have whole seconds: the window is that of the truncated time.
      const window = String(Math.floor(now / 60_000) * 60_000);
      const stamp = formatFeedTime(now);
      for (let from = 0; from < due; from += SEND_CHUNK) {
        const n = Math.min(SEND_CHUNK, due - from);
        const messages: { topic: string; value: string; partition: number }[] = new Array(n);
        // Produce time: when the chunk is handed to the client (a generator falling behind is not charged to `run`).
        const handedAt = Date.now();
        for (let i = 0; i < n; i++) {
          const t = pool[(sent + from + i) % POOL]!;
          messages[i] = { topic, value: t.pre + stamp + t.post, partition: t.partition };
          push(byWindow, window, handedAt);
          push(byCountry, `${window}|${t.country}`, handedAt);
        }
        // Requests under the broker's 1 MiB record-batch limit, a few in flight on one connection
        // (the broker handles a connection's requests in order; the idempotent producer would
        // fail rather than reorder).
        inFlight.push(producer.send({ messages }));
        if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
      }
      sent += due;
    }
    await Promise.all(inFlight);
    const achievedRate = sent / ((Date.now() - started) / 1000);
    // Let the last invoices through, then stop.
    await new Promise((r) => setTimeout(r, 3_000));

    if (!run.running) throw new Error(`run exited during the measurement: ${run.lastLines(1)}`);
    const measured = (t: number) => t >= measureFrom && t < end;
    const group = (us: Update[]) => {
      const m = new Map<string, Update[]>();
      for (const u of us) push(m, u.key, u);
      for (const l of m.values()) l.sort((a, b) => a.appendedAt - b.appendedAt);
      return m;
    };
    // Per invoice, exact: (window, country) updates count a prefix of that country's invoices.
    const perInvoice: number[] = [];
    let uncovered = 0;
    let invoices = 0;
    const countryByKey = group(countryUpdates);
    for (const [key, times] of byCountry) {
      let covered = 0;
      for (const u of countryByKey.get(key) ?? []) {
        const n = Math.min(u.opm, times.length);
        for (let k = covered; k < n; k++) if (measured(times[k]!)) perInvoice.push(u.appendedAt - times[k]!);
        covered = Math.max(covered, n);
      }
      for (let k = 0; k < times.length; k++) {
        if (!measured(times[k]!)) continue;
        invoices++;
        if (k >= covered) uncovered++;
      }
    }
    // Per kpi-time update: an upper bound on the age of the newest invoice it covers.
    const perUpdate: number[] = [];
    for (const [key, us] of group(timeUpdates)) {
      const times = byWindow.get(key) ?? [];
      for (const u of us) {
        const n = Math.min(u.opm, times.length);
        if (n >= 1 && measured(times[n - 1]!)) perUpdate.push(u.appendedAt - times[n - 1]!);
      }
    }
    if (perInvoice.length === 0) throw new Error(`no KPI update counted any of the ${invoices} invoices`);
    return {
      targetRate: o.rate,
      achievedRate,
      invoices,
      invoiceP50Ms: percentile(perInvoice, 50),
      invoiceP99Ms: percentile(perInvoice, 99),
      invoiceMaxMs: percentile(perInvoice, 100),
      uncovered,
      updates: perUpdate.length,
      updateP50Ms: percentile(perUpdate, 50),
      updateP99Ms: percentile(perUpdate, 99),
    };
  } finally {
    await run.stop();
    await producer.close().catch(() => {});
    await consumer.disconnect().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}
