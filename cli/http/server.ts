import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gauge, Registry } from 'prom-client';
import type { Logger } from '../../topology/api/log.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import type { DashboardSnapshot, FeedStatus, KpiUpdate } from './kpi-feed.ts';
import { localWindows, parseWindowStart, queryWindow, type QueryableStreams } from './kpi-queries.ts';

/** What the server reads of the KPI feed (a fake one in tests). */
export interface FeedView {
  snapshot(): DashboardSnapshot;
  status(): FeedStatus;
  newestWindow(): number | undefined;
  subscribe(listener: (updates: readonly KpiUpdate[]) => void): () => void;
  onStatus(listener: (status: FeedStatus) => void): () => void;
}

export interface DashboardServerOptions {
  /** Address to listen on; 127.0.0.1 unless told otherwise. */
  readonly host: string;
  /** 0 takes any free port. */
  readonly port: number;
  /** When set, `/api/*` and `/metrics` need `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly windowMs: number;
  readonly feed: FeedView;
  readonly log: Logger;
  readonly clock?: () => number;
}

/** Local metrics worth a line on the page, by map name. */
const SHOWN_METRICS = ['records-processed', 'valid-records', 'late-records', 'dead-letter-records', 'windows-closed', 'rebalances'] as const;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // No inline script, no other origin: a value that slipped into the markup could not run.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/** The page's files: beside this module in the sources, at the package root's cli/http/page in a build. */
function loadAssets(): Map<string, Asset> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'page'), join(here, '..', '..', '..', 'cli', 'http', 'page')];
  const read = (name: string): Buffer => {
    for (const dir of candidates) {
      try {
        return readFileSync(join(dir, name));
      } catch {
        // the next place
      }
    }
    throw new RetailStreamsError('io', `the dashboard's ${name} is missing (looked in ${candidates.join(', ')})`);
  };
  const chartJs = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  return new Map<string, Asset>([
    ['/', { body: read('index.html'), type: 'text/html; charset=utf-8' }],
    ['/assets/dashboard.js', { body: read('dashboard.js'), type: 'text/javascript; charset=utf-8' }],
    ['/assets/dashboard.css', { body: read('dashboard.css'), type: 'text/css; charset=utf-8' }],
    ['/assets/chart.umd.min.js', { body: readFileSync(chartJs), type: 'text/javascript; charset=utf-8' }],
  ]);
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * `run --http`: the dashboard page and its live feed (server-sent events), the application's
 * interactive queries as JSON, `/metrics` in Prometheus' format, `/health` and `/ready`. It starts
 * before the KafkaStreams instance (so it tells a user why nothing runs yet) and serves the
 * instance once `attach`ed.
 */
export class DashboardServer {
  private readonly o: DashboardServerOptions;
  private readonly clock: () => number;
  private readonly assets = loadAssets();
  private readonly server: Server;
  private readonly clients = new Set<ServerResponse>();
  private readonly appRegistry = new Registry();
  private streams: QueryableStreams | undefined;
  private advertised: string | undefined;
  private unsubscribe: (() => void)[] = [];

