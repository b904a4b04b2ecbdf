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
  /** PEM of the CA that signed an https registry's certificate (default: the system CAs). */
  readonly ca?: string;
  /**
   * Credentials: HTTP basic auth (Confluent's `basic.auth.user.info`) or a bearer token
   * (`bearer.auth.token`). Never logged. Kerberos (SPNEGO) is not supported.
   */
  readonly auth?: { readonly username: string; readonly password: string } | { readonly token: string };
}

/** The registry asked for Kerberos (HTTP 401 with `WWW-Authenticate: Negotiate`), which this client cannot do. */
const SPNEGO = 'it asks for Kerberos (HTTP 401, WWW-Authenticate: Negotiate), which is not supported: use basic auth (REGISTRY_USERNAME and REGISTRY_PASSWORD) or a bearer token (REGISTRY_TOKEN)';

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

/** mappersmith middleware: every request gets a timeout (its default is none). */
const withTimeoutMiddleware = (timeout: number) => () => ({
  prepareRequest: (next: () => Promise<{ enhance(extras: { timeout: number }): unknown }>) => next().then((req) => req.enhance({ timeout })),
});

export class RegistryClient implements SchemaSource {
  readonly url: string;
  readonly description: string;
  // The client (and its HTTP stack) loads on the first request: decoding JSON never pays for it.
  private readonly sr: () => Promise<SchemaRegistry>;

  constructor(url: string, options: RegistryClientOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    const shown = new URL(this.url);
    shown.username = '';
    shown.password = '';
    const auth = options.auth === undefined ? '' : 'token' in options.auth ? ', bearer token' : `, user ${JSON.stringify(options.auth.username)}`;
    this.description = `schema registry at ${shown.toString().replace(/\/+$/, '')}${auth}${options.ca === undefined ? '' : ', custom CA'}`;
    const token = options.auth !== undefined && 'token' in options.auth ? options.auth.token : undefined;
    const basic = options.auth !== undefined && 'username' in options.auth ? { username: options.auth.username, password: options.auth.password } : undefined;
    this.ca = options.ca;
    const bearer = () => ({
      prepareRequest: (next: () => Promise<{ enhance(extras: { headers: Record<string, string> }): unknown }>) => next().then((req) => req.enhance({ headers: { authorization: `Bearer ${token}` } })),
    });
    const middlewares = [withTimeoutMiddleware(options.timeoutMs ?? 5_000), ...(token === undefined ? [] : [bearer])];
    let client: Promise<SchemaRegistry> | undefined;
    this.sr = () =>
      (client ??= Promise.all([import('@kafkajs/confluent-schema-registry'), options.ca === undefined ? undefined : import('node:https')]).then(
        ([{ SchemaRegistry, SchemaType }, https]) =>
          new SchemaRegistry(
            {
              host: this.url,
              clientId: options.clientId ?? 'retail-streams',
              middlewares: middlewares as never[],
              ...(basic === undefined ? {} : { auth: basic }),
              ...(https === undefined ? {} : { agent: new https.Agent({ ca: options.ca, keepAlive: true }) as never }),
            },
            { [SchemaType.AVRO]: avroOptions() },
          ),
      ));
  }

  private readonly ca: string | undefined;

  /**
   * What a 401/403 means, named for the user (no credential in it). The client's errors carry no
   * headers, so a 401 is asked again without credentials to see whether it wants Negotiate.
   */
  private async authProblem(status: number | undefined): Promise<string | undefined> {
    if (status === 401 && (await this.asksForNegotiate())) return SPNEGO;
    if (status === 401) return 'it refused the credentials (HTTP 401): check REGISTRY_USERNAME and REGISTRY_PASSWORD, or REGISTRY_TOKEN';
    if (status === 403) return 'it denied access (HTTP 403): the credentials lack the permission';
    return undefined;
  }

  private async asksForNegotiate(): Promise<boolean> {
    const url = `${this.url}/subjects`;
    const { request } = url.startsWith('https:') ? await import('node:https') : await import('node:http');
    return new Promise((resolve) => {
      const req = request(url, { method: 'GET', signal: AbortSignal.timeout(5_000), ...(this.ca === undefined ? {} : { ca: this.ca }) }, (res) => {
        res.resume();
        const h = res.headers['www-authenticate'];
        resolve(res.statusCode === 401 && /negotiate/i.test(Array.isArray(h) ? h.join(',') : (h ?? '')));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
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
      const auth = await this.authProblem(status);
      if (auth !== undefined) throw new RegistryUnavailableError(`cannot register subject ${subject} with the ${this.description}: ${auth}`, { cause: e });
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
      const auth = await this.authProblem(status);
      if (auth !== undefined) throw new RegistryUnavailableError(`${this.description} did not answer for schema id ${id}: ${auth}`, { cause: e });
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
