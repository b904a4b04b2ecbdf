/**
 * One read_committed fetch over @platformatic/kafka's connections (sessionless, one request per
 * leader): the library's Fetch request, our own reading of the response, which keeps each
 * partition's record batches as bytes for record-batches.ts to decode when they are delivered.
 * The library's Consumer#fetch is not used: at READ_COMMITTED it filters aborted records itself
 * first, and wrongly (see test/integration/platformatic-read-committed.test.ts).
 */
import * as pk from '@platformatic/kafka';
import type { LowLevelApi } from './options.ts';

export const READ_COMMITTED = 1;

/** One partition of a fetch response, as the consumer needs it. */
export interface PartitionData {
  readonly partitionIndex: number;
  readonly errorCode: number;
  readonly highWatermark: bigint;
  readonly abortedTransactions: readonly { readonly producerId: bigint; readonly firstOffset: bigint }[] | null;
  /** The partition's record batches, undecoded (a view of the response where it came in one piece). */
  readonly records: Buffer | null;
}

export interface FetchResponse {
  readonly throttleTimeMs: number;
  readonly errorCode: number;
  readonly sessionId: number;
  /** `topicId` is the topic's name up to Fetch v12, its id from v13. */
  readonly responses: readonly { readonly topicId: string; readonly partitions: readonly PartitionData[] }[];
}

export interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly seeks: number;
  readonly response: PartitionData;
}

/** Skips a flexible version's tagged fields (none of the Fetch response's is needed here). */
const skipTaggedFields = (r: pk.Reader): void => {
  const n = r.readUnsignedVarInt();
  for (let i = 0; i < n; i++) {
    r.readUnsignedVarInt();
    r.skip(r.readUnsignedVarInt());
  }
};

/** The oldest Fetch version read here: the first flexible one (Kafka 2.7). */
export const MIN_FETCH_VERSION = 12;

/**
 * Fetch response v12-v17: throttle_time_ms, error_code, session_id, [responses: topic (v12) or
 * topic_id (v13+), [partitions: partition_index, error_code, high_watermark, last_stable_offset,
 * log_start_offset, [aborted_transactions: producer_id, first_offset], preferred_read_replica,
 * records (COMPACT_RECORDS: length + 1, 0 for null)]], each level with tagged fields.
 */
function parseFetchResponse(_correlationId: number, apiKey: number, apiVersion: number, r: pk.Reader): FetchResponse {
  const throttleTimeMs = r.readInt32();
  const errorCode = r.readInt16();
  const sessionId = r.readInt32();
  const responses: { topicId: string; partitions: PartitionData[] }[] = [];
  const topics = r.readUnsignedVarInt() - 1;
  for (let t = 0; t < topics; t++) {
    const topicId = apiVersion >= 13 ? r.readUUID() : r.readString();
    const partitions: PartitionData[] = [];
    const count = r.readUnsignedVarInt() - 1;
    for (let i = 0; i < count; i++) {
      const partitionIndex = r.readInt32();
      const partitionError = r.readInt16();
      const highWatermark = r.readInt64();
      r.readInt64(); // last_stable_offset: the records end there at read_committed
      r.readInt64(); // log_start_offset
      const abortedCount = r.readUnsignedVarInt() - 1;
      let abortedTransactions: { producerId: bigint; firstOffset: bigint }[] | null = null;
      if (abortedCount >= 0) {
        abortedTransactions = [];
        for (let a = 0; a < abortedCount; a++) {
          abortedTransactions.push({ producerId: r.readInt64(), firstOffset: r.readInt64() });
          skipTaggedFields(r);
        }
      }
      r.readInt32(); // preferred_read_replica
      const size = r.readUnsignedVarInt();
      let records: Buffer | null = null;
      if (size > 1) {
        records = r.buffer.slice(r.position, r.position + size - 1);
        r.skip(size - 1);
      }
      skipTaggedFields(r);
      partitions.push({ partitionIndex, errorCode: partitionError, highWatermark, abortedTransactions, records });
    }
    skipTaggedFields(r);
    responses.push({ topicId, partitions });
  }
  skipTaggedFields(r);
  const response = { throttleTimeMs, errorCode, sessionId, responses };
  if (errorCode !== 0) throw new pk.ResponseError(apiKey, apiVersion, { '': [errorCode, null] }, response);
  return response;
}

/** The library's Fetch request of that version, with our reading of the response. */
const fetchApis = new Map<number, LowLevelApi>();
function fetchApi(version: number): LowLevelApi {
  let api = fetchApis.get(version);
  if (api === undefined) {
    if (version < MIN_FETCH_VERSION || version > 17) throw new Error(`Fetch v${version}: this adapter reads Fetch v${MIN_FETCH_VERSION}-v17 (Kafka 2.7 or newer)`);
    const request = (pk as unknown as Record<string, { createRequest: (...args: unknown[]) => unknown }>)[`fetchV${version}`]!.createRequest;
    api = pk.createAPI(1, version, request as never, parseFetchResponse as never) as unknown as LowLevelApi;
    fetchApis.set(version, api);
  }
  return api;
}

export const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

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
      let response: FetchResponse;
      try {
        // Session id 0 and epoch -1: a full fetch outside any fetch session (KIP-227).
        response = (await fetchApi(o.api.version).async(connection, o.maxWaitMs, 1, o.maxBytes, READ_COMMITTED, 0, -1, [...topics].map(([topicId, partitions]) => ({ topicId, partitions })), [], '')) as FetchResponse;
      } catch (e) {
        // Partition errors come as an error holding the whole response: the other partitions' data is good.
        const r = (e as { response?: FetchResponse }).response;
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
