/**
 * The topology of `retail-streams run`, built from plain data: by `run` itself, and by each
 * worker of `run --threads N` (a worker imports this module and calls `runTopology` with the
 * same data, since the topology's functions cannot be sent to it).
 */
import { createLogger, type Logger, type LogLevel } from '../topology/api/log.ts';
import type { Topology } from '../topology/internals/compile.ts';
import { buildKpiTopology } from '../processors/kpi-topology.ts';
import { fileOutputs } from '../processors/file-outputs.ts';
import { openFileStore } from '../sinks/open-store.ts';
import type { FileStore } from '../sinks/file-store.ts';
import { createInvoiceSerde, type InvoiceSerde } from '../processors/avro/invoice-serde.ts';
import { registerKpiSerdes, type KpiSerdes } from '../processors/avro/kpi-serde.ts';
import { RegistryClient, type RegistryClientOptions } from '../processors/avro/registry.ts';

export interface KpiTopics {
  readonly time: string;
  readonly country: string;
  readonly deadLetter: string;
  readonly late: string;
}

/** The topics `run` writes; `run --topic-prefix P` puts P before each (two pipelines on one cluster). */
export const kpiTopics = (prefix = ''): KpiTopics => ({
  time: `${prefix}kpi-time`,
  country: `${prefix}kpi-time-country`,
  deadLetter: `${prefix}invoices-dead-letter`,
  late: `${prefix}invoices-late`,
});

/** Everything the topology depends on, as structured-cloneable data (no secrets beyond what the flags held). */
export interface RunTopologyData {
  readonly input: string;
  readonly windowMs: number;
  readonly graceMs: number;
  readonly sink: string;
  readonly hdfs: { readonly ca?: string; readonly delegationToken?: string };
  readonly registry?: { readonly url: string; readonly options: RegistryClientOptions };
  readonly outputFormat: 'json' | 'avro';
  readonly topics: KpiTopics;
  /** RS_LOG_LEVEL as `run` read it: the level of what a worker's sinks and serdes log. */
  readonly logLevel: LogLevel;
}

export interface RunTopologyParts {
  readonly topology: Topology;
  readonly registry: RegistryClient | undefined;
  readonly invoiceSerde: InvoiceSerde;
  readonly kpiSerdes: Partial<KpiSerdes>;
}

/**
 * The file store, the serdes (Avro KPI schemas registered when asked for) and the topology.
 * The steps are exported one by one so that `run` can map each one's failure to its own exit code.
 */
export const runRegistry = (d: RunTopologyData): RegistryClient | undefined => (d.registry === undefined ? undefined : new RegistryClient(d.registry.url, d.registry.options));

export const runKpiSerdes = async (d: RunTopologyData, registry: RegistryClient | undefined): Promise<Partial<KpiSerdes>> =>
  d.outputFormat !== 'avro' || registry === undefined ? {} : registerKpiSerdes(registry, d.topics);

export async function runTopologyParts(d: RunTopologyData, log: Logger, pre: { store?: FileStore; registry?: RegistryClient | undefined; kpiSerdes?: Partial<KpiSerdes> } = {}): Promise<RunTopologyParts> {
  const store = pre.store ?? (await openFileStore(d.sink, log, d.hdfs));
  const registry = 'registry' in pre ? pre.registry : runRegistry(d);
  const invoiceSerde = createInvoiceSerde(registry === undefined ? { log } : { registry, log });
  const kpiSerdes = pre.kpiSerdes ?? (await runKpiSerdes(d, registry));
  const topology = buildKpiTopology({
    invoiceSerde,
    ...(kpiSerdes.timeKpiSerde === undefined ? {} : { timeKpiSerde: kpiSerdes.timeKpiSerde }),
    ...(kpiSerdes.countryKpiSerde === undefined ? {} : { countryKpiSerde: kpiSerdes.countryKpiSerde }),
    inputTopic: d.input,
    windowMs: d.windowMs,
    graceMs: d.graceMs,
    timeUpdates: { topic: d.topics.time },
    countryUpdates: { topic: d.topics.country },
    ...fileOutputs(store, 'date-hour'),
    lateRecords: { topic: d.topics.late },
  });
  return { topology, registry, invoiceSerde, kpiSerdes };
}

/** A worker's entry (KafkaStreams' topology source): its log lines go to stderr like the main thread's. */
export async function runTopology(d: RunTopologyData): Promise<Topology> {
  return (await runTopologyParts(d, createLogger('run', d.logLevel))).topology;
}
