import { Partitioners } from 'kafkajs';
import type { KafkaClient } from '../../../topology/runtimes/kafka/client/port.ts';
import { describe, expect, it, vi } from 'vitest';
import type { Serde } from '../../../topology/api/serdes.ts';
import { RetailStreamsError } from '../../../topology/api/errors.ts';
import { Stores } from '../../../state-stores/stores.ts';
import type { KeyValueStore, WindowStore } from '../../../state-stores/api.ts';
import { KafkaStreams } from '../../../topology/runtimes/kafka/kafka-streams.ts';
import { keyQueryMetadata, parseHostInfo, queryableStore, type MemberDirectory, type MemberMetadata } from '../../../topology/runtimes/kafka/interactive-queries.ts';
import { GroupMemberDirectory, type GroupAdmin } from '../../../topology/runtimes/kafka/member-directory.ts';
import { decodeLocalState, encodeLocalState } from '../../../topology/runtimes/kafka/partition-assigner.ts';
import { encodeMemberAssignment, encodeMemberMetadata } from '../../../topology/runtimes/kafka/group-protocol.ts';
import { FakeBroker } from '../../support/fake-kafka.ts';
import { counting, memoryLog } from './harness.ts';


const windowStores = () => {
  const a = Stores.windowStore<string, { n: number }>('w', 60_000, 600_000).build();
  const b = Stores.windowStore<string, { n: number }>('w', 60_000, 600_000).build();
  return [a, b] as const;
};

describe('queryableStore: a read-only view over the stores of every local task', () => {
  it('answers window fetches across tasks, merged in window then key order', () => {
    const [a, b] = windowStores();
    a.put('uk', 0, { n: 1 });
    a.put('fr', 120_000, { n: 2 });
    b.put('uk', 60_000, { n: 3 });
    b.put('de', 60_000, { n: 4 });
    const view = queryableStore<string, { n: number }>('w', 'window', () => [a, b]);
    if (view.type !== 'window') throw new Error('a window store');
    expect(view.get('uk', 60_000)).toEqual({ n: 3 });
    expect(view.get('uk', 120_000)).toBeUndefined();
    expect(view.fetch('uk', 0, 120_000)).toEqual([[0, { n: 1 }], [60_000, { n: 3 }]]);
    expect(view.fetchAll(60_000, 120_000).map(([w, v]) => [w.key, w.start, w.end, v.n])).toEqual([
      ['de', 60_000, 120_000, 4],
      ['uk', 60_000, 120_000, 3],
      ['fr', 120_000, 180_000, 2],
    ]);
    expect(view.all()).toHaveLength(4);
  });

  it('hands out copies: changing an answer leaves the task state alone', () => {
    const [a] = windowStores();
    a.put('uk', 0, { n: 1 });
    const view = queryableStore<string, { n: number }>('w', 'window', () => [a]);
    if (view.type !== 'window') throw new Error('a window store');
    view.get('uk', 0)!.n = 99;
    view.fetchAll(0, 0)[0]![1].n = 98;
    expect(a.get('uk', 0)).toEqual({ n: 1 });
  });

  it('answers key-value get, all and range across tasks, in key order', () => {
    const a = Stores.keyValueStore<string, number>('kv').build() as KeyValueStore<string, number>;
    const b = Stores.keyValueStore<string, number>('kv').build() as KeyValueStore<string, number>;
    a.put('b', 2);
    a.put('d', 4);
    b.put('a', 1);
    b.put('c', 3);
    const view = queryableStore<string, number>('kv', 'key-value', () => [a, b]);
    if (view.type !== 'key-value') throw new Error('a key-value store');
    expect(view.get('c')).toBe(3);
    expect(view.get('z')).toBeUndefined();
    expect(view.all()).toEqual([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    expect(view.range('b', 'c')).toEqual([['b', 2], ['c', 3]]);
    expect(view.approximateNumEntries()).toBe(4);
  });

  it('asks for the stores at every read, so it follows tasks that come and go', () => {
    const [a, b] = windowStores();
    a.put('uk', 0, { n: 1 });
    b.put('uk', 60_000, { n: 2 });
    let held: WindowStore<string, { n: number }>[] = [a];
    const view = queryableStore<string, { n: number }>('w', 'window', () => held);
    if (view.type !== 'window') throw new Error('a window store');
    expect(view.all()).toHaveLength(1);
    held = [b];
    expect(view.all().map(([w]) => w.start)).toEqual([60_000]);
  });
});

describe('parseHostInfo', () => {
  it('reads host:port, an IPv6 host in brackets too', () => {
    expect(parseHostInfo('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHostInfo('worker-3.example:80')).toEqual({ host: 'worker-3.example', port: 80 });
    expect(parseHostInfo('[::1]:9000')).toEqual({ host: '[::1]', port: 9000 });
  });
  it.each(['localhost', 'h:0', 'h:70000', 'http://h:80', 'a b:1', ':80', 'javascript:alert(1)'])('refuses %s with invalid-argument', (text) => {
    expect(() => parseHostInfo(text)).toThrow(RetailStreamsError);
  });
});

const member = (memberId: string, host: string | undefined, partitions: string[]): MemberMetadata => ({ memberId, host: host === undefined ? undefined : parseHostInfo(host), partitions });

const directoryOf = (members: MemberMetadata[], counts: Record<string, number>): MemberDirectory => ({
  membersFor: (topic, partition) => members.filter((m) => m.partitions.includes(`${topic}/${partition}`)),
  partitionCount: (topic) => counts[topic],
  members: () => members,
});

/** Kafka's own partitioner, as kafkajs's producer applies it: the independent reference. */
const producerPartition = (key: string, partitions: number) =>
  Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0 })) as never, message: { key, value: null } });

