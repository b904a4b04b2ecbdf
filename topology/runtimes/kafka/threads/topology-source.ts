/**
 * A topology that every stream thread builds for itself: a module, the export to call and the
 * plain data to call it with. The instance builds it once to know its stores and topics
 * (`KafkaStreams.fromModule`), and each worker builds it again (worker-main.ts), the same way.
 */
import { pathToFileURL } from 'node:url';
import { RetailStreamsError } from '../../../api/errors.ts';
import type { Topology } from '../../../internals/compile.ts';
import type { TopologySource } from './messages.ts';

/** The source with its module as a URL (a path becomes a file URL) and its export named. */
export const topologySource = (s: { module: string | URL; export?: string; data?: unknown }): TopologySource => ({
  module: s.module instanceof URL ? s.module.href : /^[a-z][a-z0-9+.-]*:/i.test(s.module) ? s.module : pathToFileURL(s.module).href,
  export: s.export ?? 'default',
  data: s.data,
});

/** Imports the module and calls its export with the data. */
export async function buildTopology(s: TopologySource): Promise<Topology> {
  const build = ((await import(s.module)) as Record<string, unknown>)[s.export];
  if (typeof build !== 'function') throw new RetailStreamsError('invalid-argument', `${s.module} has no function export "${s.export}" to build the topology with`);
  return (build as (d: unknown) => Topology | Promise<Topology>)(s.data);
}
