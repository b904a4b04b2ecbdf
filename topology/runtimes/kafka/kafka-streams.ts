import type { Topology } from '../../internals/compile.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import { createLogger } from '../../api/log.ts';
import type { ClientName, KafkaClientFactory } from './client/port.ts';
import { resolveConfig, type KafkaStreamsConfig, type ResolvedConfig } from './config.ts';
import type { StreamThread } from './stream-thread.ts';
import type { Registry } from 'prom-client';
import type { Serde } from '../../api/serdes.ts';
import { keyQueryMetadata, parseHostInfo, queryableStore, type KeyQueryMetadata, type MemberMetadata, type QueryableStore, type StoreLocation } from './interactive-queries.ts';
import type { LiveMemberDirectory } from './member-directory.ts';
import { changelogTopicName, TopicNames } from './topics.ts';

/** The life of a KafkaStreams instance, as in Kafka Streams. */
export type KafkaStreamsState = 'CREATED' | 'REBALANCING' | 'RUNNING' | 'PENDING_SHUTDOWN' | 'NOT_RUNNING' | 'ERROR';

const TRANSITIONS: Record<KafkaStreamsState, readonly KafkaStreamsState[]> = {
  CREATED: ['REBALANCING', 'PENDING_SHUTDOWN', 'ERROR'],
  REBALANCING: ['RUNNING', 'PENDING_SHUTDOWN', 'ERROR'],
  RUNNING: ['REBALANCING', 'PENDING_SHUTDOWN', 'ERROR'],
  PENDING_SHUTDOWN: ['NOT_RUNNING'],
  NOT_RUNNING: [],
  ERROR: ['PENDING_SHUTDOWN'],
};

/** Told of every state change of a KafkaStreams instance: the new state, then the one before. */
export type StateListener = (next: KafkaStreamsState, previous: KafkaStreamsState) => void;

/**
 * What to do when processing fails for good (a processor throws, a handler says fail, the
 * broker refuses for good): `shutdown-client` (the default) stops this instance in state ERROR;
 * `replace-thread` starts a new stream thread, which resumes from the last commit.
 */
export type UncaughtExceptionResponse = 'shutdown-client' | 'replace-thread';
/** Decides what a failed stream thread leads to; returning nothing means `shutdown-client`. */
export type UncaughtExceptionHandler = (error: Error) => UncaughtExceptionResponse | void;

/**
 * Runs a topology on Kafka, as Kafka Streams' `KafkaStreams` does: a member of the consumer
 * group named by `applicationId`, one task per input partition, state in stores logged to
 * compacted changelog topics, offsets committed only after the outputs they cover are durable.
 *
 * ```ts
 * const streams = new KafkaStreams(builder.build(), { applicationId: 'word-count', bootstrapServers: 'localhost:9092' });
 * streams.setStateListener((next) => console.log(next));
 * await streams.start();
 * process.once('SIGTERM', () => void streams.close());
 * ```
 * The Kafka client loads on `start()`: importing the library does not load it.
 */
export class KafkaStreams {
  private readonly topology: Topology;
  private readonly config: ResolvedConfig;
  private readonly client: ClientName | KafkaClientFactory | undefined;
  private readonly counters = new Map<string, number>();
  private current: KafkaStreamsState = 'CREATED';
  private listener: StateListener | undefined;
  private uncaught: UncaughtExceptionHandler | undefined;
  private thread: StreamThread | undefined;
  private closing: Promise<void> | undefined;
  private errorResolvers: ((e: Error) => void)[] = [];
  private readonly observers = new Set<(metric: string, ms: number) => void>();
  private members: Promise<LiveMemberDirectory | undefined> | undefined;
  private liveMembers: LiveMemberDirectory | undefined;
  private registry: Promise<Registry> | undefined;

  constructor(topology: Topology, config: KafkaStreamsConfig) {
    if (typeof config?.applicationId !== 'string' || config.applicationId.length === 0)
      throw new RetailStreamsError('invalid-argument', 'KafkaStreams needs an applicationId (the consumer group and the prefix of internal topics)');
    const resolved = resolveConfig(config, createLogger(config.applicationId, 'info'));
    if (resolved.brokers.length === 0) throw new RetailStreamsError('invalid-argument', 'KafkaStreams needs bootstrapServers (host:port of at least one broker)');
    if (resolved.applicationServer !== undefined) parseHostInfo(resolved.applicationServer);
    this.topology = topology;
    this.config = resolved;
    this.client = config.client;
  }

  get state(): KafkaStreamsState {
    return this.current;
  }

  /** Called on every state change, with the new state and the one before. */
  setStateListener(listener: StateListener): void {
    this.listener = listener;
  }

  /** Called when processing fails for good; its answer says whether to stop or start a new thread. */
  setUncaughtExceptionHandler(handler: UncaughtExceptionHandler): void {
    this.uncaught = handler;
  }

