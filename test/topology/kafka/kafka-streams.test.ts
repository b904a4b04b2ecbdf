import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { StreamsBuilder } from '../../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../../topology/api/serdes.ts';
import { RetailStreamsError } from '../../../topology/api/errors.ts';
import { KafkaStreams, type KafkaStreamsState, type UncaughtExceptionResponse } from '../../../topology/runtimes/kafka/kafka-streams.ts';
import type { KafkaStreamsConfig } from '../../../topology/runtimes/kafka/config.ts';
import { FakeBroker } from '../../support/fake-kafka.ts';
import { memoryLog } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const str = Serdes.string as Serde<string>;
const T0 = Date.UTC(2018, 3, 1);

/** in -> upper-case -> out; a value `bad` throws while `failures` says so. */
function upperCase(failures = { left: 0 }, boom = new Error('processor failed on purpose')) {
  const b = new StreamsBuilder();
  b.stream<string, string>('in', { keySerde: str, valueSerde: str })
    .mapValues((v) => {
      if (v === 'bad' && failures.left > 0) {
        failures.left--;
        throw boom;
      }
      return v.toUpperCase();
    })
    .to('out', { keySerde: str, valueSerde: str });
  return b.build();
}

function running(o: { failures?: { left: number }; boom?: Error; config?: Partial<KafkaStreamsConfig> } = {}) {
  const broker = new FakeBroker();
  broker.createTopic('in', 2);
  const { log, lines } = memoryLog();
  const streams = new KafkaStreams(upperCase(o.failures, o.boom), { applicationId: 'app', bootstrapServers: 'fake:9092', client: broker.client, logger: log, ...o.config });
  const states: string[] = [];
  streams.setStateListener((next, previous) => states.push(`${previous}->${next}`));
  return { broker, streams, states, lines };
}

const reach = (streams: KafkaStreams, state: KafkaStreamsState) => vi.waitFor(() => expect(streams.state).toBe(state), { timeout: 5_000, interval: 5 });

describe('KafkaStreams configuration', () => {
  it('needs only applicationId and bootstrapServers (a comma-separated list, trimmed)', async () => {
    const broker = new FakeBroker();
    broker.createTopic('in', 1);
    const config: KafkaStreamsConfig = { applicationId: 'word-count', bootstrapServers: ' a:9092, b:9092 ,' };
    const streams = new KafkaStreams(upperCase(), { ...config, client: broker.client, logger: memoryLog().log });
    expect(streams.state).toBe('CREATED');
    await streams.start();
    await reach(streams, 'RUNNING');
    expect(broker.clients.map((c) => [c.clientId, c.brokers])).toEqual([['word-count', ['a:9092', 'b:9092']]]);
    // The group is the application id.
    expect(broker.consumers.map((c) => c.groupId)).toEqual(['word-count']);
    await streams.close();
  });

  it('takes bootstrapServers as an array too', async () => {
    const broker = new FakeBroker();
    broker.createTopic('in', 1);
    const streams = new KafkaStreams(upperCase(), { applicationId: 'app', bootstrapServers: ['a:1', 'b:2'], client: broker.client, logger: memoryLog().log });
    await streams.start();
    expect(broker.clients[0]!.brokers).toEqual(['a:1', 'b:2']);
    await streams.close();
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
  ])('refuses a %s applicationId with a RetailStreamsError naming it', (_, applicationId) => {
    const create = () => new KafkaStreams(upperCase(), { applicationId, bootstrapServers: 'fake:9092' } as unknown as KafkaStreamsConfig);
    expect(create).toThrow(RetailStreamsError);
    expect(create).toThrow(/applicationId/);
    try {
      create();
    } catch (e) {
      expect((e as RetailStreamsError).code).toBe('invalid-argument');
    }
  });

  it.each([
    ['empty', ''],
    ['blank entries only', ' , '],
    ['an empty array', []],
  ])('refuses %s bootstrapServers with a RetailStreamsError naming them', (_, bootstrapServers) => {
    const create = () => new KafkaStreams(upperCase(), { applicationId: 'app', bootstrapServers } as unknown as KafkaStreamsConfig);
    expect(create).toThrow(RetailStreamsError);
    expect(create).toThrow(/bootstrapServers/);
  });

  // Leaving bootstrapServers out must give the clear error, not a TypeError from spreading undefined.
  it('refuses missing bootstrapServers with a RetailStreamsError naming them', () => {
    const create = () => new KafkaStreams(upperCase(), { applicationId: 'app' } as unknown as KafkaStreamsConfig);
    expect(create).toThrow(RetailStreamsError);
    expect(create).toThrow(/bootstrapServers/);
  });
});

