import { describe, expect, it } from 'vitest';
import { StreamsBuilder } from '../../../topology/api/builder.ts';
import { Serdes } from '../../../topology/api/serdes.ts';
import { assignTasks, taskLag, type AssignmentInput, type MemberReport, type MemberTasks, type TaskSpec } from '../../../topology/runtimes/kafka/assignor.ts';
import { decodeMemberAssignment, encodeMemberMetadata } from '../../../topology/runtimes/kafka/group-protocol.ts';
import { encodeLocalState, streamsPartitionAssigner } from '../../../topology/runtimes/kafka/partition-assigner.ts';
import { TopicNames } from '../../../topology/runtimes/kafka/topics.ts';

/** Sub-topology 0: stateless, `stateless` partitions; sub-topology 1: one changelog per task, `stateful` partitions. */
function tasks(stateless: number, stateful: number): TaskSpec[] {
  return [
    ...Array.from({ length: stateless }, (_, p) => ({ id: `0_${p}`, changelogs: [] })),
    ...Array.from({ length: stateful }, (_, p) => ({ id: `1_${p}`, changelogs: [`app-store-changelog/${p}`] })),
  ];
}

const member = (id: string, o: Partial<Omit<MemberReport, 'id' | 'taskOffsets'>> & { offsets?: Record<string, number> } = {}): MemberReport => ({
  id,
  activeTasks: o.activeTasks ?? [],
  standbyTasks: o.standbyTasks ?? [],
  // `offsets` by task id: the offset of its one changelog partition (sub-topology 1 tasks).
  taskOffsets: new Map(Object.entries(o.offsets ?? {}).map(([task, offset]) => [task, new Map([[`app-store-changelog/${task.split('_')[1]}`, BigInt(offset)]])])),
  acceptsStandbys: o.acceptsStandbys ?? true,
  ...(o.process === undefined ? {} : { process: o.process }),
});

/** Every stateful task's changelog ends at `end`. */
const ends = (stateful: number, end = 100_000) => new Map(Array.from({ length: stateful }, (_, p) => [`app-store-changelog/${p}`, BigInt(end)]));

const input = (o: Partial<AssignmentInput> & Pick<AssignmentInput, 'tasks' | 'members'>): AssignmentInput => ({
  endOffsets: new Map(),
  numStandbyReplicas: 0,
  acceptableRecoveryLag: 10_000,
  ...o,
});

const activeOf = (result: Map<string, MemberTasks>) => Object.fromEntries([...result].map(([m, t]) => [m, t.active]));
const standbyOf = (result: Map<string, MemberTasks>) => Object.fromEntries([...result].map(([m, t]) => [m, t.standby]));
const ownerOf = (result: Map<string, MemberTasks>, task: string) => [...result].find(([, t]) => t.active.includes(task))?.[0];

describe('assignTasks: spreading active tasks', () => {
  it('gives each of five members 4 or 5 of 24 tasks, and 2 or 3 of the 12 stateful ones, every task once', () => {
    const result = assignTasks(input({ tasks: tasks(12, 12), members: ['m1', 'm2', 'm3', 'm4', 'm5'].map((id) => member(id)) }));
    const all = [...result.values()].flatMap((t) => t.active);
    expect(all.sort()).toEqual(tasks(12, 12).map((t) => t.id).sort());
    for (const t of result.values()) {
      expect(t.active.length).toBeGreaterThanOrEqual(4);
      expect(t.active.length).toBeLessThanOrEqual(5);
      const stateful = t.active.filter((id) => id.startsWith('1_')).length;
      expect(stateful).toBeGreaterThanOrEqual(2);
      expect(stateful).toBeLessThanOrEqual(3);
    }
  });

  it('is the same whatever order the members reported in', () => {
    const members = ['m3', 'm1', 'm5', 'm2', 'm4'].map((id, i) => member(id, { activeTasks: [`0_${i}`, `1_${(i * 3) % 8}`], offsets: { [`1_${i}`]: 99_000 - i * 1000 } }));
    const a = assignTasks(input({ tasks: tasks(8, 8), members, endOffsets: ends(8) }));
    const b = assignTasks(input({ tasks: tasks(8, 8), members: [...members].reverse(), endOffsets: ends(8) }));
    expect(activeOf(a)).toEqual(activeOf(b));
  });

  it('gives a lone member every task, and a member with no room nothing more than its share', () => {
    expect(activeOf(assignTasks(input({ tasks: tasks(2, 2), members: [member('only')] })))).toEqual({ only: ['0_0', '0_1', '1_0', '1_1'] });
    const result = assignTasks(input({ tasks: tasks(0, 3), members: [member('a'), member('b'), member('c'), member('d')] }));
    expect([...result.values()].map((t) => t.active.length).sort()).toEqual([0, 1, 1, 1]);
  });
});

