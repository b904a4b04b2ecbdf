import { describe, expect, it } from 'vitest';
import { StreamsBuilder } from '../../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../../topology/api/serdes.ts';
import type { ExternalSink } from '../../../topology/api/sink.ts';
import { RetailStreamsError } from '../../../topology/api/errors.ts';
import type { ProductionHandler } from '../../../topology/api/handlers.ts';
import { AtLeastOnceCommitter } from '../../../topology/runtimes/kafka/alos-committer.ts';
import { FakeBroker, kafkaError, nonRetriableKafkaError, wrappedKafkaError } from '../../support/fake-kafka.ts';
import { feed, raw, recordingHooks, taskSetup } from './harness.ts';

const str = Serdes.string as Serde<string>;
const T0 = Date.UTC(2016, 2, 1);

/** in -> out, and the same records to an external sink whose commit the broker's call log sees. */
function setup(handler: ProductionHandler = 'fail') {
  const broker = new FakeBroker();
  const b = new StreamsBuilder();
  const s = b.stream<string, string>('in', { keySerde: str, valueSerde: str });
  s.to('out', { keySerde: str, valueSerde: str });
  s.sink((taskId): ExternalSink<string, string> => ({
    write: () => {},
    commit: async () => {
      // Slower than any broker call: a committer that does not wait for it shows up in the order.
      await new Promise((resolve) => setTimeout(resolve, 20));
      broker.note(`sink-${taskId}`, 'sink.commit');
    },
    close: async () => {},
  }));
  const env = taskSetup(broker, b.build(), { partitions: { in: 2, out: 1 } });
  const { hooks, events, committed, metrics } = recordingHooks();
  const committer = new AtLeastOnceCommitter(env.kafka, () => env.consumer, hooks, handler, env.log);
  return { broker, env, committer, events, committed, metrics };
}

const offsets = (...o: [number, number][]) => o.map(([partition, offset]) => ({ topic: 'in', partition, offset: String(offset) }));

