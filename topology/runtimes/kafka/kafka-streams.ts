import type { Topology } from '../../internals/compile.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import { createLogger } from '../../api/log.ts';
import type { ClientName, KafkaClientFactory } from './client/port.ts';
import { resolveConfig, type KafkaStreamsConfig, type ResolvedConfig } from './config.ts';
import type { StreamThread, StreamThreadEvents } from './stream-thread.ts';
import type { TopologySource, WorkerConfig } from './threads/messages.ts';
import type { Registry } from 'prom-client';
import type { Serde } from '../../api/serdes.ts';
import { keyQueryMetadata, parseHostInfo, queryableStore, type KeyQueryMetadata, type MemberMetadata, type QueryableStore, type StoreLocation } from './interactive-queries.ts';
import type { LiveMemberDirectory } from './member-directory.ts';
import { changelogTopicName, TopicNames } from './topics.ts';
import type { ActiveTask } from './active-task.ts';

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
  /** The running stream threads (in-process when there is one, else workers), by index from 1. */
  private readonly threads = new Map<number, Thread>();
  /** Which threads are processing; the instance is RUNNING when all are. */
  private readonly runningThreads = new Set<number>();
  private readonly threadCounters = new Map<number, ReadonlyMap<string, number>>();
  private readonly source: TopologySource | undefined;
  private closing: Promise<void> | undefined;
  private errorResolvers: ((e: Error) => void)[] = [];
  private readonly observers = new Set<(metric: string, ms: number) => void>();
  private members: Promise<LiveMemberDirectory | undefined> | undefined;
  private liveMembers: LiveMemberDirectory | undefined;
  private registry: Promise<Registry> | undefined;

  /**
   * An instance whose stream threads each build the topology from a module: what
   * `numStreamThreads` above 1 needs, since worker threads share no functions with this one.
   * `source.export` (default `default`) is called with `source.data` (plain data) in this thread
   * and in every worker, and returns the Topology. Config fields that are functions cannot reach
   * the workers: `logger` is served from here (their lines come back tagged `[thread-N]`);
   * handler functions, a custom `clock` or client factory are refused above one thread.
   *
   * ```ts
   * // app.ts: export const topology = (inputTopic: string) => { const b = new StreamsBuilder(); ...; return b.build(); };
   * const streams = await KafkaStreams.fromModule({ module: new URL('./app.ts', import.meta.url), export: 'topology', data: 'invoices' },
   *   { applicationId: 'app', bootstrapServers: 'localhost:9092', numStreamThreads: 2 });
   * ```
   */
  static async fromModule(source: { module: string | URL; export?: string; data?: unknown }, config: KafkaStreamsConfig): Promise<KafkaStreams> {
    const { buildTopology, topologySource } = await import('./threads/topology-source.ts');
    const s = topologySource(source);
    return new KafkaStreams(await buildTopology(s), config, s);
  }

  constructor(topology: Topology, config: KafkaStreamsConfig, source?: TopologySource) {
    if (typeof config?.applicationId !== 'string' || config.applicationId.length === 0)
      throw new RetailStreamsError('invalid-argument', 'KafkaStreams needs an applicationId (the consumer group and the prefix of internal topics)');
    const resolved = resolveConfig(config, createLogger(config.applicationId, 'info'));
    if (resolved.brokers.length === 0) throw new RetailStreamsError('invalid-argument', 'KafkaStreams needs bootstrapServers (host:port of at least one broker)');
    if (resolved.applicationServer !== undefined) parseHostInfo(resolved.applicationServer);
    this.topology = topology;
    this.config = resolved;
    this.client = config.client;
    this.source = source;
    this.workerConfig = resolved.numStreamThreads > 1 ? workerConfigOf(config, source) : undefined;
  }

  /** The config the worker threads get, checked at construction so that a mistake shows at once. */
  private readonly workerConfig: WorkerConfig | undefined;

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
      await Promise.all(Array.from({ length: this.config.numStreamThreads }, (_, i) => this.startThread(i + 1)));
    } catch (e) {
      await Promise.all([...this.threads.values()].map((t) => t.stop().catch(() => {})));
      this.threads.clear();
      this.transition('PENDING_SHUTDOWN');
      this.transition('NOT_RUNNING');
      throw e;
    }
  }

  private threadEvents(index: number, thread: () => Thread): StreamThreadEvents {
    return {
      rebalancing: () => {
        this.runningThreads.delete(index);
        this.transition('REBALANCING');
      },
      running: () => {
        this.runningThreads.add(index);
        if (this.runningThreads.size === this.config.numStreamThreads) this.transition('RUNNING');
      },
      failed: (error) => void this.onThreadFailed(index, thread(), error),
      observe: (metric, ms) => {
        for (const o of this.observers) o(metric, ms);
      },
    };
  }

  /** The process id all worker threads share, read (and locked) once for the instance (process-id.ts). */
  private processId(): Promise<string> {
    this.sharedProcessId ??= import('./process-id.ts').then((m) => m.processId(this.config.stateDir, this.config.applicationId, this.config.log));
    return this.sharedProcessId;
  }

  private sharedProcessId: Promise<string> | undefined;

  /** Sums the threads' counter snapshots into `metrics()` (gauges are per partition or task: one thread each). */
  private mergeCounters(): void {
    this.counters.clear();
    for (const snapshot of this.threadCounters.values()) for (const [k, v] of snapshot) this.counters.set(k, (this.counters.get(k) ?? 0) + v);
  }

  /**
   * Makes a thread the current one of its index before it starts, so that a failure during its
   * start reaches it; a `close()` that came during the start stops it once it has started.
   */
  private async startThread(index: number): Promise<void> {
    let thread: Thread;
    if (this.workerConfig !== undefined) {
      const [{ WorkerStreamThread }, processId] = await Promise.all([import('./threads/worker-thread.ts'), this.processId()]);
      if (this.closing !== undefined) return;
      thread = new WorkerStreamThread(
        { source: this.source!, config: this.workerConfig, threadIndex: index, processId },
        this.config.log,
        this.threadEvents(index, () => thread),
        (snapshot) => {
          this.threadCounters.set(index, snapshot);
          this.mergeCounters();
        },
      );
    } else {
      // Loaded here, so that a program using only the test driver never loads a Kafka client.
      const [{ StreamThread }, client] = await Promise.all([
        import('./stream-thread.ts'),
        import('./client/select.ts').then((m) => m.clientFactory(this.client)),
      ]);
      if (this.closing !== undefined) return;
      thread = new StreamThread(this.topology, this.config, client, this.counters, this.threadEvents(index, () => thread));
    }
    this.threads.set(index, thread);
    try {
      await thread.start();
    } catch (e) {
      if (this.threads.get(index) === thread) this.threads.delete(index);
      await thread.stop().catch(() => {});
      throw e;
    }
    // close() ran while the thread was connecting: it stopped what existed then, and this
    // stops what the start went on to make (the consumer, its group membership).
    if (this.closing !== undefined) await thread.stop().catch(() => {});
  }

  private async onThreadFailed(index: number, thread: Thread, error: Error): Promise<void> {
    if (this.threads.get(index) !== thread || this.closing !== undefined) return;
    this.config.log.error(`stream thread${this.config.numStreamThreads > 1 ? ` ${index}` : ''} failed: ${error.message}`);
    let response: UncaughtExceptionResponse = 'shutdown-client';
    try {
      response = this.uncaught?.(error) ?? 'shutdown-client';
    } catch (e) {
      this.config.log.error(`the uncaught exception handler threw: ${(e as Error).message}`);
    }
    this.runningThreads.delete(index);
    await thread.stop().catch(() => {});
    if (this.threads.get(index) === thread) this.threads.delete(index);
    if (response === 'replace-thread' && this.closing === undefined) {
      this.config.log.warn('replacing the stream thread; it resumes from the last commit');
      this.transition('REBALANCING');
      try {
        await this.startThread(index);
        return;
      } catch (e) {
        error = e as Error;
      }
    }
    // shutdown-client: the other threads stop too, as in Kafka Streams.
    const others = [...this.threads.values()];
    this.threads.clear();
    await Promise.all(others.map((t) => t.stop().catch(() => {})));
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
      await Promise.all([...this.threads.values()].map((t) => t.stop()));
      this.threads.clear();
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
      return this.localTasks(`store ${name}`).flatMap((t) => {
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
    const local = new Set(this.localTasks('metadataForKey').flatMap((t) => t.sourceTopics.map((topic) => `${topic}/${t.task.partition}`)));
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

  /** The active tasks of the in-process thread; stores in worker threads are out of reach of this thread. */
  private localTasks(what: string): readonly ActiveTask[] {
    if (this.workerConfig !== undefined)
      throw new RetailStreamsError('invalid-argument', `${what}: interactive queries read the stores of the in-process stream thread; with numStreamThreads ${this.config.numStreamThreads} they live in worker threads (run one thread per process to query them)`);
    const t = this.threads.get(1);
    return t?.activeTasks?.() ?? [];
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

/** A stream thread as the instance drives it: in this thread, or in a worker. */
type Thread = Pick<StreamThread, 'start' | 'stop'> & Partial<Pick<StreamThread, 'activeTasks'>>;

/** The config for worker threads: the serializable fields, or a clear refusal of what cannot cross. */
function workerConfigOf(config: KafkaStreamsConfig, source: TopologySource | undefined): WorkerConfig {
  const n = config.numStreamThreads;
  if (source === undefined)
    throw new RetailStreamsError('invalid-argument', `numStreamThreads ${n} runs the topology in worker threads, which cannot share this one's functions: build the instance with KafkaStreams.fromModule({ module, export, data }, config)`);
  const refuse = (field: string) => {
    throw new RetailStreamsError('invalid-argument', `numStreamThreads ${n}: ${field} is a function, which worker threads cannot receive; use a named setting or one stream thread`);
  };
  if (typeof config.client === 'function') refuse('client');
  if (config.clock !== undefined) refuse('clock');
  if (typeof config.deserializationExceptionHandler === 'function') refuse('deserializationExceptionHandler');
  if (typeof config.productionExceptionHandler === 'function') refuse('productionExceptionHandler');
  const { logger: _logger, clock: _clock, ...rest } = config;
  return rest as WorkerConfig;
}
