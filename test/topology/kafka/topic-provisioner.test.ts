import { describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { StreamsBuilder } from '../../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../../topology/api/serdes.ts';
import { RetailStreamsError } from '../../../topology/api/errors.ts';
import type { OutputTopicSpec } from '../../../topology/runtimes/kafka/config.ts';
import { provisionTopics, RepartitionPurger } from '../../../topology/runtimes/kafka/topic-provisioner.ts';
import { TopicNames } from '../../../topology/runtimes/kafka/topics.ts';
import { FakeBroker, kafkaError } from '../../support/fake-kafka.ts';
import { memoryLog } from './harness.ts';

const str = Serdes.string as Serde<string>;

/** orders (+ returns) -> selectKey -> by-store-repartition -> count(counts) -> out. */
function topology(inputs: readonly string[] = ['orders']) {
  const b = new StreamsBuilder();
  b.stream<string, string>(inputs, { keySerde: str, valueSerde: str })
    .selectKey((_k, v) => v)
    .groupByKey({ name: 'by-store' })
    .count({ storeName: 'counts' })
    .toStream()
    .to('out');
  return b.build();
}

function provision(broker: FakeBroker, o: { inputs?: readonly string[]; replicationFactor?: number; outputTopics?: readonly OutputTopicSpec[]; deadLetterQueueTopic?: string } = {}) {
  const t = topology(o.inputs);
  const admin = broker.kafka().admin() as unknown as Admin;
  const { log } = memoryLog();
  return provisionTopics(admin, t, new TopicNames('app', t), {
    applicationId: 'app',
    brokers: ['fake:9092'],
    replicationFactor: o.replicationFactor ?? 1,
    outputTopics: o.outputTopics ?? [],
    deadLetterQueueTopic: o.deadLetterQueueTopic,
    log,
  });
}

const configsOf = (broker: FakeBroker, topic: string) => {
  const c = broker.created.find((t) => t.topic === topic);
  return c === undefined ? undefined : { partitions: c.numPartitions, replicationFactor: c.replicationFactor, configs: Object.fromEntries(c.configEntries.map((e) => [e.name, e.value])) };
};

describe('provisionTopics', () => {
  it('fails with invalid-argument when an input topic does not exist, and creates nothing', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    const error = await provision(broker, { inputs: ['orders', 'returns'] }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RetailStreamsError);
    expect((error as RetailStreamsError).code).toBe('invalid-argument');
    expect((error as Error).message).toContain('"returns"');
    expect(broker.created).toEqual([]);
  });

  it('creates repartition topics with infinite retention and as many partitions as the input feeding them', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    await provision(broker);
    expect(configsOf(broker, 'app-by-store-repartition')).toEqual({
      partitions: 3,
      replicationFactor: 1,
      configs: { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1' },
    });
  });

  it('gives a repartition topic fed by several inputs the largest partition count among them', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    broker.createTopic('returns', 5);
    const counts = await provision(broker, { inputs: ['orders', 'returns'] });
    expect(configsOf(broker, 'app-by-store-repartition')?.partitions).toBe(5);
    expect(counts.get('by-store-repartition')).toBe(5);
  });

  it('creates compacted changelogs, with as many partitions as the sub-topology reading them', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 4);
    await provision(broker);
    expect(configsOf(broker, 'app-counts-changelog')).toEqual({ partitions: 4, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } });
    const changelogs = broker.created.filter((t) => t.topic.endsWith('-changelog'));
    expect(changelogs.length).toBeGreaterThanOrEqual(2);
    for (const c of changelogs) expect(c.configEntries).toContainEqual({ name: 'cleanup.policy', value: 'compact' });
  });

  it('creates the dead-letter topic with LogAppendTime', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    const counts = await provision(broker, { deadLetterQueueTopic: 'orders-dlq' });
    expect(configsOf(broker, 'orders-dlq')).toEqual({ partitions: 1, replicationFactor: 1, configs: { 'message.timestamp.type': 'LogAppendTime' } });
    expect(counts.get('orders-dlq')).toBe(1);
  });

  it('leaves an existing dead-letter topic as it is and reports its partitions', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    broker.createTopic('orders-dlq', 6);
    const counts = await provision(broker, { deadLetterQueueTopic: 'orders-dlq' });
    expect(configsOf(broker, 'orders-dlq')).toBeUndefined();
    expect(counts.get('orders-dlq')).toBe(6);
  });

  it('creates output topics as specified (compacted, LogAppendTime), and unspecified ones with one partition', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    await provision(broker, { outputTopics: [{ name: 'out', partitions: 2, compacted: true, logAppendTime: true }] });
    expect(configsOf(broker, 'out')).toEqual({ partitions: 2, replicationFactor: 1, configs: { 'cleanup.policy': 'compact', 'message.timestamp.type': 'LogAppendTime' } });
    const plain = new FakeBroker();
    plain.createTopic('orders', 3);
    await provision(plain);
    expect(configsOf(plain, 'out')).toEqual({ partitions: 1, replicationFactor: 1, configs: {} });
  });

  it('asks for min.insync.replicas=2 with a replication factor above 1', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    await provision(broker, { replicationFactor: 3 });
    for (const c of broker.created) {
      expect(c.replicationFactor).toBe(3);
      expect(c.configEntries).toContainEqual({ name: 'min.insync.replicas', value: '2' });
    }
  });

  it('creates nothing that exists, and returns the partition counts the broker has', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    broker.createTopic('app-by-store-repartition', 7);
    broker.createTopic('out', 2);
    const counts = await provision(broker);
    expect(broker.created.map((c) => c.topic)).not.toContain('app-by-store-repartition');
    expect(broker.created.map((c) => c.topic)).not.toContain('out');
    expect(counts.get('orders')).toBe(3);
    expect(counts.get('by-store-repartition')).toBe(7);
    expect(counts.get('out')).toBe(2);
    // The changelog of the sub-topology reading the repartition topic follows its 7 partitions.
    expect(configsOf(broker, 'app-counts-changelog')?.partitions).toBe(7);
  });

  it('sends every missing topic in one createTopics request', async () => {
    const broker = new FakeBroker();
    broker.createTopic('orders', 3);
    await provision(broker, { deadLetterQueueTopic: 'dlq' });
    expect(broker.ops(/createTopics/)).toHaveLength(1);
  });

  it('accepts a topic another member created a moment ago, and fails on any other error', async () => {
    const raced = new FakeBroker();
    raced.createTopic('orders', 3);
    raced.failNext('admin.createTopics', kafkaError('TOPIC_ALREADY_EXISTS', 'Topic with this name already exists'));
    await expect(provision(raced)).resolves.toBeInstanceOf(Map);
    const refused = new FakeBroker();
    refused.createTopic('orders', 3);
    const denied = kafkaError('TOPIC_AUTHORIZATION_FAILED', 'Not authorized to access topics');
    refused.failNext('admin.createTopics', denied);
    await expect(provision(refused)).rejects.toBe(denied);
  });
});

