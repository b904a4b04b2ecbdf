/**
 * The port's Consumer on @platformatic/kafka: group membership (group.ts) and a poll loop of its
 * own over the library's Fetch API, with the semantics the runtime was written against (kafkajs's):
 * - after each join, `GROUP_JOIN` fires with the member's partitions before any of them is
 *   fetched; fetching starts at the committed offsets (or the log start / end when none), or
 *   where a seek put it;
 * - a fetch asks every leader for every assigned, unpaused partition; its batches are handed to
 *   `eachBatch` one at a time; a rejoin happens only between batches;
 * - read_committed: the fetch is made at isolation level READ_COMMITTED and the raw records
 *   (control records included) go to `readCommitted` with the fetch's aborted-transaction list.
 *   The library's own Consumer filters aborted records itself before anyone sees them, and gets it
 *   wrong (see test/integration/platformatic-read-committed.test.ts): the low-level Fetch API
 *   is used instead, so nothing is filtered before `readCommitted`.
 */
import { EventEmitter } from 'node:events';
import * as pk from '@platformatic/kafka';
import type { Logger } from '../../../../api/log.ts';
import { CONSUMER_EVENTS, type Batch, type ClientOptions, type Consumer, type ConsumerEvent, type ConsumerEventPayloads, type ConsumerOptions, type EachBatchPayload, type FetchedMessage, type OffsetCommit, type RunOptions } from '../port.ts';
import { readCommitted } from '../read-committed.ts';
import { KafkaClientError, portError, protocolErrorName, REJOIN, STALE_LEADER } from './errors.ts';
import { GroupMember, type GroupMetadata } from './group.ts';
import { fetchPartitions, key, READ_COMMITTED, type FetchedPartition, type FetchRequest } from './fetch.ts';
import { decodeRecordBatches } from './record-batches.ts';
import { ApiPicker, baseOptions, sleep } from './options.ts';


/** Protocol errors no retry or restart can get past. */
const NOT_RETRIABLE = /_AUTHORIZATION_FAILED$|^SASL_AUTHENTICATION_FAILED$|^ILLEGAL_SASL_STATE$|^UNSUPPORTED_SASL_MECHANISM$/;

export class PlatformaticConsumer implements Consumer {
  readonly events = CONSUMER_EVENTS;
  private readonly emitter = new EventEmitter();
  private readonly options: ConsumerOptions;
  private readonly log: Logger;
  private readonly admin: pk.Admin;
  private readonly fetchPool: pk.ConnectionPool;
  private readonly apis: ApiPicker;
  private readonly group: GroupMember;
  private topics: string[] = [];
  private fromBeginning = true;
  private assignment = new Map<string, number[]>();
  private readonly positions = new Map<string, bigint>();
  private readonly pendingSeeks = new Map<string, bigint>();
  private readonly seekCounts = new Map<string, number>();
  private readonly pausedTopics = new Set<string>();
  private readonly pausedPartitions = new Set<string>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private connected = false;

  constructor(client: ClientOptions, options: ConsumerOptions) {
    this.options = options;
    this.log = client.log;
    const base = baseOptions(client, 'consumer');
    const rebalanceTimeout = options.rebalanceTimeout ?? 60_000;
    // A JoinGroup may wait at the coordinator for the whole rebalance timeout.
    this.admin = new pk.Admin({ ...base, requestTimeout: Math.max(30_000, rebalanceTimeout + 5_000) });
    this.fetchPool = new pk.ConnectionPool(base.clientId, { ...base, requestTimeout: Math.max(30_000, (options.maxWaitTimeInMs ?? 500) + 10_000) });
    this.apis = new ApiPicker(this.admin);
    const sessionTimeout = options.sessionTimeout ?? 30_000;
    const assigner = options.assigner({ partitionCount: (topic) => this.admin.currentMetadata?.topics.get(topic)?.partitionsCount });
    this.group = new GroupMember(
      this.admin,
      this.apis,
      assigner,
      {
        groupId: options.groupId,
        sessionTimeout,
        rebalanceTimeout,
        heartbeatInterval: options.heartbeatInterval ?? Math.max(100, Math.floor(sessionTimeout / 10)),
        retries: 5,
      },
      { rebalancing: () => this.emit('consumer.rebalancing', {}) },
    );
  }

