import { describe, expect, it } from 'vitest';
import { StreamsBuilder } from '../../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../../topology/api/serdes.ts';
import type { ExternalSink } from '../../../topology/api/sink.ts';
import type { FaultHooks } from '../../../topology/runtimes/kafka/config.ts';
import { ExactlyOnceCommitter } from '../../../topology/runtimes/kafka/eos-committer.ts';
import { FakeBroker, kafkaError, type FakeTransaction } from '../../support/fake-kafka.ts';
import { feed, raw, recordingHooks, taskSetup, text } from './harness.ts';

const str = Serdes.string as Serde<string>;
const T0 = Date.UTC(2017, 6, 1);

/** in (2 partitions) -> out, plus an external sink per task whose commits the broker's call log sees. */
async function setup(faults: FaultHooks = {}) {
  const broker = new FakeBroker();
  const b = new StreamsBuilder();
  const s = b.stream<string, string>('in', { keySerde: str, valueSerde: str });
  s.to('out', { keySerde: str, valueSerde: str });
  s.sink((taskId): ExternalSink<string, string> => ({
    write: () => {},
    commit: async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      broker.note(`sink-${taskId}`, 'sink.commit');
    },
    close: async () => {},
  }));
  const env = taskSetup(broker, b.build(), { guarantee: 'exactly-once', partitions: { in: 2, out: 1 } });
  const t0 = await env.tasks.taskFor('in', 0);
  const t1 = await env.tasks.taskFor('in', 1);
  feed(t0, 'in', raw([{ key: 'a', value: 'a1', timestamp: T0 }, { key: 'a', value: 'a2', timestamp: T0 + 1 }]));
  feed(t1, 'in', raw([{ key: 'b', value: 'b1', timestamp: T0 + 2 }]));
  const { hooks, events, committed } = recordingHooks();
  const committer = new ExactlyOnceCommitter('app', hooks, faults, env.log);
  // What starting the tasks did (fencing transactions, rewinds) is not what these tests look at.
  broker.calls.length = 0;
  const offsets = [
    { topic: 'in', partition: 0, offset: '2' },
    { topic: 'in', partition: 1, offset: '1' },
  ];
  return { broker, env, t0, t1, committer, events, committed, offsets };
}

/** The transactions a task's producer ran for commits (its first one only fenced older producers). */
const commitTransactions = (broker: FakeBroker, transactionalId: string): FakeTransaction[] => broker.producers.find((p) => p.who === transactionalId)!.transactions.slice(1);

const sentValues = (txn: FakeTransaction) => txn.sent.flatMap((s) => s.messages.map((m) => `${s.topic}:${text(m.value as Buffer)}`));

