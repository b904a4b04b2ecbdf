/**
 * Which member of the group runs which task, and which members keep standby copies: the part of
 * Kafka Streams' StreamsPartitionAssignor and HighAvailabilityTaskAssignor this runtime needs, as
 * a pure function of what every member reported (the group leader runs it; `partition-assigner.ts`
 * carries the reports and the result through kafkajs's group protocol).
 *
 * What is chosen, and why:
 * - **The unit is the task, not the partition.** A task reads partition p of every source topic
 *   of its sub-topology; all of them go to one member, so co-partitioned inputs meet.
 * - **Active tasks are spread evenly**: every member ends with floor(T/M) or ceil(T/M) tasks.
 *   Stateful tasks (logged stores) are balanced first, on their own, so that state (the costly
 *   part to move and to hold) is spread too; stateless tasks fill up to the even total. Without
 *   probing rebalances (kafkajs cannot ask the group to rebalance again later, as Kafka Streams
 *   does to move a task once its warm-up replica has caught up) balance is enforced at once, and
 *   the choice of *which* tasks move is where state is taken into account.
 * - **Where a task goes is decided by the state members hold for it**, ranked: (0) the member
 *   that ran it in the previous generation (sticky: nothing to restore); (1) a member whose local
 *   copy (a standby, or a checkpointed state folder) is within `acceptableRecoveryLag` records of
 *   the changelog end (Kafka Streams' `acceptable.recovery.lag`, 10,000); (2) any member with
 *   local state, least lag first; (3) anyone. Candidate (task, member) pairs are taken greedily in
 *   that order while the member has room under the even spread; warm placements (ranks 0 and 1)
 *   go first, the tasks with the fewest warm members first, so that a member keeps what only it
 *   holds and gives up what another member can take over cheaply (a task with a warm standby
 *   elsewhere) when the spread makes it give up something.
 * - **Standby replicas** (`numStandbyReplicas` per stateful task) go to members other than the
 *   active's, each task's on distinct members: previous standbys and members with the least lag
 *   first (they are warm already), then the least loaded, with at most ceil(S x R / M) standbys
 *   per member while others have room, so one warm member does not collect every copy. A
 *   standby never goes to another stream thread of the active's process (nor two copies of one
 *   task to one process): it would die with the active.
 * - **Lag** is computed by the leader from the offsets each member reported for its local state
 *   (the changelog offset its stores reflect, from running tasks, standbys and checkpoint files)
 *   and the changelog end offsets the leader fetched. A member that ran a task has lag 0.
 * - Deterministic: the same reports give the same assignment whatever their order, so every
 *   leader decides alike, and the unit tests can state exact outcomes.
 */

/** A task as the assignor sees it. */
export interface TaskSpec {
  /** `<sub-topology>_<partition>`. */
  readonly id: string;
  /** `topic/partition` of each changelog partition of its logged stores; empty for a stateless task. */
  readonly changelogs: readonly string[];
}

/** What one member reported when it joined. */
export interface MemberReport {
  readonly id: string;
  /** Tasks it ran in the previous generation. */
  readonly activeTasks: readonly string[];
  /** Standby tasks it kept in the previous generation. */
  readonly standbyTasks: readonly string[];
  /** For each task it holds local state of: changelog `topic/partition` -> the next offset that state lacks. */
  readonly taskOffsets: ReadonlyMap<string, ReadonlyMap<string, bigint>>;
  /** Whether it subscribed to the changelogs (it can keep standby tasks). */
  readonly acceptsStandbys: boolean;
  /**
   * The process it runs in (its stream threads are members of their own): a standby on another
   * thread of the active's process would die with it, so standbys go to other processes.
   * Undefined: a process of its own.
   */
  readonly process?: string;
}

export interface AssignmentInput {
  readonly tasks: readonly TaskSpec[];
  readonly members: readonly MemberReport[];
  /** Changelog `topic/partition` -> end offset (high watermark). Missing: taken as the highest offset any member reported. */
  readonly endOffsets: ReadonlyMap<string, bigint>;
  readonly numStandbyReplicas: number;
  readonly acceptableRecoveryLag: number;
}

