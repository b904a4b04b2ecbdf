// The @platformatic/kafka adapter driven directly through the client port against a real broker:
// group membership with the port's assigner, GROUP_JOIN before the first fetch, pause/resume,
// offsets with metadata, rebalancing, idempotent and transactional produce (KIP-447 offsets),
// fencing, DeleteRecords and DescribeGroups.
import * as pk from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portError } from '../../topology/runtimes/kafka/client/platformatic/errors.ts';
import { platformaticClient } from '../../topology/runtimes/kafka/client/platformatic.ts';
import type { Consumer, EachBatchPayload, FetchedMessage, GroupAssignerFactory, KafkaClient } from '../../topology/runtimes/kafka/client/port.ts';
import { decodeMemberAssignment, decodeMemberMetadata, encodeMemberAssignment, encodeMemberMetadata } from '../../topology/runtimes/kafka/group-protocol.ts';
import { kafkaErrorType } from '../../topology/runtimes/kafka/errors.ts';
import { memoryLog } from '../support/memory-log.ts';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A test assigner: each member says who it is in its user data; the leader records what it read
 * and deals the partitions of every topic round-robin over the members sorted by that name.
 */
function dealer(name: string, seen: Map<string, string>[]): GroupAssignerFactory {
  return (cluster) => ({
    name: 'test-dealer',
    version: 0,
    protocol: ({ topics }) => ({ name: 'test-dealer', metadata: encodeMemberMetadata({ version: 0, topics, userData: Buffer.from(name) }) }),
    assign: async ({ members, topics }) => {
      await sleep(20); // the port's assign is asynchronous: the runtime's awaits end offsets
      const byName = new Map(members.map((m) => [decodeMemberMetadata(m.memberMetadata).userData!.toString(), m.memberId]));
      seen.push(byName);
      const names = [...byName.keys()].sort();
      const out = new Map(names.map((n) => [n, {} as Record<string, number[]>]));
      for (const topic of topics) {
        const count = cluster.partitionCount(topic) ?? 0;
        for (let p = 0; p < count; p++) (out.get(names[p % names.length]!)![topic] ??= []).push(p);
      }
      return names.map((n) => ({ memberId: byName.get(n)!, memberAssignment: encodeMemberAssignment({ version: 0, assignment: out.get(n)! }) }));
    },
  });
}

interface Run {
  readonly consumer: Consumer;
  readonly got: (FetchedMessage & { partition: number })[];
  readonly joins: Record<string, number[]>[];
  readonly order: string[];
}

async function runConsumer(client: KafkaClient, o: { groupId: string; topic: string; name: string; seen: Map<string, string>[]; onJoin?: (c: Consumer, a: Record<string, number[]>) => void; autoResolve?: boolean }): Promise<Run> {
  const consumer = client.consumer({ groupId: o.groupId, assigner: dealer(o.name, o.seen), sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  const run: Run = { consumer, got: [], joins: [], order: [] };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    run.order.push('join');
    run.joins.push(e.payload.memberAssignment);
    o.onJoin?.(consumer, e.payload.memberAssignment);
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: o.autoResolve ?? true,
    eachBatch: async ({ batch }: EachBatchPayload) => {
      run.order.push(`batch ${batch.partition}@${batch.messages[0]?.offset}`);
      for (const m of batch.messages) run.got.push({ ...m, partition: batch.partition });
    },
  });
  return run;
}

