// The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core, against
// `run --http` on a real broker. The page must show what the KPI topics hold, take new KPIs
// without a reload, show a hostile country name as text, and say when Kafka is unreachable.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { ROOT, runCli, startCli, type CliProcess } from '../support/cli.ts';
import { launchChromium } from '../support/browser.ts';
import { createTopic, dashboardUrl, settledLatest } from '../support/dashboard.ts';
import { invoiceJson } from '../support/reference.ts';

const TOPIC = 'dash-invoices';
const TOKEN = 'dashboard-test-token';
const START = Date.UTC(2020, 8, 18, 10, 0, 0);
const W = 60_000;
const HOSTILE = '<img src=x onerror=alert(1)>';

let kafka: KafkaCluster;
let browser: Browser;
let run: CliProcess | undefined;

beforeAll(async () => {
  [kafka, browser] = await Promise.all([startKafka(), launchChromium()]);
});
afterAll(async () => {
  await run?.stop();
  await browser?.close();
  await kafka?.stop();
});

// The page's globals, for the functions that run in it (the project's lib has no DOM types).
interface PageElement {
  readonly textContent: string | null;
  readonly innerHTML: string;
  readonly hidden: boolean;
  readonly dataset: Record<string, string | undefined>;
  readonly children: ArrayLike<PageElement> & Iterable<PageElement>;
  querySelector(selector: string): PageElement | null;
}
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>; getElementById(id: string): PageElement | null };
declare const window: Record<string, unknown>;

const num = (text: string | null | undefined) => Number((text ?? '').replace(/,/g, ''));

interface Row {
  readonly key: string;
  readonly cells: string[];
}

/** The rows of a table on the page: their data key (window or country) and cell texts. */
const rows = (page: Page, table: 'windows' | 'countries'): Promise<Row[]> =>
  page.evaluate(
    (t) => [...document.querySelectorAll(`#${t} tbody tr`)].map((tr) => ({ key: tr.dataset.window ?? tr.dataset.country ?? '', cells: [...tr.children].map((td) => td.textContent ?? '') })),
    table,
  );

async function sendInvoices(invoices: { country: string; ts: number; quantity: number; price: number }[]): Promise<void> {
  const producer = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({
    topic: TOPIC,
    messages: invoices.map((i, n) => ({
      value: invoiceJson({ invoice_no: 900_000_000 + n + Math.floor(Math.random() * 1e6) * 100, country: i.country, ts: i.ts, type: 'ORDER', items: [{ unit_price: i.price, quantity: i.quantity }] }),
      partition: n % 4,
    })),
  });
  await producer.disconnect();
}

/** Watches a KPI topic from now on; `seen(pred)` resolves with the wall-clock time a matching record was read. */
async function watchTopic(topic: string) {
  const consumer = new Kafka({ clientId: 'test-watch', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).consumer({ groupId: `watch-${Date.now()}`, maxWaitTimeInMs: 20 });
  const waiters: { pred: (v: Record<string, unknown>) => boolean; resolve: (t: number) => void }[] = [];
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const at = Date.now();
      const v = JSON.parse(message.value!.toString()) as Record<string, unknown>;
      for (const w of [...waiters]) if (w.pred(v)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(at));
    },
  });
  await joined;
  return {
    seen: (pred: (v: Record<string, unknown>) => boolean) => new Promise<number>((resolve) => waiters.push({ pred, resolve })),
    close: () => consumer.disconnect(),
  };
}

