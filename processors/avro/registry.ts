/**
 * A Confluent-compatible schema registry, through @kafkajs/confluent-schema-registry, with the
 * distinctions the pipeline needs: a schema id the registry does not know (the record is bad),
 * a registry that cannot be reached right now (wait and retry: the record may be good), and a
 * schema the registry refuses (an incompatible version: the producer must be told).
 */
import type { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avsc from 'avsc';
import { avroOptions, parseSchema, type AvroType } from './avro.ts';

/** The client's `SchemaType.AVRO`, without loading the client to read it. */
const AVRO = 'AVRO' as SchemaType.AVRO;

/** The registry could not answer (down, timed out, 5xx, refused the connection): try again later. */
export class RegistryUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryUnavailableError';
  }
}

/** The registry answered and refused the schema (incompatible with the subject, or invalid). */
export class SchemaRefusedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SchemaRefusedError';
  }
}

/** What a schema id resolves to: an Avro type, or a reason no record with this id can be read. */
export type SchemaLookup = { readonly kind: 'found'; readonly type: AvroType } | { readonly kind: 'unusable'; readonly detail: string };

/** Anything that resolves schema ids: the registry client, or a fixed map in tests and benches. */
export interface SchemaSource {
  /** Resolves an id; throws `RegistryUnavailableError` when the answer may differ on a retry. */
  lookup(id: number): Promise<SchemaLookup>;
  readonly description: string;
}

export interface RegistryClientOptions {
  /** Per-request timeout: a registry that hangs (paused, overloaded) counts as unavailable. */
  readonly timeoutMs?: number;
  readonly clientId?: string;
}

interface HttpError {
  readonly status?: number;
  readonly message: string;
  readonly name: string;
}
const statusOf = (e: unknown): number | undefined => {
  const s = (e as HttpError | undefined)?.status;
  return typeof s === 'number' ? s : undefined;
};
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/^Confluent_Schema_Registry - /, '').replace(/^retail-streams - /, '');

export class RegistryClient implements SchemaSource {
  readonly url: string;
  readonly description: string;
  // The client (and its HTTP stack) loads on the first request: decoding JSON never pays for it.
  private readonly sr: () => Promise<SchemaRegistry>;

  constructor(url: string, options: RegistryClientOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    this.description = `schema registry at ${this.url}`;
    const timeout = options.timeoutMs ?? 5_000;
    // mappersmith middleware: every request gets a timeout (its default is none).
    const withTimeout = () => ({
      prepareRequest: (next: () => Promise<{ enhance(extras: { timeout: number }): unknown }>) => next().then((req) => req.enhance({ timeout })),
    });
    let client: Promise<SchemaRegistry> | undefined;
    this.sr = () =>
      (client ??= import('@kafkajs/confluent-schema-registry').then(
        ({ SchemaRegistry, SchemaType }) =>
          new SchemaRegistry({ host: this.url, clientId: options.clientId ?? 'retail-streams', middlewares: [withTimeout as never] }, { [SchemaType.AVRO]: avroOptions() }),
      ));
  }

  /**
   * Registers a schema under a subject (or finds it registered) and returns its id. Throws
   * `SchemaRefusedError` when the registry refuses it, `RegistryUnavailableError` when it cannot be reached.
   */
  async register(subject: string, schema: object): Promise<number> {
    try {
      const { id } = await (await this.sr()).register({ type: AVRO, schema: JSON.stringify(schema) }, { subject });
      return id;
    } catch (e) {
      const status = statusOf(e);
      const name = (e as HttpError).name;
      if (status === 409 || status === 422 || name === 'ConfluentSchemaRegistryCompatibilityError' || name === 'ConfluentSchemaRegistryArgumentError')
        throw new SchemaRefusedError(`the ${this.description} refused the schema for subject ${subject}: ${messageOf(e)}`, { cause: e });
      throw new RegistryUnavailableError(`cannot register subject ${subject} with the ${this.description}: ${messageOf(e)}`, { cause: e });
    }
  }

  async lookup(id: number): Promise<SchemaLookup> {
    let type: unknown;
    try {
      type = await (await this.sr()).getSchema(id);
    } catch (e) {
      const status = statusOf(e);
      // Confluent answers 404 with error code 40403 "Schema N not found"; Apicurio the same text.
      // Any other 404 (a wrong URL path) is a configuration problem, not a bad record: retry.
      if (status === 404 && /schema\b.*\bnot found/i.test(messageOf(e)))
        return { kind: 'unusable', detail: `schema id ${id} is not in the ${this.description} (${messageOf(e)})` };
      if (status !== undefined || (e as HttpError).name === 'ResponseError')
        throw new RegistryUnavailableError(`${this.description} did not answer for schema id ${id}: ${messageOf(e)}`, { cause: e });
      // The registry answered, but the schema cannot be used (not Avro, or not parseable).
      return { kind: 'unusable', detail: `schema id ${id} cannot be read as Avro: ${messageOf(e)}` };
    }
    if (!avsc.Type.isType(type)) return { kind: 'unusable', detail: `schema id ${id} is not an Avro schema` };
    return { kind: 'found', type: type as AvroType };
  }
}

/** A fixed id -> schema map: for tests, benches, and decoding without a registry. */
export class StaticSchemaSource implements SchemaSource {
  readonly description = 'static schema map';
  private readonly types: Map<number, AvroType>;
  constructor(schemas: ReadonlyMap<number, object | AvroType>) {
    this.types = new Map([...schemas].map(([id, s]) => [id, avsc.Type.isType(s) ? (s as AvroType) : parseSchema(s)]));
  }
  lookup(id: number): Promise<SchemaLookup> {
    const type = this.types.get(id);
    return Promise.resolve(type === undefined ? { kind: 'unusable', detail: `schema id ${id} is not registered` } : { kind: 'found', type });
  }
}
