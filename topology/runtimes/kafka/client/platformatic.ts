/**
 * The @platformatic/kafka adapter of the client port (port.ts). Loaded only when chosen
 * (`client: 'platformatic'`): nothing here runs at import but the library's own module loading.
 *
 * - consumer: the library's protocol APIs for group membership and fetching (platformatic/group.ts,
 *   platformatic/consumer.ts); read_committed decided by read-committed.ts from the raw records and
 *   the fetch's aborted-transaction list;
 * - producer: the library's idempotent / transactional Producer; a transaction's offsets carry
 *   the consumer's group generation (KIP-447), hence exactly-once `v2`;
 * - admin: the library's Admin (platformatic/admin.ts).
 */
import type { KafkaClient, KafkaClientFactory } from './port.ts';
import { PlatformaticAdmin } from './platformatic/admin.ts';
import { PlatformaticConsumer } from './platformatic/consumer.ts';
import { PlatformaticProducer } from './platformatic/producer.ts';

export const platformaticClient: KafkaClientFactory = (options): KafkaClient => {
  return {
    name: 'platformatic',
    exactlyOnce: 'v2',
    admin: (o) => new PlatformaticAdmin(options, o),
    consumer: (o) => new PlatformaticConsumer(options, o),
    producer: (o) => new PlatformaticProducer(options, o),
  };
};
