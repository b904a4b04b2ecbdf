import { randomUUID } from 'node:crypto';
import * as EffectDuration from 'effect/Duration';
import * as Effect from 'effect/Effect';
import * as Schedule from 'effect/Schedule';
import * as Schema from 'effect/Schema';
import { Kafka, logLevel } from 'kafkajs';
import { PositiveDuration, IntFromString, TopicPrefix, decodeFlags } from './flags.ts';
import { Brokers, KAFKA_SECURITY_ENV, KAFKA_SECURITY_SPEC, KafkaSecurityFields, kafkaFailure, kafkaSecurityFrom } from './kafka-flags.ts';
import { kafkajsSecurity } from '../topology/runtimes/kafka/security.ts';
import { kpiTopics } from './run-topology.ts';
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

export const watch = (argv: readonly string[]) =>
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
    const consumer = new Kafka({ clientId: 'retail-streams-watch', brokers: [...flags.brokers], ...kafkajsSecurity(security), logLevel: logLevel.NOTHING, retry: { retries: 3 } }).consumer({
      groupId: `watch-${randomUUID()}`,
      maxWaitTimeInMs: 200,
    });
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          await consumer.connect();
          await consumer.subscribe({ topics: [topics.time, topics.country], fromBeginning: true });
          await consumer.run({
            eachMessage: async ({ topic, message }) => {
              if (message.key === null || message.value === null) return;
              const key = message.key.toString();
              if (topic === topics.time) time.set(key, JSON.parse(message.value.toString()) as TimeKpi);
              else country.set(key, JSON.parse(message.value.toString()) as CountryKpi);
            },
          });
        },
        catch: (e) => kafkaFailure('watch', e, security),
      }).pipe(
        // The KPI topics appear once `run` has started: wait for them for a while (not for a refusal).
        Effect.retry({ schedule: Schedule.spaced(EffectDuration.seconds(1)).pipe(Schedule.intersect(Schedule.recurs(90))), while: (e) => e._tag === 'BrokerError' }),
      ),
      () => Effect.promise(() => consumer.disconnect().catch(() => {})),
    );
    const print = Effect.sync(() => process.stdout.write(renderTable(time, country, flags.windows)));
    yield* Effect.repeat(Effect.delay(print, EffectDuration.millis(flags.every)), { until: () => false }).pipe(
      Effect.raceFirst(Effect.async<void>((resume) => {
        const stop = () => resume(Effect.void);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      })),
    );
  }).pipe(Effect.scoped);
