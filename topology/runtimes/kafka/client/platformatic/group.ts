/**
 * Classic consumer-group membership on @platformatic/kafka's protocol APIs (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit), driven by the port's GroupAssigner.
 *
 * The library's own Consumer is not used for membership because it cannot carry what the
 * runtime's assigner needs: its `partitionAssigner` is synchronous (the runtime's `assign` awaits
 * changelog end offsets), a group with a single member is given every partition of every
 * subscribed topic without calling the assigner at all, and the assignment's user data is one
 * static buffer for every member. It also rejoins from its heartbeat timer at any moment, where
 * the runtime expects a rejoin only between batches (kafkajs's behaviour). Here the assigner's
 * protocol metadata and the leader's assignments go to the broker as the assigner encoded them.
 */
import type * as pk from '@platformatic/kafka';
import type { GroupAssigner } from '../port.ts';
import { decodeMemberAssignment } from '../../group-protocol.ts';
import { COORDINATOR_MOVED, isNetworkError, portError, protocolErrorName, REJOIN } from './errors.ts';
import { type ApiPicker, sleep } from './options.ts';

export interface GroupSettings {
  readonly groupId: string;
  readonly sessionTimeout: number;
  readonly rebalanceTimeout: number;
  readonly heartbeatInterval: number;
  readonly retries: number;
}

export interface Coordinator {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface GroupEvents {
  /** The coordinator says the group is rebalancing (or this member fell out of it): rejoin between batches. */
  rebalancing(reason: string): void;
}

/** What a transaction's TxnOffsetCommit needs of the member (KIP-447): the shape @platformatic/kafka's `addOffset` reads. */
export interface GroupMetadata {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly coordinatorId: number;
}

export class GroupMember {
  readonly settings: GroupSettings;
  private readonly admin: pk.Admin;
  private readonly apis: ApiPicker;
  private readonly assigner: GroupAssigner;
  private readonly events: GroupEvents;
  memberId = '';
  generationId = -1;
  private coordinator: Coordinator | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastHeartbeat = 0;
  private heartbeating: Promise<void> | undefined;
  /** Set when the coordinator asked for a rejoin; cleared by the next join. */
  needsRejoin = true;
  active = false;

  constructor(admin: pk.Admin, apis: ApiPicker, assigner: GroupAssigner, settings: GroupSettings, events: GroupEvents) {
    this.admin = admin;
    this.apis = apis;
    this.assigner = assigner;
    this.settings = settings;
    this.events = events;
  }

  /** The generation this member was last in (kept after it left: offsets of a left member must be fenced, not taken as a group-less commit). */
  private lastGeneration = { generationId: -1, memberId: '' };

  metadata(): GroupMetadata {
    return { groupId: this.settings.groupId, ...this.lastGeneration, coordinatorId: this.coordinator?.nodeId ?? -1 };
  }

  private async findCoordinator(): Promise<Coordinator> {
    if (this.coordinator !== undefined) return this.coordinator;
    const [found] = await this.admin.findCoordinator({ keyType: 0, keys: [this.settings.groupId] });
    if (found === undefined || found.nodeId < 0) throw new Error(`no coordinator for group ${this.settings.groupId}`);
    this.coordinator = { nodeId: found.nodeId, host: found.host, port: found.port };
    return this.coordinator;
  }

