import * as Effect from 'effect/Effect';
import * as Schema from 'effect/Schema';
import { buildKpiTopology } from '../processors/kpi-topology.ts';
import { Duration, PositiveDuration, decodeFlags } from './flags.ts';
import { KAFKA_SECURITY_ENV, KAFKA_SECURITY_SPEC, KafkaSecurityFields, kafkaSecurityFrom } from './kafka-flags.ts';
import { describeKafkaSecurity } from '../topology/runtimes/kafka/security.ts';

const DescribeFlags = Schema.Struct({
  window: Schema.optionalWith(PositiveDuration, { default: () => 60_000 }),
  grace: Schema.optionalWith(Duration, { default: () => 600_000 }),
  ...KafkaSecurityFields,
});

/** Prints the KPI topology the way Kafka Streams' `Topology.describe()` does. */
export const describeCommand = (argv: readonly string[]) =>
  Effect.gen(function* () {
    // The Kafka security settings are checked and shown redacted (no password, no key), no flag from the environment.
    const flags = yield* decodeFlags('describe', argv, { window: { type: 'string' }, grace: { type: 'string' }, ...KAFKA_SECURITY_SPEC }, DescribeFlags);
    const security = Object.keys(KAFKA_SECURITY_ENV).some((k) => k in flags) ? yield* kafkaSecurityFrom('describe', flags) : undefined;
    const topology = buildKpiTopology({
      inputTopic: 'invoices',
      windowMs: flags.window,
      graceMs: flags.grace,
      timeUpdates: { topic: 'kpi-time' },
      countryUpdates: { topic: 'kpi-time-country' },
      timeFinals: { sink: () => ({ write() {}, commit: async () => {}, close: async () => {} }) },
      countryFinals: { sink: () => ({ write() {}, commit: async () => {}, close: async () => {} }) },
      lateRecords: { topic: 'invoices-late' },
    });
    yield* Effect.sync(() => process.stdout.write(`${security === undefined ? '' : `Kafka security: ${describeKafkaSecurity(security)}\n`}${topology.describe()}`));
  });
