/**
 * Do `run` and a peer compute the same KPIs? For every key of the update topics (`kpi-time`:
 * window start; `kpi-time-country`: `<window start>|<country>`), the latest value on each side
 * (at-least-once outputs, compacted topics: the last record of a key wins) is compared field by
 * field: OPM, total_sale_volume, average_transaction_size, rate_of_return, overall; OPM,
 * total_sale_volume, rate_of_return per country; and the window itself. Dead letters are counted
 * as distinct source records (topic, partition, offset from the `rs-source-*` headers), since
 * every repetition of a contender writes them again to the same topic.
 */
import { Kafka, logLevel, type Admin, type KafkaMessage } from 'kafkajs';
import { kpiTopics } from '../cli/run-topology.ts';
import { sum } from './support/kafka.ts';

/** `run`'s topics, as `run --topic-prefix <prefix>` names them (cli/run-topology.ts). */
const runTopicsOf = (prefix: string) => {
  const t = kpiTopics(prefix);
  return { time: t.time, country: t.country, deadLetter: t.deadLetter };
};

/** A peer's topics (bench/support/peer.ts): `<prefix>kpi-time`, `<prefix>kpi-time-country`, `<prefix>dead-letter`. */
const peerTopicsOf = (prefix: string) => ({ time: `${prefix}kpi-time`, country: `${prefix}kpi-time-country`, deadLetter: `${prefix}dead-letter` });

const TIME_FIELDS = ['OPM', 'total_sale_volume', 'average_transaction_size', 'rate_of_return'] as const;
const COUNTRY_FIELDS = ['OPM', 'total_sale_volume', 'rate_of_return', 'country'] as const;

/** Every record of `topic` from the beginning to its end offsets as they are now. */
async function readAll(bootstrap: string, admin: Admin, topic: string, group: string, each: (m: KafkaMessage) => void): Promise<void> {
  if (!(await admin.listTopics()).includes(topic)) return;
  // Partitions with nothing left to read (empty, or every record deleted: low = high) are done
  // already: no batch would ever come for them.
  const offsets = await admin.fetchTopicOffsets(topic);
  const end = new Map(offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]));
  if (sum(end) === 0) return;
  const consumer = new Kafka({ clientId: 'bench-cross-check', brokers: [bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: group, maxWaitTimeInMs: 100, maxBytesPerPartition: 8 << 20 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const seen = new Map<number, number>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 180_000);
      const done = () => [...end].every(([p, e]) => (seen.get(p) ?? 0) >= e);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) if (Number(m.offset) < (end.get(batch.partition) ?? 0)) each(m);
          seen.set(batch.partition, Number(batch.lastOffset()) + 1);
          if (done()) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

type Kpi = Record<string, unknown>;

async function latestPerKey(bootstrap: string, admin: Admin, topic: string, group: string): Promise<Map<string, Kpi>> {
  const out = new Map<string, Kpi>();
  await readAll(bootstrap, admin, topic, group, (m) => {
    if (m.key === null) return;
    const k = m.key.toString('utf8');
    // A tombstone deletes the key, as compaction would.
    if (m.value === null) out.delete(k);
    else out.set(k, JSON.parse(m.value.toString('utf8')) as Kpi);
  });
  return out;
}

/** Distinct source records among the dead letters (or records, where a letter has no origin headers). */
async function deadLetters(bootstrap: string, admin: Admin, topic: string, group: string, repetitions = 1): Promise<number> {
  // A dead letter without origin headers (a peer whose DSL cannot set headers) cannot be told
  // from its repetition's twin: those count as written, divided by the repetitions that wrote them.
  const origins = new Set<string>();
  let anonymous = 0;
  await readAll(bootstrap, admin, topic, group, (m) => {
    const h = (name: string) => m.headers?.[name]?.toString();
    const t = h('rs-source-topic');
    const p = h('rs-source-partition');
    const o = h('rs-source-offset');
    if (t === undefined || p === undefined || o === undefined) anonymous++;
    else origins.add(`${t}/${p}/${o}`);
  });
  return origins.size + anonymous / repetitions;
}

export interface CrossCheck {
  /** Windows (keys of kpi-time) on either side. */
  readonly timeWindows: number;
  /** Window-and-country keys on either side. */
  readonly countryWindows: number;
  /** Keys, of both topics, whose latest values agree in every field. */
  readonly same: number;
  /** The first few differences, `<topic kind> <key>: <field> ours X, peer Y`. */
  readonly differing: string[];
  readonly differingCount: number;
  readonly deadLetters: { readonly ours: number; readonly peer: number };
}

const MAX_LISTED = 10;

/**
 * Compares the latest update per key of `<oursPrefix>kpi-time{,-country}` with the peer's, and
 * the dead-letter counts. `oursPrefix` '' reads `run`'s own topics.
 */
export async function crossCheckAll(bootstrap: string, admin: Admin, runId: string, oursPrefix: string, peerPrefix: string, peerRepetitions = 1): Promise<CrossCheck> {
  const ours = runTopicsOf(oursPrefix);
  const peer = peerTopicsOf(peerPrefix);
  const g = (what: string, side: string) => `bench-cross-check-${runId}-${what}-${side}-${peerPrefix || 'run'}-${Date.now().toString(36)}`;
  const [oursTime, peerTime, oursCountry, peerCountry] = await Promise.all([
    latestPerKey(bootstrap, admin, ours.time, g('time', 'ours')),
    latestPerKey(bootstrap, admin, peer.time, g('time', 'peer')),
    latestPerKey(bootstrap, admin, ours.country, g('country', 'ours')),
    latestPerKey(bootstrap, admin, peer.country, g('country', 'peer')),
  ]);
  const [oursDead, peerDead] = await Promise.all([deadLetters(bootstrap, admin, ours.deadLetter, g('dead', 'ours')), deadLetters(bootstrap, admin, peer.deadLetter, g('dead', 'peer'), peerRepetitions)]);
  const differing: string[] = [];
  let differingCount = 0;
  let same = 0;
  const compare = (kind: string, o: Map<string, Kpi>, p: Map<string, Kpi>, fields: readonly string[]): number => {
    const keys = new Set([...o.keys(), ...p.keys()]);
    for (const key of [...keys].sort()) {
      const a = o.get(key);
      const b = p.get(key);
      let diff: string | undefined;
      if (a === undefined || b === undefined) diff = `${a === undefined ? 'missing in ours' : 'missing in the peer'}`;
      else {
        const bad = fields.filter((f) => a[f] !== b[f]);
        if (JSON.stringify(a.window) !== JSON.stringify(b.window)) bad.push('window');
        if (bad.length > 0) diff = bad.map((f) => `${f} ours ${JSON.stringify(a[f])}, peer ${JSON.stringify(b[f])}`).join('; ');
      }
      if (diff === undefined) same++;
      else {
        differingCount++;
        if (differing.length < MAX_LISTED) differing.push(`${kind} ${key}: ${diff}`);
      }
    }
    return keys.size;
  };
  const timeWindows = compare('kpi-time', oursTime, peerTime, TIME_FIELDS);
  const countryWindows = compare('kpi-time-country', oursCountry, peerCountry, COUNTRY_FIELDS);
  if (oursDead !== peerDead && differing.length < MAX_LISTED) differing.push(`dead letters: ours ${oursDead}, peer ${peerDead}`);
  return { timeWindows, countryWindows, same, differing, differingCount, deadLetters: { ours: oursDead, peer: peerDead } };
}
