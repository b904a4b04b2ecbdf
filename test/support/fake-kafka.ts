// An in-memory stand-in for the part of kafkajs the Kafka runtime uses, so its modules run
// without a broker:
//
//   const broker = new FakeBroker();
//   broker.createTopic('in', 2);
//   const streams = new KafkaStreams(topology, { applicationId: 'app', bootstrapServers: 'fake:9092', client: broker.client });
//   broker.failNext('producer.sendBatch', kafkaError('OUT_OF_ORDER_SEQUENCE_NUMBER'));
//   const slow = broker.holdNext('admin.connect'); ... slow.release();
//   ... broker.calls (every operation, in order), broker.records('out'), broker.committed('app') ...
//
// Topics are arrays of records per partition. Transactions stage their records and offsets
// and apply them on commit only. One consumer per group is assumed: on `run()` it joins with
// every partition of the topics it subscribed to, then feeds each partition's records, from
// the group's committed offset (or the beginning), to `eachBatch`, one batch per partition at
// a time, as new records arrive.
import type { Kafka, Message } from 'kafkajs';
import type { ClientOptions, KafkaClientFactory } from '../../topology/runtimes/kafka/client.ts';

export interface StoredRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** The producer that wrote it: its transactional id, or `producer-<n>`. */
  readonly writer: string;
}

export interface Call {
  /** `producer-1`, `app-0_0` (a transactional producer), `app-0_0#2` (its second transaction), `consumer-1`, `admin-1`, or a name given to `note`. */
  readonly who: string;
  readonly op: string;
  readonly detail?: unknown;
}

/** A kafkajs protocol error as the client reports it: by `type`. */
export const kafkaError = (type: string, message = `fake broker: ${type}`): Error & { type: string; retriable: boolean } =>
  Object.assign(new Error(message), { name: 'KafkaJSProtocolError', type, retriable: false });

/** The same, wrapped by kafkajs's retrier once it gave up. */
export const wrappedKafkaError = (type: string): Error & { originalError: Error } =>
  Object.assign(new Error(`retries exceeded: ${type}`), { name: 'KafkaJSNumberOfRetriesExceeded', originalError: kafkaError(type) });

interface TopicState {
  readonly partitions: StoredRecord[][];
  /** Records before this offset were deleted (DeleteRecords). */
  readonly low: number[];
  readonly configs: Record<string, string>;
}

interface Failure {
  readonly op: string;
  readonly who: RegExp | undefined;
  readonly error: unknown;
}

interface SendBatchArgs {
  readonly topicMessages?: readonly { readonly topic: string; readonly messages: readonly Message[] }[];
}

interface OffsetsArgs {
  readonly consumerGroupId: string;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly { readonly partition: number; readonly offset: string }[] }[];
}

type Listener = (event: { id: number; type: string; timestamp: number; payload: unknown }) => void;

const CONSUMER_EVENTS = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  REQUEST: 'consumer.network.request',
  REQUEST_TIMEOUT: 'consumer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'consumer.network.request_queue_size',
} as const;

const asBuffer = (v: Message['key'] | Message['value']): Buffer | null => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v));

