import { hostname } from 'node:os';
import type { Logger } from '../../topology/api/log.ts';
import type { CountryKpi, TimeKpi } from '../../processors/kpi.ts';
import { parseHostInfo } from '../../topology/runtimes/kafka/interactive-queries.ts';
import { KpiFeed } from './kpi-feed.ts';
import type { KafkaSecurity } from '../../topology/runtimes/kafka/security.ts';
import { DashboardServer } from './server.ts';
import type { QueryableStreams } from './kpi-queries.ts';

export interface DashboardOptions {
  readonly brokers: readonly string[];
  /** TLS and SASL to Kafka for the KPI feed; default plaintext. */
  readonly security?: KafkaSecurity | undefined;
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  /** `host:port` other members reach this one at; by default the listening address (the machine's name when listening on every interface). */
  readonly applicationServer: string | undefined;
  readonly groupId: string;
  readonly inputTopic: string;
  readonly topics: { readonly time: string; readonly country: string; readonly late: string; readonly deadLetter: string };
  readonly windowMs: number;
  readonly decodeTime?: (value: Buffer) => TimeKpi;
  readonly decodeCountry?: (value: Buffer) => CountryKpi;
  readonly log: Logger;
}

export interface Dashboard {
  /** The page's address, e.g. http://127.0.0.1:8080/. */
  readonly url: string;
  /** This member's `applicationServer`. */
  readonly advertised: string;
  attach(streams: QueryableStreams): void;
  close(): Promise<void>;
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

/** `run --http`: the KPI feed and the HTTP server, started before the streams instance. */
export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const feed = new KpiFeed({
    brokers: o.brokers,
    security: o.security,
    topics: o.topics,
    inputTopic: o.inputTopic,
    groupId: o.groupId,
    windowMs: o.windowMs,
    log: o.log,
    ...(o.decodeTime === undefined ? {} : { decodeTime: o.decodeTime }),
    ...(o.decodeCountry === undefined ? {} : { decodeCountry: o.decodeCountry }),
  });
  const server = new DashboardServer({ host: o.host, port: o.port, windowMs: o.windowMs, feed, log: o.log, ...(o.token === undefined ? {} : { token: o.token }) });
  const { port } = await server.listen();
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(o.host) && o.token === undefined)
    o.log.warn(`the dashboard listens on ${o.host}:${port} without --http-token: whoever reaches it reads the KPIs, the stores and the metrics`);
  feed.start();
  const shownHost = WILDCARD.has(o.host) ? '127.0.0.1' : o.host.includes(':') && !o.host.startsWith('[') ? `[${o.host}]` : o.host;
  const advertised = o.applicationServer ?? `${WILDCARD.has(o.host) ? hostname() : shownHost}:${port}`;
  parseHostInfo(advertised);
  return {
    url: `http://${shownHost}:${port}/`,
    advertised,
    attach: (streams) => server.attach(streams, advertised),
    close: async () => {
      await server.close();
      await feed.close();
    },
  };
}
