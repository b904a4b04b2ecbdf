import { CLIENT_NAMES, type ClientName, type KafkaClient, type KafkaClientFactory } from '../../topology/runtimes/kafka/client/port.ts';
import { clientFactory, DEFAULT_CLIENT } from '../../topology/runtimes/kafka/client/select.ts';

/**
 * The client adapter the integration suites run on: `RS_KAFKA_CLIENT` (the CLI's variable, so
 * child `run` processes inherit it), as vitest's per-adapter projects set it; default the library's default.
 */
export const TEST_CLIENT: ClientName = (() => {
  const name = process.env.RS_KAFKA_CLIENT ?? DEFAULT_CLIENT;
  if (!(CLIENT_NAMES as readonly string[]).includes(name)) throw new Error(`RS_KAFKA_CLIENT=${name}: expected one of ${CLIENT_NAMES.join(', ')}`);
  return name as ClientName;
})();

/** The test adapter with smaller fetches for the consumers of one group (a stream thread's). */
export async function withFetchLimits(groupId: string, maxBytesPerPartition: number, maxBytes: number): Promise<KafkaClientFactory> {
  const base = await clientFactory(TEST_CLIENT);
  return (options) => {
    const k: KafkaClient = base(options);
    return {
      name: k.name,
      exactlyOnce: k.exactlyOnce,
      admin: () => k.admin(),
      producer: (o) => k.producer(o),
      consumer: (c) => k.consumer(c.groupId === groupId ? { ...c, maxBytesPerPartition, maxBytes } : c),
    };
  };
}

