import { Serdes } from '../../topology/api/serdes.ts';
import { TopologyTestDriver, type TestDriverOptions } from '../../topology/runtimes/test-driver.ts';
import { buildKpiTopology, KPI_DEAD_LETTER_HANDLER } from '../../processors/kpi-topology.ts';

export const TOPICS = {
  input: 'invoices',
  timeUpdates: 'kpi-time',
  countryUpdates: 'kpi-time-country',
  timeFinals: 'kpi-time-final',
  countryFinals: 'kpi-time-country-final',
  deadLetters: 'invoices-dead-letter',
  late: 'invoices-late',
} as const;

/**
 * The fake wall clock of KPI tests: a day after their data (September 2020), so the event-time
 * guard lets it through, as a live run would a day's backlog.
 */
export const KPI_WALL_CLOCK = Date.UTC(2020, 8, 19);

/** Driver options of the KPI application as `run` sets them: invalid invoices to a dead-letter topic, never fatal. */
export const kpiDriverOptions = (o: TestDriverOptions = {}): TestDriverOptions => ({
  deserializationExceptionHandler: KPI_DEAD_LETTER_HANDLER,
  deadLetterQueueTopic: TOPICS.deadLetters,
  wallClockStart: KPI_WALL_CLOCK,
  ...o,
});

/** The KPI application in the test driver, every output to a topic. */
export function kpiDriver(options: { partitions: number; windowMs?: number; graceMs?: number; idleMs?: number; wallClockStart?: number; maxFutureMs?: number }) {
  const topology = buildKpiTopology({
    inputTopic: TOPICS.input,
    windowMs: options.windowMs ?? 60_000,
    graceMs: options.graceMs ?? 600_000,
    timeUpdates: { topic: TOPICS.timeUpdates },
    countryUpdates: { topic: TOPICS.countryUpdates },
    timeFinals: { topic: TOPICS.timeFinals },
    countryFinals: { topic: TOPICS.countryFinals },
    lateRecords: { topic: TOPICS.late },
  });
  const driver = new TopologyTestDriver(
    topology,
    kpiDriverOptions({
      partitions: { [TOPICS.input]: options.partitions },
      ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
      ...(options.wallClockStart === undefined ? {} : { wallClockStart: options.wallClockStart }),
      ...(options.maxFutureMs === undefined ? {} : { maxFutureMs: options.maxFutureMs }),
    }),
  );
  const input = driver.createInputTopic(TOPICS.input, Serdes.string, Serdes.string);
  const out = (topic: string) => driver.createOutputTopic(topic, Serdes.string, Serdes.string);
  return { topology, driver, input, out };
}