describe('@platformatic/kafka adapter through the port', () => {
  let kafka: KafkaCluster;
  let client: KafkaClient;
  const { log } = memoryLog();

  beforeAll(async () => {
    kafka = await startKafka();
    client = platformaticClient({ clientId: 'pk-it', brokers: kafka.bootstrap, log });
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  const admin = () => client.admin();

  async function topic(name: string, partitions: number): Promise<string> {
    const a = admin();
    await a.connect();
    await a.createTopics({ topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1, configEntries: [] }], waitForLeaders: true });
    await a.disconnect();
    return name;
  }

  async function produce(t: string, partition: number, values: string[]): Promise<string[]> {
    const p = client.producer();
    await p.connect();
    const meta = await p.sendBatch({ topicMessages: [{ topic: t, messages: values.map((v) => ({ key: Buffer.from(v), value: Buffer.from(v), partition })) }], acks: -1 });
    await p.disconnect();
    return meta.map((m) => m.baseOffset!);
  }

  it('creates topics (again: false), lists them, and reads their offsets', async () => {
    const a = admin();
    await a.connect();
    expect(await a.createTopics({ topics: [{ topic: 'meta', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true })).toBe(true);
    expect(await a.createTopics({ topics: [{ topic: 'meta', numPartitions: 3, replicationFactor: 1, configEntries: [] }], waitForLeaders: true })).toBe(false);
    const all = await a.fetchTopicMetadata({ topics: [] });
    expect(all.topics.find((t) => t.name === 'meta')?.partitions.map((p) => p.partitionId)).toEqual([0, 1, 2]);
    await produce('meta', 1, ['a', 'b']);
    expect(await a.fetchTopicOffsets('meta')).toEqual([
      { partition: 0, low: '0', high: '0' },
      { partition: 1, low: '0', high: '2' },
      { partition: 2, low: '0', high: '0' },
    ]);
    await a.disconnect();
  });

  it('joins with the port assigner (its user data reaches the leader); GROUP_JOIN comes before the first fetch and a seek in it decides where fetching starts', async () => {
    const t = await topic('join', 2);
    await produce(t, 0, ['a0', 'a1', 'a2', 'a3']);
    await produce(t, 1, ['b0', 'b1']);
    const seen: Map<string, string>[] = [];
    const r = await runConsumer(client, { groupId: 'g-join', topic: t, name: 'solo', seen, onJoin: (c) => c.seek({ topic: t, partition: 0, offset: '2' }) });
    await until('4 records', () => r.got.length >= 4);
    await sleep(300);
    // A group of one member still goes through the assigner.
    expect(seen.length).toBe(1);
    expect([...seen[0]!.keys()]).toEqual(['solo']);
    expect(r.joins).toEqual([{ [t]: [0, 1] }]);
    expect(r.order[0]).toBe('join');
    expect(r.got.filter((m) => m.partition === 0).map((m) => m.value!.toString())).toEqual(['a2', 'a3']);
    expect(r.got.filter((m) => m.partition === 1).map((m) => m.value!.toString())).toEqual(['b0', 'b1']);
    await r.consumer.disconnect();
  });

  it('pauses and resumes a partition, and a whole topic', async () => {
    const t = await topic('pause', 2);
    const seen: Map<string, string>[] = [];
    const r = await runConsumer(client, { groupId: 'g-pause', topic: t, name: 'solo', seen, onJoin: (c) => c.pause([{ topic: t, partitions: [1] }]) });
    await until('the join', () => r.joins.length === 1);
    await produce(t, 0, ['x']);
    await produce(t, 1, ['y']);
    await until('partition 0', () => r.got.length === 1);
    await sleep(500);
    expect(r.got.map((m) => m.value!.toString())).toEqual(['x']);
    r.consumer.resume([{ topic: t, partitions: [1] }]);
    await until('partition 1', () => r.got.length === 2);
    r.consumer.pause([{ topic: t }]);
    await sleep(200);
    await produce(t, 0, ['z']);
    await sleep(600);
    expect(r.got.length).toBe(2);
    r.consumer.resume([{ topic: t }]);
    await until('after resume', () => r.got.length === 3);
    await r.consumer.disconnect();
  });

  it('commits offsets with metadata, read back by admin.fetchOffsets; a restarted member goes on from them', async () => {
    const t = await topic('commit', 2);
    await produce(t, 0, ['a', 'b', 'c']);
    const seen: Map<string, string>[] = [];
    const r = await runConsumer(client, { groupId: 'g-commit', topic: t, name: 'solo', seen });
    await until('3 records', () => r.got.length === 3);
    await r.consumer.commitOffsets([{ topic: t, partition: 0, offset: '2', metadata: 'stream-time=42' }]);
    const a = admin();
    await a.connect();
    expect(await a.fetchOffsets({ groupId: 'g-commit', topics: [t] })).toEqual([
      { topic: t, partitions: [{ partition: 0, offset: '2', metadata: 'stream-time=42' }, { partition: 1, offset: '-1', metadata: null }] },
    ]);
    await r.consumer.disconnect();
    const again = await runConsumer(client, { groupId: 'g-commit', topic: t, name: 'solo', seen });
    await until('the rest', () => again.got.length === 1);
    expect(again.got.map((m) => m.value!.toString())).toEqual(['c']);
    await again.consumer.disconnect();
    // A commit of a member that is not in the group any more is refused with the protocol error's name.
    const stale = client.consumer({ groupId: 'g-commit', assigner: dealer('x', []) });
    await stale.connect();
    const other = await runConsumer(client, { groupId: 'g-commit', topic: t, name: 'other', seen });
    await until('the other member', () => other.joins.length === 1);
    const error = await stale.commitOffsets([{ topic: t, partition: 0, offset: '1' }]).catch((e: unknown) => e);
    expect(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']).toContain(kafkaErrorType(error));
    await other.consumer.disconnect();
    await stale.disconnect();
    await a.disconnect();
  });

  it('splits partitions between two members and rebalances when one stops; describeGroups gives the raw member bytes', async () => {
    const t = await topic('split', 4);
    const seen: Map<string, string>[] = [];
    const a = await runConsumer(client, { groupId: 'g-split', topic: t, name: 'a', seen });
    await until('a joined', () => a.joins.length === 1);
    const b = await runConsumer(client, { groupId: 'g-split', topic: t, name: 'b', seen });
    await until('both in the second generation', () => b.joins.length >= 1 && a.joins.length >= 2, 60_000);
    expect(a.joins.at(-1)).toEqual({ [t]: [0, 2] });
    expect(b.joins.at(-1)).toEqual({ [t]: [1, 3] });
    expect([...seen.at(-1)!.keys()].sort()).toEqual(['a', 'b']);
    const ad = admin();
    await ad.connect();
    const { groups } = await ad.describeGroups(['g-split']);
    expect(groups[0]!.state).toBe('Stable');
    const members = groups[0]!.members.map((m) => ({ user: decodeMemberMetadata(m.memberMetadata).userData!.toString(), assignment: decodeMemberAssignment(m.memberAssignment)!.assignment, clientId: m.clientId }));
    expect(members.sort((x, y) => x.user.localeCompare(y.user)).map((m) => [m.user, m.assignment])).toEqual([
      ['a', { [t]: [0, 2] }],
      ['b', { [t]: [1, 3] }],
    ]);
    for (let p = 0; p < 4; p++) await produce(t, p, [`v${p}`]);
    await until('4 records over both', () => a.got.length + b.got.length === 4);
    expect(a.got.map((m) => m.partition).sort()).toEqual([0, 2]);
    await b.consumer.stop();
    await until('a takes everything', () => JSON.stringify(a.joins.at(-1)) === JSON.stringify({ [t]: [0, 1, 2, 3] }), 60_000);
    await produce(t, 3, ['w3']);
    await until("a reads b's partition", () => a.got.some((m) => m.value!.toString() === 'w3'));
    await b.consumer.disconnect();
    await a.consumer.disconnect();
    await ad.disconnect();
  });

  it('reports a batch that read_committed left empty by END_BATCH_PROCESS only; a seek makes the batch in hand stale', async () => {
    const t = await topic('empty-batch', 1);
    const producer = client.producer({ transactionalId: 'empty-batch' });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.sendBatch({ topicMessages: [{ topic: t, messages: [{ value: Buffer.from('a'), partition: 0 }, { value: Buffer.from('b'), partition: 0 }] }], acks: -1 });
    await txn.abort(); // records 0-1, marker 2
    const consumer = client.consumer({ groupId: 'g-empty', assigner: dealer('solo', []), maxWaitTimeInMs: 100 });
    const ends: string[] = [];
    const batches: string[] = [];
    const stale: boolean[] = [];
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => ends.push(e.payload.lastOffset));
    await consumer.connect();
    await consumer.subscribe({ topics: [t], fromBeginning: true });
    let seeked = false;
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch, isStale }) => {
        batches.push(batch.messages.map((m) => `${m.offset}:${m.value!.toString()}`).join(','));
        if (!seeked) {
          seeked = true;
          stale.push(isStale());
          consumer.seek({ topic: t, partition: 0, offset: batch.messages[0]!.offset });
          stale.push(isStale());
        }
      },
    });
    await until('the empty batch', () => ends.includes('2'));
    expect(batches).toEqual([]);
    await produce(t, 0, ['c']);
    await until('c twice (the seek went back)', () => batches.length === 2);
    expect(batches).toEqual(['3:c', '3:c']);
    expect(stale).toEqual([false, true]);
    await consumer.disconnect();
    await producer.disconnect();
  });

  it('a failing eachBatch crashes the consumer: CRASH with restart (it rejoins from the committed offsets), or stays stopped when restartOnFailure says no', async () => {
    const t = await topic('crash', 1);
    await produce(t, 0, ['a', 'b']);
    for (const restart of [true, false]) {
      const consumer = client.consumer({ groupId: `g-crash-${restart}`, assigner: dealer('solo', []), maxWaitTimeInMs: 100, restartOnFailure: async () => restart });
      const crashes: { message: string; restart: boolean }[] = [];
      const joins: number[] = [];
      consumer.on(consumer.events.CRASH, (e) => crashes.push({ message: e.payload.error.message, restart: e.payload.restart }));
      consumer.on(consumer.events.GROUP_JOIN, () => joins.push(Date.now()));
      await consumer.connect();
      await consumer.subscribe({ topics: [t], fromBeginning: true });
      let calls = 0;
      await consumer.run({
        eachBatchAutoResolve: true,
        eachBatch: async () => {
          calls++;
          if (calls === 1) throw new Error('boom');
        },
      });
      await until('the crash', () => crashes.length === 1);
      expect(crashes[0]).toEqual({ message: expect.stringContaining('boom'), restart });
      if (restart) await until('redelivered after the restart', () => calls === 2 && joins.length === 2);
      else {
        await sleep(1_500);
        expect(calls).toBe(1);
        expect(joins.length).toBe(1);
      }
      await consumer.disconnect();
    }
  });

  it('heartbeats go on while eachBatch runs longer than the session timeout: the member keeps its generation', async () => {
    const t = await topic('slow', 1);
    await produce(t, 0, ['slow']);
    const consumer = client.consumer({ groupId: 'g-slow', assigner: dealer('solo', []), sessionTimeout: 6_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100 });
    const joins: number[] = [];
    let rebalancing = 0;
    let done = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => joins.push(1));
    consumer.on(consumer.events.REBALANCING, () => rebalancing++);
    await consumer.connect();
    await consumer.subscribe({ topics: [t], fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async () => {
        await sleep(9_000);
        done++;
      },
    });
    await until('the slow batch', () => done === 1, 30_000);
    await sleep(500);
    const ad = admin();
    await ad.connect();
    const { groups } = await ad.describeGroups(['g-slow']);
    expect(groups[0]!.state).toBe('Stable');
    expect(groups[0]!.members.length).toBe(1);
    expect(joins.length).toBe(1);
    await ad.disconnect();
    await consumer.disconnect();
  }, 60_000);

  it("an idempotent sendBatch's baseOffsets are where a consumer reads each partition's records, consecutively", async () => {
    const t = await topic('offsets', 3);
    await produce(t, 1, ['before']);
    const p = client.producer();
    await p.connect();
    const meta = await p.sendBatch({
      topicMessages: [
        { topic: t, messages: ['a', 'b', 'c'].map((v) => ({ value: Buffer.from(v), partition: 1, headers: { h: 'x', b: Buffer.from('y') }, timestamp: '1600000000000' })) },
        { topic: t, messages: ['d', 'e'].map((v) => ({ value: v, partition: 2 })) },
      ],
      acks: -1,
    });
    await p.disconnect();
    expect(meta.map((m) => [m.topicName, m.partition, m.errorCode, m.baseOffset]).sort()).toEqual([
      [t, 1, 0, '1'],
      [t, 2, 0, '0'],
    ]);
    const r = await runConsumer(client, { groupId: 'g-offsets', topic: t, name: 'solo', seen: [] });
    await until('6 records', () => r.got.length === 6);
    const p1 = r.got.filter((m) => m.partition === 1);
    expect(p1.map((m) => [m.offset, m.value!.toString()])).toEqual([
      ['0', 'before'],
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'c'],
    ]);
    expect(p1[1]!.timestamp).toBe('1600000000000');
    expect(p1[1]!.headers).toEqual({ h: Buffer.from('x'), b: Buffer.from('y') });
    expect(r.got.filter((m) => m.partition === 2).map((m) => m.offset)).toEqual(['0', '1']);
    await r.consumer.disconnect();
  });

  it('transactions: committed with offsets of the consumer (KIP-447) and aborted; a read_committed consumer sees only the committed', async () => {
    const input = await topic('txn-in', 1);
    const output = await topic('txn-out', 1);
    await produce(input, 0, ['i0', 'i1', 'i2']);
    const seen: Map<string, string>[] = [];
    const reader = await runConsumer(client, { groupId: 'g-txn', topic: input, name: 'solo', seen });
    await until('input', () => reader.got.length === 3);
    const producer = client.producer({ transactionalId: 'txn-1' });
    await producer.connect();
    const ok = await producer.transaction();
    await ok.sendBatch({ topicMessages: [{ topic: output, messages: [{ value: Buffer.from('committed'), partition: 0 }] }], acks: -1 });
    await ok.sendOffsets({ consumerGroupId: 'g-txn', topics: [{ topic: input, partitions: [{ partition: 0, offset: '2', metadata: 'm' }] }], consumer: reader.consumer });
    await ok.commit();
    const bad = await producer.transaction();
    await bad.sendBatch({ topicMessages: [{ topic: output, messages: [{ value: Buffer.from('aborted'), partition: 0 }] }], acks: -1 });
    await bad.sendOffsets({ consumerGroupId: 'g-txn', topics: [{ topic: input, partitions: [{ partition: 0, offset: '3' }] }], consumer: reader.consumer });
    await bad.abort();
    const a = admin();
    await a.connect();
    expect(await a.fetchOffsets({ groupId: 'g-txn', topics: [input] })).toEqual([{ topic: input, partitions: [{ partition: 0, offset: '2', metadata: 'm' }] }]);
    const out = await runConsumer(client, { groupId: 'g-txn-out', topic: output, name: 'solo', seen: [] });
    const third = await producer.transaction();
    await third.sendBatch({ topicMessages: [{ topic: output, messages: [{ value: Buffer.from('later'), partition: 0 }] }], acks: -1 });
    await third.commit();
    await until('the committed records', () => out.got.length === 2);
    await sleep(300);
    expect(out.got.map((m) => [m.offset, m.value!.toString()])).toEqual([
      ['0', 'committed'],
      ['4', 'later'],
    ]);
    // KIP-447: offsets of a generation the member is no longer in are refused by the group coordinator.
    await reader.consumer.stop();
    const other = await runConsumer(client, { groupId: 'g-txn', topic: input, name: 'next', seen });
    await until('the next member', () => other.joins.length === 1);
    const zombie = await producer.transaction();
    const refused = await zombie.sendOffsets({ consumerGroupId: 'g-txn', topics: [{ topic: input, partitions: [{ partition: 0, offset: '3' }] }], consumer: reader.consumer }).catch((e: unknown) => e);
    expect(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']).toContain(kafkaErrorType(refused));
    await zombie.abort().catch(() => {});
    await other.consumer.disconnect();
    await reader.consumer.disconnect();
    await out.consumer.disconnect();
    await producer.disconnect();
    await a.disconnect();
  });

  it('a newer producer with the same transactional id fences the older one', async () => {
    const t = await topic('fence', 1);
    const old = client.producer({ transactionalId: 'fenced-id' });
    await old.connect();
    const first = await old.transaction();
    await first.sendBatch({ topicMessages: [{ topic: t, messages: [{ value: Buffer.from('old'), partition: 0 }] }], acks: -1 });
    const young = client.producer({ transactionalId: 'fenced-id' });
    await young.connect();
    // How the runtime fences: an empty transaction begun (InitProducerId) and aborted at once.
    await (await young.transaction()).abort();
    const second = await young.transaction();
    await second.sendBatch({ topicMessages: [{ topic: t, messages: [{ value: Buffer.from('young'), partition: 0 }] }], acks: -1 });
    await second.commit();
    const error = await first.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']).toContain(kafkaErrorType(error));
    await old.disconnect();
    await young.disconnect();
  });

  it("known @platformatic/kafka bug: with its default options a new producer cannot take over a transactional id used before (InitProducerId with producer id 0, epoch 0)", async () => {
    const t = await topic('lib-fence', 1);
    const options = { clientId: 'lib', bootstrapBrokers: kafka.bootstrap, idempotent: true, transactionalId: 'lib-txn', retries: 2, retryDelay: 100 };
    // On a fresh cluster the first producer id handed out is 0, and (0, 0) would then be the current
    // producer's own id: one throwaway transactional producer takes id 0 whatever ran before.
    const warm = new pk.Producer({ ...options, transactionalId: 'lib-txn-warm' });
    const warmTxn = await warm.beginTransaction();
    await warmTxn.send({ messages: [{ topic: t, value: Buffer.from('warm'), partition: 0 }] });
    await warmTxn.abort();
    await warm.close();
    const first = new pk.Producer(options);
    const txn = await first.beginTransaction();
    await txn.send({ messages: [{ topic: t, value: Buffer.from('one'), partition: 0 }] });
    await txn.commit();
    await first.close();
    // The coordinator completes the first commit after answering it; until then any InitProducerId
    // gets CONCURRENT_TRANSACTIONS (a broker rule, not the bug), so a fresh producer tries again.
    let error: unknown;
    for (const until = Date.now() + 20_000; ; ) {
      const second = new pk.Producer(options);
      error = await second.beginTransaction().then(() => undefined, (e: unknown) => e);
      await second.close(true);
      if (kafkaErrorType(portError(error)) !== 'CONCURRENT_TRANSACTIONS' || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // The adapter asks for a new producer id (-1, -1) instead, which is what fences the old producer.
    expect(kafkaErrorType(portError(error))).toBe('PRODUCER_FENCED');
  });

  it('deletes records before an offset (DeleteRecords)', async () => {
    const t = await topic('delete', 1);
    await produce(t, 0, ['a', 'b', 'c', 'd']);
    const a = admin();
    await a.connect();
    await a.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '3' }] });
    expect(await a.fetchTopicOffsets(t)).toEqual([{ partition: 0, low: '3', high: '4' }]);
    const r = await runConsumer(client, { groupId: 'g-delete', topic: t, name: 'solo', seen: [] });
    await until('the rest', () => r.got.length === 1);
    expect(r.got[0]!.value!.toString()).toBe('d');
    await r.consumer.disconnect();
    await a.deleteGroups(['g-delete']);
    expect((await a.describeGroups(['g-delete'])).groups[0]!.state).toBe('Dead');
    await a.disconnect();
  });
});
