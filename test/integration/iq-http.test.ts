// Interactive queries, /metrics and readiness of `run --http`, with two processes in one group on a
// real broker: each answers for the windows it holds and names the other for the rest, and both
// agree with the KPI topics; metrics move as records flow; readiness drops during a rebalance.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { runCli, startCli, type CliProcess } from '../support/cli.ts';
import { createTopic, dashboardUrl, getJson, getText, metricSum, settledLatest } from '../support/dashboard.ts';

const TOPIC = 'iq-invoices';
const GROUP = 'g-iq';
const START = Date.UTC(2020, 8, 18, 10, 0, 0);

let kafka: KafkaCluster;
const procs: CliProcess[] = [];

beforeAll(async () => {
  kafka = await startKafka();
});
afterAll(async () => {
  for (const p of procs) await p.stop();
  await kafka?.stop();
});

const runArgs = () => [
  'run', '--brokers', kafka.bootstrap.join(','), '--input', TOPIC, '--group', GROUP, '--sink', mkdtempSync(join(tmpdir(), 'rs-iq-out-')),
  '--state-dir', mkdtempSync(join(tmpdir(), 'rs-iq-state-')), '--window', '1m', '--grace', '1h', '--idle', '2s', '--http', '0',
];

async function simulate(count: number, seed: number, start: number) {
  const r = await runCli([
    'simulate', '--brokers', kafka.bootstrap.join(','), '--topic', TOPIC, '--rate', '0', '--count', String(count), '--partitions', '4', '--seed', String(seed),
    '--start', new Date(start).toISOString(), '--event-rate', '4', '--grace', '1h', '--bad-ratio', '0.002',
  ]);
  expect(r.code, r.output).toBe(0);
}

