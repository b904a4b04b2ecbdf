import { CLIENT_NAMES } from '../topology/runtimes/kafka/client/port.ts';
import { DEFAULT_CLIENT } from '../topology/runtimes/kafka/client/select.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration as EffectDuration, Effect, Schedule, Schema } from 'effect';
import { KPI_DEAD_LETTER_HANDLER } from '../processors/kpi-topology.ts';
import { openFileStore } from '../sinks/open-store.ts';
import { kpiTopics, runKpiSerdes, runRegistry, runTopologyParts, type RunTopologyData } from './run-topology.ts';
import { KafkaStreams } from '../topology/runtimes/kafka/kafka-streams.ts';
import { RetailStreamsError } from '../topology/api/errors.ts';
import type { CommandContext } from './main.ts';
import { Duration, IntFromString, MaxFuture, PositiveDuration, TopicPrefix, decodeFlags } from './flags.ts';
import { Brokers, KAFKA_SECURITY_ENV, KAFKA_SECURITY_SPEC, KafkaSecurityFields, kafkaFailure, kafkaSecurityFrom } from './kafka-flags.ts';
import { BrokerError, SinkError, UsageError } from './errors.ts';
import { describeKafkaSecurity } from '../topology/runtimes/kafka/security.ts';
import { RegistryUrl, readPem, registryOptionsFrom } from './simulate.ts';
import { SchemaRefusedError } from '../processors/avro/registry.ts';

const RunFlags = Schema.Struct({
  brokers: Brokers,
  group: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => 'retail-kpi' }),
  input: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => 'invoices' }),
  store: Schema.optionalWith(Schema.Literal('memory', 'rocksdb'), { default: () => 'memory' as const }),
  'state-dir': Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => join(tmpdir(), 'retail-streams') }),
  'session-timeout': Schema.optionalWith(Duration.pipe(Schema.filter((n) => n >= 6_000 || 'must be at least 6s (the broker minimum)')), { default: () => 15_000 }),
  sink: Schema.optionalWith(Schema.String, { default: () => './out' }),
  window: Schema.optionalWith(PositiveDuration, { default: () => 60_000 }),
  grace: Schema.optionalWith(Duration, { default: () => 600_000 }),
  idle: Schema.optionalWith(PositiveDuration, { default: () => 30_000 }),
  guarantee: Schema.optionalWith(Schema.Literal('at-least-once', 'exactly-once'), { default: () => 'at-least-once' as const }),
  /** The Kafka client adapter (README, "Kafka clients"). */
  client: Schema.optionalWith(Schema.Literal(...CLIENT_NAMES), { default: () => DEFAULT_CLIENT }),
  'replication-factor': Schema.optionalWith(IntFromString(1, 5), { default: () => 1 }),
  /** Warm copies of each stateful task kept by other processes of the group (`num.standby.replicas`). */
  'standby-replicas': Schema.optionalWith(IntFromString(0, 10), { default: () => 0 }),
  'kpi-partitions': Schema.optionalWith(IntFromString(1, 1000), { default: () => 1 }),
  /** Put before the names of the KPI, dead-letter and late topics (two pipelines on one cluster). */
  'topic-prefix': Schema.optionalWith(TopicPrefix, { default: () => '' }),
  /** Stream threads (`num.stream.threads`): above 1, worker threads, one core each. */
  threads: Schema.optionalWith(IntFromString(1, 64), { default: () => 1 }),
  /** Confluent-compatible schema registry: Avro input records are decoded by schema id. */
  registry: Schema.optional(RegistryUrl),
  /** PEM of the CA of an https registry (default: the system CAs). */
  'registry-ca': Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** PEM of the CA of an https (swebhdfs://) HDFS sink (default: the system CAs). */
  'hdfs-ca': Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** Values of the KPI topics: JSON, or Avro with schemas registered under `<topic>-value`. */
  'output-format': Schema.optionalWith(Schema.Literal('json', 'avro'), { default: () => 'json' as const }),
  'max-future': Schema.optionalWith(MaxFuture, { default: () => 3_600_000 }),
  /** Serve the dashboard, interactive queries, /metrics and /health on this port (0: any free port). */
  http: Schema.optional(IntFromString(0, 65_535)),
  'http-host': Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => '127.0.0.1' }),
  /** Required as `Authorization: Bearer <token>` by /api/* and /metrics. */
  'http-token': Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** host:port other members reach this one's queries at (Kafka Streams' application.server); default the --http address. */
  'application-server': Schema.optional(Schema.String.pipe(Schema.pattern(/^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/))),
  /** TLS and SASL to Kafka (the password only from KAFKA_PASSWORD or a file). */
  ...KafkaSecurityFields,
});