describe('assignTasks: stickiness', () => {
  it('moves only what a new member must take: the rest stays where it ran', () => {
    const before = { a: ['0_0', '0_1', '0_2', '1_0', '1_1', '1_2'], b: ['0_3', '0_4', '0_5', '1_3', '1_4', '1_5'] };
    const members = [member('a', { activeTasks: before.a }), member('b', { activeTasks: before.b }), member('c')];
    const result = assignTasks(input({ tasks: tasks(6, 6), members, endOffsets: ends(6) }));
    const moved = Object.entries(before).flatMap(([m, ts]) => ts.filter((t) => ownerOf(result, t) !== m));
    expect(result.get('c')!.active).toHaveLength(4);
    expect(moved.sort()).toEqual([...result.get('c')!.active].sort());
    // State is spread too: the newcomer takes its share of stateful tasks.
    expect(result.get('c')!.active.filter((t) => t.startsWith('1_'))).toHaveLength(2);
  });

  it('keeps an unchanged group exactly as it was', () => {
    const members = [member('a', { activeTasks: ['0_0', '1_1'] }), member('b', { activeTasks: ['0_1', '1_0'] })];
    expect(activeOf(assignTasks(input({ tasks: tasks(2, 2), members, endOffsets: ends(2) })))).toEqual({ a: ['0_0', '1_1'], b: ['0_1', '1_0'] });
  });

  it('a member that left: its tasks go to the members that kept warm standbys of them', () => {
    // c ran 1_4 and 1_5; a kept a standby of 1_4, b of 1_5.
    const members = [
      member('a', { activeTasks: ['1_0', '1_1'], standbyTasks: ['1_4'], offsets: { '1_4': 99_990 } }),
      member('b', { activeTasks: ['1_2', '1_3'], standbyTasks: ['1_5'], offsets: { '1_5': 99_995 } }),
    ];
    const result = assignTasks(input({ tasks: tasks(0, 6), members, endOffsets: ends(6) }));
    expect(activeOf(result)).toEqual({ a: ['1_0', '1_1', '1_4'], b: ['1_2', '1_3', '1_5'] });
  });

  it('a member that comes back with standby state takes the tasks it is warm for, so the others keep what only they hold', () => {
    // a ran everything while b was away; b comes back with checkpointed standbys of 1_0 and 1_1
    // (its own tasks were wiped: exactly-once after a crash). b should take 1_0 and 1_1, not 1_2 and 1_3.
    const members = [member('a', { activeTasks: ['1_0', '1_1', '1_2', '1_3'] }), member('b', { offsets: { '1_0': 99_000, '1_1': 98_500 } })];
    const result = assignTasks(input({ tasks: tasks(0, 4), members, endOffsets: ends(4) }));
    expect(activeOf(result)).toEqual({ a: ['1_2', '1_3'], b: ['1_0', '1_1'] });
  });
});

describe('assignTasks: lag', () => {
  it('without the previous owner, a task goes to the member with the least lag', () => {
    const members = [member('far', { offsets: { '1_0': 40_000 } }), member('near', { offsets: { '1_0': 99_500 } }), member('none')];
    expect(ownerOf(assignTasks(input({ tasks: tasks(0, 1), members, endOffsets: ends(1) })), '1_0')).toBe('near');
  });

  it('a member with stale state still beats one with none', () => {
    const members = [member('a'), member('stale', { offsets: { '1_0': 10 } })];
    expect(ownerOf(assignTasks(input({ tasks: tasks(0, 1), members, endOffsets: ends(1) })), '1_0')).toBe('stale');
  });

  it('lag is what the member lacks of the changelog; a checkpoint beyond the end (a recreated topic) counts as nothing', () => {
    const t: TaskSpec = { id: '1_0', changelogs: ['app-store-changelog/0'] };
    const e = ends(1, 1000);
    expect(taskLag(t, member('m', { offsets: { '1_0': 900 } }), e)).toBe(100);
    expect(taskLag(t, member('m', { offsets: { '1_0': 5000 } }), e)).toBe(1000);
    expect(taskLag(t, member('m'), e)).toBe(Number.POSITIVE_INFINITY);
    expect(taskLag(t, member('m', { activeTasks: ['1_0'] }), e)).toBe(0);
  });

  it('without end offsets, the highest reported offset stands for the end', () => {
    const members = [member('a', { offsets: { '1_0': 500 } }), member('b', { offsets: { '1_0': 900 } })];
    expect(ownerOf(assignTasks(input({ tasks: tasks(0, 1), members })), '1_0')).toBe('b');
  });
});

