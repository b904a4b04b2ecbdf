import { decodeMemberMetadata, encodeMemberAssignment, encodeMemberMetadata } from '../group-protocol.ts';
import type { GroupAssignerFactory } from './port.ts';

/**
 * The plain consumer-group assignment, for readers that are not stream threads (the dashboard,
 * `watch`, tests): every partition of the subscribed topics, dealt round robin over the members
 * in member-id order.
 */
export const spreadAssigner: GroupAssignerFactory = (cluster) => ({
  name: 'retail-streams-spread',
  version: 0,
  protocol: ({ topics }) => ({ name: 'retail-streams-spread', metadata: encodeMemberMetadata({ version: 0, topics }) }),
  assign: async ({ members, topics }) => {
    const ids = members.map((m) => m.memberId).sort();
    const wanted = new Set(topics);
    for (const m of members) for (const t of decodeMemberMetadata(m.memberMetadata).topics) wanted.add(t);
    const byMember = new Map(ids.map((id) => [id, {} as Record<string, number[]>]));
    let n = 0;
    for (const topic of [...wanted].sort()) {
      const count = cluster.partitionCount(topic) ?? 0;
      for (let p = 0; p < count; p++) (byMember.get(ids[n++ % ids.length]!)![topic] ??= []).push(p);
    }
    return ids.map((memberId) => ({ memberId, memberAssignment: encodeMemberAssignment({ version: 0, assignment: byMember.get(memberId)! }) }));
  },
});