const s = { type: 'string' } as const;
const ENV = {
  brokers: 'RS_BROKERS',
  group: 'RS_GROUP',
  input: 'RS_INPUT',
  store: 'RS_STORE',
  'state-dir': 'RS_STATE_DIR',
  'session-timeout': 'RS_SESSION_TIMEOUT',
  sink: 'RS_SINK',
  window: 'RS_WINDOW',
  grace: 'RS_GRACE',
  idle: 'RS_IDLE',
  guarantee: 'RS_GUARANTEE',
  client: 'RS_KAFKA_CLIENT',
  'replication-factor': 'RS_REPLICATION_FACTOR',
  'standby-replicas': 'RS_STANDBY_REPLICAS',
  'kpi-partitions': 'RS_KPI_PARTITIONS',
  threads: 'RS_THREADS',
  'topic-prefix': 'RS_TOPIC_PREFIX',
  registry: 'RS_REGISTRY',
  'registry-ca': 'RS_REGISTRY_CA',
  'hdfs-ca': 'RS_HDFS_CA',
  'output-format': 'RS_OUTPUT_FORMAT',
  'max-future': 'RS_MAX_FUTURE',
  http: 'RS_HTTP',
  'http-host': 'RS_HTTP_HOST',
  'http-token': 'RS_HTTP_TOKEN',
  'application-server': 'RS_APPLICATION_SERVER',
};

/** Resolves on the first SIGINT or SIGTERM. */
const shutdownSignal = Effect.async<string>((resume) => {
  const on = (sig: string) => () => resume(Effect.succeed(sig));
  const int = on('SIGINT');
  const term = on('SIGTERM');
  process.once('SIGINT', int);
  process.once('SIGTERM', term);
  return Effect.sync(() => {
    process.off('SIGINT', int);
    process.off('SIGTERM', term);
  });
});

