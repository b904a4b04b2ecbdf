import type { KeyValueStore, StateStore, WindowStore, Windowed } from '../../../state-stores/api.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import type { Serde } from '../../api/serdes.ts';
import { partitionFor } from '../../internals/partitioner.ts';

/**
 * Interactive queries, as in Kafka Streams: read-only views of the local stores of a running
 * instance, and which member of the group holds a key. A view spans every active task of this
 * instance and looks its stores up at each read, so it stays right across rebalances; values are
 * copies, so a caller cannot change the state a task works on.
 */

/** A member's address for interactive queries (`application.server`), `host:port`. */
export interface HostInfo {
  readonly host: string;
  readonly port: number;
}

/** `host:port` (an IPv6 host in brackets) to a HostInfo; throws `invalid-argument` on anything else. */
export function parseHostInfo(text: string): HostInfo {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65_535))
    throw new RetailStreamsError('invalid-argument', `applicationServer must be host:port (the address other members reach this one's queries at), got "${text}"`);
  return { host: m[1]!, port };
}

export const hostInfoText = (h: HostInfo): string => `${h.host}:${h.port}`;

/** Read-only view of the key-value stores of one name on this instance. */
export interface ReadOnlyKeyValueStore<K, V> {
  readonly type: 'key-value';
  readonly name: string;
  get(key: K): V | undefined;
  /** Every entry, in key order. */
  all(): [K, V][];
  /** Entries with `from <= key <= to`, in key order. */
  range(from: K, to: K): [K, V][];
  /** Entries held (exact in memory, an estimate on disk). */
  approximateNumEntries(): number;
}

/** Read-only view of the window stores of one name on this instance. */
export interface ReadOnlyWindowStore<K, V> {
  readonly type: 'window';
  readonly name: string;
  /** The value of a key in the window starting at `windowStart`. */
  get(key: K, windowStart: number): V | undefined;
  /** A key's windows starting in [from, to], as [window start, value], by start. */
  fetch(key: K, from: number, to: number): [number, V][];
  /** Every key's windows starting in [from, to], by start then key. */
  fetchAll(from: number, to: number): [Windowed<K>, V][];
  all(): [Windowed<K>, V][];
}

export type QueryableStore<K, V> = ReadOnlyKeyValueStore<K, V> | ReadOnlyWindowStore<K, V>;

const compare = (a: unknown, b: unknown): number => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
const copy = <V>(v: V): V => (v === null || typeof v !== 'object' ? v : structuredClone(v));

/**
 * A view over the stores named `name` of this instance's active tasks. `stores()` is asked at
 * every read: the tasks that hold them come and go with rebalances.
 */
export function queryableStore<K, V>(name: string, type: 'key-value' | 'window', stores: () => readonly StateStore[]): QueryableStore<K, V> {
  if (type === 'key-value') {
    const kv = () => stores() as readonly KeyValueStore<K, V>[];
    const all = (): [K, V][] => kv().flatMap((s) => [...s.all()].map(([k, v]): [K, V] => [k, copy(v)])).sort((a, b) => compare(a[0], b[0]));
    return {
      type,
      name,
      get: (key) => {
        for (const s of kv()) {
          const v = s.get(key);
          if (v !== undefined) return copy(v);
        }
        return undefined;
      },
      all,
      range: (from, to) => all().filter(([k]) => compare(k, from) >= 0 && compare(k, to) <= 0),
      approximateNumEntries: () => kv().reduce((n, s) => n + s.size(), 0),
    };
  }
  const ws = () => stores() as readonly WindowStore<K, V>[];
  const fetchAll = (from: number, to: number): [Windowed<K>, V][] =>
    ws()
      .flatMap((s) => [...s.fetchRange(from, to)].map(([w, v]): [Windowed<K>, V] => [w, copy(v)]))
      .sort((a, b) => a[0].start - b[0].start || compare(a[0].key, b[0].key));
  return {
    type,
    name,
    get: (key, windowStart) => {
      for (const s of ws()) {
        const v = s.get(key, windowStart);
        if (v !== undefined) return copy(v);
      }
      return undefined;
    },
    fetch: (key, from, to) => ws().flatMap((s) => [...s.fetch(key, from, to)].map(([start, v]): [number, V] => [start, copy(v)])).sort((a, b) => a[0] - b[0]),
    fetchAll,
    all: () => fetchAll(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY),
  };
}

