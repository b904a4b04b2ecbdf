import type { Cancellable, Processor, ProcessorContext, PunctuationType } from '../api/processor.ts';
import type { RecordOrigin, StreamRecord } from '../api/record.ts';
import type { ExternalSink } from '../api/sink.ts';
import { RecordRejectedError, type DeadLetterContext } from '../api/handlers.ts';
import type { ChangelogEntry, KeyValueStore, StateStore, StoreContext } from '../../state-stores/api.ts';
import type { Subtopology, Topology } from './compile.ts';
import { partitionFor } from './partitioner.ts';

/** Header that marks a watermark record on a repartition topic: `<upstream task id> <stream time>`. */
export const WATERMARK_HEADER = 'rs-watermark';
const WATERMARK_RESEND_MS = 5_000;
const STREAM_TIME_KEY = 'stream-time';

/** Dead-letter reason of a record whose serde threw anything but a `RecordRejectedError`. */
export const DESERIALIZATION_FAILED = 'deserialization-failed';
/** Dead-letter reason of a record refused by the event-time guard (`TaskEnv.maxFutureMs`). */
export const FUTURE_TIMESTAMP = 'future-timestamp';
/** The metric every runtime counts its dead letters under. */
export const DEAD_LETTER_RECORDS = 'dead-letter-records';

export interface RawRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestamp: number;
  readonly offset: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a task needs from the runtime that hosts it. */
export interface TaskEnv {
  /** A partition of a repartition topic stops holding back windows after this much wall-clock silence. */
  readonly idleMs: number;
  /** Event time more than this ahead of the wall clock is refused as `future-timestamp`; Infinity turns the guard off. */
  readonly maxFutureMs: number;
  wallClock(): number;
  partitionsOf(topic: string): number;
  send(topic: string, partition: number, key: Uint8Array | null, value: Uint8Array | null, timestamp: number, headers?: Readonly<Record<string, string>>): void;
  count(metric: string, n: number): void;
  /** A record that failed deserialization or the event-time guard. The runtime writes it to its dead-letter queue if it has one, logs and counts it (`dead-letter-records`), and throws to stop the task when the deserialization handler answers `fail` (never for `future-timestamp`). */
  deadLetter(context: DeadLetterContext): void;
}

/** An instant as ISO-8601, or as a number where Date cannot represent it (beyond year 275760). */
const instantText = (t: number): string => (Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : `${t} ms`);

interface NodeInstance {
  readonly name: string;
  process(record: StreamRecord<unknown, unknown>): void;
}

interface Punctuator {
  readonly intervalMs: number;
  readonly type: PunctuationType;
  readonly callback: (time: number) => void;
  next: number | undefined;
  cancelled: boolean;
}

interface Upstream {
  watermark: number;
  /** Wall-clock time of its last watermark record; a silent upstream is presumed gone. */
  lastHeard: number;
  /** The upstream says it has had no input for the idle time. */
  idle: boolean;
}

/**
 * One sub-topology bound to one partition: its processors, stores and stream time. The
 * runtime feeds it batches of raw records; everything inside is synchronous.
 */