describe('the dashboard in headless Chromium', () => {
  it('shows the KPI topics, updates live, renders a hostile country as text, and shows when Kafka is unreachable', async () => {
    const brokers = kafka.bootstrap.join(',');
    await createTopic(kafka.bootstrap, TOPIC, 4);
    const stateDir = mkdtempSync(join(tmpdir(), 'rs-dash-state-'));
    run = startCli([
      'run', '--brokers', brokers, '--input', TOPIC, '--group', 'g-dash', '--sink', mkdtempSync(join(tmpdir(), 'rs-dash-out-')), '--state-dir', stateDir,
      '--window', '1m', '--grace', '1h', '--idle', '2s', '--http', '0', '--http-token', TOKEN,
    ]);
    const url = await dashboardUrl(run);
    await run.waitFor(/joined group g-dash/);
    // 12 minutes of event time, in every window a few hundred invoices from some 30 countries.
    const sim = await runCli([
      'simulate', '--brokers', brokers, '--topic', TOPIC, '--rate', '0', '--count', '3600', '--partitions', '4', '--seed', '5',
      '--start', new Date(START).toISOString(), '--event-rate', '5', '--grace', '1h', '--bad-ratio', '0.002',
    ]);
    expect(sim.code, sim.output).toBe(0);
    const time = await settledLatest(kafka.bootstrap, 'kpi-time', 12);
    const countries = await settledLatest(kafka.bootstrap, 'kpi-time-country', 12);

    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}#token=${TOKEN}`);
    await page.waitForFunction(() => document.querySelectorAll('#windows tbody tr').length >= 12, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');

    // The numbers shown are the topic's latest per window, and per country in the newest two windows.
    const starts = [...time.keys()].sort().reverse();
    const newest = starts[0]!;
    await expect.poll(async () => (await rows(page, 'windows'))[0]?.key, { timeout: 10_000 }).toBe(newest);
    const shownWindows = await rows(page, 'windows');
    expect(shownWindows.map((r) => r.key)).toEqual(starts.slice(0, 12));
    for (const r of shownWindows) {
      const k = JSON.parse(time.get(r.key)!) as { OPM: number; total_sale_volume: number; average_transaction_size: number; rate_of_return: number };
      expect([num(r.cells[1]!), num(r.cells[2]!), num(r.cells[3]!), num(r.cells[4]!)], r.key).toEqual([k.OPM, k.total_sale_volume, k.average_transaction_size, k.rate_of_return]);
    }
    const previous = new Date(Date.parse(newest) - W).toISOString();
    const ofWindow = (start: string) =>
      new Map([...countries].filter(([key]) => key.startsWith(`${start}|`)).map(([, v]) => [(JSON.parse(v) as { country: string }).country, JSON.parse(v) as { OPM: number; total_sale_volume: number; rate_of_return: number }]));
    const now = ofWindow(newest);
    const before = ofWindow(previous);
    const shownCountries = await rows(page, 'countries');
    expect(new Set(shownCountries.map((r) => r.key))).toEqual(new Set([...now.keys(), ...before.keys()]));
    for (const r of shownCountries) {
      const c = now.get(r.key);
      const p = before.get(r.key);
      expect(r.cells[0]).toBe(r.key);
      expect([r.cells[1], r.cells[2], r.cells[3]].map((t) => (t === '–' ? null : num(t))), r.key).toEqual(c === undefined ? [null, null, null] : [c.OPM, c.total_sale_volume, c.rate_of_return]);
      expect([r.cells[4], r.cells[5]].map((t) => (t === '–' ? null : num(t))), r.key).toEqual(p === undefined ? [null, null] : [p.OPM, p.total_sale_volume]);
    }
    const newestKpi = JSON.parse(time.get(newest)!) as { OPM: number };
    expect(num(await page.textContent('#current-opm'))).toBe(newestKpi.OPM);
    // Late and invalid counters: the invalid ones the simulator sent are dead-lettered.
    await expect.poll(async () => num(await page.textContent('#invalid')), { timeout: 10_000 }).toBeGreaterThan(0);
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'docs', 'dashboard.png'), fullPage: true });

    // A new KPI update appears without a reload.
    await page.evaluate(() => void (window.__noReload = true));
    const watch = await watchTopic('kpi-time');
    const target = Date.parse(newest) + 30_000;
    const pageLags: number[] = [];
    const endToEnd: number[] = [];
    let expected = newestKpi.OPM;
    for (let round = 0; round < 5; round++) {
      expected += 20;
      const opm = expected;
      const inTopic = watch.seen((v) => (v.window as { start: string }).start === newest && v.OPM === opm);
      const sentAt = Date.now();
      await sendInvoices(Array.from({ length: 20 }, () => ({ country: 'Iceland', ts: target, quantity: 2, price: 3.5 })));
      await page.waitForFunction((n) => document.getElementById('current-opm')?.textContent === n.toLocaleString('en-GB'), opm, { timeout: 30_000, polling: 'raf' });
      const shownAt = Date.now();
      pageLags.push(shownAt - (await inTopic));
      endToEnd.push(shownAt - sentAt);
    }
    await watch.close();
    expect(await page.evaluate(() => window.__noReload)).toBe(true);
    const probe = (await page.evaluate(() => window.__dashboard)) as { latenciesMs: number[] };
    console.log(
      `dashboard update latency over 5 updates: from the KPI record in the topic to the page median ${median(pageLags)} ms, max ${Math.max(...pageLags)} ms; ` +
        `from producing the invoices median ${median(endToEnd)} ms, max ${Math.max(...endToEnd)} ms; server-sent event to render median ${median(probe.latenciesMs)} ms, max ${Math.max(...probe.latenciesMs)} ms over ${probe.latenciesMs.length} events`,
    );
    expect(Math.max(...pageLags)).toBeLessThan(1_000);

    // A country named like markup is shown as text: no element made of it, no script run.
    await sendInvoices([{ country: HOSTILE, ts: target, quantity: 1, price: 9.99 }]);
    await page.waitForFunction((h) => [...document.querySelectorAll('#countries tbody tr')].some((tr) => tr.dataset.country === h), HOSTILE, { timeout: 30_000 });
    const cell = await page.evaluate((h) => {
      const tr = [...document.querySelectorAll('#countries tbody tr')].find((t) => t.dataset.country === h)!;
      const td = tr.querySelector('td')!;
      return { text: td.textContent, html: td.innerHTML, children: td.children.length };
    }, HOSTILE);
    expect(cell).toEqual({ text: HOSTILE, html: '&lt;img src=x onerror=alert(1)&gt;', children: 0 });
    expect(await page.$$eval('img', (imgs) => imgs.length)).toBe(0);
    await page.waitForTimeout(500);
    expect(dialogs).toEqual([]);

    // Kafka goes away: the page says so, and comes back when Kafka does.
    const downAt = Date.now();
    await kafka.stopNode(1, { kill: true });
    await page.waitForFunction(() => document.getElementById('kafka')?.textContent === 'Kafka unreachable' && !document.getElementById('banner')?.hidden, undefined, { timeout: 20_000 });
    console.log(`"Kafka unreachable" shown ${Date.now() - downAt} ms after the broker was killed`);
    expect(await page.textContent('#banner')).toMatch(/^Kafka unreachable since \d\d:\d\d:\d\d UTC/);
    await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-kafka-unreachable.png') });
    await kafka.startNode(1);
    await page.waitForFunction(() => document.getElementById('kafka')?.textContent === 'Kafka connected', undefined, { timeout: 60_000 });
    expect(errors).toEqual([]);
    await page.close();
    // SIGKILL: after a broker outage kafkajs restarts the stream thread's consumer even after it
    // was disconnected, so a graceful stop of `run` would wait for its 90 s watchdog (a known bug
    // of the Kafka runtime, not of the dashboard).
    await run.stop('SIGKILL');
    run = undefined;
  });
});

const median = (xs: readonly number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);