/** A member of the group, with what it was assigned: Kafka Streams' `StreamsMetadata`. */
export interface MemberMetadata {
  readonly memberId: string;
  /** Its `applicationServer`; undefined when it advertises none. */
  readonly host: HostInfo | undefined;
  /**
   * Its assigned partitions as `topic/partition`: the source partitions of the tasks it runs, and
   * the changelog partitions of the tasks it keeps standbys of.
   */
  readonly partitions: readonly string[];
}

/** The group's members and their partitions, as the last assignment made them. */
export interface MemberDirectory {
  /**
   * The members assigned a partition of a topic (Kafka name): a source topic's is the member
   * running its task; a changelog's, those keeping standbys. Undefined while not known (a rebalance).
   */
  membersFor(topic: string, partition: number): readonly MemberMetadata[] | undefined;
  /** Partitions of a topic (Kafka name), undefined while not known. */
  partitionCount(topic: string): number | undefined;
  members(): readonly MemberMetadata[];
}

/** Kafka Streams' `KeyQueryMetadata`: where a key of a store lives. */
export interface KeyQueryMetadata {
  /** The partition of the store's task the key falls into. */
  readonly partition: number;
  /** The member running that task: ask it. Undefined when it advertises no address. */
  readonly activeHost: HostInfo | undefined;
  readonly standbyHosts: readonly HostInfo[];
  /** This instance runs the task: `store(name)` answers for the key here. */
  readonly local: boolean;
}

/** What `metadataForKey` needs to know about a store: the Kafka topics its task reads. */
export interface StoreLocation {
  /** Source topics (Kafka names) of the sub-topology holding the store; their partitions are its tasks. */
  readonly sourceTopics: readonly string[];
  /** The store's changelog topic, whose partitions standbys are assigned; undefined for an unlogged store. */
  readonly changelogTopic: string | undefined;
}

const encoder = new TextEncoder();

/** Bytes of a key as the upstream producer wrote them: the serde's, else UTF-8 text (bytes as they are). */
export function keyBytes<K>(key: K, keySerde?: Serde<K>): Uint8Array | null {
  if (keySerde !== undefined) return keySerde.serialize(key);
  if (key === null || key === undefined) return null;
  if (key instanceof Uint8Array) return key;
  if (typeof key === 'string') return encoder.encode(key);
  if (typeof key === 'number' || typeof key === 'bigint') return encoder.encode(String(key));
  throw new RetailStreamsError('invalid-argument', 'metadataForKey needs a keySerde for a key that is not a string, a number or bytes');
}

/**
 * Where `key` of a store lives: its partition is Kafka's default partitioner over the key's
 * bytes and the partitions of the topics the store's task reads (the record key before the
 * store, as the upstream producer or repartition wrote it), then the assignment says who runs it.
 */
export function keyQueryMetadata<K>(
  location: StoreLocation,
  key: K,
  keySerde: Serde<K> | undefined,
  directory: MemberDirectory | undefined,
  localPartitions: ReadonlySet<string>,
): KeyQueryMetadata | undefined {
  const topic = location.sourceTopics[0];
  if (topic === undefined) return undefined;
  const count = directory?.partitionCount(topic);
  if (count === undefined || count <= 0) return undefined;
  const partition = partitionFor(keyBytes(key, keySerde), count);
  const local = location.sourceTopics.some((t) => localPartitions.has(`${t}/${partition}`));
  const active = location.sourceTopics.flatMap((t) => directory?.membersFor(t, partition) ?? [])[0];
  if (active === undefined && !local) return undefined;
  const standbys = location.changelogTopic === undefined ? [] : (directory?.membersFor(location.changelogTopic, partition) ?? []);
  return { partition, activeHost: active?.host, standbyHosts: standbys.flatMap((m) => (m.host === undefined ? [] : [m.host])), local };
}