describe('assignTasks: standby replicas', () => {
  it('never places a standby with its active task, and spreads them evenly', () => {
    const result = assignTasks(input({ tasks: tasks(4, 9), members: [member('a'), member('b'), member('c')], endOffsets: ends(9), numStandbyReplicas: 1 }));
    for (const [m, t] of result) for (const s of t.standby) expect(ownerOf(result, s), `${s} on ${m}`).not.toBe(m);
    expect([...result.values()].flatMap((t) => t.standby).sort()).toEqual(tasks(0, 9).map((t) => t.id).sort());
    for (const t of result.values()) expect(t.standby).toHaveLength(3);
    // Stateless tasks have nothing to keep warm.
    expect([...result.values()].flatMap((t) => t.standby).some((s) => s.startsWith('0_'))).toBe(false);
  });

  it('two replicas of a task go to two distinct members, none to the active one', () => {
    const result = assignTasks(input({ tasks: tasks(0, 4), members: ['a', 'b', 'c', 'd'].map((id) => member(id)), endOffsets: ends(4), numStandbyReplicas: 2 }));
    for (const t of tasks(0, 4)) {
      const holders = [...result].filter(([, m]) => m.standby.includes(t.id)).map(([id]) => id);
      expect(holders).toHaveLength(2);
      expect(holders).not.toContain(ownerOf(result, t.id));
    }
  });

  it('never places a standby on another stream thread of the active task\'s process, nor two copies of a task in one process', () => {
    // Processes P (threads a1, a2) and Q (threads b1, b2): a standby next to its active would die with it.
    const members = [member('a1', { process: 'P' }), member('a2', { process: 'P' }), member('b1', { process: 'Q' }), member('b2', { process: 'Q' })];
    const processOf: Record<string, string> = { a1: 'P', a2: 'P', b1: 'Q', b2: 'Q' };
    const result = assignTasks(input({ tasks: tasks(0, 8), members, endOffsets: ends(8), numStandbyReplicas: 1 }));
    for (const t of tasks(0, 8)) {
      const holders = [...result].filter(([, m]) => m.standby.includes(t.id)).map(([id]) => processOf[id]);
      expect(holders, t.id).toEqual([processOf[ownerOf(result, t.id)!] === 'P' ? 'Q' : 'P']);
    }
    // Two replicas wanted, but only one other process: one copy only.
    const two = assignTasks(input({ tasks: tasks(0, 4), members, endOffsets: ends(4), numStandbyReplicas: 2 }));
    for (const t of tasks(0, 4)) expect([...two].filter(([, m]) => m.standby.includes(t.id))).toHaveLength(1);
  });

  it('keeps standbys where they were warm', () => {
    const members = [
      member('a', { activeTasks: ['1_0'], standbyTasks: [] }),
      member('b', { activeTasks: ['1_1'], standbyTasks: ['1_0'], offsets: { '1_0': 99_000 } }),
      member('c', { activeTasks: ['1_2'], standbyTasks: ['1_1'], offsets: { '1_1': 99_000 } }),
    ];
    const result = assignTasks(input({ tasks: tasks(0, 3), members, endOffsets: ends(3), numStandbyReplicas: 1 }));
    expect(result.get('b')!.standby).toContain('1_0');
    expect(result.get('c')!.standby).toContain('1_1');
  });

  it('places as many replicas as there are other members, and none on a member that does not take standbys', () => {
    const two = assignTasks(input({ tasks: tasks(0, 2), members: [member('a'), member('b')], endOffsets: ends(2), numStandbyReplicas: 3 }));
    expect(standbyOf(two)).toEqual({ a: ['1_1'], b: ['1_0'] });
    const refusing = assignTasks(input({ tasks: tasks(0, 2), members: [member('a'), member('b', { acceptsStandbys: false })], endOffsets: ends(2), numStandbyReplicas: 1 }));
    expect(refusing.get('b')!.standby).toEqual([]);
    expect(refusing.get('a')!.standby).toEqual(refusing.get('b')!.active);
  });

  it('a failover with standbys on many members: every task of the dead member goes to a member warm for it', () => {
    // Six members ran two stateful tasks each, with one standby each on the next member; m6 died.
    const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    const owner = (p: number) => ids[Math.floor(p / 2)]!;
    const standbyHolder = (p: number) => ids[(Math.floor(p / 2) + 1) % 6]!;
    const members = ids.slice(0, 5).map((id) =>
      member(id, {
        activeTasks: tasks(0, 12).filter((_, p) => owner(p) === id).map((t) => t.id),
        standbyTasks: tasks(0, 12).filter((_, p) => standbyHolder(p) === id).map((t) => t.id),
        offsets: Object.fromEntries(tasks(0, 12).filter((_, p) => standbyHolder(p) === id).map((t) => [t.id, 99_990])),
      }),
    );
    const result = assignTasks(input({ tasks: tasks(0, 12), members, endOffsets: ends(12), numStandbyReplicas: 1 }));
    // m6's tasks 1_10 and 1_11 had their standby on m1.
    expect(ownerOf(result, '1_10')).toBe('m1');
    expect(ownerOf(result, '1_11')).toBe('m1');
    // Twelve tasks on five members, 2 or 3 each: m1 cannot keep both its own, so one of them
    // moves to the member with its standby. Every task lands where it was warm.
    for (const t of result.values()) {
      expect(t.active.length).toBeGreaterThanOrEqual(2);
      expect(t.active.length).toBeLessThanOrEqual(3);
    }
    tasks(0, 12).forEach((t, p) => expect([owner(p), standbyHolder(p)], t.id).toContain(ownerOf(result, t.id)));
    const moved = tasks(0, 12).filter((t, p) => owner(p) !== 'm6' && ownerOf(result, t.id) !== owner(p));
    expect(moved.map((t) => t.id)).toEqual(['1_1']);
    for (const [m, t] of result) for (const s of t.standby) expect(ownerOf(result, s)).not.toBe(m);
  });
});