const asHeaders = (h: Message['headers']): Record<string, string> | undefined => {
  if (h === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  return out;
};

/** Lets other callbacks run in between, as a network round trip would. */
const roundTrip = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeBroker {
  readonly calls: Call[] = [];
  /** Every `ClientOptions` the runtime built a client with, one per `KafkaClientFactory` call. */
  readonly clients: ClientOptions[] = [];
  readonly producers: FakeProducer[] = [];
  readonly consumers: FakeConsumer[] = [];
  /** Topics as `createTopics` asked for them. */
  readonly created: { topic: string; numPartitions: number; replicationFactor: number; configEntries: { name: string; value: string }[] }[] = [];
  /** A broker answer about one record (too large, bad timestamp): the batch holding it fails with it. */
  rejectRecord: ((topic: string, message: Message) => unknown) | undefined;
  private readonly topics = new Map<string, TopicState>();
  private readonly groups = new Map<string, Map<string, string>>();
  private readonly failures: Failure[] = [];
  private readonly holds: { op: string; until: Promise<void> }[] = [];
  private readonly watchers = new Set<() => void>();
  private producerCount = 0;
  private consumerCount = 0;
  private adminCount = 0;
  private clock = Date.now;

  /** The `client` of a `KafkaStreamsConfig`. */
  readonly client: KafkaClientFactory = (options) => {
    this.clients.push(options);
    return this.kafka();
  };

  /** A client of its own, for code that takes a `Kafka`. */
  kafka(): Kafka {
    const fake = {
      producer: (options: { transactionalId?: string } = {}) => {
        const p = new FakeProducer(this, options.transactionalId ?? `producer-${++this.producerCount}`, options);
        this.producers.push(p);
        return p;
      },
      consumer: (options: { groupId: string }) => {
        const c = new FakeConsumer(this, `consumer-${++this.consumerCount}`, options.groupId);
        this.consumers.push(c);
        return c;
      },
      admin: () => new FakeAdmin(this, `admin-${++this.adminCount}`),
    };
    return fake as unknown as Kafka;
  }

  setClock(clock: () => number): void {
    this.clock = clock;
  }

  createTopic(name: string, partitions: number, configs: Record<string, string> = {}): void {
    if (this.topics.has(name)) return;
    this.topics.set(name, { partitions: Array.from({ length: partitions }, () => []), low: new Array<number>(partitions).fill(0), configs: { ...configs } });
  }

  hasTopic(name: string): boolean {
    return this.topics.has(name);
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  partitionCount(name: string): number {
    return this.topics.get(name)?.partitions.length ?? 0;
  }

  configsOf(name: string): Readonly<Record<string, string>> | undefined {
    return this.topics.get(name)?.configs;
  }

  /** The records of a topic (one partition, or all of them in partition order). */
  records(topic: string, partition?: number): StoredRecord[] {
    const t = this.topics.get(topic);
    if (t === undefined) return [];
    return partition === undefined ? t.partitions.flat() : [...(t.partitions[partition] ?? [])];
  }

  /** Values of a topic's records as text, in partition then offset order. */
  values(topic: string, partition?: number): (string | null)[] {
    return this.records(topic, partition).map((r) => (r.value === null ? null : r.value.toString('utf8')));
  }

  lowOffset(topic: string, partition: number): number {
    return this.topics.get(topic)?.low[partition] ?? 0;
  }

  /** A record written by someone outside the runtime (a test's upstream producer). */
  produce(topic: string, partition: number, m: { key?: string | null; value: string | null; timestamp?: number; headers?: Record<string, string> }): void {
    this.append(topic, partition, { key: m.key ?? null, value: m.value, timestamp: String(m.timestamp ?? this.clock()), ...(m.headers === undefined ? {} : { headers: m.headers }) }, 'test');
  }

  /** The group's committed offsets, `topic/partition` to the next offset to read. */
  committed(groupId: string): ReadonlyMap<string, string> {
    return this.groups.get(groupId) ?? new Map();
  }

  /** The next call of `op` (by `who`, when given) fails with `error`; queued failures are used in order. */
  failNext(op: string, error: unknown, who?: RegExp): void {
    this.failures.push({ op, who, error });
  }

  /** The next call of `op` waits until `release()` is called (a slow broker, a slow start). */
  holdNext(op: string): { release(): void } {
    let release!: () => void;
    this.holds.push({ op, until: new Promise<void>((resolve) => (release = resolve)) });
    return { release: () => release() };
  }

  /** @internal Waits while a hold on `op` is in place. */
  async passHold(op: string): Promise<void> {
    const i = this.holds.findIndex((h) => h.op === op);
    if (i < 0) return;
    const [h] = this.holds.splice(i, 1);
    await h!.until;
  }

  /** An event outside the broker (a sink committing), logged among the broker's calls. */
  note(who: string, op: string, detail?: unknown): void {
    this.calls.push(detail === undefined ? { who, op } : { who, op, detail });
  }

  /** `who op` of every call, optionally only those whose op matches. */
  ops(filter?: RegExp): string[] {
    return this.calls.filter((c) => filter === undefined || filter.test(c.op)).map((c) => `${c.who} ${c.op}`);
  }

  /** @internal Logs a call, then throws the failure queued for it, if any. */
  enter(who: string, op: string, detail?: unknown): void {
    this.note(who, op, detail);
    const i = this.failures.findIndex((f) => f.op === op && (f.who === undefined || f.who.test(who)));
    if (i < 0) return;
    const [f] = this.failures.splice(i, 1);
    throw f!.error;
  }

  /** @internal Throws what `rejectRecord` says about any record of the batch. */
  checkRecords(topicMessages: SendBatchArgs['topicMessages']): void {
    if (this.rejectRecord === undefined) return;
    for (const { topic, messages } of topicMessages ?? []) {
      for (const m of messages) {
        const error = this.rejectRecord(topic, m);
        if (error !== undefined) throw error;
      }
    }
  }

  /** @internal */
  append(topic: string, partition: number, m: Message, writer: string): void {
    if (!this.topics.has(topic)) this.createTopic(topic, partition + 1);
    const t = this.topics.get(topic)!;
    while (t.partitions.length <= partition) {
      t.partitions.push([]);
      t.low.push(0);
    }
    const list = t.partitions[partition]!;
    list.push({ offset: String(list.length), key: asBuffer(m.key), value: asBuffer(m.value), timestamp: m.timestamp ?? String(this.clock()), headers: asHeaders(m.headers), writer });
    for (const w of this.watchers) w();
  }

  /** @internal */
  commitGroupOffsets(groupId: string, topics: OffsetsArgs['topics']): void {
    let g = this.groups.get(groupId);
    if (g === undefined) this.groups.set(groupId, (g = new Map()));
    for (const { topic, partitions } of topics) for (const p of partitions) g.set(`${topic}/${p.partition}`, p.offset);
  }

  /** @internal */
  deleteRecords(topic: string, partitions: readonly { partition: number; offset: string }[]): void {
    const t = this.topics.get(topic);
    if (t === undefined) throw kafkaError('UNKNOWN_TOPIC_OR_PARTITION');
    for (const p of partitions) t.low[p.partition] = Math.max(t.low[p.partition] ?? 0, Number(p.offset));
  }

  /** @internal */
  watch(wake: () => void): () => void {
    this.watchers.add(wake);
    return () => this.watchers.delete(wake);
  }

  /** @internal */
  topicState(name: string): TopicState | undefined {
    return this.topics.get(name);
  }
}

export class FakeTransaction {
  state: 'open' | 'committed' | 'aborted' = 'open';
  /** Records sent in the transaction, in order, as they were handed over. */
  readonly sent: { topic: string; messages: Message[] }[] = [];
  readonly offsets: OffsetsArgs[] = [];
  private readonly broker: FakeBroker;
  readonly id: string;
  private readonly producer: FakeProducer;

  constructor(broker: FakeBroker, producer: FakeProducer, id: string) {
    this.broker = broker;
    this.producer = producer;
    this.id = id;
  }

  async sendBatch(args: SendBatchArgs): Promise<unknown[]> {
    await roundTrip();
    this.broker.enter(this.id, 'txn.sendBatch', args.topicMessages);
    this.expectOpen('sendBatch');
    this.broker.checkRecords(args.topicMessages);
    for (const tm of args.topicMessages ?? []) this.sent.push({ topic: tm.topic, messages: [...tm.messages] });
    return [];
  }

  async sendOffsets(args: OffsetsArgs): Promise<void> {
    await roundTrip();
    this.broker.enter(this.id, 'txn.sendOffsets', args);
    this.expectOpen('sendOffsets');
    this.offsets.push(args);
  }

  async commit(): Promise<void> {
    await roundTrip();
    this.broker.enter(this.id, 'txn.commit');
    this.expectOpen('commit');
    this.state = 'committed';
    for (const { topic, messages } of this.sent) for (const m of messages) this.broker.append(topic, m.partition ?? 0, m, this.producer.who);
    for (const o of this.offsets) this.broker.commitGroupOffsets(o.consumerGroupId, o.topics);
  }

  async abort(): Promise<void> {
    await roundTrip();
    this.broker.enter(this.id, 'txn.abort');
    this.expectOpen('abort');
    this.state = 'aborted';
  }

  isActive(): boolean {
    return this.state === 'open';
  }

  private expectOpen(what: string): void {
    if (this.state !== 'open') throw new Error(`Transaction state exception: ${what} on a transaction already ${this.state}`);
  }
}

export class FakeProducer {
  readonly who: string;
  readonly options: Readonly<Record<string, unknown>>;
  connected = false;
  disconnected = false;
  readonly transactions: FakeTransaction[] = [];
  private readonly broker: FakeBroker;

  constructor(broker: FakeBroker, who: string, options: Readonly<Record<string, unknown>>) {
    this.broker = broker;
    this.who = who;
    this.options = options;
  }

  async connect(): Promise<void> {
    await roundTrip();
    this.broker.enter(this.who, 'producer.connect');
    this.connected = true;
    this.disconnected = false;
  }

  async disconnect(): Promise<void> {
    this.broker.enter(this.who, 'producer.disconnect');
    this.connected = false;
    this.disconnected = true;
  }

  async sendBatch(args: SendBatchArgs & { acks?: number }): Promise<unknown[]> {
    await roundTrip();
    this.broker.enter(this.who, 'producer.sendBatch', args.topicMessages);
    if (!this.connected) throw new Error(`${this.who}: sendBatch on a producer that is not connected`);
    this.broker.checkRecords(args.topicMessages);
    for (const { topic, messages } of args.topicMessages ?? []) for (const m of messages) this.broker.append(topic, m.partition ?? 0, m, this.who);
    return [];
  }

  async transaction(): Promise<FakeTransaction> {
    await roundTrip();
    const txn = new FakeTransaction(this.broker, this, `${this.who}#${this.transactions.length + 1}`);
    this.broker.enter(txn.id, 'txn.begin');
    if (!this.connected) throw new Error(`${this.who}: transaction on a producer that is not connected`);
    if (this.transactions.some((t) => t.isActive())) throw new Error('Transaction state exception: a transaction is already open');
    this.transactions.push(txn);
    return txn;
  }
}

interface RunOptions {
  readonly eachBatch: (payload: unknown) => Promise<void>;
}

export class FakeConsumer {
  readonly who: string;
  readonly groupId: string;
  readonly events = CONSUMER_EVENTS;
  subscribed: string[] = [];
  connected = false;
  /** Batches handed to `eachBatch`: `topic/partition@first..last`. */
  readonly delivered: string[] = [];
  private readonly broker: FakeBroker;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly positions = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private eventId = 0;

  constructor(broker: FakeBroker, who: string, groupId: string) {
    this.broker = broker;
    this.who = who;
    this.groupId = groupId;
  }

  on(event: string, listener: Listener): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Emits a consumer event, as kafkajs's instrumentation does (tests use it for CRASH). */
  emit(type: string, payload: unknown): void {
    for (const l of this.listeners.get(type) ?? []) l({ id: ++this.eventId, type, timestamp: Date.now(), payload });
  }

  async connect(): Promise<void> {
    await roundTrip();
    this.broker.enter(this.who, 'consumer.connect');
    this.connected = true;
  }

  async subscribe(args: { topics: readonly string[]; fromBeginning?: boolean }): Promise<void> {
    this.broker.enter(this.who, 'consumer.subscribe', args.topics);
    for (const t of args.topics) if (!this.broker.hasTopic(t)) throw kafkaError('UNKNOWN_TOPIC_OR_PARTITION', `fake broker: no topic ${t}`);
    this.subscribed.push(...args.topics);
  }

  /** Joins (GROUP_JOIN with every partition of the subscribed topics, before resolving, as kafkajs does), then consumes in the background. */
  async run(options: RunOptions): Promise<void> {
    this.broker.enter(this.who, 'consumer.run');
    if (!this.connected) throw new Error(`${this.who}: run before connect`);
    const assignment: Record<string, number[]> = {};
    for (const t of this.subscribed) assignment[t] = Array.from({ length: this.broker.partitionCount(t) }, (_, i) => i);
    this.running = true;
    this.emit(CONSUMER_EVENTS.GROUP_JOIN, { duration: 1, groupId: this.groupId, isLeader: true, leaderId: this.who, groupProtocol: 'RoundRobinAssigner', memberId: this.who, memberAssignment: assignment });
    this.loop = this.consume(assignment, options.eachBatch);
  }

  seek(args: { topic: string; partition: number; offset: string }): void {
    this.broker.note(this.who, 'consumer.seek', args);
    this.positions.set(`${args.topic}/${args.partition}`, Number(args.offset));
    this.nudge();
  }

  async commitOffsets(offsets: readonly { topic: string; partition: number; offset: string }[]): Promise<void> {
    await roundTrip();
    this.broker.enter(this.who, 'consumer.commitOffsets', offsets);
    const topics = [...new Set(offsets.map((o) => o.topic))].map((topic) => ({ topic, partitions: offsets.filter((o) => o.topic === topic) }));
    this.broker.commitGroupOffsets(this.groupId, topics);
  }

  pause(): void {}
  resume(): void {}

  async stop(): Promise<void> {
    this.broker.note(this.who, 'consumer.stop');
    this.running = false;
    this.nudge();
    await this.loop;
  }

  async disconnect(): Promise<void> {
    await this.stop();
    this.broker.note(this.who, 'consumer.disconnect');
    this.connected = false;
  }

  private nudge(): void {
    this.woken = true;
    this.wake?.();
  }

  private async consume(assignment: Record<string, number[]>, eachBatch: RunOptions['eachBatch']): Promise<void> {
    const unwatch = this.broker.watch(() => this.nudge());
    try {
      // The first fetch is a network round trip: no batch arrives before run() has resolved.
      await roundTrip();
      while (this.running) {
        this.woken = false;
        let advanced = false;
        for (const [topic, partitions] of Object.entries(assignment)) {
          for (const partition of partitions) {
            if (!this.running) return;
            if (await this.deliver(topic, partition, eachBatch)) advanced = true;
          }
        }
        // Without progress, wait for new records, a seek or stop (never spin).
        if (!advanced && !this.woken && this.running) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        await roundTrip();
      }
    } finally {
      unwatch();
    }
  }

  private async deliver(topic: string, partition: number, eachBatch: RunOptions['eachBatch']): Promise<boolean> {
    const key = `${topic}/${partition}`;
    const state = this.broker.topicState(topic);
    if (state === undefined) return false;
    const committed = this.broker.committed(this.groupId).get(key);
    const from = Math.max(this.positions.get(key) ?? (committed === undefined ? 0 : Number(committed)), state.low[partition] ?? 0);
    const all = state.partitions[partition] ?? [];
    if (from >= all.length) return false;
    const records = all.slice(from);
    const last = records.at(-1)!.offset;
    let resolved: number | undefined;
    const positionBefore = this.positions.get(key);
    this.delivered.push(`${key}@${records[0]!.offset}..${last}`);
    const batch = {
      topic,
      partition,
      highWatermark: String(all.length),
      messages: records.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, offset: r.offset, attributes: 0, size: 0, ...(r.headers === undefined ? {} : { headers: { ...r.headers } }) })),
      isEmpty: () => records.length === 0,
      firstOffset: () => records[0]!.offset,
      lastOffset: () => last,
      offsetLag: () => '0',
      offsetLagLow: () => '0',
    };
    await eachBatch({
      batch,
      resolveOffset: (offset: string) => void (resolved = Number(offset)),
      heartbeat: async () => {},
      pause: () => () => {},
      commitOffsetsIfNecessary: async () => {},
      uncommittedOffsets: () => ({ topics: [] }),
      isRunning: () => this.running,
      isStale: () => false,
    });
    // A seek during the batch wins; otherwise the next fetch starts after the resolved offset.
    if (this.positions.get(key) !== positionBefore) return true;
    if (resolved === undefined) return false;
    this.positions.set(key, resolved + 1);
    return true;
  }
}