export interface MemberTasks {
  readonly active: string[];
  readonly standby: string[];
}

const NO_STATE = Number.POSITIVE_INFINITY;

/** Task ids in sub-topology then partition order (`0_10` after `0_9`). */
export const compareTaskIds = (a: string, b: string): number => {
  const [sa, pa] = a.split('_').map(Number) as [number, number];
  const [sb, pb] = b.split('_').map(Number) as [number, number];
  return sa - sb || pa - pb || (a < b ? -1 : a > b ? 1 : 0);
};

const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Records a member can lack of a task's state: 0 when it ran the task, Infinity when it holds
 * nothing of it. An offset beyond the end (the changelog was recreated) counts as nothing.
 */
export function taskLag(task: TaskSpec, member: MemberReport, endOffsets: ReadonlyMap<string, bigint>): number {
  if (member.activeTasks.includes(task.id)) return 0;
  const offsets = member.taskOffsets.get(task.id);
  if (offsets === undefined) return task.changelogs.length === 0 ? 0 : NO_STATE;
  let lag = 0n;
  for (const tp of task.changelogs) {
    const end = endOffsets.get(tp) ?? 0n;
    const at = offsets.get(tp);
    if (at === undefined || at > end) lag += end;
    else lag += end - at;
  }
  return Number(lag);
}

/**
 * Room under an even spread: every member gets `base` tasks, and `extras` of them one more.
 * Loads carried in from an earlier phase count.
 */
class EvenSpread {
  private readonly base: number;
  private readonly extras: number;
  readonly load: Map<string, number>;

  constructor(total: number, members: readonly string[], load: Map<string, number>) {
    this.base = Math.floor(total / members.length);
    this.extras = total - this.base * members.length;
    this.load = load;
  }

  private extrasUsed(): number {
    let n = 0;
    for (const l of this.load.values()) if (l > this.base) n++;
    return n;
  }

  canTake(member: string): boolean {
    const l = this.load.get(member) ?? 0;
    return l < this.base || (l === this.base && this.extrasUsed() < this.extras);
  }

  take(member: string): void {
    this.load.set(member, (this.load.get(member) ?? 0) + 1);
  }
}

interface Candidate {
  readonly task: TaskSpec;
  readonly member: string;
  readonly rank: number;
  readonly lag: number;
  /** Members that could run the task at once or nearly (rank 0 or 1). */
  readonly warm: number;
}

