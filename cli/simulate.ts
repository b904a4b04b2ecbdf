import * as Effect from 'effect/Effect';
import * as Schema from 'effect/Schema';
import { simulate as produce } from '../simulator/producer.ts';
import { FEED_SHAPE, LINE_SHAPES } from '../simulator/generator.ts';
import { RetailStreamsError } from '../topology/api/errors.ts';
import { Duration, IntFromString, PositiveDuration, RatioFromString, decodeFlags } from './flags.ts';
import { Brokers, KAFKA_SECURITY_ENV, KAFKA_SECURITY_SPEC, KafkaSecurityFields, kafkaFailure, kafkaSecurityFrom } from './kafka-flags.ts';
import { BrokerError, SinkError, UsageError } from './errors.ts';
import { describeKafkaSecurity } from '../topology/runtimes/kafka/security.ts';
import { RegistryUnavailableError, SchemaRefusedError, type RegistryClientOptions } from '../processors/avro/registry.ts';
import { readFileSync } from 'node:fs';
import type { CommandContext } from './main.ts';

/** A schema registry base URL, e.g. http://127.0.0.1:8080/apis/ccompat/v7 (Confluent-compatible API). */
export const RegistryUrl = Schema.String.pipe(
  Schema.filter((s) => {
    try {
      const u = new URL(s);
      if (u.username !== '' || u.password !== '') return 'no credentials in the URL: set REGISTRY_USERNAME and REGISTRY_PASSWORD, or REGISTRY_TOKEN';
      return u.protocol === 'http:' || u.protocol === 'https:' || `"${s}" is not an http(s) URL`;
    } catch {
      return `"${s}" is not a URL like http://127.0.0.1:8080/apis/ccompat/v7`;
    }
  }),
);

