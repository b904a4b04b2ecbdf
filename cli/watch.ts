import { randomUUID } from 'node:crypto';
import * as EffectDuration from 'effect/Duration';
import * as Effect from 'effect/Effect';
import * as Schedule from 'effect/Schedule';
import * as Schema from 'effect/Schema';
import { PositiveDuration, IntFromString, TopicPrefix, decodeFlags } from './flags.ts';
import { Brokers, KAFKA_SECURITY_ENV, KAFKA_SECURITY_SPEC, KafkaSecurityFields, kafkaFailure, kafkaSecurityFrom } from './kafka-flags.ts';
import type { CommandContext } from './main.ts';
import { kpiTopics } from './run-topology.ts';
import { silentLogger } from '../topology/api/log.ts';
import { platformaticClient } from '../topology/runtimes/kafka/client/platformatic.ts';
import { spreadAssigner } from '../topology/runtimes/kafka/client/spread-assigner.ts';
import type { CountryKpi, TimeKpi } from '../processors/kpi.ts';

const WatchFlags = Schema.Struct({
  brokers: Brokers,
  every: Schema.optionalWith(PositiveDuration, { default: () => 5_000 }),
  windows: Schema.optionalWith(IntFromString(1, 100), { default: () => 5 }),
  /** The `run --topic-prefix` of the pipeline to watch. */
  'topic-prefix': Schema.optionalWith(TopicPrefix, { default: () => '' }),
  ...KafkaSecurityFields,
});


const money = (n: number) => n.toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A live table of the latest KPIs, read from the update topics like any dashboard would. */
export function renderTable(time: ReadonlyMap<string, TimeKpi>, country: ReadonlyMap<string, CountryKpi>, windows: number): string {
  const latest = [...time.values()].sort((a, b) => b.window.start.localeCompare(a.window.start)).slice(0, windows);
  const lines = [`KPIs at ${new Date().toISOString()} (latest ${latest.length} windows)`, 'window (UTC)         OPM  sales volume   avg transaction  rate of return'];
  for (const k of latest) {
    lines.push(`${k.window.start.slice(0, 16).replace('T', ' ')}  ${String(k.OPM).padStart(6)}  ${money(k.total_sale_volume).padStart(12)}  ${money(k.average_transaction_size).padStart(15)}  ${k.rate_of_return.toFixed(4).padStart(14)}`);
  }
  const newest = latest[0];
  if (newest !== undefined) {
    const top = [...country.values()].filter((c) => c.window.start === newest.window.start).sort((a, b) => b.OPM - a.OPM).slice(0, 5);
    lines.push(`top countries in ${newest.window.start.slice(11, 16)}: ${top.map((c) => `${c.country} ${c.OPM}`).join(', ')}`);
  }
  return lines.join('\n') + '\n\n';
}

export const watch = (argv: readonly string[], context?: CommandContext) =>
  Effect.gen(function* () {
    const flags = yield* decodeFlags(
      'watch',
      argv,
      { brokers: { type: 'string' }, every: { type: 'string' }, windows: { type: 'string' }, 'topic-prefix': { type: 'string' }, ...KAFKA_SECURITY_SPEC },
      WatchFlags,
      { brokers: 'RS_BROKERS', 'topic-prefix': 'RS_TOPIC_PREFIX', ...KAFKA_SECURITY_ENV },
    );
    const topics = kpiTopics(flags['topic-prefix']);
    const security = yield* kafkaSecurityFrom('watch', flags);
    const time = new Map<string, TimeKpi>();
    const country = new Map<string, CountryKpi>();
    // The KPI topics are written in transactions under exactly-once: read through the
    // @platformatic/kafka adapter, whose read_committed drops every aborted record (kafkajs's
    // does not: README, Kafka clients).
    const client = platformaticClient({
      clientId: 'retail-streams-watch',
      brokers: flags.brokers,
      log: context?.logger('watch') ?? silentLogger,
      ...(security === undefined ? {} : { security }),
    });
    const admin = yield* Effect.acquireRelease(Effect.sync(() => client.admin()), (a) => Effect.promise(() => a.disconnect().catch(() => {})));
    const consumer = yield* Effect.acquireRelease(
      Effect.sync(() => client.consumer({ groupId: `watch-${randomUUID()}`, assigner: spreadAssigner, maxWaitTimeInMs: 200 })),
      (c) => Effect.promise(() => c.disconnect().catch(() => {})),
    );
    // The consumer restarts itself after a failure it may get past; one it cannot (credentials, an ACL) ends watch.
    const refused = new Promise<Error>((resolve) => consumer.on(consumer.events.CRASH, (e) => void (e.payload.restart ? undefined : resolve(e.payload.error))));
    yield* Effect.tryPromise({
      try: async () => {
        await consumer.connect();
        const existing = new Set((await admin.fetchTopicMetadata({ topics: [] })).topics.map((t) => t.name));
        const missing = [topics.time, topics.country].filter((t) => !existing.has(t));
        // Subscribed to a missing topic, the consumer would join with no partition of it and stay so.
        if (missing.length > 0) throw new Error(`the KPI topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found (is \`run\` started, with the same --topic-prefix?)`);
      },
      catch: (e) => kafkaFailure('watch', e, security),
    }).pipe(
      // The KPI topics appear once `run` has started: wait for them for a while (not for a refusal).
      Effect.retry({ schedule: Schedule.spaced(EffectDuration.seconds(1)).pipe(Schedule.intersect(Schedule.recurs(90))), while: (e) => e._tag === 'BrokerError' }),
    );
    yield* Effect.tryPromise({
      try: async () => {
        await consumer.subscribe({ topics: [topics.time, topics.country], fromBeginning: true });
        await consumer.run({
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              if (m.key === null || m.value === null) continue;
              const key = m.key.toString();
              try {
                if (batch.topic === topics.time) time.set(key, JSON.parse(m.value.toString()) as TimeKpi);
                else country.set(key, JSON.parse(m.value.toString()) as CountryKpi);
              } catch {
                // Not a KPI (a record written by hand): skipped, as the dashboard does, rather
                // than failing the batch, which the consumer would fetch again for ever.
              }
            }
          },
        });
      },
      catch: (e) => kafkaFailure('watch', e, security),
    });
    const print = Effect.sync(() => process.stdout.write(renderTable(time, country, flags.windows)));
    yield* Effect.repeat(Effect.delay(print, EffectDuration.millis(flags.every)), { until: () => false }).pipe(
      Effect.raceFirst(Effect.async<void>((resume) => {
        const stop = () => resume(Effect.void);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      })),
      Effect.raceFirst(Effect.promise(() => refused).pipe(Effect.flatMap((e) => Effect.fail(kafkaFailure('watch', e, security))))),
    );
  }).pipe(Effect.scoped);
