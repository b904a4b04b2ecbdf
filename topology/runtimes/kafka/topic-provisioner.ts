import type { Admin } from './client/port.ts';
import type { Topology } from '../../internals/compile.ts';
import { RetailStreamsError } from '../../api/errors.ts';
import type { Logger } from '../../api/log.ts';
import type { OutputTopicSpec } from './config.ts';
import { changelogTopicName, type TopicNames } from './topics.ts';

interface TopicToCreate {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries: { name: string; value: string }[];
}

export interface ProvisionOptions {
  readonly applicationId: string;
  readonly brokers: readonly string[];
  readonly replicationFactor: number;
  readonly outputTopics: readonly OutputTopicSpec[];
  /** KIP-1034's dead-letter topic, created with LogAppendTime when missing. */
  readonly deadLetterQueueTopic: string | undefined;
  readonly log: Logger;
}

/**
 * Checks the input topics and creates the internal and output topics a topology needs, as
 * Kafka Streams' InternalTopicManager does. Returns the partition count of every topic the
 * topology names, by logical name (and of changelogs and output topics, by Kafka name).
 */
export async function provisionTopics(admin: Admin, topology: Topology, names: TopicNames, o: ProvisionOptions): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const meta = await admin.fetchTopicMetadata({ topics: [] });
  const existing = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  for (const t of topology.inputTopics()) {
    const n = existing.get(t);
    if (n === undefined) throw new RetailStreamsError('invalid-argument', `input topic "${t}" does not exist on ${o.brokers.join(',')}`);
    counts.set(t, n);
  }
  const create: TopicToCreate[] = [];
  const want = (topic: string, partitions: number, configs: Record<string, string>, logical: string) => {
    counts.set(logical, existing.get(topic) ?? partitions);
    if (existing.has(topic) || create.some((c) => c.topic === topic)) return;
    const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }));
    if (o.replicationFactor > 1) configEntries.push({ name: 'min.insync.replicas', value: String(Math.min(2, o.replicationFactor)) });
    create.push({ topic, numPartitions: partitions, replicationFactor: o.replicationFactor, configEntries });
  };
  // Repartition topics get as many partitions as the input feeding them, like Kafka Streams, and
  // keep records whatever their timestamps (event time, maybe years old): they are purged by
  // offset with DeleteRecords once consumed and committed.
  for (const sub of topology.subtopologies) {
    const n = Math.max(...sub.sourceTopics.map((t) => counts.get(t) ?? 0));
    for (const t of sub.sinkTopics) if (topology.internalTopics.has(t)) want(names.kafka(t), n, { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1' }, t);
  }
  for (const sub of topology.subtopologies) {
    const n = Math.max(...sub.sourceTopics.map((t) => counts.get(t)!));
    for (const s of sub.stores) {
      const name = changelogTopicName(o.applicationId, s);
      if (topology.stores.get(s)!.logged) want(name, n, { 'cleanup.policy': 'compact' }, name);
    }
  }
  const outputConfigs = (spec: Pick<OutputTopicSpec, 'compacted' | 'logAppendTime' | 'configs'>): Record<string, string> => ({
    ...(spec.compacted === true ? { 'cleanup.policy': 'compact' } : {}),
    ...(spec.logAppendTime === true ? { 'message.timestamp.type': 'LogAppendTime' } : {}),
    ...spec.configs,
  });
  for (const spec of o.outputTopics) want(spec.name, spec.partitions, outputConfigs(spec), spec.name);
  if (o.deadLetterQueueTopic !== undefined && !counts.has(o.deadLetterQueueTopic)) want(o.deadLetterQueueTopic, 1, outputConfigs({ logAppendTime: true }), o.deadLetterQueueTopic);
  for (const t of topology.outputTopics()) if (!counts.has(t)) want(t, 1, {}, t);
  if (create.length > 0) {
    try {
      await admin.createTopics({ topics: create, waitForLeaders: true });
    } catch (e) {
      // Another process of the group may have created them a moment ago.
      if (!/exists/i.test(String((e as Error).message))) throw e;
    }
    o.log.info(`created topics ${create.map((c) => `${c.topic}(${c.numPartitions})`).join(', ')}`);
  }
  return counts;
}

/**
 * Deletes what the group has consumed and committed from repartition topics (DeleteRecords), at
 * most once per interval, as Kafka Streams does every `repartition.purge.interval.ms`: their
 * records carry event time, so time retention could not be trusted to remove them.
 */
export class RepartitionPurger {
  private readonly committed = new Map<string, { topic: string; partition: number; offset: string }>();
  private lastPurge: number;
  private readonly admin: Admin;
  private readonly intervalMs: number;
  private readonly clock: () => number;
  private readonly log: Logger;

  constructor(admin: Admin, intervalMs: number, clock: () => number, log: Logger) {
    this.admin = admin;
    this.intervalMs = intervalMs;
    this.clock = clock;
    this.log = log;
    this.lastPurge = clock();
  }

  /** Notes offsets committed on a repartition topic: everything before them may go. */
  committedUpTo(topic: string, partition: number, offset: string): void {
    this.committed.set(`${topic}/${partition}`, { topic, partition, offset });
  }

  async maybePurge(force = false): Promise<void> {
    if (this.committed.size === 0 || (!force && this.clock() - this.lastPurge < this.intervalMs)) return;
    this.lastPurge = this.clock();
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const c of this.committed.values()) {
      let list = byTopic.get(c.topic);
      if (list === undefined) byTopic.set(c.topic, (list = []));
      list.push({ partition: c.partition, offset: c.offset });
    }
    this.committed.clear();
    for (const [topic, partitions] of byTopic) {
      // A failed purge only leaves records for the next one: never worth stopping for.
      await this.admin.deleteTopicRecords({ topic, partitions }).catch((e: unknown) => this.log.debug(`purging ${topic}: ${(e as Error).message}`));
    }
  }
}
