/**
 * One read_committed fetch with @platformatic/kafka's low-level Fetch API (sessionless, one
 * request per leader), and the fetched record batches as read_committed's raw records. The
 * library's Consumer#fetch is not used: at READ_COMMITTED it filters aborted records itself
 * first, and wrongly (see test/integration/platformatic-read-committed.test.ts).
 */
import type * as pk from '@platformatic/kafka';
import type { RawRecord } from '../read-committed.ts';
import type { LowLevelApi } from './options.ts';

const IS_TRANSACTIONAL = 0x10;
const IS_CONTROL = 0x20;
const LOG_APPEND_TIME = 0x08;
export const READ_COMMITTED = 1;

export interface FetchedRecord extends RawRecord {
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly headers: Record<string, Buffer | Buffer[]> | undefined;
}

export interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly seeks: number;
  readonly response: pk.fetchV17.FetchResponsePartition;
}

export const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** A fetched record batch's records from `from` on, as read_committed's raw records (control records included). */
export function rawRecords(batches: readonly pk.RecordsBatch[], from: bigint): { records: FetchedRecord[]; end: bigint } {
  const records: FetchedRecord[] = [];
  let end = from;
  for (const b of batches) {
    const batchEnd = b.firstOffset + BigInt(b.lastOffsetDelta) + 1n;
    if (batchEnd > end) end = batchEnd;
    const control = (b.attributes & IS_CONTROL) !== 0;
    const batchContext = { producerId: String(b.producerId), inTransaction: (b.attributes & IS_TRANSACTIONAL) !== 0 };
    const appendTime = (b.attributes & LOG_APPEND_TIME) !== 0;
    for (const r of b.records) {
      const offset = b.firstOffset + BigInt(r.offsetDelta);
      if (offset < from) continue;
      let headers: Record<string, Buffer | Buffer[]> | undefined;
      for (const [k, v] of r.headers) {
        if (k === null || v === null) continue;
        const name = k.toString('utf8');
        const had = (headers ??= {})[name];
        headers[name] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
      }
      records.push({
        offset: String(offset),
        key: r.key,
        value: r.value,
        timestamp: String(appendTime ? b.maxTimestamp : b.firstTimestamp + r.timestampDelta),
        headers,
        isControlRecord: control,
        batchContext,
      });
    }
  }
  return { records, end };
}


export interface FetchRequest {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: bigint;
  /** The partition's seek count when the fetch went out: a seek since makes its batch stale. */
  readonly seeks: number;
}

/**
 * Fetches the partitions from their leaders (in parallel); undefined when none has a known
 * leader. Partition errors come back in the partitions' `errorCode`, for the caller.
 */
export async function fetchPartitions(o: {
  metadata: pk.ClusterMetadata;
  api: LowLevelApi;
  pool: pk.ConnectionPool;
  requests: readonly FetchRequest[];
  maxWaitMs: number;
  maxBytes: number;
  partitionMaxBytes: number;
}): Promise<FetchedPartition[] | undefined> {
  // Fetch v12 and older name topics, later versions give their ids.
  const byName = o.api.version <= 12;
  const nameOf = new Map<string, string>();
  const byLeader = new Map<number, Map<string, pk.fetchV17.FetchRequestPartition[]>>();
  const sent = new Map<string, FetchRequest>();
  for (const r of o.requests) {
    const t = o.metadata.topics.get(r.topic);
    const leader = t?.partitions[r.partition]?.leader;
    if (t === undefined || leader === undefined || leader < 0) continue;
    const topicKey = byName ? r.topic : t.id;
    nameOf.set(topicKey, r.topic);
    const topics = byLeader.get(leader) ?? new Map<string, pk.fetchV17.FetchRequestPartition[]>();
    byLeader.set(leader, topics);
    const list = topics.get(topicKey) ?? [];
    topics.set(topicKey, list);
    list.push({ partition: r.partition, currentLeaderEpoch: -1, fetchOffset: r.fetchOffset, lastFetchedEpoch: -1, partitionMaxBytes: o.partitionMaxBytes });
    sent.set(key(r.topic, r.partition), r);
  }
  if (byLeader.size === 0) return undefined;
  const fetched = await Promise.all(
    [...byLeader].map(async ([leader, topics]): Promise<FetchedPartition[]> => {
      const broker = o.metadata.brokers.get(leader);
      if (broker === undefined) return [];
      const connection = await o.pool.get({ host: broker.host, port: broker.port });
      let response: pk.fetchV17.FetchResponse;
      try {
        // Session id 0 and epoch -1: a full fetch outside any fetch session (KIP-227).
        response = (await o.api.async(connection, o.maxWaitMs, 1, o.maxBytes, READ_COMMITTED, 0, -1, [...topics].map(([topicId, partitions]) => ({ topicId, partitions })), [], '')) as pk.fetchV17.FetchResponse;
      } catch (e) {
        // Partition errors come as an error holding the whole response: the other partitions' data is good.
        const r = (e as { response?: pk.fetchV17.FetchResponse }).response;
        if (r === undefined || !Array.isArray(r.responses)) throw e;
        response = r;
      }
      const out: FetchedPartition[] = [];
      for (const t of response.responses) {
        const topic = nameOf.get(t.topicId);
        if (topic === undefined) continue;
        for (const p of t.partitions) {
          const s = sent.get(key(topic, p.partitionIndex));
          if (s !== undefined) out.push({ topic, partition: p.partitionIndex, fetchOffset: s.fetchOffset, seeks: s.seeks, response: p });
        }
      }
      return out;
    }),
  );
  return fetched.flat();
}