describe('AtLeastOnceCommitter', () => {
  it('commits the sinks, then sends the outputs, then commits the offsets', async () => {
    const { broker, env, committer, committed } = setup();
    await committer.start();
    const t = await env.tasks.taskFor('in', 0);
    feed(t, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }, { key: 'b', value: '2', timestamp: T0 + 1 }]));
    broker.calls.length = 0;
    await committer.commit([t], offsets([0, 2]));
    expect(broker.ops(/sink.commit|sendBatch|commitOffsets/)).toEqual(['sink-0_0 sink.commit', 'producer-1 producer.sendBatch', 'consumer-1 consumer.commitOffsets']);
    expect(broker.values('out')).toEqual(['1', '2']);
    expect(broker.records('out').map((r) => r.timestamp)).toEqual([String(T0), String(T0 + 1)]);
    expect(broker.committed('app').get('in/0')).toBe('2');
    expect(committed).toEqual([offsets([0, 2])]);
  });

  it('sends what every task produced in one batch, acknowledged by all in-sync replicas, by a producer without a transactional id', async () => {
    const { broker, env, committer } = setup();
    await committer.start();
    const t0 = await env.tasks.taskFor('in', 0);
    const t1 = await env.tasks.taskFor('in', 1);
    feed(t0, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }]));
    feed(t1, 'in', raw([{ key: 'b', value: '2', timestamp: T0 }]));
    await committer.commit([t0, t1], offsets([0, 1], [1, 1]));
    expect(broker.ops(/sendBatch/)).toHaveLength(1);
    // Not transactional: the port's producers are idempotent (the adapters' guarantee), this one has no transactional id.
    expect(broker.producers[0]!.options).not.toHaveProperty('transactionalId');
    expect(broker.values('out').sort()).toEqual(['1', '2']);
    expect([...broker.committed('app')].sort()).toEqual([['in/0', '1'], ['in/1', '1']]);
  });

  it('does not commit offsets when the outputs could not be sent', async () => {
    const { broker, env, committer, committed } = setup();
    await committer.start();
    const t = await env.tasks.taskFor('in', 0);
    feed(t, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }]));
    broker.rejectRecord = () => kafkaError('MESSAGE_TOO_LARGE');
    await expect(committer.commit([t], offsets([0, 1]))).rejects.toThrow();
    expect(broker.ops(/commitOffsets/)).toEqual([]);
    expect(broker.committed('app').size).toBe(0);
    expect(committed).toEqual([]);
  });

  it.each([
    ['OUT_OF_ORDER_SEQUENCE_NUMBER', kafkaError('OUT_OF_ORDER_SEQUENCE_NUMBER')],
    ['UNKNOWN_PRODUCER_ID wrapped by the retrier', wrappedKafkaError('UNKNOWN_PRODUCER_ID')],
  ])('renews the producer after a sequence-number loss (%s) and sends again with the new one', async (_, error) => {
    const { broker, env, committer } = setup();
    await committer.start();
    const t = await env.tasks.taskFor('in', 0);
    feed(t, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }]));
    broker.failNext('producer.sendBatch', error, /^producer-1$/);
    await committer.commit([t], offsets([0, 1]));
    expect(broker.producers.map((p) => p.who)).toEqual(['producer-1', 'producer-2']);
    expect(broker.producers[0]!.disconnected).toBe(true);
    expect(broker.ops(/sendBatch/)).toEqual(['producer-1 producer.sendBatch', 'producer-2 producer.sendBatch']);
    expect(broker.records('out').map((r) => [r.writer, r.value?.toString()])).toEqual([['producer-2', '1']]);
    expect(broker.committed('app').get('in/0')).toBe('1');
  });

  it('keeps its producer after a failure that is not a sequence-number loss', async () => {
    const { broker, env, committer } = setup();
    await committer.start();
    const t = await env.tasks.taskFor('in', 0);
    feed(t, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }]));
    broker.failNext('producer.sendBatch', kafkaError('NOT_LEADER_OR_FOLLOWER'));
    await committer.commit([t], offsets([0, 1]));
    expect(broker.producers).toHaveLength(1);
    expect(broker.ops(/sendBatch/)).toEqual(['producer-1 producer.sendBatch', 'producer-1 producer.sendBatch']);
    expect(broker.values('out')).toEqual(['1']);
  });

  it.each(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID'])('counts an offset commit lost to a rebalance (%s) instead of failing', async (type) => {
    const { broker, env, committer, committed, metrics } = setup();
    await committer.start();
    const t = await env.tasks.taskFor('in', 0);
    feed(t, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }]));
    broker.failNext('consumer.commitOffsets', kafkaError(type));
    await expect(committer.commit([t], offsets([0, 1]))).resolves.toBeUndefined();
    expect(metrics.get('commits-lost-to-rebalance')).toBe(1);
    // Nothing was committed, so nothing may be purged.
    expect(committed).toEqual([]);
    expect(broker.values('out')).toEqual(['1']);
  });

  // kafkajs's retrier passes an error it does not retry on as a KafkaJSNonRetriableError whose
  // `cause` is the protocol error: a member the coordinator dropped (session expired) must not fail the instance.
  it('counts a commit refused with UNKNOWN_MEMBER_ID as kafkajs wraps it (in `cause`) as lost to a rebalance', async () => {
    const { broker, env, committer, metrics } = setup();
    await committer.start();
    const t = await env.tasks.taskFor('in', 0);
    feed(t, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }]));
    broker.failNext('consumer.commitOffsets', nonRetriableKafkaError('UNKNOWN_MEMBER_ID'));
    await expect(committer.commit([t], offsets([0, 1]))).resolves.toBeUndefined();
    expect(metrics.get('commits-lost-to-rebalance')).toBe(1);
  });

  it('fails on an offset commit error that is not a rebalance', async () => {
    const { broker, env, committer, metrics } = setup();
    await committer.start();
    const t = await env.tasks.taskFor('in', 0);
    feed(t, 'in', raw([{ key: 'a', value: '1', timestamp: T0 }]));
    const refused = kafkaError('GROUP_AUTHORIZATION_FAILED');
    broker.failNext('consumer.commitOffsets', refused);
    await expect(committer.commit([t], offsets([0, 1]))).rejects.toBe(refused);
    expect(metrics.get('commits-lost-to-rebalance')).toBeUndefined();
  });

  describe('a record the broker refuses (MESSAGE_TOO_LARGE)', () => {
    const tooLarge = (broker: FakeBroker) => {
      broker.rejectRecord = (_topic, m) => (m.value?.toString() === 'huge' ? kafkaError('MESSAGE_TOO_LARGE') : undefined);
    };
    const records = raw([
      { key: 'a', value: 'small-1', timestamp: T0 },
      { key: 'b', value: 'huge', timestamp: T0 },
      { key: 'c', value: 'small-2', timestamp: T0 },
    ]);

    it("handler 'fail': the commit fails with a fatal RetailStreamsError, at once, and commits no offsets", async () => {
      const { broker, env, committer } = setup('fail');
      await committer.start();
      const t = await env.tasks.taskFor('in', 0);
      feed(t, 'in', records);
      tooLarge(broker);
      const error = await committer.commit([t], offsets([0, 3])).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(RetailStreamsError);
      expect((error as RetailStreamsError).code).toBe('fatal');
      expect((error as RetailStreamsError).message).toMatch(/out/);
      // Not retried: another attempt cannot make the record smaller.
      expect(broker.ops(/sendBatch/)).toHaveLength(1);
      expect(broker.committed('app').size).toBe(0);
    });

    it("handler 'continue': the other records are sent, the refused one is counted as dropped, the offsets commit", async () => {
      const { broker, env, committer, metrics } = setup('continue');
      await committer.start();
      const t = await env.tasks.taskFor('in', 0);
      feed(t, 'in', records);
      tooLarge(broker);
      await committer.commit([t], offsets([0, 3]));
      expect(broker.values('out')).toEqual(['small-1', 'small-2']);
      expect(metrics.get('dropped-records')).toBe(1);
      expect(broker.committed('app').get('in/0')).toBe('3');
    });

    it('a function handler is asked with the topic and the error', async () => {
      const asked: { topic: string; type: unknown }[] = [];
      const { broker, env, committer, metrics } = setup((c) => {
        asked.push({ topic: c.topic, type: (c.error as { type?: string }).type });
        return 'continue';
      });
      await committer.start();
      const t = await env.tasks.taskFor('in', 0);
      feed(t, 'in', records);
      tooLarge(broker);
      await committer.commit([t], offsets([0, 3]));
      expect(asked[0]).toEqual({ topic: 'out', type: 'MESSAGE_TOO_LARGE' });
      expect(metrics.get('dropped-records')).toBe(1);
    });
  });

  it('close() disconnects its producer', async () => {
    const { broker, committer } = setup();
    await committer.start();
    await committer.close();
    expect(broker.producers[0]!.disconnected).toBe(true);
  });
});