export class StreamTask {
  readonly id: string;
  readonly partition: number;
  readonly subtopology: Subtopology;
  readonly stores = new Map<string, StateStore>();
  private readonly env: TaskEnv;
  private readonly topology: Topology;
  private readonly instances = new Map<string, NodeInstance>();
  private readonly sources = new Map<string, { node: NodeInstance; deserialize: (r: RawRecord) => StreamRecord<unknown, unknown> }>();
  private readonly processors: Processor<unknown, unknown, unknown, unknown>[] = [];
  private readonly sinks: ExternalSink<unknown, unknown>[] = [];
  private readonly punctuators: Punctuator[] = [];
  /** Repartition topics this task writes, for watermark propagation. */
  private readonly repartitionOutputs: string[];
  /** Upstream tasks feeding this task through repartition topics, by task id. */
  private readonly upstreams = new Map<string, Upstream>();
  private readonly expectedUpstreams: string[] = [];
  private readonly startedAt: number;
  private currentStreamTime = Number.NEGATIVE_INFINITY;
  private persistedStreamTime = Number.NEGATIVE_INFINITY;
  private lastWatermarkSentAt = Number.NEGATIVE_INFINITY;
  private lastSentIdle = false;
  private lastInputAt: number;
  /** Set by a runtime while a batch for this task is in hand but not yet processed (say, waiting for a schema registry). */
  inputPending = false;
  private lastSentWatermark = Number.NEGATIVE_INFINITY;
  /** Stream time before the end of a finite input made it infinite: what watermark records are stamped with then. */
  private lastFiniteStreamTime = Number.NEGATIVE_INFINITY;
  private currentOrigin: RecordOrigin | undefined;
  /** Event time of the record being processed, or stream time in a punctuator or flush: what stores stamp changes with. */
  private currentRecordTime = Number.NEGATIVE_INFINITY;
  private readonly storeContext: StoreContext = { recordTimestamp: () => this.currentRecordTime };
  commitRequested = false;

  /** `stores` lets a runtime restore state before processors' `init` reads it. */
  constructor(topology: Topology, subtopology: Subtopology, partition: number, env: TaskEnv, stores?: ReadonlyMap<string, StateStore>) {
    this.topology = topology;
    this.subtopology = subtopology;
    this.partition = partition;
    this.env = env;
    this.id = `${subtopology.id}_${partition}`;
    this.startedAt = env.wallClock();
    this.lastInputAt = this.startedAt;
    // A runtime that hands over no stores (in-process: the test driver, replay) keeps none on disk.
    for (const s of subtopology.stores) this.stores.set(s, stores?.get(s) ?? topology.stores.get(s)!.build({ memoryOnly: true }));
    this.repartitionOutputs = subtopology.sinkTopics.filter((t) => topology.internalTopics.has(t));
    for (const topic of subtopology.sourceTopics) {
      if (!topology.internalTopics.has(topic)) continue;
      const writer = topology.subtopologies.find((s) => s.sinkTopics.includes(topic))!;
      const upstreamPartitions = Math.max(...writer.sourceTopics.map((t) => env.partitionsOf(t)));
      for (let p = 0; p < upstreamPartitions; p++) this.expectedUpstreams.push(`${writer.id}_${p}`);
    }
    if (subtopology.streamTimeStore !== undefined) {
      const saved = (this.stores.get(subtopology.streamTimeStore) as KeyValueStore<string, number>).get(STREAM_TIME_KEY);
      if (saved !== undefined) this.currentStreamTime = this.persistedStreamTime = this.lastFiniteStreamTime = saved;
    }
    // Before processors' init, which may already write to them.
    for (const s of this.stores.values()) s.init?.(this.storeContext);
    // Children before parents, so every forward target exists when a context is made.
    for (const name of [...subtopology.nodes].reverse()) this.instantiate(name);
    for (const p of this.processors) p.init?.(this.contextFor(this.processorName.get(p)!));
  }

  private readonly sourceNodeOf = new Map<string, string>();
  private readonly processorName = new Map<Processor<unknown, unknown, unknown, unknown>, string>();
  private readonly contexts = new Map<string, ProcessorContext<unknown, unknown>>();

