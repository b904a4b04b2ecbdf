import { createReadStream } from 'node:fs';
import { access, constants, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as Effect from 'effect/Effect';
import * as Either from 'effect/Either';
import * as ParseResult from 'effect/ParseResult';
import * as Schema from 'effect/Schema';
import { buildKpiTopology, KPI_DEAD_LETTER_HANDLER } from '../processors/kpi-topology.ts';
import { deadLetterFiles, fileOutputs, DATASETS } from '../processors/file-outputs.ts';
import { LATE_RECORDS, VALID_RECORDS } from '../processors/kpi-preaggregate.ts';
import { WINDOWS_CLOSED } from '../processors/kpi-combine.ts';
import { LocalFileStore } from '../sinks/local-store.ts';
import { DEAD_LETTER_RECORDS } from '../topology/internals/task.ts';
import { replayLines } from '../topology/runtimes/file-replay.ts';
import { DEFAULT_MAX_FUTURE_MS } from '../topology/runtimes/kafka/config.ts';
import { Duration, PositiveDuration, decodeFlags } from './flags.ts';
import { InputError, SinkError } from './errors.ts';

/** `off` (every timestamp is trusted), or how far ahead of the wall clock an invoice's time may be. */
const MaxFuture = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (text, _, ast) => {
    if (text.trim() === 'off') return ParseResult.succeed(Number.POSITIVE_INFINITY);
    const ms = Schema.decodeUnknownEither(Duration)(text);
    return Either.isRight(ms) ? ParseResult.succeed(ms.right) : ParseResult.fail(new ParseResult.Type(ast, text, `"${text}" is neither off nor a duration like 30m or 1h`));
  },
  encode: (ms) => ParseResult.succeed(ms === Number.POSITIVE_INFINITY ? 'off' : `${ms}ms`),
});

const ReplayFlags = Schema.Struct({
  input: Schema.String,
  out: Schema.optionalWith(Schema.String, { default: () => 'out' }),
  window: Schema.optionalWith(PositiveDuration, { default: () => 60_000 }),
  grace: Schema.optionalWith(Duration.pipe(Schema.filter((n) => n >= 0 || 'must not be negative')), { default: () => 600_000 }),
  overwrite: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  // An invoice stamped further ahead of the (real) wall clock is dead-lettered as future-timestamp.
  'max-future': Schema.optionalWith(MaxFuture, { default: () => DEFAULT_MAX_FUTURE_MS }),
});


export const replay = (argv: readonly string[]) =>
  Effect.gen(function* () {
    const flags = yield* decodeFlags(
      'replay',
      argv,
      { input: { type: 'string' }, out: { type: 'string' }, window: { type: 'string' }, grace: { type: 'string' }, overwrite: { type: 'boolean' }, 'max-future': { type: 'string' } },
      ReplayFlags,
    );
    if (flags.input !== '-') {
      yield* Effect.tryPromise({
        try: async () => {
          const s = await stat(flags.input);
          if (!s.isFile()) throw new Error('not a regular file');
          await access(flags.input, constants.R_OK);
        },
        catch: (e) => new InputError({ message: `replay: cannot read --input ${flags.input}: ${(e as Error).message}` }),
      });
    }
    // Committed file names are deterministic, so an earlier run's files would be taken as this
    // run's: like Spark's default save mode, refuse to mix them unless asked to overwrite.
    yield* Effect.tryPromise({
      try: async () => {
        for (const d of Object.values(DATASETS)) {
          const path = join(flags.out, d);
          const entries = await readdir(path).catch(() => []);
          if (entries.length === 0) continue;
          if (!flags.overwrite) throw new Error(`${path} already holds files from an earlier run; pass --overwrite or choose another --out`);
          await rm(path, { recursive: true, force: true });
        }
        await mkdir(flags.out, { recursive: true });
      },
      catch: (e) => new SinkError({ message: `replay: ${(e as Error).message}` }),
    });
    const store = new LocalFileStore(flags.out, { durable: false });
    const topology = buildKpiTopology({ inputTopic: 'invoices', windowMs: flags.window, graceMs: flags.grace, ...fileOutputs(store, 'flat') });
    const input = flags.input === '-' ? process.stdin : createReadStream(flags.input, { highWaterMark: 1 << 20 });
    const result = yield* Effect.tryPromise({
      try: () =>
        replayLines(topology, input, {
          topic: 'invoices',
          wallClock: Date.now,
          maxFutureMs: flags['max-future'],
          deserializationExceptionHandler: KPI_DEAD_LETTER_HANDLER,
          deadLetterSink: deadLetterFiles(store, 'flat'),
        }),
      catch: (e) => new InputError({ message: `replay: ${(e as Error).message}` }),
    });
    const m = (k: string) => result.metrics.get(k) ?? 0;
    const seconds = result.elapsedMs / 1000;
    // Every record the runtime dead-letters (invalid, or stamped too far ahead) was read and not counted.
    const read = m(VALID_RECORDS) + m(DEAD_LETTER_RECORDS);
    const summary = [
      `replay: ${flags.input === '-' ? 'stdin' : flags.input} -> ${flags.out}`,
      `  read      ${read}`,
      `  valid     ${m(VALID_RECORDS)}`,
      `  late      ${m(LATE_RECORDS)}`,
      `  invalid   ${m(DEAD_LETTER_RECORDS)}`,
      `  windows   ${m(WINDOWS_CLOSED)}`,
      `  rate      ${Math.round(read / Math.max(seconds, 1e-9))} invoices/s (${seconds.toFixed(2)} s)`,
      `  output    ${flags.out}/${DATASETS.time}/, ${flags.out}/${DATASETS.country}/, ${flags.out}/${DATASETS.deadLetter}/, ${flags.out}/${DATASETS.late}/`,
    ];
    yield* Effect.sync(() => process.stdout.write(summary.join('\n') + '\n'));
  });
