import type { Logger } from '../../api/log.ts';
import { decodeMemberAssignment, decodeMemberMetadata } from './group-protocol.ts';
import { parseHostInfo, type HostInfo, type MemberDirectory, type MemberMetadata } from './interactive-queries.ts';
import { decodeLocalState } from './partition-assigner.ts';

/** The admin calls the directory makes (kafkajs's Admin has them). */
export interface GroupAdmin {
  describeGroups(groupIds: string[]): Promise<{
    groups: readonly { groupId: string; state: string; members: readonly { memberId: string; memberMetadata: Buffer; memberAssignment: Buffer }[] }[];
  }>;
  fetchTopicMetadata(options: { topics: string[] }): Promise<{ topics: readonly { name: string; partitions: readonly unknown[] }[] }>;
}

/**
 * Who in the group holds which partition, from the group coordinator (DescribeGroups): each
 * member's subscription carries its `applicationServer` in the streams protocol's user data, and
 * its assignment says its partitions. Kafka Streams sends every member the whole map in its
 * assignment's user data; kafkajs hands a member none of its assignment's user data, so every
 * member asks the coordinator instead, after each rebalance and now and then.
 */
export class GroupMemberDirectory implements MemberDirectory {
  private readonly admin: GroupAdmin;
  private readonly groupId: string;
  private readonly topics: readonly string[];
  private readonly log: Logger;
  private byPartition = new Map<string, MemberMetadata[]>();
  private all: MemberMetadata[] = [];
  private counts = new Map<string, number>();
  private known = false;
  private refreshing: Promise<boolean> | undefined;

  /** `topics`: the Kafka topics whose partition counts `partitionCount` answers for. */
  constructor(admin: GroupAdmin, groupId: string, topics: readonly string[], log: Logger) {
    this.admin = admin;
    this.groupId = groupId;
    this.topics = topics;
    this.log = log;
  }

  membersFor(topic: string, partition: number): readonly MemberMetadata[] | undefined {
    return this.known ? (this.byPartition.get(`${topic}/${partition}`) ?? []) : undefined;
  }

  partitionCount(topic: string): number | undefined {
    return this.counts.get(topic);
  }

  members(): readonly MemberMetadata[] {
    return this.known ? this.all : [];
  }

  /** A rebalance began: nothing is known until the next refresh finds the group stable. */
  invalidate(): void {
    this.known = false;
  }

  /** Reads the group's members and assignment; true when it found the group stable and took its map. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async read(): Promise<boolean> {
    if (this.topics.length > 0 && this.counts.size < this.topics.length) {
      const meta = await this.admin.fetchTopicMetadata({ topics: [...this.topics] });
      for (const t of meta.topics) this.counts.set(t.name, t.partitions.length);
    }
    const { groups } = await this.admin.describeGroups([this.groupId]);
    const group = groups.find((g) => g.groupId === this.groupId);
    if (group === undefined || group.state !== 'Stable') return false;
    const byPartition = new Map<string, MemberMetadata[]>();
    const all: MemberMetadata[] = [];
    for (const m of group.members) {
      let host: HostInfo | undefined;
      let partitions: string[] = [];
      try {
        const server = decodeLocalState(decodeMemberMetadata(m.memberMetadata).userData)?.applicationServer;
        host = server === undefined ? undefined : parseHostInfo(server);
      } catch {
        // A member of another protocol version, or an address it cannot be reached at: no host.
      }
      try {
        const a = decodeMemberAssignment(m.memberAssignment);
        partitions = a === null ? [] : Object.entries(a.assignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`));
      } catch (e) {
        this.log.debug(`member ${m.memberId}: unreadable assignment: ${(e as Error).message}`);
      }
      const member: MemberMetadata = { memberId: m.memberId, host, partitions: partitions.sort() };
      all.push(member);
      for (const tp of partitions) {
        let list = byPartition.get(tp);
        if (list === undefined) byPartition.set(tp, (list = []));
        list.push(member);
      }
    }
    this.byPartition = byPartition;
    this.all = all.sort((a, b) => a.memberId.localeCompare(b.memberId));
    this.known = true;
    return true;
  }
}

export interface LiveDirectoryOptions {
  /** An admin client of its own (DescribeGroups, metadata), connected by `start`. */
  readonly admin: GroupAdmin & { connect(): Promise<void>; disconnect(): Promise<void> };
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly log: Logger;
  /** Whether the instance is RUNNING: a refresh after a rebalance is retried only while it is. */
  isRunning(): boolean;
  readonly refreshIntervalMs?: number;
}

/**
 * A GroupMemberDirectory kept current for a KafkaStreams instance: read when it starts, again
 * after each rebalance (retried while the group settles) and every 10 s; nothing is known during
 * a rebalance.
 */
export class LiveMemberDirectory {
  readonly directory: GroupMemberDirectory;
  private readonly o: LiveDirectoryOptions;
  private readonly timer: NodeJS.Timeout;

  private constructor(o: LiveDirectoryOptions) {
    this.o = o;
    this.directory = new GroupMemberDirectory(o.admin, o.groupId, o.topics, o.log);
    this.timer = setInterval(() => this.refresh(), o.refreshIntervalMs ?? 10_000).unref();
    this.refresh();
  }

  static async start(o: LiveDirectoryOptions): Promise<LiveMemberDirectory> {
    await o.admin.connect();
    return new LiveMemberDirectory(o);
  }

  /** The instance's state changed: a rebalance makes the map unknown, RUNNING reads it again. */
  stateChanged(state: string): void {
    if (state === 'REBALANCING') this.directory.invalidate();
    if (state !== 'RUNNING') return;
    let attempts = 0;
    const settle = () =>
      void this.directory.refresh().then(
        (stable) => {
          if (!stable && ++attempts < 20 && this.o.isRunning()) setTimeout(settle, 250).unref();
        },
        () => {
          if (++attempts < 20 && this.o.isRunning()) setTimeout(settle, 500).unref();
        },
      );
    settle();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.o.admin.disconnect().catch(() => {});
  }

  private refresh(): void {
    void this.directory.refresh().catch((e: unknown) => this.o.log.debug(`reading the group's members: ${(e as Error).message}`));
  }
}
