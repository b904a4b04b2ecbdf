import { Serdes } from '../../topology/api/serdes.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';
import { buildKpiTopology } from '../../processors/kpi-topology.ts';

export const TOPICS = {
  input: 'invoices',
  timeUpdates: 'kpi-time',
  countryUpdates: 'kpi-time-country',
  timeFinals: 'kpi-time-final',
  countryFinals: 'kpi-time-country-final',
  deadLetters: 'invoices-dead-letter',
  late: 'invoices-late',
} as const;

/** The KPI application in the test driver, every output to a topic. */
export function kpiDriver(options: { partitions: number; windowMs?: number; graceMs?: number; idleMs?: number }) {
  const topology = buildKpiTopology({
    inputTopic: TOPICS.input,
    windowMs: options.windowMs ?? 60_000,
    graceMs: options.graceMs ?? 600_000,
    timeUpdates: { topic: TOPICS.timeUpdates },
    countryUpdates: { topic: TOPICS.countryUpdates },
    timeFinals: { topic: TOPICS.timeFinals },
    countryFinals: { topic: TOPICS.countryFinals },
    deadLetters: { topic: TOPICS.deadLetters },
    lateRecords: { topic: TOPICS.late },
  });
  const driver = new TopologyTestDriver(topology, { partitions: { [TOPICS.input]: options.partitions }, ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }) });
  const input = driver.createInputTopic(TOPICS.input, Serdes.string, Serdes.string);
  const out = (topic: string) => driver.createOutputTopic(topic, Serdes.string, Serdes.string);
  return { topology, driver, input, out };
}
