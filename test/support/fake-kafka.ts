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
// Topics are arrays of records per partition. A transaction's records take their offsets when
// sent, stay invisible to consumers (which read committed) until it commits and are skipped
// for good once it aborts; its offsets apply on commit only. Sends answer with the base offset
// per partition, as the broker does. Consumers of a group share its partitions: when a member
// runs, stops or dies (`kill`), the group rebalances, the first member left as leader runs its
// `partitionAssigners` (kafkajs's round robin without them) and every member gets GROUP_JOIN
// with its partitions. A member feeds each assigned, unpaused partition's records, from its
// position (a seek, or the group's committed offset, or the beginning), to `eachBatch`, one
// batch per partition at a time, as new records arrive.
//
//   broker.kill(1)   // the second client made (its KafkaStreams instance) dies as with kill -9
import { AssignerProtocol } from 'kafkajs';
import type { ClientOptions, KafkaClient, KafkaClientFactory, Message } from '../../topology/runtimes/kafka/client/port.ts';

export interface StoredRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** The producer that wrote it: its transactional id, or `producer-<n>`. */
  readonly writer: string;
  /** A transactional record: `pending` until its transaction commits (then undefined), `aborted` after an abort. */
  txn?: 'pending' | 'aborted' | undefined;
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

/** The same, as kafkajs's retrier passes on an error it does not retry: the protocol error as `cause`, no `type`. */
export const nonRetriableKafkaError = (type: string): Error =>
  Object.assign(new Error(`fake broker: ${type}`, { cause: kafkaError(type) }), { name: 'KafkaJSNonRetriableError', retriable: false });

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

/** What the broker answers a produce request with, per partition (kafkajs's RecordMetadata). */
interface Ack {
  readonly topicName: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: string;
}

/** One `kafka()` client: everything made from it dies with it (`FakeBroker.kill`). */
interface ClientLife {
  dead: boolean;
}