const waitReady = async (base: string, timeoutMs = 60_000) => {
  const until = Date.now() + timeoutMs;
  while ((await fetch(`${base}health?ready`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > until) throw new Error(`${base} never became ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

interface WindowAnswer {
  local: boolean;
  host?: string;
  url?: string;
  activeHost?: string;
  time?: Record<string, unknown>;
  countries?: Record<string, unknown>[];
}

describe('interactive queries over HTTP on two processes', () => {
  it('turn unready while the group rebalances, answer for keys on either process as the KPI topics say, and expose metrics that move', async () => {
    await createTopic(kafka.bootstrap, TOPIC, 4);
    const a = startCli(runArgs());
    procs.push(a);
    const baseA = await dashboardUrl(a);
    await waitReady(baseA);

    // Readiness of A while B joins: polled back to back through the rebalance.
    const seen: { status: number; state: string }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const r = await fetch(`${baseA}ready`).catch(() => undefined);
        if (r !== undefined) seen.push({ status: r.status, state: ((await r.json()) as { state: string }).state });
        else await new Promise((x) => setTimeout(x, 5));
      }
    })();
    const b = startCli(runArgs());
    procs.push(b);
    const baseB = await dashboardUrl(b);
    await b.waitFor(/joined group g-iq: (?!no partitions)/);
    await waitReady(baseB);
    await waitReady(baseA);
    // Both members known, with their addresses, on both.
    const members = async (base: string) => (await getJson<{ members: { host: string | null }[] }>(`${base}api/members`)).body.members.map((m) => m.host);
    const hostOf = (base: string) => new URL(base).host;
    for (const base of [baseA, baseB]) {
      const until = Date.now() + 30_000;
      while ((await members(base)).filter((h) => h !== null).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
      expect((await members(base)).sort()).toEqual([hostOf(baseA), hostOf(baseB)].sort());
    }
    polling = false;
    await poller;
    const unready = seen.filter((s) => s.status === 503);
    expect(unready.length, JSON.stringify(seen.slice(0, 20))).toBeGreaterThan(0);
    expect(unready.every((s) => s.state === 'REBALANCING')).toBe(true);
    expect(seen.at(-1)).toEqual({ status: 200, state: 'RUNNING' });
    console.log(`readiness of the first process while the second joined: ${unready.length} of ${seen.length} polls (back to back) answered 503 REBALANCING`);

    const metricsBefore = await Promise.all([baseA, baseB].map((base) => getText(`${base}metrics`)));
    expect(metricSum(metricsBefore[0]!, 'retail_streams_rebalances_total')).toBeGreaterThanOrEqual(2);

    // 4000 invoices over 17 minutes of event time: 17 windows, all open (grace 1h).
    await simulate(4000, 9, START);
    const time = await settledLatest(kafka.bootstrap, 'kpi-time', 17);
    const countries = await settledLatest(kafka.bootstrap, 'kpi-time-country', 17);

    /** Asks `base` for every window; follows an answer naming the other member. Returns where each window was held. */
    const checkWindows = async (bases: string[]) => {
      const servedBy = new Map<string, number>();
      for (const [key, value] of time) {
        const start = Date.parse(key);
        const expectedCountries = [...countries].filter(([k]) => k.startsWith(`${key}|`)).map(([, v]) => JSON.parse(v) as Record<string, unknown>);
        for (const base of bases) {
          let { status, body } = await getJson<WindowAnswer>(`${base}api/windows/${start}`);
          expect(status, `${base} ${key}`).toBe(200);
          if (!body.local) {
            expect(body.activeHost, `${base} names the other member for ${key}`).toBe(bases.map(hostOf).find((h) => h !== hostOf(base)));
            ({ status, body } = await getJson<WindowAnswer>(body.url!));
            expect(status).toBe(200);
            expect(body.local, `${key} is held where ${base} said`).toBe(true);
          }
          servedBy.set(body.host!, (servedBy.get(body.host!) ?? 0) + 1);
          expect(body.time).toEqual(JSON.parse(value));
          const byName = (x: Record<string, unknown>[]) => [...x].sort((p, q) => String(p.country).localeCompare(String(q.country)));
          expect(byName(body.countries!)).toEqual(byName(expectedCountries));
        }
      }
      return servedBy;
    };
    const servedBy = await checkWindows([baseA, baseB]);
    console.log(`windows (each asked of both processes) answered by: ${[...servedBy].map(([h, n]) => `${h} ${n}`).join(', ')}`);

    // The metrics moved with the records.
    const after = await Promise.all([baseA, baseB].map((base) => getText(`${base}metrics`)));
    const sum = (texts: string[], name: string) => texts.reduce((n, t) => n + metricSum(t, name), 0);
    expect(sum(after, 'retail_streams_records_consumed_total') - sum(metricsBefore, 'retail_streams_records_consumed_total')).toBeGreaterThanOrEqual(4000);
    for (const t of after) {
      expect(metricSum(t, 'retail_streams_records_consumed_total')).toBeGreaterThan(0);
      expect(metricSum(t, 'retail_streams_process_latency_seconds_count')).toBeGreaterThan(0);
      expect(metricSum(t, 'retail_streams_commit_latency_seconds_count')).toBeGreaterThan(0);
      expect(t).toMatch(/^retail_streams_consumer_lag\{topic="[^"]+",partition="\d",application_id="g-iq"\} \d+$/m);
      expect(t).toMatch(/^retail_streams_state\{state="RUNNING",application_id="g-iq"\} 1$/m);
      expect(t).toMatch(/^retail_streams_group_lag\{partition="0"\} 0$/m);
    }
    expect(sum(after, 'retail_streams_dead_letter_records_total')).toBeGreaterThan(0);
    expect(sum(after, 'retail_streams_records_produced_total')).toBeGreaterThan(0);
    expect(after.some((t) => /^retail_streams_state_store_entries\{task="\d+_\d",store="kpi-country-store",application_id="g-iq"\} [1-9]/m.test(t))).toBe(true);
    // And again with a few more.
    await simulate(200, 10, START + 20 * 60_000);
    const until = Date.now() + 60_000;
    let consumed = sum(after, 'retail_streams_records_consumed_total');
    while (Date.now() < until) {
      const now = await Promise.all([baseA, baseB].map((base) => getText(`${base}metrics`)));
      if (sum(now, 'retail_streams_records_consumed_total') >= consumed + 200) {
        consumed = sum(now, 'retail_streams_records_consumed_total');
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(consumed).toBeGreaterThanOrEqual(sum(after, 'retail_streams_records_consumed_total') + 200);

    // B leaves: A takes over B's tasks, their state restored from the changelogs, and answers
    // for every window itself, as the topics say.
    const joinsBefore = a.output().match(/joined group g-iq/g)!.length;
    expect(await b.stop()).toBe(0);
    procs.splice(procs.indexOf(b), 1);
    for (const until = Date.now() + 60_000; (a.output().match(/joined group g-iq/g)!.length === joinsBefore || (await members(baseA)).length !== 1) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 250));
    expect(a.output().split('\n').filter((l) => l.includes('joined group g-iq')).at(-1)).toMatch(/partials-repartition\/0.*partials-repartition\/1.*partials-repartition\/2.*partials-repartition\/3/);
    await waitReady(baseA);
    const alone = await checkWindows([baseA]);
    expect([...alone.keys()]).toEqual([hostOf(baseA)]);
    expect([...new Set([...servedBy.keys(), ...alone.keys()])].sort()).toEqual([hostOf(baseA), hostOf(baseB)].sort());
    expect(await a.stop()).toBe(0);
    procs.splice(0);
  });
});