  constructor(options: DashboardServerOptions) {
    this.o = options;
    this.clock = options.clock ?? Date.now;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.o.log.warn(`http: ${req.method} ${req.url}: ${(e as Error).message}`);
        if (!res.headersSent) this.json(res, 500, { error: 'internal error' });
        else res.end();
      });
    });
    this.server.keepAliveTimeout = 5_000;
    this.registerAppMetrics();
  }

  /** Listens; resolves with the address it listens on. */
  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as AddressInfo;
    this.unsubscribe.push(
      this.o.feed.subscribe((updates) => this.broadcast('kpi', { updates, sentAt: this.clock() })),
      this.o.feed.onStatus(() => this.broadcast('status', this.statusBody())),
    );
    return { host: a.address, port: a.port };
  }

  /** The instance to serve, and the address other members reach this one at (its `applicationServer`). */
  attach(streams: QueryableStreams, advertised: string | undefined): void {
    this.streams = streams;
    this.advertised = advertised;
  }

  async close(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (!this.hostAllowed(req)) return this.json(res, 421, { error: 'this server answers only to the address it listens on' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return this.json(res, 405, { error: `${req.method} is not allowed` });
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/health') return url.searchParams.has('ready') ? this.ready(res) : this.live(res);
    if (path === '/ready') return this.ready(res);
    if (path === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'max-age=86400' });
      res.end();
      return;
    }
    const asset = this.assets.get(path === '/index.html' ? '/' : path);
    if (asset !== undefined) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', 'content-length': asset.body.length });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (path !== '/metrics' && !path.startsWith('/api/')) return this.json(res, 404, { error: `nothing at ${path}` });
    if (!this.authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer realm="retail-streams"');
      return this.json(res, 401, { error: 'this server needs Authorization: Bearer <token> (run --http-token or RS_HTTP_TOKEN)' });
    }
    if (path === '/metrics') return this.metrics(res);
    if (path === '/api/events') return this.events(req, res);
    if (path === '/api/snapshot') return this.json(res, 200, { ...this.o.feed.snapshot(), status: this.statusBody() });
    return this.query(res, path, url);
  }

  /** Interactive queries: `/api/windows[/current|/<start>]`, `/api/members`, `/api/stores/<name>`, `/api/metadata/<store>/<key>`. */
  private query(res: ServerResponse, path: string, url: URL): void {
    const streams = this.streams;
    if (streams === undefined || (streams.state !== 'RUNNING' && streams.state !== 'REBALANCING'))
      return this.json(res, 503, { error: `the streams instance is ${streams?.state ?? 'not started'}: its stores cannot be queried` }, { 'retry-after': '1' });
    const windowPath = (start: number) => `/api/windows/${start}`;
    const m = /^\/api\/(windows|members|stores|metadata)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (m === null) return this.json(res, 404, { error: `nothing at ${path}` });
    const [, kind, first, second] = m;
    try {
      if (kind === 'members' && first === undefined) return this.json(res, 200, { self: this.advertised ?? null, members: streams.allMetadata().map((x) => ({ memberId: x.memberId, host: x.host === undefined ? null : `${x.host.host}:${x.host.port}`, partitions: x.partitions })) });
      if (kind === 'windows' && first === undefined) return this.json(res, 200, { host: this.advertised ?? null, windows: localWindows(streams, this.o.windowMs) });
      if (kind === 'windows' && second === undefined) {
        const start = first === 'current' ? this.o.feed.newestWindow() : parseWindowStart(first!);
        if (start === undefined) return this.json(res, first === 'current' ? 404 : 400, { error: first === 'current' ? 'no KPI seen yet' : `"${first}" is not a window start (epoch ms or ISO-8601)` });
        const answer = queryWindow(streams, start, this.o.windowMs, this.advertised, windowPath);
        return this.json(res, answer.status, answer.body, answer.status === 503 ? { 'retry-after': '1' } : {});
      }
      if (kind === 'stores' && first !== undefined && second === undefined) return this.storeDump(res, streams, decodeURIComponent(first), url);
      if (kind === 'metadata' && first !== undefined && second !== undefined) {
        const meta = streams.metadataForKey(decodeURIComponent(first), decodeURIComponent(second));
        if (meta === undefined) return this.json(res, 503, { error: 'not known yet (rebalancing, or the group is still being read); try again' }, { 'retry-after': '1' });
        const host = (h: { host: string; port: number }) => `${h.host}:${h.port}`;
        return this.json(res, 200, { partition: meta.partition, local: meta.local, activeHost: meta.activeHost === undefined ? null : host(meta.activeHost), standbyHosts: meta.standbyHosts.map(host) });
      }
    } catch (e) {
      if (e instanceof RetailStreamsError && e.code === 'unknown-store') return this.json(res, 404, { error: e.message });
      if (e instanceof RetailStreamsError && e.code === 'store-unavailable') return this.json(res, 503, { error: e.message }, { 'retry-after': '1' });
      throw e;
    }
    return this.json(res, 404, { error: `nothing at ${path}` });
  }

  /** A local store's entries as they are (window stores: `?from=&to=` window starts in epoch ms). */
  private storeDump(res: ServerResponse, streams: QueryableStreams, name: string, url: URL): void {
    const store = streams.store(name);
    const limit = Math.min(10_000, Number(url.searchParams.get('limit') ?? 1_000) || 1_000);
    if (store.type === 'key-value') {
      const entries = store.all().slice(0, limit).map(([key, value]) => ({ key, value }));
      return this.json(res, 200, { store: name, type: store.type, host: this.advertised ?? null, entries });
    }
    const from = Number(url.searchParams.get('from') ?? Number.NEGATIVE_INFINITY);
    const to = Number(url.searchParams.get('to') ?? Number.POSITIVE_INFINITY);
    const entries = store
      .fetchAll(Number.isNaN(from) ? Number.NEGATIVE_INFINITY : from, Number.isNaN(to) ? Number.POSITIVE_INFINITY : to)
      .slice(0, limit)
      .map(([w, value]) => ({ key: w.key, window: { start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() }, value }));
    return this.json(res, 200, { store: name, type: store.type, host: this.advertised ?? null, entries });
  }

  /** Liveness: the process answers and the instance has not failed. */
  private live(res: ServerResponse): void {
    const state = this.streams?.state ?? 'STARTING';
    const failed = state === 'ERROR';
    this.json(res, failed ? 503 : 200, { status: failed ? 'DOWN' : 'UP', state });
  }

  /** Readiness: processing, not rebalancing. */
  private ready(res: ServerResponse): void {
    const state = this.streams?.state ?? 'STARTING';
    const ready = state === 'RUNNING';
    this.json(res, ready ? 200 : 503, { status: ready ? 'READY' : 'NOT_READY', state, kafkaReachable: this.o.feed.status().kafka.reachable });
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const parts = [await this.appRegistry.metrics()];
    if (this.streams !== undefined) parts.unshift(await this.streams.metricsText());
    res.writeHead(200, { 'content-type': this.appRegistry.contentType, 'cache-control': 'no-store' });
    res.end(parts.join('\n'));
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    req.socket.setNoDelay(true);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 1000\n\n');
    this.send(res, 'snapshot', { ...this.o.feed.snapshot(), status: this.statusBody(), sentAt: this.clock() });
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) c.write(frame);
  }

  private send(res: ServerResponse, event: string, data: unknown): void {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** The feed's status with this member's: its state, address, members and local counters. */
  private statusBody(): Record<string, unknown> {
    const s = this.streams;
    const metrics = s?.metrics() ?? new Map<string, number>();
    let members: { host: string | null; partitions: readonly string[] }[] = [];
    try {
      members = (s?.allMetadata() ?? []).map((m) => ({ host: m.host === undefined ? null : `${m.host.host}:${m.host.port}`, partitions: m.partitions }));
    } catch {
      // Not known yet.
    }
    return {
      ...this.o.feed.status(),
      streams: { state: s?.state ?? 'STARTING', self: this.advertised ?? null, metrics: Object.fromEntries(SHOWN_METRICS.map((k) => [k, metrics.get(k) ?? 0])) },
      members,
      serverTime: this.clock(),
    };
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.o.token === undefined || this.o.token === '') return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]!), digest(this.o.token));
  }

  /**
   * Bound to a loopback address, the server answers only requests naming it (Host header): a web
   * page elsewhere cannot read it through a DNS name rebound to 127.0.0.1.
   */
  private hostAllowed(req: IncomingMessage): boolean {
    if (!LOOPBACK.has(this.o.host)) return true;
    const host = (req.headers.host ?? '').toLowerCase();
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
    return LOOPBACK.has(name) || (this.advertised !== undefined && host === this.advertised.toLowerCase());
  }

  private registerAppMetrics(): void {
    const feed = this.o.feed;
    const registers = [this.appRegistry];
    new Gauge({ name: 'retail_streams_dashboard_kafka_reachable', help: 'Whether the dashboard reached Kafka at its last poll (1) or not (0).', registers, collect() { this.set(feed.status().kafka.reachable ? 1 : 0); } });
    const clients = this.clients;
    new Gauge({ name: 'retail_streams_dashboard_clients', help: 'Dashboard pages connected to the live feed.', registers, collect() { this.set(clients.size); } });
    new Gauge({ name: 'retail_streams_group_lag', help: "The group's lag per input partition: end offset minus committed offset (all members).", labelNames: ['partition'], registers, collect() { this.reset(); for (const p of feed.status().lag) this.set({ partition: String(p.partition) }, p.lag); } });
    new Gauge({ name: 'retail_streams_late_topic_records', help: 'Records in the late-records topic (all members).', registers, collect() { this.set(feed.status().late); } });
    new Gauge({ name: 'retail_streams_dead_letter_topic_records', help: 'Records in the dead-letter topic: invalid invoices (all members).', registers, collect() { this.set(feed.status().invalid); } });
  }
}