function pemFile(flag: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${flag}: cannot read ${file} (${(e as { code?: string }).code ?? (e as Error).message})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${flag} ${file}: no PEM certificate in it`);
  return text;
}

/** A CA file (PEM) of a flag, read once; a UsageError names the flag. */
export const readPem = (command: string, flag: string, file: string): Effect.Effect<string, UsageError> =>
  Effect.try({ try: () => pemFile(flag, file), catch: (e) => new UsageError({ message: `${command}: ${(e as Error).message}` }) });

/**
 * The registry client's TLS and credentials: `--registry-ca FILE` (PEM), basic auth from
 * `REGISTRY_USERNAME` + `REGISTRY_PASSWORD`, or a bearer token from `REGISTRY_TOKEN` (never flags).
 */
export const registryOptionsFrom = (command: string, caFile: string | undefined): Effect.Effect<RegistryClientOptions, UsageError> =>
  Effect.try({
    try: () => {
      const env = process.env;
      const user = env.REGISTRY_USERNAME || undefined;
      const password = env.REGISTRY_PASSWORD || undefined;
      const token = env.REGISTRY_TOKEN || undefined;
      if (token !== undefined && (user !== undefined || password !== undefined)) throw new Error('REGISTRY_TOKEN and REGISTRY_USERNAME/REGISTRY_PASSWORD both set: give one kind of credential');
      if ((user === undefined) !== (password === undefined)) throw new Error('REGISTRY_USERNAME and REGISTRY_PASSWORD go together');
      const ca = caFile === undefined ? undefined : pemFile('--registry-ca', caFile);
      return {
        ...(ca === undefined ? {} : { ca }),
        ...(token !== undefined ? { auth: { token } } : user !== undefined && password !== undefined ? { auth: { username: user, password } } : {}),
      };
    },
    catch: (e) => new UsageError({ message: `${command}: ${(e as Error).message}` }),
  });

const IsoInstant = Schema.String.pipe(
  Schema.filter((s) => !Number.isNaN(Date.parse(s)) || `"${s}" is not an ISO-8601 instant`),
  Schema.transform(Schema.Number, { strict: true, decode: (s) => Date.parse(s), encode: (n) => new Date(n).toISOString() }),
);

const SimulateFlags = Schema.Struct({
  brokers: Brokers,
  topic: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => 'invoices' }),
  rate: Schema.optionalWith(IntFromString(0, 10_000_000), { default: () => 1000 }),
  duration: Schema.optional(PositiveDuration),
  count: Schema.optional(IntFromString(1)),
  format: Schema.optionalWith(Schema.Literal('json', 'avro'), { default: () => 'json' as const }),
  registry: Schema.optional(RegistryUrl),
  /** PEM of the CA of an https registry (default: the system CAs). */
  'registry-ca': Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** `incompatible` (not in the usage text) registers a schema the registry must refuse: for tests. */
  'schema-version': Schema.optionalWith(Schema.Literal('1', '2', 'incompatible'), { default: () => '1' as const }),
  seed: Schema.optionalWith(IntFromString(0, 2 ** 32 - 1), { default: () => 42 }),
  partitions: Schema.optionalWith(IntFromString(1, 1000), { default: () => 4 }),
  'late-ratio': Schema.optionalWith(RatioFromString, { default: () => 0 }),
  'bad-ratio': Schema.optionalWith(RatioFromString, { default: () => 0 }),
  'out-of-order-ratio': Schema.optionalWith(RatioFromString, { default: () => 0 }),
  start: Schema.optional(IsoInstant),
  /** The topology's grace: out-of-order invoices stay within it, late ones go past it. */
  grace: Schema.optionalWith(Duration, { default: () => 600_000 }),
  'event-rate': Schema.optional(IntFromString(1, 10_000_000)),
  /** `compact` JSON (the default) or `feed`: the original feed's formatting and event-time spread. */
  shape: Schema.optionalWith(Schema.Literal(...LINE_SHAPES), { default: () => 'compact' as const }),
  ...KafkaSecurityFields,
});


const s = { type: 'string' } as const;

export const simulate = (argv: readonly string[], context: CommandContext) =>
  Effect.gen(function* () {
    const flags = yield* decodeFlags(
      'simulate',
      argv,
      { ...Object.fromEntries(Object.keys(SimulateFlags.fields).map((k) => [k, s])), ...KAFKA_SECURITY_SPEC },
      SimulateFlags,
      { brokers: 'RS_BROKERS', registry: 'RS_REGISTRY', 'registry-ca': 'RS_REGISTRY_CA', ...KAFKA_SECURITY_ENV },
    );
    const security = yield* kafkaSecurityFrom('simulate', flags);
    const registryOptions = yield* registryOptionsFrom('simulate', flags['registry-ca']);
    if (flags.format === 'avro' && flags.registry === undefined)
      return yield* Effect.fail(new UsageError({ message: 'simulate: --format avro needs --registry URL (or RS_REGISTRY), a Confluent-compatible schema registry' }));
    if (flags.duration === undefined && flags.count === undefined && flags.rate === 0)
      return yield* Effect.fail(new UsageError({ message: 'simulate: --rate 0 (unlimited) needs --count or --duration' }));
    if (flags['late-ratio'] + flags['bad-ratio'] + flags['out-of-order-ratio'] > 1)
      return yield* Effect.fail(new UsageError({ message: 'simulate: --late-ratio + --bad-ratio + --out-of-order-ratio must not exceed 1' }));
    const log = context.logger('simulate');
    if (security !== undefined) log.info(`Kafka security: ${describeKafkaSecurity(security)}`);
    let stop = false;
    const onSignal = () => void (stop = true);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const result = yield* Effect.tryPromise({
      try: () =>
        produce({
          brokers: flags.brokers,
          security,
          topic: flags.topic,
          rate: flags.rate,
          partitions: flags.partitions,
          seed: flags.seed,
          lateRatio: flags['late-ratio'],
          badRatio: flags['bad-ratio'],
          outOfOrderRatio: flags['out-of-order-ratio'],
          graceMs: flags.grace,
          shape: flags.shape,
          format: flags.format,
          schemaVersion: flags['schema-version'],
          ...(flags.registry === undefined ? {} : { registry: flags.registry, registryOptions }),
          log,
          progress: (line) => process.stderr.write(`${line}\n`),
          shouldStop: () => stop,
          ...(flags.duration === undefined ? {} : { durationMs: flags.duration }),
          ...(flags.count === undefined ? {} : { count: flags.count }),
          ...(flags.start === undefined ? {} : { startTime: flags.start }),
          // The feed shape's own event rate (a few dozen a second) unless one is given.
          ...(flags['event-rate'] !== undefined ? { eventRate: flags['event-rate'] } : flags.shape === 'feed' ? { eventRate: FEED_SHAPE.eventRate } : {}),
        }),
      catch: (e) =>
        e instanceof SchemaRefusedError
          ? new SinkError({ message: `simulate: ${e.message}; nothing was sent` })
          : e instanceof RegistryUnavailableError
            ? new BrokerError({ message: `simulate: ${e.message}` })
            : kafkaFailure('simulate', e, security),
    }).pipe(Effect.ensuring(Effect.sync(() => (process.off('SIGINT', onSignal), process.off('SIGTERM', onSignal)))));
    const k = result.byKind;
    yield* Effect.sync(() =>
      process.stdout.write(
        `simulate: sent ${result.sent} invoices to ${flags.topic} in ${(result.elapsedMs / 1000).toFixed(1)} s, achieved ${Math.round(result.achievedRate)}/s (target ${flags.rate || 'unlimited'}/s); on-time ${k['on-time']}, out-of-order ${k['out-of-order']}, late ${k.late}, malformed ${k.bad}\n`,
      ),
    );
  });
