import type { GroupAssignerFactory } from './client/port.ts';
import type { Logger } from '../../api/log.ts';
import type { Topology } from '../../internals/compile.ts';
import { assignTasks, compareTaskIds, type MemberReport, type TaskSpec } from './assignor.ts';
import { partitionKey } from './checkpoint.ts';
import { decodeMemberMetadata, encodeMemberAssignment, encodeMemberMetadata } from './group-protocol.ts';
import { changelogTopicName, type TopicNames } from './topics.ts';

/**
 * The group protocol of a KafkaStreams instance, through kafkajs's `partitionAssigners`: each
 * member's subscription carries, as user data, the tasks it runs, its standby tasks and the
 * changelog offsets of the state it holds locally; the leader turns the reports into tasks
 * (`assignor.ts`) and tells each member its partitions. kafkajs hands a member the partitions
 * of its assignment but not the assignment's user data, so standby tasks travel as partitions:
 * a member keeping a standby of task `1_3` is assigned partition 3 of that task's changelog
 * topics (members subscribe to the changelogs when standbys are configured), and tails them
 * with the same consumer, in the same poll loop, as Kafka Streams' stream thread updates its
 * standbys. The source partitions of a task only ever go to the member running it.
 */
export const STREAMS_PROTOCOL = 'retail-streams';
const VERSION = 1;

/** What a member holds, as it reports it when joining. */
export interface LocalState {
  readonly active: readonly string[];
  readonly standby: readonly string[];
  /** Task id -> changelog `topic/partition` -> the next offset its local state lacks. */
  readonly offsets: ReadonlyMap<string, ReadonlyMap<string, bigint>>;
  /** Where this member answers interactive queries (`application.server`), `host:port`; read by every member through DescribeGroups (member-directory.ts). */
  readonly applicationServer?: string;
  /** The process id (process-id.ts) shared by the stream threads of one process. */
  readonly process?: string;
}

interface UserData {
  v: number;
  active: string[];
  standby: string[];
  offsets: Record<string, Record<string, string>>;
  server?: string;
  process?: string;
}

export const encodeLocalState = (s: LocalState): Buffer => {
  const data: UserData = {
    v: VERSION,
    active: [...s.active].sort(compareTaskIds),
    standby: [...s.standby].sort(compareTaskIds),
    offsets: Object.fromEntries([...s.offsets].map(([task, tps]) => [task, Object.fromEntries([...tps].map(([tp, o]) => [tp, String(o)]))])),
    ...(s.applicationServer === undefined ? {} : { server: s.applicationServer }),
    ...(s.process === undefined ? {} : { process: s.process }),
  };
  return Buffer.from(JSON.stringify(data), 'utf8');
};

/** Undefined for user data this version cannot read (an older or newer member): it is then taken as holding nothing. */
export const decodeLocalState = (b: Buffer | undefined): LocalState | undefined => {
  if (b === undefined || b.length === 0) return undefined;
  try {
    const d = JSON.parse(b.toString('utf8')) as Partial<UserData>;
    if (d.v !== VERSION || !Array.isArray(d.active) || !Array.isArray(d.standby) || typeof d.offsets !== 'object' || d.offsets === null) return undefined;
    const offsets = new Map<string, Map<string, bigint>>();
    for (const [task, tps] of Object.entries(d.offsets)) offsets.set(task, new Map(Object.entries(tps).map(([tp, o]) => [tp, BigInt(o)])));
    return {
      active: d.active.map(String),
      standby: d.standby.map(String),
      offsets,
      ...(typeof d.server === 'string' ? { applicationServer: d.server } : {}),
      ...(typeof d.process === 'string' ? { process: d.process } : {}),
    };
  } catch {
    return undefined;
  }
};

