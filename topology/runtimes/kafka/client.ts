import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from '../../api/log.ts';

export interface ClientOptions {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly log: Logger;
}

/** Makes the Kafka client the runtime talks through; tests and other adapters pass their own. */
export type KafkaClientFactory = (options: ClientOptions) => Kafka;

/** The default client: kafkajs, its log lines routed to the library's logger. */
export const kafkajsClient: KafkaClientFactory = ({ clientId, brokers, log }) =>
  new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: 3_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 3_000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => {
      const text = `${entry.message}${entry.error ? `: ${entry.error}` : ''}`;
      if (level <= logLevel.ERROR) log.warn(`kafka: ${text}`);
      else log.debug(`kafka: ${text}`);
    },
  });