  /** The member's group generation, for a transaction's offsets (KIP-447). */
  groupMetadata(): GroupMetadata {
    return this.group.metadata();
  }

  on<E extends ConsumerEvent>(event: E, listener: (e: { payload: ConsumerEventPayloads[E] }) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  private emit<E extends ConsumerEvent>(event: E, payload: ConsumerEventPayloads[E]): void {
    try {
      this.emitter.emit(event, { payload });
    } catch (e) {
      this.log.warn(`${event} listener failed: ${(e as Error).message}`);
    }
  }

  async connect(): Promise<void> {
    try {
      await this.admin.metadata({ topics: [] });
      this.connected = true;
    } catch (e) {
      throw portError(e, 'connecting the consumer');
    }
  }

  async subscribe(args: { topics: string[]; fromBeginning: boolean }): Promise<void> {
    this.topics = [...new Set([...this.topics, ...args.topics])];
    this.fromBeginning = args.fromBeginning;
  }

  async run(options: RunOptions): Promise<void> {
    if (this.running) throw new Error('the consumer is running already');
    if (!this.connected) await this.connect();
    this.running = true;
    this.loop = this.poll(options).catch((e: unknown) => this.log.error(`the consumer's poll loop ended: ${(e as Error).message}`));
  }

  pause(topics: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topics) {
      if (partitions === undefined) this.pausedTopics.add(topic);
      else for (const p of partitions) this.pausedPartitions.add(key(topic, p));
    }
  }