  /** Counters since start: `records-processed`, `dead-letter-records`, `late-records`, and those the processors add. */
  metrics(): ReadonlyMap<string, number> {
    return this.counters;
  }

  /** Resolves with the error that put the instance in state ERROR (never, if it closes cleanly). */
  failure(): Promise<Error> {
    return new Promise((resolve) => this.errorResolvers.push(resolve));
  }

  private transition(next: KafkaStreamsState): void {
    const previous = this.current;
    if (previous === next || !TRANSITIONS[previous].includes(next)) return;
    this.current = next;
    if (next === 'RUNNING' && this.config.applicationServer !== undefined) this.memberDirectory();
    this.liveMembers?.stateChanged(next);
    this.listener?.(next, previous);
  }

  /**
   * Connects, creates missing internal and output topics, joins the group and starts
   * processing. Resolves once subscribed; the state turns RUNNING when the assigned tasks are
   * started. Fails with a `RetailStreamsError` when Kafka cannot be reached or an input topic
   * is missing.
   */
  async start(): Promise<void> {
    if (this.current !== 'CREATED') throw new RetailStreamsError('invalid-argument', `start() is only possible once, in state CREATED (now ${this.current})`);
    this.transition('REBALANCING');
    try {
      await this.startThread();
    } catch (e) {
      this.transition('PENDING_SHUTDOWN');
      this.transition('NOT_RUNNING');
      throw e;
    }
  }

  /**
   * Makes a thread the current one before it starts, so that a failure during its start reaches
   * it; a `close()` that came during the start stops it once it has started.
   */
  private async startThread(): Promise<void> {
    // Loaded here, so that a program using only the test driver never loads a Kafka client.
    const [{ StreamThread }, client] = await Promise.all([
      import('./stream-thread.ts'),
      import('./client/select.ts').then((m) => m.clientFactory(this.client)),
    ]);
    if (this.closing !== undefined) return;
    const thread: StreamThread = new StreamThread(this.topology, this.config, client, this.counters, {
      rebalancing: () => this.transition('REBALANCING'),
      running: () => this.transition('RUNNING'),
      failed: (error) => void this.onThreadFailed(thread, error),
      observe: (metric, ms) => {
        for (const o of this.observers) o(metric, ms);
      },
    });
    this.thread = thread;
    try {
      await thread.start();
    } catch (e) {
      if (this.thread === thread) this.thread = undefined;
      await thread.stop().catch(() => {});
      throw e;
    }
    // close() ran while the thread was connecting: it stopped what existed then, and this
    // stops what the start went on to make (the consumer, its group membership).
    if (this.closing !== undefined) await thread.stop().catch(() => {});
  }

  private async onThreadFailed(thread: StreamThread, error: Error): Promise<void> {
    if (this.thread !== thread || this.closing !== undefined) return;
    this.config.log.error(`stream thread failed: ${error.message}`);
    let response: UncaughtExceptionResponse = 'shutdown-client';
    try {
      response = this.uncaught?.(error) ?? 'shutdown-client';
    } catch (e) {
      this.config.log.error(`the uncaught exception handler threw: ${(e as Error).message}`);
    }
    await thread.stop().catch(() => {});
    if (this.thread === thread) this.thread = undefined;
    if (response === 'replace-thread' && this.closing === undefined) {
      this.config.log.warn('replacing the stream thread; it resumes from the last commit');
      this.transition('REBALANCING');
      try {
        await this.startThread();
        return;
      } catch (e) {
        error = e as Error;
      }
    }
    this.thread = undefined;
    this.transition('ERROR');
    for (const r of this.errorResolvers.splice(0)) r(error);
  }

  /**
   * Finishes the batch in hand, commits, closes the tasks and leaves the group. Safe to call
   * more than once and in any state.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.transition('PENDING_SHUTDOWN');
      await this.thread?.stop();
      this.thread = undefined;
      await this.members;
      await this.liveMembers?.stop();
      this.transition('NOT_RUNNING');
    })();
    return this.closing;
  }

  // Interactive queries and metrics.

  /**
   * A read-only view of a local store (Kafka Streams' `store(StoreQueryParameters)`): `get`,
   * `all`, `range` of a key-value store, `get`, `fetch`, `fetchAll` by window start of a window
   * store, over every task of this instance. It holds only the keys of this instance's tasks:
   * `metadataForKey` says which member holds a key. Reads throw `store-unavailable` (retriable)
   * unless the instance is RUNNING or REBALANCING; while REBALANCING they see the tasks kept so far.
   *
   * ```ts
   * const s = streams.store<string, number>('word-counts');
   * if (s.type === 'key-value') console.log(s.get('kafka'));
   * ```
   */
  store<K = unknown, V = unknown>(name: string): QueryableStore<K, V> {
    const builder = this.topology.stores.get(name);
    if (builder === undefined) throw new RetailStreamsError('unknown-store', `no store named ${name}; stores: ${[...this.topology.stores.keys()].join(', ') || 'none'}`);
    return queryableStore<K, V>(name, builder.type, () => {
      if (this.current !== 'RUNNING' && this.current !== 'REBALANCING')
        throw new RetailStreamsError('store-unavailable', `store ${name} cannot be queried while the instance is ${this.current}`);
      return (this.thread?.activeTasks() ?? []).flatMap((t) => {
        const store = t.task.stores.get(name);
        return store === undefined ? [] : [store];
      });
    });
  }

