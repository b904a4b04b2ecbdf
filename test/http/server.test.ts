import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Stores } from '../../state-stores/stores.ts';
import { COUNTRY_STORE, TIME_STORE } from '../../processors/kpi-combine.ts';
import type { KpiAccumulator } from '../../processors/kpi.ts';
import { DashboardServer, type FeedView } from '../../cli/http/server.ts';
import type { DashboardSnapshot, FeedStatus, KpiUpdate } from '../../cli/http/kpi-feed.ts';
import type { QueryableStreams } from '../../cli/http/kpi-queries.ts';
import type { KafkaStreamsState } from '../../topology/runtimes/kafka/kafka-streams.ts';
import { keyQueryMetadata, parseHostInfo, queryableStore, type KeyQueryMetadata } from '../../topology/runtimes/kafka/interactive-queries.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import { memoryLog } from '../support/memory-log.ts';

const W = 60_000;
const START = Date.UTC(2020, 8, 18, 10, 55);

class FakeFeed implements FeedView {
  status_: FeedStatus = { kafka: { reachable: true, since: 0, checkedAt: 0 }, late: 4, invalid: 2, lag: [{ partition: 0, committed: 10, end: 12, lag: 2 }], reading: true };
  private readonly listeners = new Set<(u: readonly KpiUpdate[]) => void>();
  private readonly statusListeners = new Set<(s: FeedStatus) => void>();
  snapshot(): DashboardSnapshot {
    return { windowMs: W, time: [], countries: [], status: this.status_ };
  }
  status(): FeedStatus {
    return this.status_;
  }
  newestWindow(): number | undefined {
    return START;
  }
  subscribe(l: (u: readonly KpiUpdate[]) => void): () => void {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  onStatus(l: (s: FeedStatus) => void): () => void {
    this.statusListeners.add(l);
    return () => void this.statusListeners.delete(l);
  }
  emit(u: KpiUpdate[]): void {
    for (const l of this.listeners) l(u);
  }
}

/** Streams holding window START locally (partition 0 of 2), or not, with real window stores behind the views. */
function fakeStreams(o: { state?: KafkaStreamsState; local?: boolean; known?: boolean } = {}) {
  const time = Stores.windowStore<string, KpiAccumulator>(TIME_STORE, W, 11 * W).build();
  const country = Stores.windowStore<string, KpiAccumulator>(COUNTRY_STORE, W, 11 * W).build();
  time.put('', START, { invoices: 3, returns: 1, micros: 12_345_000 });
  country.put('Germany', START, { invoices: 1, returns: 0, micros: 2_345_000 });
  country.put('<img src=x onerror=alert(1)>', START, { invoices: 2, returns: 1, micros: 10_000_000 });
  const streams: QueryableStreams & { state: KafkaStreamsState } = {
    state: o.state ?? 'RUNNING',
    store: <K, V>(name: string) => {
      if (name !== TIME_STORE && name !== COUNTRY_STORE) throw new RetailStreamsError('unknown-store', `no store named ${name}`);
      return queryableStore<K, V>(name, 'window', () => [name === TIME_STORE ? time : country]);
    },
    metadataForKey: <K>(_store: string, key: K): KeyQueryMetadata | undefined => {
      if (o.known === false) return undefined;
      const other = parseHostInfo('10.0.0.2:8081');
      const meta = keyQueryMetadata({ sourceTopics: ['rep'], changelogTopic: undefined }, key, undefined, { membersFor: () => [{ memberId: 'b', host: other, partitions: [] }], partitionCount: () => 2, members: () => [] }, new Set());
      return meta === undefined ? undefined : { ...meta, local: o.local ?? true, activeHost: o.local === false ? other : parseHostInfo('127.0.0.1:1') };
    },
    allMetadata: () => [{ memberId: 'a', host: parseHostInfo('127.0.0.1:1'), partitions: ['rep/0'] }],
    metrics: () => new Map([['records-processed', 5]]),
    metricsText: async () => '# TYPE retail_streams_records_processed_total counter\nretail_streams_records_processed_total 5\n',
  };
  return streams;
}

let server: DashboardServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(o: { token?: string; feed?: FakeFeed } = {}) {
  server = new DashboardServer({ host: '127.0.0.1', port: 0, windowMs: W, feed: o.feed ?? new FakeFeed(), log: memoryLog().log, ...(o.token === undefined ? {} : { token: o.token }) });
  const { port } = await server.listen();
  return { server, base: `http://127.0.0.1:${port}` };
}

const get = async (url: string, headers: Record<string, string> = {}) => {
  const r = await fetch(url, { headers });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
};

describe('DashboardServer health and readiness', () => {
  it('is live before the instance starts, and ready only while it is RUNNING', async () => {
    const { server, base } = await serve();
    expect((await get(`${base}/health`)).status).toBe(200);
    expect((await get(`${base}/ready`)).status).toBe(503);
    const streams = fakeStreams({ state: 'REBALANCING' });
    server.attach(streams, '127.0.0.1:1');
    const during = await get(`${base}/health?ready`);
    expect(during.status).toBe(503);
    expect(during.json()).toMatchObject({ status: 'NOT_READY', state: 'REBALANCING' });
    streams.state = 'RUNNING';
    expect((await get(`${base}/ready`)).json()).toMatchObject({ status: 'READY', state: 'RUNNING', kafkaReachable: true });
    streams.state = 'ERROR';
    expect((await get(`${base}/health`)).status).toBe(503);
  });
});

describe('DashboardServer safety', () => {
  it('asks for the bearer token on data and metrics, not on health or the page itself', async () => {
    const { server, base } = await serve({ token: 's3cret' });
    server.attach(fakeStreams(), '127.0.0.1:1');
    for (const path of ['/api/snapshot', '/api/windows/current', '/metrics', '/api/events']) {
      const r = await get(`${base}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await get(`${base}${path}`, { authorization: 'Bearer wrong' })).status).toBe(401);
    }
    expect((await get(`${base}/api/snapshot`, { authorization: 'Bearer s3cret' })).status).toBe(200);
    expect((await get(`${base}/metrics`, { authorization: 'bearer s3cret' })).status).toBe(200);
    expect((await get(`${base}/health`)).status).toBe(200);
    expect((await get(`${base}/`)).status).toBe(200);
  });

  it('sends a strict content security policy and no-sniff with every answer', async () => {
    const { base } = await serve();
    for (const path of ['/', '/api/snapshot', '/nope']) {
      const r = await get(`${base}${path}`);
      expect(r.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
      expect(r.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('bound to loopback, answers only requests naming a loopback host (no DNS rebinding)', async () => {
    const { base } = await serve();
    const port = new URL(base).port;
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/snapshot', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status(`evil.example:${port}`)).toBe(421);
    expect(await status(`localhost:${port}`)).toBe(200);
    expect(await status(`127.0.0.1:${port}`)).toBe(200);
  });

  it('refuses other methods', async () => {
    const { base } = await serve();
    const r = await fetch(`${base}/api/snapshot`, { method: 'POST', body: 'x' });
    expect(r.status).toBe(405);
  });
});

describe('DashboardServer pages and assets', () => {
  it('serves the page, its script and style, and Chart.js from node_modules', async () => {
    const { base } = await serve();
    const page = await get(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.text).toMatch(/<script src="\/assets\/dashboard.js" defer><\/script>/);
    expect(page.text).not.toMatch(/<script>(?!<\/script>)/);
    const chart = await get(`${base}/assets/chart.umd.min.js`);
    expect(chart.status).toBe(200);
    expect(chart.headers.get('content-type')).toMatch(/javascript/);
    expect(chart.text).toMatch(/Chart\.js v4/);
    expect((await get(`${base}/assets/dashboard.css`)).headers.get('content-type')).toMatch(/text\/css/);
  });
});

describe('DashboardServer interactive queries', () => {
  it("answers a window held here with its KPIs from the combine stage's stores", async () => {
    const { server, base } = await serve();
    server.attach(fakeStreams({ local: true }), '127.0.0.1:1');
    const r = await get(`${base}/api/windows/${START}`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({
      local: true,
      host: '127.0.0.1:1',
      window: { start: '2020-09-18T10:55:00.000Z', end: '2020-09-18T10:56:00.000Z' },
      time: { window: { start: '2020-09-18T10:55:00.000Z', end: '2020-09-18T10:56:00.000Z' }, OPM: 3, total_sale_volume: 12.35, average_transaction_size: 4.12, rate_of_return: 0.3333 },
      countries: [
        { window: { start: '2020-09-18T10:55:00.000Z', end: '2020-09-18T10:56:00.000Z' }, country: '<img src=x onerror=alert(1)>', OPM: 2, total_sale_volume: 10, rate_of_return: 0.5 },
        { window: { start: '2020-09-18T10:55:00.000Z', end: '2020-09-18T10:56:00.000Z' }, country: 'Germany', OPM: 1, total_sale_volume: 2.35, rate_of_return: 0 },
      ],
    });
    // The same window by its ISO start, and as "current" (the newest the feed has seen).
    expect((await get(`${base}/api/windows/2020-09-18T10:55:00.000Z`)).json()).toEqual(r.json());
    expect((await get(`${base}/api/windows/current`)).json()).toEqual(r.json());
    expect((await get(`${base}/api/windows/${START + W}`)).status).toBe(404);
    expect((await get(`${base}/api/windows/yesterday`)).status).toBe(400);
    expect((await get(`${base}/api/stores/nope`)).status).toBe(404);
    const dump = (await get(`${base}/api/stores/${COUNTRY_STORE}`)).json();
    expect(dump).toMatchObject({ store: COUNTRY_STORE, type: 'window' });
    expect((dump.entries as unknown[]).length).toBe(2);
  });

  it('answers a window held by another member with that member’s address', async () => {
    const { server, base } = await serve();
    server.attach(fakeStreams({ local: false }), '127.0.0.1:1');
    const r = (await get(`${base}/api/windows/${START}`)).json();
    expect(r).toMatchObject({ local: false, activeHost: '10.0.0.2:8081', url: `http://10.0.0.2:8081/api/windows/${START}` });
  });

  it('says "try again" while the group is rebalancing or the instance is not running', async () => {
    const { server, base } = await serve();
    server.attach(fakeStreams({ known: false }), '127.0.0.1:1');
    const r = await get(`${base}/api/windows/${START}`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    server.attach(fakeStreams({ state: 'PENDING_SHUTDOWN' }), '127.0.0.1:1');
    expect((await get(`${base}/api/windows/${START}`)).status).toBe(503);
  });
});

describe('DashboardServer /metrics and live feed', () => {
  it("serves the instance's metrics and the dashboard's own in Prometheus' format", async () => {
    const { server, base } = await serve();
    server.attach(fakeStreams(), '127.0.0.1:1');
    const r = await get(`${base}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    expect(r.text).toMatch(/^retail_streams_records_processed_total 5$/m);
    expect(r.text).toMatch(/^retail_streams_group_lag\{partition="0"\} 2$/m);
    expect(r.text).toMatch(/^retail_streams_dashboard_kafka_reachable 1$/m);
    expect(r.text).toMatch(/^retail_streams_late_topic_records 4$/m);
  });

  it('streams a snapshot, then each KPI change, as server-sent events', async () => {
    const feed = new FakeFeed();
    const { server, base } = await serve({ feed });
    server.attach(fakeStreams(), '127.0.0.1:1');
    const controller = new AbortController();
    const res = await fetch(`${base}/api/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += value;
      }
    };
    await until(/event: snapshot\ndata: .*\n\n/);
    expect(text).toMatch(/"streams":\{"state":"RUNNING","self":"127.0.0.1:1"/);
    const kpi = { window: { start: '2020-09-18T10:55:00.000Z', end: '2020-09-18T10:56:00.000Z' }, OPM: 3, total_sale_volume: 1, average_transaction_size: 0.33, rate_of_return: 0 };
    feed.emit([{ kind: 'time', kpi }]);
    await until(/event: kpi\ndata: .*\n\n/);
    const frame = /event: kpi\ndata: (.*)\n\n/.exec(text)![1]!;
    expect(JSON.parse(frame)).toMatchObject({ updates: [{ kind: 'time', kpi }], sentAt: expect.any(Number) });
    controller.abort();
  });
});