describe('ExactlyOnceCommitter', () => {
  it("puts each task's outputs, its offsets and the commit in one transaction of its own producer", async () => {
    const { broker, t0, t1, committer, committed, offsets } = await setup();
    expect(t0.producer).toBeDefined();
    expect(broker.producers.map((p) => [p.who, p.options.transactionalId])).toEqual([['app-0_0', 'app-0_0'], ['app-0_1', 'app-0_1']]);
    await committer.commit([t0, t1], offsets);
    expect(broker.ops(/^txn\.|sink.commit/)).toEqual([
      'app-0_0#2 txn.begin',
      'app-0_0#2 txn.sendBatch',
      'app-0_0#2 txn.sendOffsets',
      'sink-0_0 sink.commit',
      'app-0_0#2 txn.commit',
      'app-0_1#2 txn.begin',
      'app-0_1#2 txn.sendBatch',
      'app-0_1#2 txn.sendOffsets',
      'sink-0_1 sink.commit',
      'app-0_1#2 txn.commit',
    ]);
    const [txn0] = commitTransactions(broker, 'app-0_0');
    const [txn1] = commitTransactions(broker, 'app-0_1');
    expect(sentValues(txn0!)).toEqual(['out:a1', 'out:a2']);
    expect(sentValues(txn1!)).toEqual(['out:b1']);
    // Each transaction carries only its own task's offsets, for the application's group.
    expect(txn0!.offsets).toEqual([{ consumerGroupId: 'app', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '2' }] }] }]);
    expect(txn1!.offsets).toEqual([{ consumerGroupId: 'app', topics: [{ topic: 'in', partitions: [{ partition: 1, offset: '1' }] }] }]);
    expect(broker.records('out').map((r) => [r.writer, text(r.value)])).toEqual([['app-0_0', 'a1'], ['app-0_0', 'a2'], ['app-0_1', 'b1']]);
    expect([...broker.committed('app')].sort()).toEqual([['in/0', '2'], ['in/1', '1']]);
    // Offsets never go through the consumer under exactly-once.
    expect(broker.ops(/commitOffsets/)).toEqual([]);
    expect(committed).toEqual([[offsets[0]], [offsets[1]]]);
  });

  it('runs no transaction for a task with neither outputs nor offsets, but still commits its sinks', async () => {
    const { broker, t0, committer } = await setup();
    t0.takeOutputs();
    await committer.commit([t0], []);
    expect(broker.ops(/^txn\./)).toEqual([]);
    expect(broker.ops(/sink.commit/)).toEqual(['sink-0_0 sink.commit']);
  });

  it('calls hooks.fenced when the producer is fenced (PRODUCER_FENCED), and goes on with the other tasks', async () => {
    const { broker, t0, t1, committer, events, committed, offsets } = await setup();
    broker.failNext('txn.sendBatch', kafkaError('PRODUCER_FENCED'), /^app-0_0#/);
    await expect(committer.commit([t0, t1], offsets)).resolves.toBeUndefined();
    expect(events).toEqual(['fenced 0_0']);
    expect(broker.ops(/txn\.commit/)).toEqual(['app-0_1#2 txn.commit']);
    // A zombie neither retries nor commits anything.
    expect(commitTransactions(broker, 'app-0_0')).toHaveLength(1);
    expect(broker.committed('app').get('in/0')).toBeUndefined();
    expect(committed).toEqual([[offsets[1]]]);
  });

  it('calls hooks.fenced when the commit itself is refused as fenced (INVALID_PRODUCER_EPOCH)', async () => {
    const { broker, t0, committer, events, offsets } = await setup();
    broker.failNext('txn.commit', kafkaError('INVALID_PRODUCER_EPOCH'));
    await committer.commit([t0], offsets.slice(0, 1));
    expect(events).toEqual(['fenced 0_0']);
  });

  it('txnUnknownEvery: 1 makes every commit an unknown outcome: hooks.corrupted, first after committing, then before', async () => {
    const { broker, t0, t1, committer, events, committed, offsets } = await setup({ txnUnknownEvery: 1 });
    await committer.commit([t0, t1], offsets);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatch(/^corrupted 0_0: injected fault: commit done/);
    expect(events[1]).toMatch(/^corrupted 0_1: injected fault: commit not sent/);
    // The first went through, the second did not; neither is aborted, since its outcome is unknown.
    expect(commitTransactions(broker, 'app-0_0').map((t) => t.state)).toEqual(['committed']);
    expect(commitTransactions(broker, 'app-0_1').map((t) => t.state)).toEqual(['open']);
    expect(broker.ops(/txn\.abort/)).toEqual([]);
    expect(broker.values('out')).toEqual(['a1', 'a2']);
    // Unknown outcomes are not reported as committed: nothing may be purged on their account.
    expect(committed).toEqual([]);
  });

  it('txnUnknownEvery: 2 faults only every second commit', async () => {
    const { t0, t1, committer, events, offsets } = await setup({ txnUnknownEvery: 2 });
    await committer.commit([t0, t1], offsets);
    expect(events).toEqual([expect.stringMatching(/^corrupted 0_1: injected fault/)]);
  });

  it('calls hooks.corrupted when commit throws, without retrying or aborting', async () => {
    const { broker, t0, committer, events, committed, offsets } = await setup();
    broker.failNext('txn.commit', new Error('Request EndTxn timed out'));
    await committer.commit([t0], offsets.slice(0, 1));
    expect(events).toEqual(['corrupted 0_0: Request EndTxn timed out']);
    expect(broker.ops(/^txn\.(commit|abort)/)).toEqual(['app-0_0#2 txn.commit']);
    expect(commitTransactions(broker, 'app-0_0')).toHaveLength(1);
    expect(committed).toEqual([]);
  });

  it('calls hooks.corrupted when a failed transaction cannot be aborted', async () => {
    const { broker, t0, committer, events, offsets } = await setup();
    broker.failNext('txn.sendOffsets', kafkaError('COORDINATOR_NOT_AVAILABLE'));
    broker.failNext('txn.abort', new Error('abort failed'));
    await committer.commit([t0], offsets.slice(0, 1));
    expect(events).toEqual([expect.stringMatching(/^corrupted 0_0: /)]);
  });

  it('aborts a transaction that failed transiently and retries it with the same messages and offsets', async () => {
    const { broker, t0, committer, events, committed, offsets } = await setup();
    broker.failNext('txn.sendOffsets', kafkaError('NOT_COORDINATOR'));
    await committer.commit([t0], offsets.slice(0, 1));
    expect(events).toEqual([]);
    const [first, second] = commitTransactions(broker, 'app-0_0');
    expect([first!.state, second!.state]).toEqual(['aborted', 'committed']);
    expect(sentValues(second!)).toEqual(sentValues(first!));
    expect(second!.sent).toEqual(first!.sent);
    expect(second!.offsets).toEqual([{ consumerGroupId: 'app', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '2' }] }] }]);
    // The aborted attempt left nothing visible: each record is there once.
    expect(broker.values('out')).toEqual(['a1', 'a2']);
    expect(broker.committed('app').get('in/0')).toBe('2');
    expect(committed).toEqual([offsets.slice(0, 1)]);
  });
});