describe('RepartitionPurger', () => {
  function purger(intervalMs = 1_000) {
    const broker = new FakeBroker();
    broker.createTopic('app-r-repartition', 2);
    let now = 50_000;
    const { log } = memoryLog();
    const p = new RepartitionPurger(broker.kafka().admin() as unknown as Admin, intervalMs, () => now, log);
    return { broker, p, advance: (ms: number) => void (now += ms) };
  }
  const purges = (broker: FakeBroker) => broker.calls.filter((c) => c.op === 'admin.deleteTopicRecords').map((c) => c.detail);

  it('deletes committed records at most once per interval, counted on the injected clock', async () => {
    const { broker, p, advance } = purger(1_000);
    p.committedUpTo('app-r-repartition', 0, '10');
    await p.maybePurge();
    advance(999);
    await p.maybePurge();
    expect(purges(broker)).toEqual([]);
    advance(1);
    await p.maybePurge();
    expect(purges(broker)).toEqual([{ topic: 'app-r-repartition', partitions: [{ partition: 0, offset: '10' }] }]);
    expect(broker.lowOffset('app-r-repartition', 0)).toBe(10);
    p.committedUpTo('app-r-repartition', 0, '20');
    advance(500);
    await p.maybePurge();
    expect(purges(broker)).toHaveLength(1);
    advance(500);
    await p.maybePurge();
    expect(purges(broker)).toHaveLength(2);
  });

  it('purges the latest committed offset of every partition, once', async () => {
    const { broker, p, advance } = purger();
    p.committedUpTo('app-r-repartition', 0, '5');
    p.committedUpTo('app-r-repartition', 0, '8');
    p.committedUpTo('app-r-repartition', 1, '3');
    advance(1_000);
    await p.maybePurge();
    expect(purges(broker)).toEqual([{ topic: 'app-r-repartition', partitions: [{ partition: 0, offset: '8' }, { partition: 1, offset: '3' }] }]);
    advance(1_000);
    await p.maybePurge();
    expect(purges(broker)).toHaveLength(1);
  });

  it('does nothing without new commits, and purges at once when forced (on shutdown)', async () => {
    const { broker, p, advance } = purger();
    advance(5_000);
    await p.maybePurge();
    await p.maybePurge(true);
    expect(purges(broker)).toEqual([]);
    p.committedUpTo('app-r-repartition', 1, '4');
    await p.maybePurge(true);
    expect(purges(broker)).toHaveLength(1);
  });

  it('never fails on a purge that fails: the records go with the next one', async () => {
    const { broker, p, advance } = purger();
    broker.failNext('admin.deleteTopicRecords', kafkaError('NOT_LEADER_OR_FOLLOWER'));
    p.committedUpTo('app-r-repartition', 0, '10');
    advance(1_000);
    await expect(p.maybePurge()).resolves.toBeUndefined();
  });
});