const deadError = () => kafkaError('NETWORK_EXCEPTION', 'fake broker: this client was killed');

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
  /** Running members of each group, in join order (the first is the leader). */
  private readonly members = new Map<string, FakeConsumer[]>();
  private readonly lives: ClientLife[] = [];
  private producerCount = 0;
  private consumerCount = 0;
  private adminCount = 0;
  private clock = Date.now;

  /** The `client` of a `KafkaStreamsConfig`. */
  readonly client: KafkaClientFactory = (options) => {
    this.clients.push(options);
    return this.kafka();
  };

  /** A client of its own, for code that takes a `KafkaClient`; exactly-once with a transactional producer per task. */
  kafka(): KafkaClient {
    const life: ClientLife = { dead: false };
    this.lives.push(life);
    const fake = {
      name: 'fake',
      exactlyOnce: 'per-task',
      producer: (options: { transactionalId?: string } = {}) => {
        const p = new FakeProducer(this, options.transactionalId ?? `producer-${++this.producerCount}`, options, life);
        this.producers.push(p);
        return p;
      },
      consumer: (options: { groupId: string; assigner?: AssignerFactory }) => {
        const c = new FakeConsumer(this, `consumer-${++this.consumerCount}`, options.groupId, options.assigner === undefined ? [] : [options.assigner], life);
        this.consumers.push(c);
        return c;
      },
      admin: () => new FakeAdmin(this, `admin-${++this.adminCount}`, life),
    };
    return fake as unknown as KafkaClient;
  }

  /**
   * The n-th client made (0-based: one per KafkaStreams stream thread, one per `kafka()` call)
   * dies as its process would on `kill -9`: its consumers leave their groups at once (the session
   * timeout, elapsed), and every later call of its producers, consumers and admins fails.
   */
  kill(client: number): void {
    const life = this.lives[client];
    if (life === undefined) throw new Error(`no client ${client}`);
    life.dead = true;
    for (const c of this.consumers) if (c.life === life) c.die();
  }

  /** @internal A member joins its group (`run()`), or leaves it (`stop()`, death): every member gets a new assignment. */
  async rebalance(consumer: FakeConsumer, joining: boolean): Promise<void> {
    let list = this.members.get(consumer.groupId);
    if (list === undefined) this.members.set(consumer.groupId, (list = []));
    const i = list.indexOf(consumer);
    if (joining && i < 0) list.push(consumer);
    if (!joining && i >= 0) list.splice(i, 1);
    const members = [...list];
    if (members.length === 0) return;
    for (const m of members) m.rebalancing();
    const leader = members[0]!;
    const topics = [...new Set(members.flatMap((m) => m.subscribed))];
    let assignment: Map<FakeConsumer, Record<string, number[]>>;
    const factory = leader.assigners[0];
    if (factory === undefined) {
      // kafkajs's default: round robin over every partition of the subscribed topics.
      assignment = new Map(members.map((m) => [m, {}]));
      const sorted = [...members].sort((a, b) => (a.who < b.who ? -1 : 1));
      let n = 0;
      for (const t of topics) for (let p = 0; p < this.partitionCount(t); p++) ((assignment.get(sorted[n++ % sorted.length]!)![t] ??= []) as number[]).push(p);
    } else {
      const cluster = { partitionCount: (t: string) => (this.hasTopic(t) ? this.partitionCount(t) : undefined) };
      const assigner = factory(cluster);
      const metadata = members.map((m) => {
        const a = (m.assigners[0] ?? factory)(cluster);
        return { memberId: m.who, memberMetadata: a.protocol({ topics: m.subscribed }).metadata };
      });
      const result = await assigner.assign({ members: metadata, topics: leader.subscribed });
      assignment = new Map(members.map((m) => [m, {}]));
      for (const r of result) {
        const m = members.find((x) => x.who === r.memberId);
        if (m !== undefined) assignment.set(m, AssignerProtocol.MemberAssignment.decode(r.memberAssignment)?.assignment ?? {});
      }
    }
    // Members that left or died while the leader was assigning get nothing.
    const still = this.members.get(consumer.groupId) ?? [];
    for (const [m, a] of assignment) if (still.includes(m)) m.assign(a, leader.who);
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

  /** The committed records of a topic (one partition, or all of them in partition order). */
  records(topic: string, partition?: number): StoredRecord[] {
    const t = this.topics.get(topic);
    if (t === undefined) return [];
    return (partition === undefined ? t.partitions.flat() : [...(t.partitions[partition] ?? [])]).filter((r) => r.txn === undefined);
  }

  /** The end offset of a partition (pending and aborted transactional records included, as in Kafka). */
  endOffset(topic: string, partition: number): number {
    return this.topics.get(topic)?.partitions[partition]?.length ?? 0;
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

  /** @internal Appends a record and returns it (with its offset). */
  append(topic: string, partition: number, m: Message, writer: string, txn?: 'pending'): StoredRecord {
    if (!this.topics.has(topic)) this.createTopic(topic, partition + 1);
    const t = this.topics.get(topic)!;
    while (t.partitions.length <= partition) {
      t.partitions.push([]);
      t.low.push(0);
    }
    const list = t.partitions[partition]!;
    const record: StoredRecord = { offset: String(list.length), key: asBuffer(m.key), value: asBuffer(m.value), timestamp: m.timestamp ?? String(this.clock()), headers: asHeaders(m.headers), writer, txn };
    list.push(record);
    if (txn === undefined) for (const w of this.watchers) w();
    return record;
  }

  /** @internal Appends a send's records; the answer holds each partition's base offset. */
  appendBatch(topicMessages: SendBatchArgs['topicMessages'], writer: string, txn?: 'pending'): { acks: Ack[]; records: StoredRecord[] } {
    const acks = new Map<string, Ack>();
    const records: StoredRecord[] = [];
    for (const { topic, messages } of topicMessages ?? []) {
      for (const m of messages) {
        const partition = m.partition ?? 0;
        const r = this.append(topic, partition, m, writer, txn);
        records.push(r);
        const key = `${topic}/${partition}`;
        if (!acks.has(key)) acks.set(key, { topicName: topic, partition, errorCode: 0, baseOffset: r.offset });
      }
    }
    return { acks: [...acks.values()], records };
  }

  /** @internal A transaction ended: its records become visible, or are skipped for good. */
  settle(records: readonly StoredRecord[], committed: boolean): void {
    for (const r of records) r.txn = committed ? undefined : 'aborted';
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
  private readonly written: StoredRecord[] = [];
  private readonly broker: FakeBroker;
  readonly id: string;
  private readonly producer: FakeProducer;

  constructor(broker: FakeBroker, producer: FakeProducer, id: string) {
    this.broker = broker;
    this.producer = producer;
    this.id = id;
  }

  async sendBatch(args: SendBatchArgs): Promise<Ack[]> {
    await roundTrip();
    this.producer.checkAlive();
    this.broker.enter(this.id, 'txn.sendBatch', args.topicMessages);
    this.expectOpen('sendBatch');
    this.broker.checkRecords(args.topicMessages);
    for (const tm of args.topicMessages ?? []) this.sent.push({ topic: tm.topic, messages: [...tm.messages] });
    const { acks, records } = this.broker.appendBatch(args.topicMessages, this.producer.who, 'pending');
    this.written.push(...records);
    return acks;
  }

  async sendOffsets(args: OffsetsArgs): Promise<void> {
    await roundTrip();
    this.broker.enter(this.id, 'txn.sendOffsets', args);
    this.expectOpen('sendOffsets');
    this.offsets.push(args);
  }

  async commit(): Promise<void> {
    await roundTrip();
    this.producer.checkAlive();
    this.broker.enter(this.id, 'txn.commit');
    this.expectOpen('commit');
    this.state = 'committed';
    for (const o of this.offsets) this.broker.commitGroupOffsets(o.consumerGroupId, o.topics);
    this.broker.settle(this.written, true);
  }

  async abort(): Promise<void> {
    await roundTrip();
    this.producer.checkAlive();
    this.broker.enter(this.id, 'txn.abort');
    this.expectOpen('abort');
    this.state = 'aborted';
    this.broker.settle(this.written, false);
  }

  /** @internal A newer producer with the same id fenced this one: its open transaction is aborted. */
  fence(): void {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.broker.settle(this.written, false);
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
  private readonly life: ClientLife;

  constructor(broker: FakeBroker, who: string, options: Readonly<Record<string, unknown>>, life: ClientLife) {
    this.broker = broker;
    this.who = who;
    this.options = options;
    this.life = life;
  }

  /** @internal */
  checkAlive(): void {
    if (this.life.dead) throw deadError();
  }

  async connect(): Promise<void> {
    await roundTrip();
    this.checkAlive();
    this.broker.enter(this.who, 'producer.connect');
    this.connected = true;
    this.disconnected = false;
  }

  async disconnect(): Promise<void> {
    this.broker.enter(this.who, 'producer.disconnect');
    this.connected = false;
    this.disconnected = true;
  }

  async sendBatch(args: SendBatchArgs & { acks?: number }): Promise<Ack[]> {
    await roundTrip();
    this.checkAlive();
    this.broker.enter(this.who, 'producer.sendBatch', args.topicMessages);
    if (!this.connected) throw new Error(`${this.who}: sendBatch on a producer that is not connected`);
    this.broker.checkRecords(args.topicMessages);
    return this.broker.appendBatch(args.topicMessages, this.who).acks;
  }

  async transaction(): Promise<FakeTransaction> {
    await roundTrip();
    this.checkAlive();
    // The first transaction of a transactional id fences older producers with it, as InitProducerId does.
    if (this.transactions.length === 0) for (const p of this.broker.producers) if (p !== this && p.who === this.who) for (const t of p.transactions) t.fence();
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

interface FakeAssigner {
  protocol(args: { topics: readonly string[] }): { name: string; metadata: Buffer };
  assign(args: { members: { memberId: string; memberMetadata: Buffer }[]; topics: readonly string[] }): Promise<{ memberId: string; memberAssignment: Buffer }[]>;
}
type AssignerFactory = (cluster: { partitionCount(topic: string): number | undefined }) => FakeAssigner;

export class FakeConsumer {
  readonly who: string;
  readonly groupId: string;
  readonly events = CONSUMER_EVENTS;
  subscribed: string[] = [];
  connected = false;
  /** Batches handed to `eachBatch`: `topic/partition@first..last`. */
  readonly delivered: string[] = [];
  /** The partitions it holds now, by topic. */
  assignment: Record<string, number[]> = {};
  /** @internal */
  readonly assigners: readonly AssignerFactory[];
  /** @internal */
  readonly life: ClientLife;
  private readonly broker: FakeBroker;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly positions = new Map<string, number>();
  private readonly paused = new Set<string>();
  private pendingAssignment: { assignment: Record<string, number[]>; leader: string } | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private eachBatch: RunOptions['eachBatch'] | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private eventId = 0;

  constructor(broker: FakeBroker, who: string, groupId: string, assigners: readonly AssignerFactory[], life: ClientLife) {
    this.broker = broker;
    this.who = who;
    this.groupId = groupId;
    this.assigners = assigners;
    this.life = life;
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
    if (this.life.dead) throw deadError();
    this.broker.enter(this.who, 'consumer.connect');
    this.connected = true;
  }

  async subscribe(args: { topics: readonly string[]; fromBeginning?: boolean }): Promise<void> {
    this.broker.enter(this.who, 'consumer.subscribe', args.topics);
    for (const t of args.topics) if (!this.broker.hasTopic(t)) throw kafkaError('UNKNOWN_TOPIC_OR_PARTITION', `fake broker: no topic ${t}`);
    this.subscribed.push(...args.topics);
  }

  /** Joins (the group rebalances; GROUP_JOIN arrives before this resolves, as kafkajs does), then consumes in the background. */
  async run(options: RunOptions): Promise<void> {
    this.broker.enter(this.who, 'consumer.run');
    if (!this.connected) throw new Error(`${this.who}: run before connect`);
    this.running = true;
    this.eachBatch = options.eachBatch;
    await this.broker.rebalance(this, true);
    this.applyAssignment();
    this.loop = this.consume();
  }

  /** @internal The group is rebalancing: the next assignment will come. */
  rebalancing(): void {
    if (this.running) this.emit(CONSUMER_EVENTS.REBALANCING, { groupId: this.groupId, memberId: this.who });
  }

  /** @internal The leader's assignment for this member; taken between batches. */
  assign(assignment: Record<string, number[]>, leader: string): void {
    this.pendingAssignment = { assignment, leader };
    this.nudge();
  }

  /** @internal Killed with its client: no more batches, no leaving the group politely. */
  die(): void {
    if (!this.running) return;
    this.running = false;
    this.nudge();
    void this.broker.rebalance(this, false);
  }

  private applyAssignment(): void {
    const next = this.pendingAssignment;
    if (next === undefined) return;
    this.pendingAssignment = undefined;
    this.assignment = next.assignment;
    // As kafkajs after a rejoin: positions start again from the committed offsets.
    this.positions.clear();
    this.emit(CONSUMER_EVENTS.GROUP_JOIN, { duration: 1, groupId: this.groupId, isLeader: next.leader === this.who, leaderId: next.leader, groupProtocol: 'fake', memberId: this.who, memberAssignment: next.assignment });
  }

  seek(args: { topic: string; partition: number; offset: string }): void {
    this.broker.note(this.who, 'consumer.seek', args);
    this.positions.set(`${args.topic}/${args.partition}`, Number(args.offset));
    this.nudge();
  }

  async commitOffsets(offsets: readonly { topic: string; partition: number; offset: string }[]): Promise<void> {
    await roundTrip();
    if (this.life.dead) throw deadError();
    this.broker.enter(this.who, 'consumer.commitOffsets', offsets);
    const topics = [...new Set(offsets.map((o) => o.topic))].map((topic) => ({ topic, partitions: offsets.filter((o) => o.topic === topic) }));
    this.broker.commitGroupOffsets(this.groupId, topics);
  }

  pause(topicPartitions: readonly { topic: string; partitions: readonly number[] }[] = []): void {
    for (const { topic, partitions } of topicPartitions) for (const p of partitions) this.paused.add(`${topic}/${p}`);
  }

  resume(topicPartitions: readonly { topic: string; partitions: readonly number[] }[] = []): void {
    for (const { topic, partitions } of topicPartitions) for (const p of partitions) this.paused.delete(`${topic}/${p}`);
    this.nudge();
  }

  async stop(): Promise<void> {
    this.broker.note(this.who, 'consumer.stop');
    const wasRunning = this.running;
    this.running = false;
    this.nudge();
    await this.loop;
    if (wasRunning && !this.life.dead) await this.broker.rebalance(this, false);
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

  private async consume(): Promise<void> {
    const unwatch = this.broker.watch(() => this.nudge());
    const eachBatch = this.eachBatch!;
    try {
      // The first fetch is a network round trip: no batch arrives before run() has resolved.
      await roundTrip();
      while (this.running) {
        this.woken = false;
        this.applyAssignment();
        let advanced = false;
        for (const [topic, partitions] of Object.entries(this.assignment)) {
          for (const partition of partitions) {
            if (!this.running) return;
            if (this.pendingAssignment !== undefined) break;
            if (this.paused.has(`${topic}/${partition}`)) continue;
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
    // Read committed: up to the first record of an open transaction, aborted records left out.
    const records: StoredRecord[] = [];
    let scanned = from;
    for (; scanned < all.length; scanned++) {
      const r = all[scanned]!;
      if (r.txn === 'pending') break;
      if (r.txn === undefined) records.push(r);
    }
    if (records.length === 0) {
      // Only aborted records: passed over, as kafkajs resolves a batch filtering left empty.
      if (scanned > from) this.positions.set(key, scanned);
      return scanned > from;
    }
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
    this.emit(CONSUMER_EVENTS.END_BATCH_PROCESS, { topic, partition, highWatermark: String(all.length), offsetLag: '0', offsetLagLow: '0', batchSize: records.length, firstOffset: records[0]!.offset, lastOffset: last });
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
  private readonly life: ClientLife;

  constructor(broker: FakeBroker, who: string, life: ClientLife) {
    this.broker = broker;
    this.who = who;
    this.life = life;
  }

  async connect(): Promise<void> {
    await roundTrip();
    await this.broker.passHold('admin.connect');
    if (this.life.dead) throw deadError();
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
    if (this.life.dead) throw deadError();
    return Array.from({ length: this.broker.partitionCount(topic) }, (_, partition) => {
      const high = String(this.broker.endOffset(topic, partition));
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
