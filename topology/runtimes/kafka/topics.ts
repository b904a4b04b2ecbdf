import type { Topology } from '../../internals/compile.ts';

/** Kafka name of an internal topic: prefixed by the application id, like Kafka Streams. */
export const internalTopicName = (applicationId: string, topic: string): string => `${applicationId}-${topic}`;

export const changelogTopicName = (applicationId: string, store: string): string => `${applicationId}-${store}-changelog`;

/** Maps between the topology's topic names and the topics on the broker. */
export class TopicNames {
  private readonly toKafka = new Map<string, string>();
  private readonly fromKafka = new Map<string, string>();
  constructor(applicationId: string, topology: Topology) {
    for (const sub of topology.subtopologies) {
      for (const t of [...sub.sourceTopics, ...sub.sinkTopics]) {
        const k = topology.internalTopics.has(t) ? internalTopicName(applicationId, t) : t;
        this.toKafka.set(t, k);
        this.fromKafka.set(k, t);
      }
    }
  }
  kafka(topic: string): string {
    return this.toKafka.get(topic) ?? topic;
  }
  logical(kafkaTopic: string): string {
    return this.fromKafka.get(kafkaTopic) ?? kafkaTopic;
  }
}