  /** One request to the group coordinator, looking it up again (with a short backoff) when it moved. */
  async call<T>(api: string, args: (connection: pk.Connection) => unknown[]): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const coordinator = await this.findCoordinator();
        const connection = await this.admin.connections.get({ host: coordinator.host, port: coordinator.port });
        const impl = await this.apis.get(api);
        return (await impl.async(connection, ...args(connection))) as T;
      } catch (e) {
        const name = protocolErrorName(e);
        const network = name === '' && isNetworkError(e);
        if ((COORDINATOR_MOVED.has(name) || network) && attempt < this.settings.retries) {
          this.coordinator = undefined;
          await sleep(Math.min(3_000, 200 * 2 ** attempt));
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * Joins (or rejoins) the group: JoinGroup with the assigner's protocol metadata, the leader's
   * assignment by the assigner, SyncGroup. Returns this member's partitions by topic.
   */
  async join(topics: string[]): Promise<Record<string, number[]>> {
    this.stopHeartbeats();
    const { groupId, sessionTimeout, rebalanceTimeout } = this.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        const protocol = this.assigner.protocol({ topics });
        let joined: { generationId: number; memberId: string; leader: string; protocolName: string | null; members: { memberId: string; metadata: Buffer }[] };
        try {
          joined = await this.call('JoinGroup', () => [groupId, sessionTimeout, rebalanceTimeout, this.memberId, null, 'consumer', [{ name: protocol.name, metadata: protocol.metadata }], null]);
        } catch (e) {
          // The first join of a member only obtains its id (KIP-394): join again with it.
          const response = (e as { response?: { memberId?: string } }).response;
          if (protocolErrorName(e) === 'MEMBER_ID_REQUIRED' && typeof response?.memberId === 'string' && response.memberId !== '') {
            this.memberId = response.memberId;
            attempt--;
            continue;
          }
          throw e;
        }
        this.memberId = joined.memberId;
        this.generationId = joined.generationId;
        let assignments: { memberId: string; assignment: Buffer }[] = [];
        if (joined.leader === joined.memberId) {
          await this.admin.metadata({ topics, forceUpdate: true });
          const decided = await this.assigner.assign({ members: joined.members.map((m) => ({ memberId: m.memberId, memberMetadata: m.metadata })), topics });
          assignments = decided.map((a) => ({ memberId: a.memberId, assignment: a.memberAssignment }));
        }
        const synced = await this.call<{ assignment: Buffer }>('SyncGroup', () => [groupId, this.generationId, this.memberId, null, 'consumer', joined.protocolName ?? protocol.name, assignments]);
        const decoded = synced.assignment.length === 0 ? null : decodeMemberAssignment(synced.assignment);
        const mine: Record<string, number[]> = {};
        for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) mine[topic] = [...partitions];
        this.needsRejoin = false;
        this.active = true;
        this.lastGeneration = { generationId: this.generationId, memberId: this.memberId };
        this.startHeartbeats();
        return mine;
      } catch (e) {
        const name = protocolErrorName(e);
        if (name === 'UNKNOWN_MEMBER_ID' || name === 'FENCED_INSTANCE_ID') this.memberId = '';
        if ((REJOIN.has(name) || COORDINATOR_MOVED.has(name)) && attempt < Math.max(this.settings.retries, 10)) {
          await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)));
          continue;
        }
        throw portError(e, `joining group ${groupId}`);
      }
    }
  }

  private startHeartbeats(): void {
    this.lastHeartbeat = Date.now();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.settings.heartbeatInterval);
    this.heartbeatTimer.unref?.();
  }

  stopHeartbeats(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** A heartbeat unless one was sent within the interval; never throws: a rebalance is flagged for the poll loop. */
  heartbeat(force = false): Promise<void> {
    // Heartbeats go on while a rejoin waits for the batch in hand: they keep the session alive.
    if (!this.active) return Promise.resolve();
    if (!force && Date.now() - this.lastHeartbeat < this.settings.heartbeatInterval * 0.8) return Promise.resolve();
    if (this.heartbeating !== undefined) return this.heartbeating;
    const generation = this.generationId;
    this.heartbeating = (async () => {
      try {
        await this.call('Heartbeat', () => [this.settings.groupId, generation, this.memberId, null]);
        this.lastHeartbeat = Date.now();
      } catch (e) {
        const name = protocolErrorName(e);
        if (REJOIN.has(name) && generation === this.generationId) {
          this.flagRejoin(name);
          // Nothing to keep alive for a member the group no longer knows.
          if (name !== 'REBALANCE_IN_PROGRESS') this.stopHeartbeats();
        }
        // Other failures (a broker restarting): the next heartbeat tries again.
      } finally {
        this.heartbeating = undefined;
      }
    })();
    return this.heartbeating;
  }

  /** The group moved on without this member's knowledge (a heartbeat or a commit said so). */
  flagRejoin(reason: string): void {
    if (reason === 'UNKNOWN_MEMBER_ID' || reason === 'FENCED_INSTANCE_ID') this.memberId = '';
    if (this.needsRejoin) return;
    this.needsRejoin = true;
    this.events.rebalancing(reason);
  }

  async commit(offsets: { topic: string; partition: number; offset: string; metadata?: string }[]): Promise<void> {
    const byTopic = new Map<string, { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }[]>();
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? [];
      list.push({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: -1, committedMetadata: o.metadata ?? null });
      byTopic.set(o.topic, list);
    }
    const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    try {
      await this.call('OffsetCommit', () => [this.settings.groupId, this.generationId, this.memberId, null, topics]);
    } catch (e) {
      const name = protocolErrorName(e);
      if (REJOIN.has(name)) this.flagRejoin(name);
      throw portError(e, `committing offsets of group ${this.settings.groupId}`);
    }
  }

  /** Leaves the group (LeaveGroup), so its partitions move at once rather than after the session timeout. */
  async leave(): Promise<void> {
    this.stopHeartbeats();
    const memberId = this.memberId;
    this.active = false;
    this.needsRejoin = true;
    this.generationId = -1;
    if (memberId === '') return;
    this.memberId = '';
    try {
      await this.call('LeaveGroup', () => [this.settings.groupId, [{ memberId, groupInstanceId: null, reason: null }]]);
    } catch {
      // Gone already (the session expired, the coordinator moved): nothing to leave.
    }
  }
}