export const run = (argv: readonly string[], context: CommandContext) =>
  Effect.gen(function* () {
    const flags = yield* decodeFlags('run', argv, { ...Object.fromEntries(Object.keys(ENV).map((k) => [k, s])), ...KAFKA_SECURITY_SPEC }, RunFlags, { ...ENV, ...KAFKA_SECURITY_ENV });
    const security = yield* kafkaSecurityFrom('run', flags);
    const hdfsCaFile = flags['hdfs-ca'];
    const hdfsCa = hdfsCaFile === undefined ? undefined : yield* readPem('run', '--hdfs-ca', hdfsCaFile);
    // HDFS_DELEGATION_TOKEN: read here (the library reads no environment), sent as `delegation=`.
    const delegationToken = process.env.HDFS_DELEGATION_TOKEN || undefined;
    const store = yield* Effect.tryPromise({
      try: () =>
        openFileStore(flags.sink, context.logger('hdfs'), { ...(hdfsCa === undefined ? {} : { ca: hdfsCa }), ...(delegationToken === undefined ? {} : { delegationToken }) }),
      catch: (e) =>
        e instanceof RetailStreamsError && e.code === 'invalid-argument'
          ? new UsageError({ message: `run: ${e.message}` })
          : new SinkError({ message: `run: ${(e as Error).message}` }),
    });
    const log = context.logger('run');
    if (security !== undefined) log.info(`Kafka security: ${describeKafkaSecurity(security)}`);
    if (flags['output-format'] === 'avro' && flags.registry === undefined)
      return yield* Effect.fail(new UsageError({ message: 'run: --output-format avro needs --registry URL (or RS_REGISTRY)' }));
    // Avro input: schemas resolved by id from the registry (cached), waiting while it is down.
    const registryOptions = yield* registryOptionsFrom('run', flags['registry-ca']);
    const topics = kpiTopics(flags['topic-prefix']);
    const topologyData: RunTopologyData = {
      input: flags.input,
      windowMs: flags.window,
      graceMs: flags.grace,
      sink: flags.sink,
      hdfs: { ...(hdfsCa === undefined ? {} : { ca: hdfsCa }), ...(delegationToken === undefined ? {} : { delegationToken }) },
      ...(flags.registry === undefined ? {} : { registry: { url: flags.registry, options: registryOptions } }),
      outputFormat: flags['output-format'],
      topics,
      logLevel: context.logLevel ?? 'info',
    };
    const registry = runRegistry(topologyData);
    if (registry !== undefined) log.info(`Avro records decoded by schema id from the ${registry.description}`);
    const kpiSerdes = yield* Effect.tryPromise({
      try: () => runKpiSerdes(topologyData, registry),
      catch: (e) =>
        e instanceof SchemaRefusedError ? new SinkError({ message: `run: ${e.message}` }) : new BrokerError({ message: `run: ${(e as Error).message}` }),
    }).pipe(
      Effect.retry({
        schedule: Schedule.exponential(EffectDuration.millis(500)).pipe(Schedule.intersect(Schedule.recurs(4))),
        while: (e) => e._tag === 'BrokerError',
      }),
      Effect.tap((k) => Effect.sync(() => k.ids !== undefined && log.info(`KPI topics in Avro: schema ids ${k.ids.time} (${topics.time}), ${k.ids.country} (${topics.country})`))),
    );
    const { topology, invoiceSerde } = yield* Effect.promise(() => runTopologyParts(topologyData, log, { store, registry, kpiSerdes }));
    const kpiPartitions = flags['kpi-partitions'];
    // --http: the page, queries and metrics, up before the instance so they tell why nothing runs yet.
    const httpPort = flags.http;
    const dashboard =
      httpPort === undefined
        ? undefined
        : yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: async () =>
                (await import('./http/dashboard.ts')).startDashboard({
                  brokers: flags.brokers, security, host: flags['http-host'], port: httpPort, token: flags['http-token'], applicationServer: flags['application-server'],
                  groupId: flags.group, inputTopic: flags.input, topics, windowMs: flags.window, log: context.logger('http'),
                  ...(kpiSerdes.timeKpiSerde === undefined ? {} : { decodeTime: (b: Buffer) => kpiSerdes.timeKpiSerde!.deserialize(b) }),
                  ...(kpiSerdes.countryKpiSerde === undefined ? {} : { decodeCountry: (b: Buffer) => kpiSerdes.countryKpiSerde!.deserialize(b) }),
                }),
              catch: (e) => new UsageError({ message: `run: --http: cannot serve on ${flags['http-host']}:${httpPort}: ${(e as Error).message}` }),
            }),
            (d) => Effect.promise(() => d.close()),
          );
    if (dashboard !== undefined) log.info(`dashboard at ${dashboard.url}${flags['http-token'] === undefined ? '' : ' (add #token=<token> to the address)'}; queries advertised as ${dashboard.advertised}`);
    // Test hook (fault injection), never for production: every Nth transaction commit fails
    // with an unknown outcome. Read here, by the application; the library only takes it injected.
    const txnUnknownEvery = Number.parseInt(process.env.RS_FAULT_TXN_UNKNOWN ?? '', 10);
    const threads = flags.threads;
    // --threads N: every worker builds the same topology from run-topology.ts and the same data.
    const topologySource = { module: new URL(import.meta.url.endsWith('.ts') ? './run-topology.ts' : './run-topology.js', import.meta.url).href, export: 'runTopology', data: topologyData };
    const makeStreams = () =>
      new KafkaStreams(topology, {
        numStreamThreads: threads,
        applicationId: flags.group,
        bootstrapServers: flags.brokers,
        ...(security === undefined ? {} : { security }),
        processingGuarantee: flags.guarantee,
        client: flags.client,
        defaultStore: flags.store,
        stateDir: flags['state-dir'],
        sessionTimeoutMs: flags['session-timeout'],
        idleMs: flags.idle,
        maxFutureMs: flags['max-future'],
        replicationFactor: flags['replication-factor'],
        numStandbyReplicas: flags['standby-replicas'],
        logger: log,
        deadLetterQueueTopic: topics.deadLetter,
        deserializationExceptionHandler: KPI_DEAD_LETTER_HANDLER,
        ...(dashboard === undefined ? {} : { applicationServer: dashboard.advertised }),
        outputTopics: [
          { name: topics.time, partitions: kpiPartitions, compacted: true },
          { name: topics.country, partitions: kpiPartitions, compacted: true },
          { name: topics.deadLetter, partitions: 1, logAppendTime: true },
          { name: topics.late, partitions: 1, logAppendTime: true },
        ],
        ...(Number.isInteger(txnUnknownEvery) && txnUnknownEvery > 0 ? { faults: { txnUnknownEvery } } : {}),
      }, threads > 1 ? topologySource : undefined);

    // The instance is a resource: whatever ends the program, it commits and leaves the group.
    const streams = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const k = makeStreams();
          try {
            await k.start();
          } catch (e) {
            await k.close();
            throw e;
          }
          return k;
        },
        catch: (e) =>
          e instanceof RetailStreamsError && e.code === 'invalid-argument'
            ? new UsageError({ message: `run: ${e.message}${security?.sasl !== undefined && /does not exist/.test(e.message) ? ` (or user "${security.sasl.username}" has no DESCRIBE ACL on it)` : ''}` })
            : kafkaFailure('run', e, security),
      }).pipe(
        Effect.retry({
          schedule: Schedule.exponential(EffectDuration.millis(500)).pipe(Schedule.intersect(Schedule.recurs(4))),
          while: (e) => e._tag === 'BrokerError',
        }),
        Effect.tapError((e) => Effect.sync(() => log.error(e.message))),
      ),
      (k) =>
        Effect.promise(async () => {
          log.info('stopping: finishing the batch, committing, leaving the group');
          await k.close();
          log.info(`stopped; processed ${k.metrics().get('records-processed') ?? 0} records`);
        }),
    );
    dashboard?.attach(streams);
    // Runs before the runtime's release: a batch waiting for the registry gives up uncommitted.
    yield* Effect.addFinalizer(() => Effect.sync(() => invoiceSerde.close()));
    log.info(`running group ${flags.group} on ${flags.input}; KPI files in ${flags.sink}`);
    const progress = setInterval(() => {
      const m = (k: string) => streams.metrics().get(k) ?? 0;
      log.info(`processed ${m('records-processed')} | valid ${m('valid-records')} | late ${m('late-records')} | invalid ${m('dead-letter-records')} | windows closed ${m('windows-closed')}`);
    }, 10_000);
    const crashed = Effect.promise(() => streams.failure()).pipe(Effect.flatMap((e) => Effect.fail(kafkaFailure('run: stopped on an error', e, security))));
    // raceFirst: a failure ends the run too (race would wait for the signal).
    yield* Effect.raceFirst(shutdownSignal, crashed).pipe(Effect.ensuring(Effect.sync(() => clearInterval(progress))));
  }).pipe(Effect.scoped);
