import { Cause, Effect, Exit, Option } from 'effect';
import { exitCodeOf, UsageError, type CliError } from './errors.ts';
import { describeUsage, replayUsage, runUsage, simulateUsage, watchUsage } from './usage.ts';

const USAGE = `usage:
  ${simulateUsage}
  ${runUsage}
  ${replayUsage}
  ${watchUsage}
  ${describeUsage}
`;

type Command = (argv: readonly string[]) => Effect.Effect<void, CliError>;

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
  const program = load === undefined ? Effect.fail(new UsageError({ message: `unknown command "${name}"\n${USAGE}` })) : (await load())(rest);
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