describe('KafkaStreams stream threads (numStreamThreads)', () => {
  const bootstrapServers = '127.0.0.1:1';
  const module = new URL('../../support/threads-topology.ts', import.meta.url);

  it('above one thread, needs the topology from a module: worker threads cannot share functions', () => {
    const create = () => new KafkaStreams(upperCase(), { applicationId: 'app', bootstrapServers, numStreamThreads: 2 });
    expect(create).toThrow(RetailStreamsError);
    expect(create).toThrow(/KafkaStreams\.fromModule/);
    // One thread runs in the caller's thread: any topology will do.
    expect(() => new KafkaStreams(upperCase(), { applicationId: 'app', bootstrapServers, numStreamThreads: 1 })).not.toThrow();
  });

  it('fromModule builds the topology from the export, called with the data', async () => {
    const streams = await KafkaStreams.fromModule({ module, export: 'upperCase', data: 'shouted' }, { applicationId: 'app', bootstrapServers, numStreamThreads: 2 });
    expect(streams).toBeInstanceOf(KafkaStreams);
    const { calls } = await import('../../support/threads-topology.ts');
    expect(calls).toContain('shouted');
    await expect(KafkaStreams.fromModule({ module, export: 'missing' }, { applicationId: 'app', bootstrapServers })).rejects.toThrow(/no function export "missing"/);
  });

  it('refuses config functions that cannot reach the workers, naming the field', async () => {
    const build = (config: Partial<KafkaStreamsConfig>) => KafkaStreams.fromModule({ module, export: 'upperCase', data: 'out' }, { applicationId: 'app', bootstrapServers, numStreamThreads: 2, ...config });
    await expect(build({ deserializationExceptionHandler: () => 'continue' })).rejects.toThrow(/deserializationExceptionHandler is a function/);
    await expect(build({ clock: () => 0 })).rejects.toThrow(/clock is a function/);
    // A logger is fine: the workers' lines come back to it.
    await expect(build({ logger: memoryLog().log })).resolves.toBeInstanceOf(KafkaStreams);
  });
});

describe('KafkaStreams lifecycle', () => {
  it('goes CREATED -> REBALANCING -> RUNNING -> PENDING_SHUTDOWN -> NOT_RUNNING, processing and committing on the way', async () => {
    const { broker, streams, states } = running();
    broker.produce('in', 0, { key: 'k', value: 'hello', timestamp: T0 });
    expect(streams.state).toBe('CREATED');
    await streams.start();
    await reach(streams, 'RUNNING');
    await vi.waitFor(() => expect(broker.committed('app').get('in/0')).toBe('1'), { timeout: 5_000, interval: 5 });
    expect(broker.values('out')).toEqual(['HELLO']);
    expect(broker.records('out')[0]!.timestamp).toBe(String(T0));
    expect(streams.metrics().get('records-processed')).toBe(1);
    await streams.close();
    expect(states).toEqual(['CREATED->REBALANCING', 'REBALANCING->RUNNING', 'RUNNING->PENDING_SHUTDOWN', 'PENDING_SHUTDOWN->NOT_RUNNING']);
    expect(streams.state).toBe('NOT_RUNNING');
    // Left the group and let go of every connection.
    expect(broker.consumers[0]!.connected).toBe(false);
    expect(broker.producers.every((p) => p.disconnected)).toBe(true);
    expect(broker.ops(/admin.disconnect/)).toHaveLength(1);
  });

  it('close() is safe to call twice and before start()', async () => {
    const { streams, states } = running();
    await Promise.all([streams.close(), streams.close()]);
    await streams.close();
    expect(states).toEqual(['CREATED->PENDING_SHUTDOWN', 'PENDING_SHUTDOWN->NOT_RUNNING']);
  });

  it('start() is possible once only', async () => {
    const { streams } = running();
    await streams.start();
    await expect(streams.start()).rejects.toMatchObject({ code: 'invalid-argument' });
    await streams.close();
  });

  it('start() fails with invalid-argument when an input topic is missing, and ends in NOT_RUNNING', async () => {
    const broker = new FakeBroker();
    const streams = new KafkaStreams(upperCase(), { applicationId: 'app', bootstrapServers: 'fake:9092', client: broker.client, logger: memoryLog().log });
    const states: string[] = [];
    streams.setStateListener((next) => states.push(next));
    const error = await streams.start().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RetailStreamsError);
    expect((error as RetailStreamsError).code).toBe('invalid-argument');
    expect(states).toEqual(['REBALANCING', 'PENDING_SHUTDOWN', 'NOT_RUNNING']);
    expect(broker.ops(/admin.disconnect/)).toHaveLength(1);
  });

  it('refuses exactly-once on kafkajs, before connecting, naming the reason and the client to use', async () => {
    // Nothing listens on this port: the refusal must come before any connection attempt.
    const streams = new KafkaStreams(upperCase(), { applicationId: 'app', bootstrapServers: '127.0.0.1:1', client: 'kafkajs', processingGuarantee: 'exactly-once', logger: memoryLog().log });
    const started = Date.now();
    await expect(streams.start()).rejects.toMatchObject({ name: 'RetailStreamsError', code: 'invalid-argument', message: expect.stringMatching(/exactly-once is not available on the kafkajs client: .*aborted transactions.*--client platformatic/) });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(streams.state).toBe('NOT_RUNNING');
  });

  it('start() fails with broker-unreachable when the admin cannot connect', async () => {
    const { broker, streams } = running();
    broker.failNext('admin.connect', new Error('Connection timeout'));
    await expect(streams.start()).rejects.toMatchObject({ name: 'RetailStreamsError', code: 'broker-unreachable', message: expect.stringContaining('fake:9092') });
    expect(streams.state).toBe('NOT_RUNNING');
  });
});

