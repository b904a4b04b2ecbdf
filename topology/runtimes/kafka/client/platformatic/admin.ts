/**
 * The port's Admin on @platformatic/kafka's Admin client. DescribeGroups goes through the
 * library's protocol API rather than `admin.describeGroups`, which decodes the members'
 * metadata and assignments and drops the raw bytes the runtime reads (member-directory.ts).
 */
import * as pk from '@platformatic/kafka';
import type { Admin, AdminOptions, ClientOptions, TopicToCreate } from '../port.ts';
import { mapped, portError, protocolErrorName } from './errors.ts';
import { ApiPicker, baseOptions, sleep } from './options.ts';

export class PlatformaticAdmin implements Admin {
  readonly client: pk.Admin;
  private readonly apis: ApiPicker;

  constructor(options: ClientOptions, limits: AdminOptions = {}) {
    this.client = new pk.Admin({
      ...baseOptions(options, 'admin'),
      ...(limits.connectTimeoutMs === undefined ? {} : { connectTimeout: limits.connectTimeoutMs }),
      ...(limits.requestTimeoutMs === undefined ? {} : { requestTimeout: limits.requestTimeoutMs }),
      ...(limits.retries === undefined ? {} : { retries: limits.retries }),
    });
    this.apis = new ApiPicker(this.client);
  }

  async connect(): Promise<void> {
    await mapped('connecting the admin client', () => this.client.metadata({ topics: [] }));
  }

  async disconnect(): Promise<void> {
    await this.client.close().catch(() => {});
  }

  async fetchTopicMetadata(args: { topics: string[] }): Promise<{ topics: { name: string; partitions: { partitionId: number }[] }[] }> {
    return mapped('fetching topic metadata', async () => {
      const names = args.topics.length > 0 ? args.topics : await this.client.listTopics({ includeInternals: false });
      if (names.length === 0) return { topics: [] };
      const metadata = await this.client.metadata({ topics: names, forceUpdate: true });
      const topics: { name: string; partitions: { partitionId: number }[] }[] = [];
      for (const name of names) {
        const t = metadata.topics.get(name);
        if (t !== undefined) topics.push({ name, partitions: Array.from({ length: t.partitionsCount }, (_, partitionId) => ({ partitionId })) });
      }
      return { topics };
    });
  }

  /** True when it created every topic; a topic that exists already is no error (false), as with kafkajs. */
  async createTopics(args: { topics: TopicToCreate[]; waitForLeaders: boolean }): Promise<boolean> {
    let createdAll = true;
    for (const t of args.topics) {
      try {
        await this.client.createTopics({ topics: [t.topic], partitions: t.numPartitions, replicas: t.replicationFactor, configs: t.configEntries.map((c) => ({ name: c.name, value: c.value })) });
      } catch (e) {
        if (protocolErrorName(e) !== 'TOPIC_ALREADY_EXISTS') throw portError(e, `creating topic ${t.topic}`);
        createdAll = false;
      }
    }
    if (args.waitForLeaders) await this.waitForLeaders(args.topics.map((t) => t.topic));
    return createdAll;
  }

  private async waitForLeaders(topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        const metadata = await this.client.metadata({ topics, forceUpdate: true });
        const ready = topics.every((name) => {
          const t = metadata.topics.get(name);
          return t !== undefined && t.partitions.length === t.partitionsCount && t.partitions.every((p) => p !== undefined && p.leader >= 0);
        });
        if (ready) return;
      } catch {
        // A topic just created may be unknown to the broker answering for a moment.
      }
      await sleep(100);
    }
  }

  async fetchTopicOffsets(topic: string): Promise<{ partition: number; low: string; high: string }[]> {
    return mapped(`fetching the offsets of ${topic}`, async () => {
      const metadata = await this.client.metadata({ topics: [topic] });
      const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
      const at = async (timestamp: bigint) => {
        const listed = await this.client.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }] });
        return new Map((listed.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
      };
      const [low, high] = await Promise.all([at(-2n), at(-1n)]);
      return Array.from({ length: count }, (_, partition) => ({ partition, low: String(low.get(partition) ?? 0n), high: String(high.get(partition) ?? 0n) }));
    });
  }

  /** Stable offsets unless `requireStable: false`: callers that omit it read them as this adapter always did. */
  async fetchOffsets(args: { groupId: string; topics: string[]; requireStable?: boolean }): Promise<{ topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[]> {
    return mapped(`fetching the committed offsets of group ${args.groupId}`, async () => {
      const metadata = await this.client.metadata({ topics: args.topics });
      const counts = new Map(args.topics.map((t) => [t, metadata.topics.get(t)?.partitionsCount ?? 0]));
      const [group] = await this.client.listConsumerGroupOffsets({
        groups: [{ groupId: args.groupId, topics: args.topics.map((name) => ({ name, partitionIndexes: Array.from({ length: counts.get(name)! }, (_, i) => i) })) }],
        requireStable: args.requireStable ?? true,
      });
      return args.topics.map((topic) => {
        const found = new Map((group?.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p]));
        return {
          topic,
          partitions: Array.from({ length: counts.get(topic)! }, (_, partition) => {
            const p = found.get(partition);
            return { partition, offset: p === undefined || p.committedOffset < 0n ? '-1' : String(p.committedOffset), metadata: p === undefined || p.committedOffset < 0n ? null : (p.metadata ?? null) };
          }),
        };
      });
    });
  }

  async deleteTopicRecords(args: { topic: string; partitions: { partition: number; offset: string }[] }): Promise<void> {
    if (args.partitions.length === 0) return;
    await mapped(`deleting records of ${args.topic}`, () => this.client.deleteRecords({ topics: [{ name: args.topic, partitions: args.partitions.map((p) => ({ partition: p.partition, offset: BigInt(p.offset) })) }] }));
  }

  async describeGroups(groupIds: string[]): Promise<{ groups: { groupId: string; state: string; members: { memberId: string; clientId: string; memberMetadata: Buffer; memberAssignment: Buffer }[] }[] }> {
    return mapped(`describing groups ${groupIds.join(', ')}`, async () => {
      const groups: { groupId: string; state: string; members: { memberId: string; clientId: string; memberMetadata: Buffer; memberAssignment: Buffer }[] }[] = [];
      const byCoordinator = new Map<string, { host: string; port: number; ids: string[] }>();
      for (const c of await this.client.findCoordinator({ keyType: 0, keys: groupIds })) {
        const k = `${c.host}:${c.port}`;
        const entry = byCoordinator.get(k) ?? { host: c.host, port: c.port, ids: [] };
        entry.ids.push(c.key);
        byCoordinator.set(k, entry);
      }
      const api = await this.apis.get('DescribeGroups');
      for (const { host, port, ids } of byCoordinator.values()) {
        const connection = await this.client.connections.get({ host, port });
        const response = (await api.async(connection, ids, false)) as pk.describeGroupsV5.DescribeGroupsResponse;
        for (const g of response.groups) {
          groups.push({
            groupId: g.groupId,
            state: g.groupState,
            members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, memberMetadata: m.memberMetadata, memberAssignment: m.memberAssignment })),
          });
        }
      }
      return { groups };
    });
  }

  async deleteGroups(groupIds: string[]): Promise<unknown> {
    return mapped(`deleting groups ${groupIds.join(', ')}`, () => this.client.deleteGroups({ groups: groupIds }));
  }
}
