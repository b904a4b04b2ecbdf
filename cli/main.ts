import { Cause, Effect, Exit, Option } from 'effect';
import { exitCodeOf, UsageError, type CliError } from './errors.ts';
import { replay, replayUsage } from './replay.ts';
import { describeCommand } from './describe.ts';
import { run, runUsage } from './run.ts';
import { simulate, simulateUsage } from './simulate.ts';
import { watch, watchUsage } from './watch.ts';

const USAGE = `usage:
  ${simulateUsage}
  ${runUsage}
  ${replayUsage}
  ${watchUsage}
  retail-streams describe [--window 1m] [--grace 10m]
`;

type Command = (argv: readonly string[]) => Effect.Effect<void, CliError>;

const COMMANDS: Record<string, Command> = {
  replay,
  run,
  simulate,
  watch,
  describe: describeCommand,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  const program = command === undefined ? Effect.fail(new UsageError({ message: `unknown command "${name}"\n${USAGE}` })) : command(rest);
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