  resume(topics: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topics) {
      if (partitions === undefined) {
        this.pausedTopics.delete(topic);
        for (const k of [...this.pausedPartitions]) if (k.startsWith(`${topic}\u0000`)) this.pausedPartitions.delete(k);
        continue;
      }
      if (this.pausedTopics.delete(topic)) {
        // The whole topic was paused: what is not resumed stays paused.
        for (const p of this.assignment.get(topic) ?? []) this.pausedPartitions.add(key(topic, p));
      }
      for (const p of partitions) this.pausedPartitions.delete(key(topic, p));
    }
    this.wakeUp?.();
  }

  seek(args: { topic: string; partition: number; offset: string }): void {
    const k = key(args.topic, args.partition);
    this.pendingSeeks.set(k, BigInt(args.offset));
    this.seekCounts.set(k, (this.seekCounts.get(k) ?? 0) + 1);
    this.wakeUp?.();
  }

  async commitOffsets(offsets: OffsetCommit[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.group.commit(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, ...(o.metadata === undefined ? {} : { metadata: o.metadata }) })));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    this.loop = undefined;
    await this.group.leave();
    this.assignment = new Map();
  }

  async disconnect(): Promise<void> {
    await this.stop();
    await this.fetchPool.close().catch(() => {});
    await this.admin.close().catch(() => {});
    this.connected = false;
  }

  // ------------------------------------------------------------------------------ poll loop

  private isPaused(topic: string, partition: number): boolean {
    return this.pausedTopics.has(topic) || this.pausedPartitions.has(key(topic, partition));
  }

  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
    }).finally(() => (this.wakeUp = undefined));
  }

  private async poll(run: RunOptions): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        if (this.group.needsRejoin) {
          await this.rejoin();
          continue;
        }
        const delivered = await this.fetchOnce(run);
        failures = 0;
        if (!delivered) await this.idle(10);
      } catch (e) {
        if (!this.running) break;
        const error = portError(e);
        const type = protocolErrorName(error);
        if (REJOIN.has(type)) {
          this.group.flagRejoin(type);
          continue;
        }
        // Refused for good (an ACL, the credentials): another attempt cannot help, and a restart
        // would retry it for ever. Like kafkajs with a non-retriable error, no restart.
        if (NOT_RETRIABLE.test(type)) {
          failures = 0;
          await this.crash(error, false);
          continue;
        }
        if (!(error as { fromBatch?: boolean }).fromBatch && ++failures <= 5) {
          this.log.debug(`consumer ${this.options.groupId}: ${error.message}; retrying`);
          await sleep(Math.min(3_000, 200 * 2 ** (failures - 1)));
          continue;
        }
        failures = 0;
        await this.crash(error);
      }
    }
  }

  /** kafkajs's crash: reported with whether the consumer restarts; a restart rejoins from the committed offsets. */
  private async crash(error: Error, restartable = true): Promise<void> {
    let restart = restartable;
    if (restart && this.options.restartOnFailure !== undefined) restart = await this.options.restartOnFailure(error).catch(() => false);
    this.emit('consumer.crash', { error, restart });
    await this.group.leave();
    this.positions.clear();
    this.assignment = new Map();
    if (!restart) {
      this.running = false;
      return;
    }
    await sleep(1_000);
  }

  private async rejoin(): Promise<void> {
    this.emit('consumer.rebalancing', {});
    const assigned = await this.group.join(this.topics);
    this.assignment = new Map(Object.entries(assigned));
    // Like kafkajs, a new generation starts from the committed offsets (or a seek made from here on).
    this.positions.clear();
    const mine = new Set([...this.assignment].flatMap(([t, ps]) => ps.map((p) => key(t, p))));
    for (const k of [...this.pausedPartitions]) if (!mine.has(k)) this.pausedPartitions.delete(k);
    this.emit('consumer.group_join', { memberAssignment: assigned });
  }

  private applySeeks(): void {
    for (const [k, offset] of this.pendingSeeks) {
      const [topic, p] = k.split('\u0000') as [string, string];
      if (this.assignment.get(topic)?.includes(Number(p))) this.positions.set(k, offset);
    }
    this.pendingSeeks.clear();
  }

  /** Where fetching starts for partitions with no position: the committed offset (read once stable), else the log start or end. */
  private async resolvePositions(partitions: { topic: string; partition: number }[]): Promise<void> {
    const missing = partitions.filter((p) => !this.positions.has(key(p.topic, p.partition)));
    if (missing.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const m of missing) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m.partition]);
    let committed: Awaited<ReturnType<pk.Admin['listConsumerGroupOffsets']>> = [];
    for (let attempt = 0; ; attempt++) {
      try {
        committed = await this.admin.listConsumerGroupOffsets({ groups: [{ groupId: this.options.groupId, topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }], requireStable: true });
        break;
      } catch (e) {
        // A transaction holding offsets of the group is still open: its outcome decides them.
        if (protocolErrorName(e) === 'UNSTABLE_OFFSET_COMMIT' && attempt < 600 && this.running && !this.group.needsRejoin) {
          await sleep(100);
          continue;
        }
        throw e;
      }
    }
    const reset: { topic: string; partition: number }[] = [];
    for (const m of missing) {
      const found = committed[0]?.topics.find((t) => t.name === m.topic)?.partitions.find((p) => p.partitionIndex === m.partition);
      if (found !== undefined && found.committedOffset >= 0n) this.positions.set(key(m.topic, m.partition), found.committedOffset);
      else reset.push(m);
    }
    await this.resetPositions(reset);
  }

  private async resetPositions(partitions: { topic: string; partition: number }[]): Promise<void> {
    if (partitions.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const m of partitions) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m.partition]);
    const timestamp = this.fromBeginning ? -2n : -1n;
    const listed = await this.admin.listOffsets({ topics: [...byTopic].map(([name, ps]) => ({ name, partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp })) })), isolationLevel: READ_COMMITTED });
    for (const t of listed) for (const p of t.partitions) this.positions.set(key(t.name, p.partitionIndex), p.offset);
  }

  /** One fetch of every assigned, unpaused partition from its leader, then its batches. False when nothing was delivered. */
  private async fetchOnce(run: RunOptions): Promise<boolean> {
    this.applySeeks();
    const wanted: { topic: string; partition: number }[] = [];
    for (const [topic, partitions] of this.assignment) for (const partition of partitions) if (!this.isPaused(topic, partition)) wanted.push({ topic, partition });
    if (wanted.length === 0) {
      await this.idle(100);
      return true;
    }
    await this.resolvePositions(wanted);
    this.applySeeks();
    const metadata = await this.admin.metadata({ topics: [...new Set(wanted.map((w) => w.topic))] });
    const requests: FetchRequest[] = [];
    for (const { topic, partition } of wanted) {
      const fetchOffset = this.positions.get(key(topic, partition));
      if (fetchOffset !== undefined) requests.push({ topic, partition, fetchOffset, seeks: this.seekCounts.get(key(topic, partition)) ?? 0 });
    }
    const fetched = await fetchPartitions({
      metadata,
      api: await this.apis.get('Fetch'),
      pool: this.fetchPool,
      requests,
      maxWaitMs: this.options.maxWaitTimeInMs ?? 500,
      maxBytes: this.options.maxBytes ?? 50 * 1024 * 1024,
      partitionMaxBytes: this.options.maxBytesPerPartition ?? 1024 * 1024,
    });
    if (fetched === undefined) {
      // No partition has a known leader: look again shortly.
      await this.admin.metadata({ topics: [...new Set(wanted.map((w) => w.topic))], forceUpdate: true });
      await this.idle(100);
      return true;
    }
    let delivered = false;
    let staleLeaders = false;
    for (const f of fetched) {
      if (!this.running || this.group.needsRejoin) break;
      if (f.response.errorCode !== 0) {
        const name = (pk.protocolErrorsCodesById as Record<number, string | undefined>)[f.response.errorCode] ?? `error code ${f.response.errorCode}`;
        if (name === 'OFFSET_OUT_OF_RANGE') await this.resetPositions([{ topic: f.topic, partition: f.partition }]);
        else if (STALE_LEADER.has(name)) staleLeaders = true;
        // Refused for good (no READ on the topic): the consumer crashes without a restart.
        else if (NOT_RETRIABLE.test(name)) throw new KafkaClientError(`fetching ${f.topic}[${f.partition}]: ${name}`, name);
        else this.log.debug(`fetching ${f.topic}[${f.partition}]: ${name}`);
        continue;
      }
      if (await this.deliver(run, f)) delivered = true;
      await this.group.heartbeat();
    }
    if (staleLeaders) await this.admin.metadata({ topics: [...new Set(wanted.map((w) => w.topic))], forceUpdate: true });
    return delivered;
  }

  /** Hands one partition's fetched records to `eachBatch` (or moves past them when read_committed left none). */
  private async deliver(run: RunOptions, f: FetchedPartition): Promise<boolean> {
    const k = key(f.topic, f.partition);
    const isStale = () => (this.seekCounts.get(k) ?? 0) !== f.seeks || this.pendingSeeks.has(k) || !this.assignment.get(f.topic)?.includes(f.partition);
    // Paused since the fetch went out (a restore finished with it): left for after the resume, as kafkajs does.
    if (isStale() || this.positions.get(k) !== f.fetchOffset || this.isPaused(f.topic, f.partition)) return false;
    const { records, end } = f.response.records === null ? { records: [], end: f.fetchOffset } : decodeRecordBatches(f.response.records, f.fetchOffset);
    if (end <= f.fetchOffset) return false;
    const aborted = (f.response.abortedTransactions ?? []).map((a) => ({ producerId: String(a.producerId), firstOffset: String(a.firstOffset) }));
    const decided = readCommitted(records, aborted);
    // Every record below the last stable offset is decided by the aborted list; a batch's last
    // offset may lie past its last record (compaction), and fetching goes on after it.
    const last = String(end - 1n);
    const highWatermark = String(f.response.highWatermark);
    if (decided.length === 0) {
      this.positions.set(k, BigInt(last) + 1n);
      this.emit('consumer.end_batch_process', { topic: f.topic, partition: f.partition, lastOffset: last });
      return true;
    }
    // The fetched records are the messages as they are (no copy per record: this is the hot path).
    const messages: FetchedMessage[] = decided;
    const batch: Batch = { topic: f.topic, partition: f.partition, highWatermark, messages, lastOffset: () => last };
    const resolve = (offset: string) => {
      if (!isStale()) this.positions.set(k, BigInt(offset) + 1n);
    };
    const payload: EachBatchPayload = {
      batch,
      resolveOffset: resolve,
      heartbeat: () => this.group.heartbeat(),
      isRunning: () => this.running && !this.group.needsRejoin,
      isStale,
    };
    try {
      await run.eachBatch(payload);
    } catch (e) {
      const error = portError(e);
      if (!REJOIN.has(protocolErrorName(error))) (error as { fromBatch?: boolean }).fromBatch = true;
      throw error;
    }
    if (run.eachBatchAutoResolve) resolve(last);
    this.emit('consumer.end_batch_process', { topic: f.topic, partition: f.partition, lastOffset: last });
    return true;
  }
}