describe('keyQueryMetadata: which member holds a key', () => {
  const location = { sourceTopics: ['app-repartition'], changelogTopic: 'app-store-changelog' };

  it('puts a key in the partition a Kafka producer would, and names the member running it and its standbys', () => {
    const a = member('m-a', '10.0.0.1:8080', ['app-repartition/0', 'app-repartition/2', 'app-store-changelog/1']);
    const b = member('m-b', '10.0.0.2:8080', ['app-repartition/1', 'app-repartition/3', 'app-store-changelog/0', 'app-store-changelog/2']);
    const dir = directoryOf([a, b], { 'app-repartition': 4 });
    for (const key of ['1600426500000', 'United Kingdom', 'k-17', '']) {
      const expected = producerPartition(key, 4);
      const meta = keyQueryMetadata(location, key, undefined, dir, new Set())!;
      expect(meta.partition).toBe(expected);
      expect(meta.activeHost).toEqual(expected % 2 === 0 ? a.host : b.host);
      expect(meta.local).toBe(false);
      expect(meta.standbyHosts).toEqual(expected === 0 || expected === 2 ? [b.host] : expected === 1 ? [a.host] : []);
    }
  });

  it('serializes a number key as its decimal text, and uses the serde when given one', () => {
    const dir = directoryOf([member('m', '127.0.0.1:1', ['app-repartition/0', 'app-repartition/1', 'app-repartition/2'])], { 'app-repartition': 3 });
    expect(keyQueryMetadata(location, 1600426500000, undefined, dir, new Set())!.partition).toBe(producerPartition('1600426500000', 3));
    const upper: Serde<string> = { name: 'upper', serialize: (v) => new TextEncoder().encode(v.toUpperCase()), deserialize: () => '' };
    expect(keyQueryMetadata(location, 'uk', upper, dir, new Set())!.partition).toBe(producerPartition('UK', 3));
  });

  it('says local when this instance runs the task, even before the group is read', () => {
    const counts: MemberDirectory = { membersFor: () => undefined, partitionCount: () => 2, members: () => [] };
    const p = producerPartition('k', 2);
    expect(keyQueryMetadata(location, 'k', undefined, counts, new Set([`app-repartition/${p}`]))).toEqual({ partition: p, activeHost: undefined, standbyHosts: [], local: true });
    expect(keyQueryMetadata(location, 'k', undefined, counts, new Set())).toBeUndefined();
  });

  it('is not available while the partitions are unknown', () => {
    const dir: MemberDirectory = { membersFor: () => [], partitionCount: () => undefined, members: () => [] };
    expect(keyQueryMetadata(location, 'k', undefined, dir, new Set())).toBeUndefined();
    expect(keyQueryMetadata(location, 'k', undefined, undefined, new Set())).toBeUndefined();
  });
});

describe('applicationServer in the group protocol user data', () => {
  it('travels with the member report and reads back; a report without one still reads', () => {
    const state = { active: ['1_0'], standby: [], offsets: new Map([['1_0', new Map([['c/0', 5n]])]]) };
    expect(decodeLocalState(encodeLocalState({ ...state, applicationServer: 'h:8080' }))?.applicationServer).toBe('h:8080');
    const plain = decodeLocalState(encodeLocalState(state))!;
    expect(plain.applicationServer).toBeUndefined();
    expect(plain.active).toEqual(['1_0']);
  });
});

/** A group as DescribeGroups answers it: each member's subscription and assignment in the consumer protocol's layout. */
function describedGroup(state: string, members: { id: string; server?: string; assignment: Record<string, number[]> }[]): GroupAdmin {
  return {
    describeGroups: async (groupIds) => ({
      groups: groupIds.map((groupId) => ({
        groupId,
        state,
        members: members.map((m) => ({
          memberId: m.id,
          memberMetadata: encodeMemberMetadata({ version: 1, topics: Object.keys(m.assignment), userData: encodeLocalState({ active: [], standby: [], offsets: new Map(), ...(m.server === undefined ? {} : { applicationServer: m.server }) }) }),
          memberAssignment: encodeMemberAssignment({ version: 1, assignment: m.assignment }),
        })),
      })),
    }),
    fetchTopicMetadata: async ({ topics }) => ({ topics: topics.map((name) => ({ name, partitions: [0, 1, 2, 3] })) }),
  };
}