  /**
   * Which member holds `key` of a store (Kafka Streams' `queryMetadataForKey`): the key's
   * partition is Kafka's default partitioner over its bytes (`keySerde`'s, else UTF-8 text) and
   * the partitions of the topic the store's task reads, as the upstream producer placed it.
   * `activeHost` is that member's `applicationServer`. Undefined while not known: before the
   * instance has joined, during a rebalance, or on the first call of an instance without an
   * `applicationServer` (it starts reading the group then); ask again.
   */
  metadataForKey<K>(storeName: string, key: K, keySerde?: Serde<K>): KeyQueryMetadata | undefined {
    const location = this.storeLocation(storeName);
    const directory = this.memberDirectory();
    const local = new Set((this.thread?.activeTasks() ?? []).flatMap((t) => t.sourceTopics.map((topic) => `${topic}/${t.task.partition}`)));
    return keyQueryMetadata(location, key, keySerde, directory, local);
  }

  /** Every member of the group with its address and partitions, as the last assignment made them (Kafka Streams' `metadataForAllStreamsClients`). */
  allMetadata(): readonly MemberMetadata[] {
    return this.memberDirectory()?.members() ?? [];
  }

  /**
   * The instance's metrics as a prom-client `Registry` (made once, prom-client loaded then):
   * records in and out by topic and task, late, dead-lettered, lag by partition, processing and
   * commit latency histograms, store sizes, restore progress, rebalances and the instance state.
   * Serve `await registry.metrics()` at `/metrics`, or merge it into an application's registry.
   */
  prometheusRegistry(options: { defaultMetrics?: boolean } = {}): Promise<Registry> {
    const streams = this;
    this.registry ??= import('./prometheus.ts').then((m) =>
      m.streamsPrometheusRegistry(
        {
          metrics: () => streams.counters,
          get state() {
            return streams.current;
          },
          onObservation: (listener) => {
            streams.observers.add(listener);
            return () => void streams.observers.delete(listener);
          },
        },
        { applicationId: this.config.applicationId, ...(options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }) },
      ),
    );
    return this.registry;
  }

  /** The metrics in Prometheus' text format (what `/metrics` answers). */
  async metricsText(): Promise<string> {
    return (await this.prometheusRegistry()).metrics();
  }

  private storeLocation(storeName: string): StoreLocation {
    const builder = this.topology.stores.get(storeName);
    const sub = this.topology.subtopologies.find((s) => s.stores.includes(storeName));
    if (builder === undefined || sub === undefined) throw new RetailStreamsError('unknown-store', `no store named ${storeName}; stores: ${[...this.topology.stores.keys()].join(', ') || 'none'}`);
    const names = new TopicNames(this.config.applicationId, this.topology);
    return { sourceTopics: sub.sourceTopics.map((t) => names.kafka(t)), changelogTopic: builder.logged ? changelogTopicName(this.config.applicationId, storeName) : undefined };
  }

  /**
   * The group's members, read by an admin client of this instance's own: started when RUNNING with
   * an `applicationServer`, else on the first `metadataForKey` or `allMetadata`.
   */
  private memberDirectory(): LiveMemberDirectory['directory'] | undefined {
    if (this.members === undefined && this.current !== 'CREATED' && this.closing === undefined) {
      this.members = (async () => {
        const [{ LiveMemberDirectory }, client] = await Promise.all([import('./member-directory.ts'), import('./client/select.ts').then((m) => m.clientFactory(this.client))]);
        const names = new TopicNames(this.config.applicationId, this.topology);
        const live = await LiveMemberDirectory.start({
          admin: client({ clientId: `${this.config.applicationId}-directory`, brokers: this.config.brokers, log: this.config.log, ...(this.config.security === undefined ? {} : { security: this.config.security }) }).admin(),
          groupId: this.config.applicationId,
          topics: [...new Set(this.topology.subtopologies.filter((s) => s.stores.length > 0).flatMap((s) => s.sourceTopics.map((t) => names.kafka(t))))],
          log: this.config.log,
          isRunning: () => this.current === 'RUNNING',
        });
        if (this.closing !== undefined) {
          await live.stop();
          return undefined;
        }
        this.liveMembers = live;
        return live;
      })().catch((e: unknown) => {
        this.config.log.warn(`interactive queries: cannot read the group's members: ${(e as Error).message}`);
        this.members = undefined;
        return undefined;
      });
    }
    return this.liveMembers?.directory;
  }
}