describe('KafkaStreams when processing fails', () => {
  it('a processor throwing puts it in ERROR, calls the uncaught exception handler with the error, and commits nothing of the batch', async () => {
    const boom = new Error('processor failed on purpose');
    const { broker, streams, states } = running({ failures: { left: Number.POSITIVE_INFINITY }, boom });
    const handled: Error[] = [];
    streams.setUncaughtExceptionHandler((e) => void handled.push(e));
    const failure = streams.failure();
    await streams.start();
    await reach(streams, 'RUNNING');
    // One batch: a record processed, then one whose processor throws.
    broker.produce('in', 0, { key: 'k', value: 'fine', timestamp: T0 });
    broker.produce('in', 0, { key: 'k', value: 'bad', timestamp: T0 });
    await reach(streams, 'ERROR');
    expect(handled).toEqual([boom]);
    await expect(failure).resolves.toBe(boom);
    expect(states).toEqual(['CREATED->REBALANCING', 'REBALANCING->RUNNING', 'RUNNING->ERROR']);
    // Half the batch is in the task's state: none of it may be written or committed.
    expect(broker.values('out')).toEqual([]);
    expect(broker.committed('app').size).toBe(0);
    // The failed thread let go of the group.
    expect(broker.consumers[0]!.connected).toBe(false);
    await streams.close();
    expect(states.slice(-2)).toEqual(['ERROR->PENDING_SHUTDOWN', 'PENDING_SHUTDOWN->NOT_RUNNING']);
  });

  it('a consumer crash kafkajs will not restart from puts it in ERROR through the same handler', async () => {
    const { broker, streams, states } = running();
    const handled: Error[] = [];
    streams.setUncaughtExceptionHandler((e) => void handled.push(e));
    await streams.start();
    await reach(streams, 'RUNNING');
    const crash = new Error('group authorization failed');
    broker.consumers[0]!.emit(broker.consumers[0]!.events.CRASH, { error: crash, groupId: 'app', restart: false });
    await reach(streams, 'ERROR');
    expect(handled).toEqual([crash]);
    expect(states.at(-1)).toBe('RUNNING->ERROR');
    await streams.close();
  });

  it('an uncaught exception handler that throws counts as shutdown-client', async () => {
    const { broker, streams } = running({ failures: { left: 1 } });
    streams.setUncaughtExceptionHandler(() => {
      throw new Error('handler bug');
    });
    broker.produce('in', 1, { key: 'k', value: 'bad', timestamp: T0 });
    await streams.start();
    await reach(streams, 'ERROR');
    await streams.close();
  });

  it("'replace-thread' starts a new stream thread, which resumes from the last commit", async () => {
    const boom = new Error('processor failed once');
    const { broker, streams, states } = running({ failures: { left: 1 }, boom });
    const responses: UncaughtExceptionResponse[] = ['replace-thread'];
    const handled: Error[] = [];
    streams.setUncaughtExceptionHandler((e) => {
      handled.push(e);
      return responses.shift() ?? 'shutdown-client';
    });
    await streams.start();
    await reach(streams, 'RUNNING');
    broker.produce('in', 0, { key: 'k', value: 'ok', timestamp: T0 });
    broker.produce('in', 0, { key: 'k', value: 'bad', timestamp: T0 + 1 });
    await vi.waitFor(() => expect(broker.committed('app').get('in/0')).toBe('2'), { timeout: 5_000, interval: 5 });
    expect(handled).toEqual([boom]);
    expect(streams.state).toBe('RUNNING');
    expect(states).toEqual(['CREATED->REBALANCING', 'REBALANCING->RUNNING', 'RUNNING->REBALANCING', 'REBALANCING->RUNNING']);
    // A second client, a second member of the group; the first one left.
    expect(broker.clients).toHaveLength(2);
    expect(broker.consumers).toHaveLength(2);
    expect(broker.consumers[0]!.connected).toBe(false);
    expect(broker.consumers[1]!.connected).toBe(true);
    // The new thread read the batch again from the committed offset (none): each output once.
    expect(broker.values('out')).toEqual(['OK', 'BAD']);
    await streams.close();
    expect(streams.state).toBe('NOT_RUNNING');
  });
});