export function assignTasks(input: AssignmentInput): Map<string, MemberTasks> {
  const members = [...input.members].sort((a, b) => compareIds(a.id, b.id));
  const out = new Map<string, MemberTasks>(members.map((m) => [m.id, { active: [], standby: [] }]));
  if (members.length === 0) return out;
  const tasks = [...input.tasks].sort((a, b) => compareTaskIds(a.id, b.id));
  const order = new Map(tasks.map((t, i) => [t.id, i]));
  const ends = endOffsetsWithFallback(input);
  const lag = new Map<string, Map<string, number>>();
  for (const t of tasks) lag.set(t.id, new Map(members.map((m) => [m.id, taskLag(t, m, ends)])));
  const rankOf = (t: TaskSpec, m: MemberReport): number => {
    if (m.activeTasks.includes(t.id)) return 0;
    if (t.changelogs.length === 0) return 3;
    const l = lag.get(t.id)!.get(m.id)!;
    return l <= input.acceptableRecoveryLag ? 1 : l < NO_STATE ? 2 : 3;
  };
  const owner = new Map<string, string>();
  const ids = members.map((m) => m.id);

  const place = (group: readonly TaskSpec[], spread: EvenSpread) => {
    const candidates: Candidate[] = [];
    for (const t of group) {
      const ranks = members.map((m) => rankOf(t, m));
      const warm = ranks.filter((r) => r <= 1).length;
      members.forEach((m, i) => {
        const rank = ranks[i]!;
        if (rank < 3) candidates.push({ task: t, member: m.id, rank, lag: lag.get(t.id)!.get(m.id)!, warm });
      });
    }
    // Warm placements first, the tasks with the fewest warm members first (a greedy matching
    // that rarely strands a task whose only warm member another task took), then the previous
    // owner before a standby, the least lag; then stale state, least lag first.
    const bucket = (c: Candidate) => (c.rank <= 1 ? 0 : 1);
    candidates.sort(
      (a, b) =>
        bucket(a) - bucket(b) ||
        (bucket(a) === 0 ? a.warm - b.warm : 0) ||
        a.rank - b.rank ||
        a.lag - b.lag ||
        order.get(a.task.id)! - order.get(b.task.id)! ||
        compareIds(a.member, b.member),
    );
    for (const c of candidates) {
      if (owner.has(c.task.id) || !spread.canTake(c.member)) continue;
      owner.set(c.task.id, c.member);
      spread.take(c.member);
    }
    // What is left has no member with state and room: the least loaded takes it (least lag, then id).
    for (const t of group) {
      if (owner.has(t.id)) continue;
      const open = ids.filter((m) => spread.canTake(m));
      open.sort((a, b) => (spread.load.get(a) ?? 0) - (spread.load.get(b) ?? 0) || lag.get(t.id)!.get(a)! - lag.get(t.id)!.get(b)! || compareIds(a, b));
      const m = open[0]!;
      owner.set(t.id, m);
      spread.take(m);
    }
  };

  const stateful = tasks.filter((t) => t.changelogs.length > 0);
  const stateless = tasks.filter((t) => t.changelogs.length === 0);
  const statefulLoad = new Map<string, number>();
  place(stateful, new EvenSpread(stateful.length, ids, statefulLoad));
  place(stateless, new EvenSpread(tasks.length, ids, new Map(statefulLoad)));
  for (const t of tasks) out.get(owner.get(t.id)!)!.active.push(t.id);

  const replicas = Math.max(0, Math.floor(input.numStandbyReplicas));
  if (replicas > 0) placeStandbys(stateful, members, owner, lag, replicas, out);
  return out;
}

function placeStandbys(
  stateful: readonly TaskSpec[],
  members: readonly MemberReport[],
  owner: ReadonlyMap<string, string>,
  lag: ReadonlyMap<string, ReadonlyMap<string, number>>,
  replicas: number,
  out: Map<string, MemberTasks>,
): void {
  const hosts = members.filter((m) => m.acceptsStandbys);
  if (hosts.length === 0) return;
  const cap = Math.ceil((stateful.length * replicas) / hosts.length);
  const standbys = new Map<string, number>(hosts.map((m) => [m.id, 0]));
  const activeLoad = (m: string) => out.get(m)!.active.length;
  const processOf = new Map(members.map((m) => [m.id, m.process ?? `member:${m.id}`]));
  for (const t of stateful) {
    const taken = new Set<string>([processOf.get(owner.get(t.id)!)!]);
    for (let r = 0; r < replicas; r++) {
      const open = hosts.filter((m) => !taken.has(processOf.get(m.id)!));
      if (open.length === 0) break;
      const key = (m: MemberReport) => {
        const l = lag.get(t.id)!.get(m.id)!;
        const warm = m.standbyTasks.includes(t.id) || l < NO_STATE ? 0 : 1;
        return [standbys.get(m.id)! >= cap ? 1 : 0, warm, warm === 0 ? l : 0, standbys.get(m.id)! + activeLoad(m.id)] as const;
      };
      open.sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
        return compareIds(a.id, b.id);
      });
      const m = open[0]!;
      taken.add(processOf.get(m.id)!);
      standbys.set(m.id, standbys.get(m.id)! + 1);
      out.get(m.id)!.standby.push(t.id);
    }
  }
}

/** End offsets, with the highest offset any member reported where the leader could not fetch one. */
function endOffsetsWithFallback(input: AssignmentInput): Map<string, bigint> {
  const ends = new Map(input.endOffsets);
  for (const t of input.tasks) {
    for (const tp of t.changelogs) {
      if (ends.has(tp)) continue;
      let max = 0n;
      for (const m of input.members) {
        const at = m.taskOffsets.get(t.id)?.get(tp);
        if (at !== undefined && at > max) max = at;
      }
      ends.set(tp, max);
    }
  }
  return ends;
}
