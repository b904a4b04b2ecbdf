import { randomUUID } from 'node:crypto';
import type { Logger } from '../../topology/api/log.ts';
import { platformaticClient } from '../../topology/runtimes/kafka/client/platformatic.ts';
import type { Admin, Consumer, KafkaClient } from '../../topology/runtimes/kafka/client/port.ts';
import { spreadAssigner } from '../../topology/runtimes/kafka/client/spread-assigner.ts';
import { kafkaSecurityError, type KafkaSecurity } from '../../topology/runtimes/kafka/security.ts';
import type { CountryKpi, TimeKpi } from '../../processors/kpi.ts';

/**
 * What the dashboard shows, read from Kafka like any dashboard would: the KPI update topics
 * (latest value per window and country), the late and dead-letter topics' sizes, and the
 * group's lag per input partition. Every `run` process reads the same topics, so each one's
 * dashboard shows the whole group's KPIs whatever partitions it holds.
 */

export interface KpiFeedOptions {
  readonly brokers: readonly string[];
  /** TLS and SASL to Kafka; default plaintext. */
  readonly security?: KafkaSecurity | undefined;
  readonly topics: { readonly time: string; readonly country: string; readonly late: string; readonly deadLetter: string };
  readonly inputTopic: string;
  /** The streams application's consumer group, whose committed offsets give the lag. */
  readonly groupId: string;
  readonly windowMs: number;
  /** Windows kept for the charts, counted back from the newest: an hour of 1-minute windows by default. */
  readonly historyWindows?: number;
  /** Value decoders of the KPI topics; JSON by default. */
  readonly decodeTime?: (value: Buffer) => TimeKpi;
  readonly decodeCountry?: (value: Buffer) => CountryKpi;
  readonly log: Logger;
  /** How often offsets (lag, late and invalid counts) and reachability are polled; default 1 s. */
  readonly pollMs?: number;
  readonly clock?: () => number;
}

/** One change of a KPI, as the page receives it. */
export type KpiUpdate = { readonly kind: 'time'; readonly kpi: TimeKpi } | { readonly kind: 'country'; readonly kpi: CountryKpi };

export interface PartitionLag {
  readonly partition: number;
  /** The group's committed offset (-1: none yet). */
  readonly committed: number;
  readonly end: number;
  readonly lag: number;
}

export interface FeedStatus {
  readonly kafka: { readonly reachable: boolean; readonly error?: string; readonly since: number; readonly checkedAt: number };
  /** Records in the late and dead-letter topics (the whole group's). */
  readonly late: number;
  readonly invalid: number;
  readonly lag: readonly PartitionLag[];
  /** Whether the KPI topics are being read (false until `run` has created them). */
  readonly reading: boolean;
}

export interface DashboardSnapshot {
  readonly windowMs: number;
  /** The last hour of time KPIs, by window start. */
  readonly time: readonly TimeKpi[];
  /** Country KPIs of the newest window and the one before it. */
  readonly countries: readonly CountryKpi[];
  readonly status: FeedStatus;
}

const decodeJson = <T>(value: Buffer): T => JSON.parse(value.toString('utf8')) as T;

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });

export class KpiFeed {
  private readonly o: KpiFeedOptions;
  private readonly clock: () => number;
  private readonly history: number;
  private readonly time = new Map<number, TimeKpi>();
  private readonly country = new Map<number, Map<string, CountryKpi>>();
  private readonly listeners = new Set<(updates: readonly KpiUpdate[]) => void>();
  private readonly statusListeners = new Set<(status: FeedStatus) => void>();
  private readonly client: KafkaClient;
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private poller: NodeJS.Timeout | undefined;
  private closed = false;
  private closing!: () => void;
  private readonly whenClosed = new Promise<void>((resolve) => (this.closing = resolve));
  private reading = false;
  private current: FeedStatus;