describe('KafkaStreams closed while a stream thread is starting', () => {
  /** Stops a thread the instance still holds after close(), so a failing test leaves nothing running. */
  const stopLeftover = async (streams: KafkaStreams) => {
    // Private on purpose: only the clean-up after a failed assertion reaches into it.
    await (streams as unknown as { thread?: { stop(): Promise<void> } }).thread?.stop();
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  // A close() during a slow start (a SIGTERM during provisioning or a restore) must not leave a
  // thread consuming once the start completes: the process must leave the group.
  it('close() during start() leaves no consumer running', async () => {
    const { broker, streams } = running();
    const slow = broker.holdNext('admin.connect');
    const started = streams.start();
    await vi.waitFor(() => expect(broker.clients).toHaveLength(1), { timeout: 5_000, interval: 5 });
    await streams.close();
    expect(streams.state).toBe('NOT_RUNNING');
    slow.release();
    await started.catch(() => {});
    await settle();
    try {
      expect(broker.consumers.filter((c) => c.connected).map((c) => c.who)).toEqual([]);
    } finally {
      await stopLeftover(streams);
    }
  });

  // The same for the thread that 'replace-thread' starts.
  it("close() while 'replace-thread' starts the new thread leaves no consumer running", async () => {
    const { broker, streams } = running({ failures: { left: 1 } });
    streams.setUncaughtExceptionHandler(() => 'replace-thread');
    await streams.start();
    await reach(streams, 'RUNNING');
    const slow = broker.holdNext('admin.connect');
    broker.produce('in', 0, { key: 'k', value: 'bad', timestamp: T0 });
    await vi.waitFor(() => expect(broker.clients).toHaveLength(2), { timeout: 5_000, interval: 5 });
    await streams.close();
    expect(streams.state).toBe('NOT_RUNNING');
    slow.release();
    await settle();
    try {
      expect(broker.consumers.filter((c) => c.connected).map((c) => c.who)).toEqual([]);
    } finally {
      await stopLeftover(streams);
    }
  });
});

describe('importing the library', () => {
  // The child records every module Node loads (import and require alike) through a synchronous
  // load hook, and the importer of each, so a kafkajs load can be traced to its import chain.
  const probe = `
    import { registerHooks } from 'node:module';
    const parents = new Map();
    const loaded = [];
    registerHooks({
      resolve(specifier, context, next) {
        const r = next(specifier, context);
        if (context.parentURL !== undefined && !parents.has(r.url)) parents.set(r.url, context.parentURL);
        return r;
      },
      load(url, context, next) {
        loaded.push(url);
        return next(url, context);
      },
    });
    const isKafkajs = (u) => u.includes('/node_modules/kafkajs/');
    const chainOf = (u) => {
      const chain = [u];
      while (parents.has(chain[0]) && chain.length < 50) chain.unshift(parents.get(chain[0]));
      return chain.map((c) => c.replace(process.cwd() + '/', '').replace('file://', ''));
    };
    const report = () => {
      const first = loaded.find(isKafkajs);
      return { kafkajsModules: loaded.filter(isKafkajs).length, chain: first === undefined ? [] : chainOf(first) };
    };
    await import('./index.ts');
    const afterIndex = report();
    // The control: the Kafka client module does load kafkajs, and the hook sees it.
    await import('./topology/runtimes/kafka/client/kafkajs.ts');
    const afterClient = report();
    process.stdout.write(JSON.stringify({ afterIndex, afterClient }));
  `;

  it('does not load kafkajs (checked in a child process that records every module loaded)', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', probe], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) =>
        error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
      ),
    );
    const { afterIndex, afterClient } = JSON.parse(out) as Record<'afterIndex' | 'afterClient', { kafkajsModules: number; chain: string[] }>;
    expect(afterClient.kafkajsModules, 'the probe must see kafkajs when client.ts loads it').toBeGreaterThan(0);
    expect(afterIndex.chain, `index.ts loads kafkajs through: ${afterIndex.chain.join(' -> ')}`).toEqual([]);
    expect(afterIndex.kafkajsModules).toBe(0);
  });
});
