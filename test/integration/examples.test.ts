// examples/word-count against a real broker: the example runs as its own process, exactly as its
// README says (`node examples/word-count/main.ts --bootstrap-servers ...`), here with the package
// resolved to the sources (the `retail-streams-source` export condition); then the same under Deno.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { readTopic } from '../support/topic-reader.ts';
import { latestByKey } from '../support/reference.ts';
import { eventually } from '../support/kpi-check.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNTIMES = {
  node: [process.execPath, '--conditions=retail-streams-source'],
  deno: [`${ROOT}node_modules/.bin/deno`, 'run', '-A', '--conditions=retail-streams-source'],
} as const;

let kafka: KafkaCluster;
const live = new Set<ChildProcess>();

beforeAll(async () => {
  kafka = await startKafka();
});
afterAll(async () => {
  for (const p of live) p.kill('SIGKILL');
  await kafka?.stop();
});

interface Example {
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<number | null>;
}

function startWordCount(runtime: keyof typeof RUNTIMES, args: readonly string[]): Example {
  const [command, ...flags] = RUNTIMES[runtime];
  const proc = spawn(command, [...flags, 'examples/word-count/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let text = '';
  proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => (live.delete(proc), resolve(code))));
  return {
    output: () => text,
    async waitFor(pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (proc.exitCode !== null) throw new Error(`word-count exited (${proc.exitCode}) before ${pattern}:\n${text}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${text.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 90_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function produce(topic: string, lines: readonly string[]) {
  const producer = new Kafka({ clientId: 'examples-test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  // Keys spread the lines over the partitions; the example re-keys by word before counting.
  await producer.send({ topic, messages: lines.map((value, i) => ({ key: `line-${i}`, value })) });
  await producer.disconnect();
}

const countsIn = async (topic: string) => {
  const latest = latestByKey(await readTopic(kafka.bootstrap, topic));
  return Object.fromEntries([...latest].map(([word, count]) => [word, Number(count)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
};

describe.each(['node', 'deno'] as const)('examples/word-count on Kafka, under %s', (runtime) => {
  it('counts words across partitions, and goes on from its changelog after a restart', async () => {
    const [input, output] = [`sentences-${runtime}`, `word-counts-${runtime}`];
    const admin = new Kafka({ clientId: 'examples-test', brokers: kafka.bootstrap, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: input, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const args = ['--bootstrap-servers', kafka.bootstrap.join(','), '--application-id', `word-count-${runtime}`, '--input', input, '--output', output];

    await produce(input, ['The quick brown fox', 'jumps over the lazy dog', 'THE END. The end?', "Don't panic"]);
    const first = startWordCount(runtime, args);
    await first.waitFor(/-> RUNNING/);
    const expected = { brown: 1, dog: 1, "don't": 1, end: 2, fox: 1, jumps: 1, lazy: 1, over: 1, panic: 1, quick: 1, the: 4 };
    expect(await eventually(() => countsIn(output), (c) => JSON.stringify(c) === JSON.stringify(expected), 120_000)).toEqual(expected);
    expect(first.output()).toContain('Sub-topology: 1'); // the repartition by word splits the topology in two
    expect(await first.stop()).toBe(0);
    expect(first.output()).toContain('word-count: stopped');

    // A new process of the same application restores the counts from the changelog topic.
    const second = startWordCount(runtime, args);
    await second.waitFor(/-> RUNNING/);
    await produce(input, ['the fox, the dog']);
    const after = { ...expected, dog: 2, fox: 2, the: 6 };
    expect(await eventually(() => countsIn(output), (c) => JSON.stringify(c) === JSON.stringify(after), 120_000)).toEqual(after);
    expect(await second.stop()).toBe(0);
  });
});