  private instantiate(name: string): void {
    const node = this.topology.nodes.get(name)!;
    const children = () => this.topology.children.get(name)!.map((c) => this.instances.get(c)!);
    switch (node.kind) {
      case 'source': {
        const kids = children();
        const instance: NodeInstance = {
          name,
          process: (r) => {
            for (let i = 0; i < kids.length; i++) kids[i]!.process(r);
          },
        };
        this.instances.set(name, instance);
        for (const topic of node.topics) {
          this.sourceNodeOf.set(topic, name);
          const extract = node.timestampExtractor;
          this.sources.set(topic, {
            node: instance,
            deserialize: (raw) => {
              const key = node.keySerde.deserialize(raw.key);
              const value = node.valueSerde.deserialize(raw.value);
              const extracted = extract === undefined ? raw.timestamp : extract(key, value, raw.timestamp);
              const timestamp = Number.isFinite(extracted) ? extracted : Number.NaN;
              return raw.headers === undefined ? { key, value, timestamp } : { key, value, timestamp, headers: raw.headers };
            },
          });
        }
        return;
      }
      case 'processor': {
        const processor = node.supplier();
        this.processors.unshift(processor);
        this.processorName.set(processor, name);
        this.instances.set(name, { name, process: (r) => processor.process(r) });
        return;
      }
      case 'sink': {
        const partitions = this.env.partitionsOf(node.topic);
        this.instances.set(name, {
          name,
          process: (r) => {
            const key = node.keySerde.serialize(r.key);
            const value = node.valueSerde.serialize(r.value);
            this.env.send(node.topic, partitionFor(key, partitions), key, value, r.timestamp, r.headers);
          },
        });
        return;
      }
      case 'external-sink': {
        const sink = node.factory(this.id);
        this.sinks.push(sink);
        this.instances.set(name, { name, process: (r) => sink.write(r) });
        return;
      }
    }
  }

  private contextFor(name: string): ProcessorContext<unknown, unknown> {
    const existing = this.contexts.get(name);
    if (existing !== undefined) return existing;
    const kids = this.topology.children.get(name)!.map((c) => this.instances.get(c)!);
    const byName = new Map(kids.map((k) => [k.name, k]));
    const node = this.topology.nodes.get(name)!;
    const allowedStores = new Set(node.kind === 'processor' ? node.stores : []);
    const ctx: ProcessorContext<unknown, unknown> = {
      taskId: this.id,
      partition: this.partition,
      forward: (record, childName) => {
        if (childName !== undefined) {
          const child = byName.get(childName);
          if (child === undefined) throw new Error(`${name} has no child named ${childName}`);
          child.process(record);
          return;
        }
        for (let i = 0; i < kids.length; i++) kids[i]!.process(record);
      },
      getStateStore: <S extends StateStore>(store: string) => {
        if (!allowedStores.has(store)) throw new Error(`processor ${name} is not connected to store ${store}`);
        return this.stores.get(store) as S;
      },
      schedule: (intervalMs, type, callback): Cancellable => {
        const p: Punctuator = { intervalMs, type, callback, next: type === 'wall-clock' ? this.env.wallClock() + intervalMs : undefined, cancelled: false };
        this.punctuators.push(p);
        return { cancel: () => void (p.cancelled = true) };
      },
      streamTime: () => this.currentStreamTime,
      currentWallClock: () => this.env.wallClock(),
      origin: () => this.currentOrigin,
      commit: () => void (this.commitRequested = true),
      count: (metric, n = 1) => this.env.count(metric, n),
    };
    this.contexts.set(name, ctx);
    return ctx;
  }

  /**
   * Sets stream time before the first batch, where the runtime knows better than the restored
   * store which time goes with the offsets it resumes from (at-least-once: the commit metadata).
   */
  resumeStreamTimeAt(t: number): void {
    this.currentStreamTime = t;
    this.lastFiniteStreamTime = Number.isFinite(t) ? t : Number.NEGATIVE_INFINITY;
  }

  get streamTime(): number {
    return this.currentStreamTime;
  }

  /** Lets the source's serdes do asynchronous work (schema look-ups) before `processBatch`. */
  async prepareBatch(topic: string, records: readonly RawRecord[]): Promise<void> {
    const node = this.topology.nodes.get(this.sourceNodeOf.get(topic)!);
    if (node?.kind !== 'source') return;
    if (node.valueSerde.prepare !== undefined) await node.valueSerde.prepare(records.map((r) => r.value));
    if (node.keySerde.prepare !== undefined) await node.keySerde.prepare(records.map((r) => r.key));
  }

