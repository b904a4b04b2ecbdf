import type { TopicMessages } from './client/port.ts';

/**
 * Below the broker's default `message.max.bytes` (1 MiB) with room for batch and record
 * overhead: a commit's records for one partition (a backlog of dead letters, thousands of late
 * invoices) would otherwise go out as one record batch the broker refuses as too large.
 */
export const MAX_REQUEST_BYTES = 768 * 1024;

/**
 * Records per send, whatever their size. kafkajs groups a send's records by partition in time
 * quadratic in their number (it copies the partition's list for every record): a commit of a
 * million 20-byte changelog records spent a third of its CPU there in chunks of ~9,000 records
 * (a profile of the 5M-key run). The cost is linear in the chunk's length; 2,000 keeps it small
 * for a few more produce round trips.
 */
export const MAX_REQUEST_RECORDS = 2_000;

const bytesOf = (b: Buffer | string | null | undefined): number => (b === null || b === undefined ? 0 : typeof b === 'string' ? Buffer.byteLength(b) : b.length);

const sizeOf = (m: TopicMessages['messages'][number]): number => {
  let n = 64 + bytesOf(m.key) + bytesOf(m.value);
  if (m.headers !== undefined) for (const [k, v] of Object.entries(m.headers)) n += k.length + bytesOf(v);
  return n;
};

/**
 * Splits a commit's records into sends of at most `maxBytes` and `maxRecords` each (a single larger record goes
 * alone: the broker, and then the production handler, decide about it). Order within a
 * partition is kept: chunks are sent one after the other.
 */
export function chunkTopicMessages(topicMessages: readonly TopicMessages[], maxBytes = MAX_REQUEST_BYTES, maxRecords = MAX_REQUEST_RECORDS): TopicMessages[][] {
  const chunks: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let bytes = 0;
  let records = 0;
  for (const { topic, messages } of topicMessages) {
    let slice: TopicMessages['messages'] = [];
    for (const m of messages) {
      const size = sizeOf(m);
      if ((bytes + size > maxBytes || records >= maxRecords) && bytes > 0) {
        if (slice.length > 0) current.push({ topic, messages: slice });
        chunks.push(current);
        current = [];
        slice = [];
        bytes = 0;
        records = 0;
      }
      slice.push(m);
      bytes += size;
      records++;
    }
    if (slice.length > 0) current.push({ topic, messages: slice });
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
