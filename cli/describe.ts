import * as Effect from 'effect/Effect';
import * as Schema from 'effect/Schema';
import { buildKpiTopology } from '../processors/kpi-topology.ts';
import { Duration, PositiveDuration, decodeFlags } from './flags.ts';

const DescribeFlags = Schema.Struct({
  window: Schema.optionalWith(PositiveDuration, { default: () => 60_000 }),
  grace: Schema.optionalWith(Duration, { default: () => 600_000 }),
});

/** Prints the KPI topology the way Kafka Streams' `Topology.describe()` does. */
export const describeCommand = (argv: readonly string[]) =>
  Effect.gen(function* () {
    const flags = yield* decodeFlags('describe', argv, { window: { type: 'string' }, grace: { type: 'string' } }, DescribeFlags);
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
    yield* Effect.sync(() => process.stdout.write(topology.describe()));
  });