/** The tasks of a topology given its source topics' partition counts, with the Kafka names of what each reads and logs. */
export function topologyTasks(topology: Topology, names: TopicNames, applicationId: string, partitionsOf: (kafkaTopic: string) => number | undefined): { spec: TaskSpec; sources: { topic: string; partition: number }[]; changelogs: { topic: string; partition: number }[] }[] {
  const out: ReturnType<typeof topologyTasks> = [];
  for (const sub of topology.subtopologies) {
    const sourceTopics = sub.sourceTopics.map((t) => names.kafka(t));
    const counts = sourceTopics.map((t) => partitionsOf(t) ?? 0);
    const n = Math.max(0, ...counts);
    const logged = sub.stores.filter((s) => topology.stores.get(s)?.logged === true).map((s) => changelogTopicName(applicationId, s));
    for (let p = 0; p < n; p++) {
      const sources = sourceTopics.filter((_, i) => p < counts[i]!).map((topic) => ({ topic, partition: p }));
      const changelogs = logged.map((topic) => ({ topic, partition: p }));
      out.push({ spec: { id: `${sub.id}_${p}`, changelogs: changelogs.map((c) => partitionKey(c.topic, c.partition)) }, sources, changelogs });
    }
  }
  return out;
}

export interface StreamsAssignerOptions {
  readonly topology: Topology;
  readonly names: TopicNames;
  readonly applicationId: string;
  readonly numStandbyReplicas: number;
  readonly acceptableRecoveryLag: number;
  /** This member's report, read when it joins (synchronously: kafkajs does not await it). */
  localState(): LocalState;
  /** End offsets of changelog topics, by `topic/partition` (the leader's look-up, for lags). */
  endOffsets(topics: readonly string[]): Promise<Map<string, bigint>>;
  readonly log: Logger;
}

export const streamsPartitionAssigner = (o: StreamsAssignerOptions): GroupAssignerFactory => (cluster) => ({
  name: STREAMS_PROTOCOL,
  version: VERSION,
  protocol: ({ topics }) => ({ name: STREAMS_PROTOCOL, metadata: encodeMemberMetadata({ version: VERSION, topics, userData: encodeLocalState(o.localState()) }) }),
  assign: async ({ members }) => {
    const tasks = topologyTasks(o.topology, o.names, o.applicationId, (topic) => cluster.partitionCount(topic));
    const changelogTopics = [...new Set(tasks.flatMap((t) => t.changelogs.map((c) => c.topic)))];
    let endOffsets = new Map<string, bigint>();
    try {
      endOffsets = await o.endOffsets(changelogTopics);
    } catch (e) {
      // Lags then rest on what members reported: still sticky, still balanced.
      o.log.warn(`assignment without changelog end offsets: ${(e as Error).message}`);
    }
    const reports: MemberReport[] = members.map(({ memberId, memberMetadata }) => {
      let topics: readonly string[] = [];
      let state: LocalState | undefined;
      try {
        const m = decodeMemberMetadata(memberMetadata);
        topics = m.topics;
        state = decodeLocalState(m.userData);
      } catch {
        // Unreadable metadata: a member holding nothing.
      }
      return {
        id: memberId,
        activeTasks: state?.active ?? [],
        standbyTasks: state?.standby ?? [],
        taskOffsets: state?.offsets ?? new Map(),
        acceptsStandbys: changelogTopics.length > 0 && changelogTopics.every((t) => topics.includes(t)),
        ...(state?.process === undefined ? {} : { process: state.process }),
      };
    });
    const result = assignTasks({ tasks: tasks.map((t) => t.spec), members: reports, endOffsets, numStandbyReplicas: o.numStandbyReplicas, acceptableRecoveryLag: o.acceptableRecoveryLag });
    const byId = new Map(tasks.map((t) => [t.spec.id, t]));
    const summary: string[] = [];
    const assignments = members.map(({ memberId }) => {
      const mine = result.get(memberId) ?? { active: [], standby: [] };
      const assignment: Record<string, number[]> = {};
      const add = (tp: { topic: string; partition: number }) => (assignment[tp.topic] ??= []).push(tp.partition);
      for (const id of mine.active) for (const s of byId.get(id)!.sources) add(s);
      for (const id of mine.standby) for (const c of byId.get(id)!.changelogs) add(c);
      summary.push(`${memberId}: active ${mine.active.join(',') || '-'}; standby ${mine.standby.join(',') || '-'}`);
      return { memberId, memberAssignment: encodeMemberAssignment({ version: VERSION, assignment }) };
    });
    o.log.info(`assigned ${tasks.length} tasks to ${members.length} member(s): ${summary.join(' | ')}`);
    return assignments;
  },
});
