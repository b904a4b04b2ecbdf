// A child process that runs one conformance case's topology with KafkaStreams until SIGTERM, for
// the broker tests that need several processes in one group or a process killed with SIGKILL:
//
//   node test/conformance/runner.ts '{"case":"word-count","prefix":"eos","applicationId":"cf-eos",
//     "bootstrap":["127.0.0.1:9092"],"guarantee":"exactly-once","stateDir":"/tmp/x"}'
//
// It reports on stdout, one JSON object per line: {"event":"started"}, {"event":"state","state":
// "RUNNING","previous":"REBALANCING"}, {"event":"error","message":...}, and on SIGTERM
// {"event":"metrics","metrics":{...}} then {"event":"closed"}. Logs go to stderr.
// Node runs it as is (type stripping), so is the topology: the same code as in the test process.
import { TEST_CLIENT } from '../support/client.ts';
import { pathToFileURL } from 'node:url';
import { KafkaStreams } from '../../index.ts';
import type { KafkaStreamsConfig } from '../../index.ts';
import { makeCase, type CaseName, type ConformanceCase } from './cases.ts';

export interface RunnerArgs {
  readonly case: CaseName;
  readonly prefix: string;
  readonly applicationId: string;
  readonly bootstrap: readonly string[];
  readonly guarantee: 'at-least-once' | 'exactly-once';
  readonly stateDir: string;
}

/** The KafkaStreams config of a case: the same in the test process and in a runner. */
export function streamsConfigFor(c: ConformanceCase, o: Omit<RunnerArgs, 'case' | 'prefix'>): KafkaStreamsConfig {
  return {
    applicationId: o.applicationId,
    bootstrapServers: o.bootstrap,
    processingGuarantee: o.guarantee,
    stateDir: o.stateDir,
    client: TEST_CLIENT,
    // Windows close on every partition's stream time; no partition of these tests is ever idle.
    idleMs: 600_000,
    // A killed member leaves the group within seconds (the broker's minimum is 6 s).
    sessionTimeoutMs: 6_000,
    deserializationExceptionHandler: 'log-and-continue',
    ...(c.deadLetterQueueTopic === undefined ? {} : { deadLetterQueueTopic: c.deadLetterQueueTopic }),
    outputTopics: c.outputTopics.map((t) => ({ name: t.name, partitions: t.partitions, compacted: t.compacted ?? false })),
  };
}

const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as RunnerArgs;
  const c = makeCase(args.case, args.prefix);
  const streams = new KafkaStreams(c.build(), streamsConfigFor(c, args));
  streams.setStateListener((state, previous) => say({ event: 'state', state, previous }));
  streams.setUncaughtExceptionHandler((error) => {
    say({ event: 'error', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  });
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      try {
        await streams.close();
        say({ event: 'metrics', metrics: Object.fromEntries(streams.metrics()) });
        say({ event: 'closed' });
        process.exit(0);
      } catch (e) {
        say({ event: 'error', message: `close failed: ${(e as Error).message}` });
        process.exit(1);
      }
    })();
  });
  await streams.start();
  say({ event: 'started' });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    say({ event: 'error', message: `start failed: ${(e as Error).message}` });
    process.exit(1);
  });
}
