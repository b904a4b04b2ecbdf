// effect loads only once a command runs: `--help` starts as fast as Node does.
import type * as Effect from 'effect/Effect';
import type { Logger, LogLevel } from '../topology/api/log.ts';
import type { CliError } from './errors.ts';
import { describeUsage, kafkaPasswordUsage, replayUsage, runUsage, simulateUsage, watchUsage } from './usage.ts';

const USAGE = `usage:
  ${simulateUsage}
  ${runUsage}
  ${replayUsage}
  ${watchUsage}
  ${describeUsage}
${kafkaPasswordUsage}
`;

/** What a command gets besides its flags. */
export interface CommandContext {
  /** A logger at the level `RS_LOG_LEVEL` names. */
  readonly logger: (name: string) => Logger;
  /** That level, for what runs elsewhere (the worker threads of `run --threads`); default info. */
  readonly logLevel?: LogLevel;
}

type Command = (argv: readonly string[], context: CommandContext) => Effect.Effect<void, CliError>;

// Loaded on demand: replay never pays for loading the Kafka client, and run never for replay.
const COMMANDS: Record<string, () => Promise<Command>> = {
  replay: async () => (await import('./replay.ts')).replay,
  run: async () => (await import('./run.ts')).run,
  simulate: async () => (await import('./simulate.ts')).simulate,
  watch: async () => (await import('./watch.ts')).watch,
  describe: async () => (await import('./describe.ts')).describeCommand,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  const [command, Cause, Effect, Exit, Option, Schema, { createLogger, LOG_LEVELS }, { exitCodeOf, UsageError }] = await Promise.all([
    load === undefined ? undefined : load(),
    import('effect/Cause'),
    import('effect/Effect'),
    import('effect/Exit'),
    import('effect/Option'),
    import('effect/Schema'),
    import('../topology/api/log.ts'),
    import('./errors.ts'),
  ]);
  /** `RS_LOG_LEVEL`, read here only: the library takes the level it is given. Unset means info. */
  const logLevelFrom = (value: string | undefined) =>
    value === undefined || value === ''
      ? Effect.succeed('info' as const)
      : Schema.decodeUnknown(Schema.Literal(...LOG_LEVELS))(value).pipe(
          Effect.mapError(() => new UsageError({ message: `RS_LOG_LEVEL=${value}: expected one of ${LOG_LEVELS.join(', ')}` })),
        );
  const program =
    command === undefined
      ? Effect.fail(new UsageError({ message: `unknown command "${name}"\n${USAGE}` }))
      : logLevelFrom(process.env.RS_LOG_LEVEL).pipe(Effect.flatMap((level) => command(rest, { logger: (logName) => createLogger(logName, level), logLevel: level })));
  const exit = await Effect.runPromiseExit(program);
  if (Exit.isSuccess(exit)) return 0;
  const failure = Cause.failureOption(exit.cause);
  if (Option.isSome(failure)) {
    process.stderr.write(`retail-streams: ${failure.value.message}\n`);
    return exitCodeOf(failure.value);
  }
  process.stderr.write(`retail-streams: unexpected error\n${Cause.pretty(exit.cause)}\n`);
  return 1;
}
