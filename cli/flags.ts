import { parseArgs } from 'node:util';
// Modules of effect rather than its index, which loads all of them: the CLI starts faster.
import * as Effect from 'effect/Effect';
import * as Either from 'effect/Either';
import * as ParseResult from 'effect/ParseResult';
import * as Schema from 'effect/Schema';
import { UsageError } from './errors.ts';

/** `500ms`, `60s`, `1m`, `2h`, or a bare number of milliseconds. */
export const Duration = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (text, _, ast) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
    if (m === null) return ParseResult.fail(new ParseResult.Type(ast, text, `"${text}" is not a duration like 500ms, 30s, 1m or 2h`));
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
    return ParseResult.succeed(Math.round(Number(m[1]) * unit));
  },
  encode: (ms) => ParseResult.succeed(`${ms}ms`),
});

export const PositiveDuration = Duration.pipe(Schema.filter((n) => n > 0 || 'must be greater than zero'));

/** An integer flag given as text. */
export const IntFromString = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  Schema.NumberFromString.pipe(Schema.int(), Schema.between(min, max));

/**
 * `--max-future`: how far ahead of the wall clock an event time may be before the record is
 * dead-lettered as `future-timestamp` (a duration), or `off` (Infinity).
 */
export const MaxFuture = Schema.Union(
  Schema.transform(Schema.Literal('off'), Schema.Number, { strict: true, decode: () => Number.POSITIVE_INFINITY, encode: () => 'off' as const }),
  PositiveDuration,
);

export const RatioFromString = Schema.NumberFromString.pipe(Schema.between(0, 1));

/** What `--topic-prefix` may hold: what a Kafka topic name may (run and watch name topics with it). */
export const TopicPrefix = Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9._-]*$/, { message: () => 'letters, digits, ".", "_" and "-" only (a Kafka topic name)' }));

type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * Parses flags strictly (an unknown or malformed flag is an error) and decodes them, with
 * environment variables as fallbacks, through one schema: one place validates configuration.
 */
export const decodeFlags = <A, I>(
  command: string,
  argv: readonly string[],
  spec: FlagSpec,
  schema: Schema.Schema<A, I>,
  env: Readonly<Record<string, string>> = {},
): Effect.Effect<A, UsageError> =>
  Effect.gen(function* () {
    const parsed = yield* Effect.try({
      try: () => parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: false }).values,
      catch: (e) => new UsageError({ message: `${command}: ${(e as Error).message}` }),
    });
    const raw: Record<string, unknown> = {};
    for (const [flag, envName] of Object.entries(env)) {
      const v = process.env[envName];
      if (v !== undefined && v !== '') raw[flag] = v;
    }
    for (const [k, v] of Object.entries(parsed)) if (v !== undefined) raw[k] = v;
    const result = Schema.decodeUnknownEither(schema, { errors: 'all', onExcessProperty: 'error' })(raw);
    if (Either.isLeft(result)) {
      const message = ParseResult.ArrayFormatter.formatErrorSync(result.left)
        .map((i) => `--${i.path.join('.')}: ${i.message}`)
        .join('\n  ');
      return yield* Effect.fail(new UsageError({ message: `${command}: invalid flags\n  ${message}` }));
    }
    return result.right;
  });
