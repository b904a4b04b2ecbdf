/**
 * What every @platformatic/kafka client of the adapter shares: the connection options (brokers,
 * TLS, SASL, retries) and the choice of a low-level protocol API version the broker speaks.
 */
import * as pk from '@platformatic/kafka';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { KafkaSecurity } from '../../security.ts';
import type { ClientOptions } from '../port.ts';

export interface SecurityOptions {
  tls?: TlsOptions;
  tlsServerName?: string;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
}

/** The library's `tls`/`tlsServerName`/`sasl` connection options for these settings. */
export function platformaticSecurity(s: KafkaSecurity | undefined): SecurityOptions {
  if (s === undefined) return {};
  const out: SecurityOptions = {};
  if (s.tls === true) out.tls = {};
  else if (s.tls !== undefined) {
    const t = s.tls;
    out.tls = {
      ...(t.ca === undefined ? {} : { ca: [t.ca] }),
      ...(t.cert === undefined ? {} : { cert: t.cert }),
      ...(t.key === undefined ? {} : { key: t.key }),
    };
    if (t.servername !== undefined) out.tlsServerName = t.servername;
  }
  if (s.sasl !== undefined) {
    const mechanism = s.sasl.mechanism === 'plain' ? 'PLAIN' : s.sasl.mechanism === 'scram-sha-256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512';
    out.sasl = { mechanism, username: s.sasl.username, password: s.sasl.password };
  }
  return out;
}

export interface BaseClientOptions extends SecurityOptions {
  clientId: string;
  bootstrapBrokers: string[];
  connectTimeout: number;
  timeout: number;
  retries: number;
  retryDelay: number;
  metadataMaxAge: number;
}

/** Options of every library client the adapter makes: bounded retries (the runtime has its own), short metadata age. */
export function baseOptions(o: ClientOptions, suffix?: string): BaseClientOptions {
  return {
    clientId: suffix === undefined ? o.clientId : `${o.clientId}-${suffix}`,
    bootstrapBrokers: [...o.brokers],
    connectTimeout: 3_000,
    timeout: 30_000,
    retries: 5,
    retryDelay: 250,
    metadataMaxAge: 5_000,
    ...platformaticSecurity(o.security),
  };
}

/** A low-level protocol call: the library's `api.async(connection, ...args)`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LowLevelApi = { async: (connection: pk.Connection, ...args: any[]) => Promise<any>; version: number };

/**
 * The highest version of a protocol API that both the broker (ApiVersions, through a client's
 * `listApis`) and the library implement, as the library's own clients choose it; every version
 * the library ships of an API takes the same arguments. Cached per client. `atMost` holds an
 * API below a version (by name) whatever the broker offers.
 */
export class ApiPicker {
  private readonly client: pk.Base;
  private readonly atMost: Readonly<Record<string, number>>;
  private versions: Promise<readonly { name: string; minVersion: number; maxVersion: number }[]> | undefined;
  private readonly chosen = new Map<string, LowLevelApi>();
  constructor(client: pk.Base, atMost: Readonly<Record<string, number>> = {}) {
    this.client = client;
    this.atMost = atMost;
  }

  async get(name: string): Promise<LowLevelApi> {
    const hit = this.chosen.get(name);
    if (hit !== undefined) return hit;
    this.versions ??= this.client.listApis().catch((e: unknown) => {
      this.versions = undefined;
      throw e;
    });
    const range = (await this.versions).find((a) => a.name === name);
    if (range === undefined) throw new Error(`the broker does not support the ${name} API`);
    const namespace = pk as unknown as Record<string, { api?: LowLevelApi } | undefined>;
    for (let v = Math.min(range.maxVersion, this.atMost[name] ?? Infinity); v >= range.minVersion; v--) {
      const api = namespace[`${name.slice(0, 1).toLowerCase()}${name.slice(1)}V${v}`]?.api;
      if (api !== undefined) {
        this.chosen.set(name, api);
        return api;
      }
    }
    throw new Error(`@platformatic/kafka implements no version of ${name} in the broker's range ${range.minVersion}-${range.maxVersion}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
