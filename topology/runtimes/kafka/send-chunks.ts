import type { TopicMessages } from './client/port.ts';

/**
 * Below the broker's default `message.max.bytes` (1 MiB) with room for batch and record
 * overhead: a commit's records for one partition (a backlog of dead letters, thousands of late
 * invoices) would otherwise go out as one record batch the broker refuses as too large.
 */
export const MAX_REQUEST_BYTES = 768 * 1024;

const sizeOf = (m: TopicMessages['messages'][number]): number => {
  let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  if (m.headers !== undefined) for (const [k, v] of Object.entries(m.headers)) n += k.length + (v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : (v as Buffer).length);
  return n;
};

/**
 * Splits a commit's records into sends of at most `maxBytes` each (a single larger record goes
 * alone: the broker, and then the production handler, decide about it). Order within a
 * partition is kept: chunks are sent one after the other.
 */
export function chunkTopicMessages(topicMessages: readonly TopicMessages[], maxBytes = MAX_REQUEST_BYTES): TopicMessages[][] {
  const chunks: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    let slice: TopicMessages['messages'] = [];
    for (const m of messages) {
      const size = sizeOf(m);
      if (bytes + size > maxBytes && bytes > 0) {
        if (slice.length > 0) current.push({ topic, messages: slice });
        chunks.push(current);
        current = [];
        slice = [];
        bytes = 0;
      }
      slice.push(m);
      bytes += size;
    }
    if (slice.length > 0) current.push({ topic, messages: slice });
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