  /** Processes a batch of raw records from one topic partition of this task. */
  processBatch(topic: string, records: readonly RawRecord[]): void {
    const source = this.sources.get(topic);
    if (source === undefined) throw new Error(`task ${this.id} does not read ${topic}`);
    const fromRepartition = this.topology.internalTopics.has(topic);
    // The guard reads the wall clock once per batch, not per record: a batch is processed in one
    // synchronous go. Repartition records carry upstream event time, already guarded there.
    let futureLimit = Number.POSITIVE_INFINITY;
    if (!fromRepartition && records.length > 0) {
      this.lastInputAt = this.env.wallClock();
      futureLimit = this.lastInputAt + this.env.maxFutureMs;
    }
    for (let i = 0; i < records.length; i++) {
      const raw = records[i]!;
      const origin: RecordOrigin = { topic, partition: this.partition, offset: raw.offset };
      if (fromRepartition) {
        const mark = raw.headers?.[WATERMARK_HEADER];
        if (mark !== undefined) {
          this.onWatermark(mark);
          continue;
        }
      }
      let rec: StreamRecord<unknown, unknown>;
      try {
        rec = source.deserialize(raw);
      } catch (e) {
        this.env.deadLetter({ origin, reason: e instanceof RecordRejectedError ? e.reason : DESERIALIZATION_FAILED, error: e, key: raw.key, value: raw.value, timestamp: raw.timestamp });
        continue;
      }
      // A clock far off on the producer's side (or a typo like year 9999) must not move stream
      // time: it would close every open window and make every later record late.
      if (rec.timestamp > futureLimit) {
        this.refuseFuture(origin, raw, rec.timestamp, futureLimit - this.env.maxFutureMs);
        continue;
      }
      // Input tasks: stream time is the largest event time seen on the partition, moved
      // before the record is processed (a record never finds itself ahead of stream time).
      if (!fromRepartition && rec.timestamp > this.currentStreamTime) this.advanceStreamTime(rec.timestamp);
      this.currentOrigin = origin;
      this.currentRecordTime = rec.timestamp;
      source.node.process(rec);
    }
    this.currentOrigin = undefined;
  }

  private refuseFuture(origin: RecordOrigin, raw: RawRecord, eventTime: number, wallClock: number): void {
    const error = new RecordRejectedError(
      FUTURE_TIMESTAMP,
      `${instantText(eventTime)} is more than ${this.env.maxFutureMs} ms ahead of the wall clock ${instantText(wallClock)}`,
    );
    // The record as read: its own timestamp, not the event time refused.
    this.env.deadLetter({ origin, reason: FUTURE_TIMESTAMP, error, key: raw.key, value: raw.value, timestamp: raw.timestamp });
  }

  private onWatermark(mark: string): void {
    const [upstream = '', time = '', state] = mark.split(' ');
    const wm = Number(time);
    const now = this.env.wallClock();
    const u = this.upstreams.get(upstream);
    if (u === undefined) this.upstreams.set(upstream, { watermark: wm, lastHeard: now, idle: state === 'idle' });
    else {
      if (wm > u.watermark) u.watermark = wm;
      u.lastHeard = now;
      u.idle = state === 'idle';
    }
    this.recomputeWatermark();
  }

  /**
   * Stream time of a repartition-fed task: the minimum over upstream partitions that are not
   * idle. An upstream is idle when it says so (no input for the idle time; a task busy with a
   * stalled batch is not idle), or when it has not been heard from for the idle time.
   */
  private recomputeWatermark(): void {
    if (this.expectedUpstreams.length === 0) return;
    const now = this.env.wallClock();
    let min = Number.POSITIVE_INFINITY;
    let maxIdle = Number.NEGATIVE_INFINITY;
    let active = 0;
    for (const id of this.expectedUpstreams) {
      const u = this.upstreams.get(id);
      const wm = u?.watermark ?? Number.NEGATIVE_INFINITY;
      const silent = now - (u?.lastHeard ?? this.startedAt) >= this.env.idleMs;
      if (wm !== Number.POSITIVE_INFINITY && (silent || u?.idle === true)) {
        if (wm > maxIdle) maxIdle = wm;
        continue;
      }
      active++;
      if (wm < min) min = wm;
    }
    // When every upstream is idle, nothing more is coming: all they have sent may close.
    const wm = active === 0 ? maxIdle : min;
    if (wm > this.currentStreamTime) this.advanceStreamTime(wm);
  }