  constructor(options: KpiFeedOptions) {
    this.o = options;
    this.clock = options.clock ?? Date.now;
    this.history = options.historyWindows ?? 60;
    const now = this.clock();
    this.current = { kafka: { reachable: false, error: 'not checked yet', since: now, checkedAt: now }, late: 0, invalid: 0, lag: [], reading: false };
    // The KPI topics are written in transactions under exactly-once: read through the
    // @platformatic/kafka adapter, whose read_committed drops every aborted record (kafkajs's
    // does not: README, Kafka clients).
    this.client = platformaticClient({
      clientId: 'retail-streams-dashboard',
      brokers: options.brokers,
      log: options.log,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  }

  /** Starts polling and reading in the background; never fails for an unreachable Kafka (the status says so). */
  start(): void {
    void this.poll();
    this.poller = setInterval(() => void this.poll(), this.o.pollMs ?? 1_000);
    void this.read();
  }

  status(): FeedStatus {
    return this.current;
  }

  snapshot(): DashboardSnapshot {
    const starts = [...this.time.keys()].sort((a, b) => a - b);
    const newest = Math.max(...starts, ...this.country.keys());
    const countries = [newest, newest - this.o.windowMs].flatMap((s) => [...(this.country.get(s)?.values() ?? [])]);
    return { windowMs: this.o.windowMs, time: starts.map((s) => this.time.get(s)!), countries, status: this.current };
  }

  /** The newest window start seen in the KPI topics, if any. */
  newestWindow(): number | undefined {
    const all = [...this.time.keys(), ...this.country.keys()];
    return all.length === 0 ? undefined : Math.max(...all);
  }

  /** Calls `listener` with each batch of KPI changes as it is read; returns the unsubscribe. */
  subscribe(listener: (updates: readonly KpiUpdate[]) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Calls `listener` with the status after every poll; returns the unsubscribe. */
  onStatus(listener: (status: FeedStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => void this.statusListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing();
    if (this.poller !== undefined) clearInterval(this.poller);
    await this.consumer?.disconnect().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }

  /** Applies KPI records (exported for tests): keeps the latest per key, drops windows older than the history. */
  apply(records: readonly { topic: string; value: Buffer | null }[]): KpiUpdate[] {
    const updates: KpiUpdate[] = [];
    for (const r of records) {
      if (r.value === null) continue;
      try {
        if (r.topic === this.o.topics.time) {
          const kpi = (this.o.decodeTime ?? decodeJson<TimeKpi>)(r.value);
          this.time.set(Date.parse(kpi.window.start), kpi);
          updates.push({ kind: 'time', kpi });
        } else if (r.topic === this.o.topics.country) {
          const kpi = (this.o.decodeCountry ?? decodeJson<CountryKpi>)(r.value);
          const start = Date.parse(kpi.window.start);
          let w = this.country.get(start);
          if (w === undefined) this.country.set(start, (w = new Map()));
          w.set(kpi.country, kpi);
          updates.push({ kind: 'country', kpi });
        }
      } catch (e) {
        this.o.log.debug(`dashboard: unreadable KPI record on ${r.topic}: ${(e as Error).message}`);
      }
    }
    const newest = this.newestWindow();
    if (newest !== undefined) {
      const oldest = newest - (this.history - 1) * this.o.windowMs;
      for (const s of this.time.keys()) if (s < oldest) this.time.delete(s);
      for (const s of this.country.keys()) if (s < newest - this.o.windowMs) this.country.delete(s);
    }
    return updates;
  }

  /** Reads the KPI topics from the beginning, starting again (after a second) whenever the consumer stops for good. */
  private async read(): Promise<void> {
    while (!this.closed) {
      // A throwaway group that never commits: every (re)start reads from the beginning.
      const consumer = this.client.consumer({ groupId: `retail-streams-dashboard-${randomUUID()}`, assigner: spreadAssigner, maxWaitTimeInMs: 100 });
      this.consumer = consumer;
      try {
        const crashed = new Promise<void>((resolve) => consumer.on(consumer.events.CRASH, (e) => void (e.payload.restart ? undefined : resolve())));
        await consumer.connect();
        await this.kpiTopicsExist();
        await consumer.subscribe({ topics: [this.o.topics.time, this.o.topics.country], fromBeginning: true });
        // Closed meanwhile: close() may have disconnected this consumer already, and run() would connect it again.
        if (!this.closed) {
          await consumer.run({
            eachBatchAutoResolve: true,
            eachBatch: async ({ batch }) => {
              const updates = this.apply(batch.messages.map((m) => ({ topic: batch.topic, value: m.value })));
              if (updates.length > 0) for (const l of this.listeners) l(updates);
            },
          });
          this.reading = true;
          await Promise.race([crashed, this.whenClosed]);
        }
      } catch (e) {
        this.o.log.debug(`dashboard: reading the KPI topics: ${(e as Error).message}`);
      }
      this.reading = false;
      await consumer.disconnect().catch(() => {});
      if (!this.closed) await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  /** Throws while `run` has not created the KPI topics: a consumer subscribed to a missing topic would join with no partition of it and stay so. */
  private async kpiTopicsExist(): Promise<void> {
    const admin = this.client.admin();
    try {
      const existing = new Set((await admin.fetchTopicMetadata({ topics: [] })).topics.map((t) => t.name));
      const missing = [this.o.topics.time, this.o.topics.country].filter((t) => !existing.has(t));
      if (missing.length > 0) throw new Error(`not created yet: ${missing.join(', ')}`);
    } finally {
      await admin.disconnect();
    }
  }

  /** Offsets of the late and dead-letter topics and the group's lag; a failure marks Kafka unreachable. */
  private async poll(): Promise<void> {
    if (this.closed) return;
    const now = this.clock();
    const was = this.current.kafka;
    try {
      // No retries of its own and short timeouts: a poll that fails says "unreachable" at once, the next one tries again.
      this.admin ??= this.client.admin({ connectTimeoutMs: 1_000, requestTimeoutMs: 2_500, retries: 0 });
      await withTimeout(this.admin.connect(), 2_000, 'connecting');
      const meta = await withTimeout(this.admin.fetchTopicMetadata({ topics: [] }), 2_000, 'reading metadata');
      const exists = new Set(meta.topics.map((t) => t.name));
      const size = async (topic: string) =>
        exists.has(topic) ? (await this.admin!.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0) : 0;
      const [late, invalid, lag] = await withTimeout(Promise.all([size(this.o.topics.late), size(this.o.topics.deadLetter), this.lag(exists)]), 2_500, 'reading offsets');
      this.current = { kafka: { reachable: true, since: was.reachable ? was.since : now, checkedAt: now }, late, invalid, lag, reading: this.reading };
    } catch (e) {
      const error = kafkaSecurityError(e) ?? (e as Error).message;
      // A fresh admin next time: this one may hold a broken connection.
      const admin = this.admin;
      this.admin = undefined;
      void admin?.disconnect().catch(() => {});
      this.current = { ...this.current, kafka: { reachable: false, error, since: was.reachable ? now : was.since, checkedAt: now }, reading: this.reading };
    }
    for (const l of this.statusListeners) l(this.current);
  }

  private async lag(exists: ReadonlySet<string>): Promise<PartitionLag[]> {
    if (!exists.has(this.o.inputTopic)) return [];
    // Committed first: the end offsets read after it are never behind it.
    // Not waiting for stable offsets: under exactly-once a transaction holding the group's offsets
    // is open most of the time, and the lag shown needs no more than the last committed ones.
    const committed = await this.admin!.fetchOffsets({ groupId: this.o.groupId, topics: [this.o.inputTopic], requireStable: false });
    const ends = await this.admin!.fetchTopicOffsets(this.o.inputTopic);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return ends
      .map((e) => {
        const c = done.get(e.partition) ?? -1;
        const end = Number(e.high);
        return { partition: e.partition, committed: c, end, lag: Math.max(0, end - (c < 0 ? Number(e.low) : c)) };
      })
      .sort((a, b) => a.partition - b.partition);
  }
}