export class FakeAdmin {
  readonly who: string;
  private readonly broker: FakeBroker;

  constructor(broker: FakeBroker, who: string) {
    this.broker = broker;
    this.who = who;
  }

  async connect(): Promise<void> {
    await roundTrip();
    await this.broker.passHold('admin.connect');
    this.broker.enter(this.who, 'admin.connect');
  }

  async disconnect(): Promise<void> {
    this.broker.note(this.who, 'admin.disconnect');
  }

  async fetchTopicMetadata(args: { topics?: readonly string[] } = {}): Promise<{ topics: { name: string; partitions: { partitionErrorCode: number; partitionId: number; leader: number; replicas: number[]; isr: number[] }[] }[] }> {
    await roundTrip();
    this.broker.enter(this.who, 'admin.fetchTopicMetadata', args.topics);
    const names = args.topics === undefined || args.topics.length === 0 ? this.broker.topicNames() : [...args.topics];
    return {
      topics: names.map((name) => {
        if (!this.broker.hasTopic(name)) throw kafkaError('UNKNOWN_TOPIC_OR_PARTITION');
        return { name, partitions: Array.from({ length: this.broker.partitionCount(name) }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] })) };
      }),
    };
  }

  async createTopics(args: { topics: { topic: string; numPartitions?: number; replicationFactor?: number; configEntries?: { name: string; value: string }[] }[]; waitForLeaders?: boolean }): Promise<boolean> {
    await roundTrip();
    this.broker.enter(this.who, 'admin.createTopics', args.topics);
    let createdAny = false;
    for (const t of args.topics) {
      this.broker.created.push({ topic: t.topic, numPartitions: t.numPartitions ?? 1, replicationFactor: t.replicationFactor ?? 1, configEntries: [...(t.configEntries ?? [])] });
      if (this.broker.hasTopic(t.topic)) continue;
      this.broker.createTopic(t.topic, t.numPartitions ?? 1, Object.fromEntries((t.configEntries ?? []).map((e) => [e.name, e.value])));
      createdAny = true;
    }
    return createdAny;
  }

  async fetchOffsets(args: { groupId: string; topics: readonly string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[]> {
    await roundTrip();
    this.broker.enter(this.who, 'admin.fetchOffsets', args);
    const committed = this.broker.committed(args.groupId);
    return args.topics.map((topic) => ({
      topic,
      partitions: Array.from({ length: this.broker.partitionCount(topic) }, (_, partition) => ({ partition, offset: committed.get(`${topic}/${partition}`) ?? '-1', metadata: null })),
    }));
  }

  async fetchTopicOffsets(topic: string): Promise<{ partition: number; offset: string; high: string; low: string }[]> {
    await roundTrip();
    this.broker.enter(this.who, 'admin.fetchTopicOffsets', topic);
    return Array.from({ length: this.broker.partitionCount(topic) }, (_, partition) => {
      const high = String(this.broker.records(topic, partition).length);
      return { partition, offset: high, high, low: String(this.broker.lowOffset(topic, partition)) };
    });
  }

  async deleteTopicRecords(args: { topic: string; partitions: { partition: number; offset: string }[] }): Promise<void> {
    await roundTrip();
    this.broker.enter(this.who, 'admin.deleteTopicRecords', args);
    this.broker.deleteRecords(args.topic, args.partitions);
  }

  async deleteGroups(groupIds: readonly string[]): Promise<unknown[]> {
    this.broker.note(this.who, 'admin.deleteGroups', groupIds);
    return [];
  }
}