  private advanceStreamTime(t: number): void {
    this.currentStreamTime = t;
    if (t !== Number.POSITIVE_INFINITY) this.lastFiniteStreamTime = t;
    for (let i = 0; i < this.punctuators.length; i++) {
      const p = this.punctuators[i]!;
      if (p.cancelled || p.type !== 'stream-time') continue;
      if (p.next === undefined || t >= p.next) {
        p.next = t + p.intervalMs;
        this.currentOrigin = undefined;
        this.currentRecordTime = t;
        p.callback(t);
      }
    }
  }

  /** Wall-clock punctuation and idle detection; the runtime calls it regularly. */
  tick(): void {
    const now = this.env.wallClock();
    for (const p of this.punctuators) {
      if (p.cancelled || p.type !== 'wall-clock' || p.next === undefined || now < p.next) continue;
      p.next = now + p.intervalMs;
      // Changes made here are stamped with event time, never the wall clock.
      this.currentRecordTime = this.currentStreamTime;
      p.callback(now);
    }
    this.recomputeWatermark();
  }

  /**
   * Forwards what processors buffer and tells downstream tasks how far this task has got.
   * The watermark goes out after the data, on the same partitions, so it never overtakes it.
   */
  flush(): void {
    this.currentRecordTime = this.currentStreamTime;
    for (const p of this.processors) p.flush?.();
    const wm = this.currentStreamTime;
    const store = this.subtopology.streamTimeStore;
    if (store !== undefined && wm > this.persistedStreamTime && Number.isFinite(wm)) {
      (this.stores.get(store) as KeyValueStore<string, number>).put(STREAM_TIME_KEY, wm);
      this.persistedStreamTime = wm;
    }
    // Sent again now and then even when unchanged: a downstream task that just moved learns it,
    // and every downstream task hears that this one is alive (and whether it is idle).
    const now = this.env.wallClock();
    const idle = !this.inputPending && now - this.lastInputAt >= this.env.idleMs;
    const resend = wm > Number.NEGATIVE_INFINITY && (now - this.lastWatermarkSentAt >= Math.min(WATERMARK_RESEND_MS, this.env.idleMs / 2) || idle !== this.lastSentIdle);
    if ((wm > this.lastSentWatermark || resend) && this.repartitionOutputs.length > 0) {
      this.lastWatermarkSentAt = now;
      this.lastSentIdle = idle;
      const header = { [WATERMARK_HEADER]: `${this.id} ${wm} ${idle ? 'idle' : 'active'}` };
      // Event time, like every other record a task writes: stamped with the wall clock, a replay
      // of old data would interleave stamps years apart on one partition.
      const ts = Math.max(0, wm === Number.POSITIVE_INFINITY ? this.lastFiniteStreamTime : wm);
      for (const topic of this.repartitionOutputs) {
        const n = this.env.partitionsOf(topic);
        for (let p = 0; p < n; p++) this.env.send(topic, p, null, null, ts, header);
      }
      this.lastSentWatermark = wm;
    }
  }

  /** A finite input has ended: every window may close. */
  endOfInput(): void {
    if (this.expectedUpstreams.length === 0) this.advanceStreamTime(Number.POSITIVE_INFINITY);
    this.flush();
  }

  /** Makes external sink output durable; the runtime awaits this before committing offsets. */
  async commitSinks(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.commit()));
    await Promise.all([...this.stores.values()].map((s) => s.flush()));
    this.commitRequested = false;
  }

  drainChanges(): Array<{ store: string; entries: ChangelogEntry[] }> {
    const out: Array<{ store: string; entries: ChangelogEntry[] }> = [];
    for (const [name, s] of this.stores) {
      if (!s.logged) continue;
      const entries = s.drainChanges();
      if (entries.length > 0) out.push({ store: name, entries });
    }
    return out;
  }

  async close(): Promise<void> {
    for (const p of this.processors) p.close?.();
    await Promise.all(this.sinks.map((s) => s.close()));
    await Promise.all([...this.stores.values()].map((s) => s.close()));
  }
}
