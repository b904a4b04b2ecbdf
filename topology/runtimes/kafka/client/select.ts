import { RetailStreamsError } from '../../../api/errors.ts';
import { CLIENT_NAMES, type ClientName, type KafkaClientFactory } from './port.ts';

/** The default adapter: see the README's "Kafka clients" for why. */
export const DEFAULT_CLIENT: ClientName = 'platformatic';

/**
 * The client factory for a `client` setting: an adapter's name or a factory of one's own.
 * Adapters load here, on first use, so that importing the library loads no Kafka client.
 */
export async function clientFactory(client: ClientName | KafkaClientFactory | undefined): Promise<KafkaClientFactory> {
  if (typeof client === 'function') return client;
  const name = client ?? DEFAULT_CLIENT;
  switch (name) {
    case 'kafkajs':
      return (await import('./kafkajs.ts')).kafkajsClient;
    case 'platformatic':
      return (await import('./platformatic.ts')).platformaticClient;
    default:
      throw new RetailStreamsError('invalid-argument', `unknown Kafka client "${String(name)}": expected one of ${CLIENT_NAMES.join(', ')}, or a client factory`);
  }
}