describe('GroupMemberDirectory', () => {
  it("maps each partition to the members assigned it, with each member's address", async () => {
    const admin = describedGroup('Stable', [
      { id: 'b', server: '10.0.0.2:80', assignment: { rep: [1, 3], 'rep-changelog': [0] } },
      { id: 'a', server: '10.0.0.1:80', assignment: { rep: [0, 2] } },
      { id: 'c', assignment: {} },
    ]);
    const dir = new GroupMemberDirectory(admin, 'app', ['rep'], memoryLog().log);
    expect(dir.membersFor('rep', 0)).toBeUndefined();
    expect(await dir.refresh()).toBe(true);
    expect(dir.partitionCount('rep')).toBe(4);
    expect(dir.membersFor('rep', 2)!.map((m) => m.memberId)).toEqual(['a']);
    expect(dir.membersFor('rep', 3)![0]!.host).toEqual({ host: '10.0.0.2', port: 80 });
    expect(dir.membersFor('rep-changelog', 0)!.map((m) => m.memberId)).toEqual(['b']);
    expect(dir.membersFor('rep', 9)).toEqual([]);
    expect(dir.members().map((m) => [m.memberId, m.host === undefined ? null : `${m.host.host}:${m.host.port}`, m.partitions])).toEqual([
      ['a', '10.0.0.1:80', ['rep/0', 'rep/2']],
      ['b', '10.0.0.2:80', ['rep-changelog/0', 'rep/1', 'rep/3']],
      ['c', null, []],
    ]);
    dir.invalidate();
    expect(dir.membersFor('rep', 2)).toBeUndefined();
  });

  it('takes nothing from a group that is still rebalancing', async () => {
    const dir = new GroupMemberDirectory(describedGroup('CompletingRebalance', [{ id: 'a', server: 'h:1', assignment: {} }]), 'app', ['rep'], memoryLog().log);
    expect(await dir.refresh()).toBe(false);
    expect(dir.membersFor('rep', 0)).toBeUndefined();
  });
});


describe('KafkaStreams interactive queries on a fake broker', () => {
  it('store(name) reads the local stores of every task; metadataForKey names this member for its keys', async () => {
    const broker = new FakeBroker();
    broker.createTopic('in', 2);
    const topology = counting();
    const storeName = 'counts';
    // The fake admin has no DescribeGroups: this one answers with the group the fake broker made.
    const client = (options: Parameters<typeof broker.client>[0]): KafkaClient => {
      const kafka = broker.client(options);
      const admin = kafka.admin.bind(kafka);
      return Object.assign(Object.create(kafka) as KafkaClient, {
        admin: () => Object.assign(admin(), { describeGroups: describedGroup('Stable', [{ id: 'only', server: '127.0.0.1:7070', assignment: { in: [0, 1] } }]).describeGroups }),
      });
    };
    const streams = new KafkaStreams(topology, { applicationId: 'iq', bootstrapServers: 'fake:9092', client, logger: memoryLog().log, applicationServer: '127.0.0.1:7070' });
    expect(() => streams.store('nope')).toThrow(/no store named nope/);
    const view = streams.store<string, number>(storeName);
    expect(() => (view.type === 'key-value' ? view.all() : view.all())).toThrow(expect.objectContaining({ code: 'store-unavailable' }));
    for (const [p, k] of [[0, 'a'], [1, 'b'], [0, 'a'], [1, 'c'], [1, 'b'], [0, 'a']] as const) broker.produce('in', p, { key: k, value: 'x', timestamp: Date.UTC(2020, 0, 1) });
    await streams.start();
    await vi.waitFor(() => expect(broker.committed('iq').get('in/1')).toBe('3'), { timeout: 5_000, interval: 5 });
    await vi.waitFor(() => expect(broker.committed('iq').get('in/0')).toBe('3'), { timeout: 5_000, interval: 5 });
    if (view.type !== 'key-value') throw new Error('a key-value store');
    expect(view.get('a')).toBe(3);
    expect(view.all()).toEqual([['a', 3], ['b', 2], ['c', 1]]);
    await vi.waitFor(() => expect(streams.metadataForKey(storeName, 'b')).toBeDefined(), { timeout: 5_000, interval: 10 });
    const meta = streams.metadataForKey(storeName, 'b')!;
    expect(meta).toEqual({ partition: producerPartition('b', 2), activeHost: { host: '127.0.0.1', port: 7070 }, standbyHosts: [], local: true });
    expect(streams.allMetadata().map((m) => m.memberId)).toEqual(['only']);
    await streams.close();
    expect(() => view.get('a')).toThrow(expect.objectContaining({ code: 'store-unavailable', retriable: true }));
  });

  it('refuses an applicationServer that is not host:port', () => {
    expect(() => new KafkaStreams(counting(), { applicationId: 'iq', bootstrapServers: 'fake:9092', applicationServer: 'nope' })).toThrow(/host:port/);
  });
});
