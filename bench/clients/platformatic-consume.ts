/**
 * Raw consume throughput of @platformatic/kafka: a consumer stream from the earliest offsets,
 * Buffer values, doing nothing with the records and committing nothing.
 * Prints `done <records> <ms since process start> <ms at the first record> <value bytes>` once `expected` records have arrived.
 *
 *   node bench/clients/platformatic-consume.ts BROKER TOPIC GROUP EXPECTED
 */
import { Consumer, MessagesStreamModes } from '@platformatic/kafka';
import { consumeArgs, Tally } from './tally.ts';

const { broker, topic, group, expected } = consumeArgs('platformatic-consume.ts');
const consumer = new Consumer({ groupId: group, clientId: 'bench-platformatic', bootstrapBrokers: [broker], maxWaitTime: 50, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
const tally = new Tally(expected);
const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
stream.on('data', (m: { value: Buffer | undefined }) => tally.record(m.value?.length ?? 0));
stream.on('error', (e: Error) => {
  process.stderr.write(`consume error: ${e.message}\n`);
  process.exit(1);
});