describe('streamsPartitionAssigner: the assignment as kafkajs carries it', () => {
  it('gives a task every co-partitioned source partition, and a standby its changelog partitions, each member its own', async () => {
    const b = new StreamsBuilder();
    // Two input topics read by one sub-topology: task 0_p reads partition p of both.
    b.stream(['orders', 'returns'], { keySerde: Serdes.string, valueSerde: Serdes.string }).groupByKey().count({ storeName: 'counts' }).toStream().to('out');
    const topology = b.build();
    const names = new TopicNames('app', topology);
    const log = { debug() {}, info() {}, warn() {}, error() {} };
    const assigner = streamsPartitionAssigner({
      topology,
      names,
      applicationId: 'app',
      numStandbyReplicas: 1,
      acceptableRecoveryLag: 10_000,
      localState: () => ({ active: [], standby: [], offsets: new Map() }),
      endOffsets: async () => new Map(),
      log,
    })({ partitionCount: () => 2 });
    const changelogs = [...topology.stores.keys()].map((s) => `app-${s}-changelog`);
    const metadata = (active: string[]) => encodeMemberMetadata({ version: 1, topics: ['orders', 'returns', ...changelogs], userData: encodeLocalState({ active, standby: [], offsets: new Map() }) });
    const result = await assigner.assign({ members: [{ memberId: 'm1', memberMetadata: metadata(['0_1']) }, { memberId: 'm2', memberMetadata: metadata(['0_0']) }], topics: ['orders', 'returns'] });
    const byMember = Object.fromEntries(result.map((r) => [r.memberId, decodeMemberAssignment(r.memberAssignment)!.assignment]));
    // Sticky: m1 keeps task 0_1 (both topics' partition 1) and keeps the standby of 0_0 (its changelogs' partition 0).
    expect(byMember.m1).toEqual({ orders: [1], returns: [1], ...Object.fromEntries(changelogs.map((c) => [c, [0]])) });
    expect(byMember.m2).toEqual({ orders: [0], returns: [0], ...Object.fromEntries(changelogs.map((c) => [c, [1]])) });
  });
});
