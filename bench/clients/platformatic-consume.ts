/**
 * Raw consume throughput of @platformatic/kafka: a consumer stream from the earliest offsets,
 * Buffer values, doing nothing with the records and committing nothing.
 * Prints `done <records> <ms since process start> <ms at the first record> <value bytes>` once `expected` records have arrived.
 *
 *   node bench/clients/platformatic-consume.ts BROKER TOPIC GROUP EXPECTED
 */
import { Consumer, MessagesStreamModes } from '@platformatic/kafka';

const [broker, topic, group, expectedArg] = process.argv.slice(2);
if (broker === undefined || topic === undefined || group === undefined || expectedArg === undefined) {
  process.stderr.write('usage: platformatic-consume.ts BROKER TOPIC GROUP EXPECTED\n');
  process.exit(2);
}
const expected = Number(expectedArg);
const consumer = new Consumer({ groupId: group, clientId: 'bench-platformatic', bootstrapBrokers: [broker], maxWaitTime: 50, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
let records = 0;
let bytes = 0;
let first = 0;
const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
stream.on('data', (m: { value: Buffer | undefined }) => {
  if (records === 0) first = performance.now();
  records++;
  bytes += m.value?.length ?? 0;
  if (records === expected) process.stdout.write(`done ${records} ${Math.round(performance.now())} ${Math.round(first)} ${bytes}\n`, () => process.exit(0));
});
stream.on('error', (e: Error) => {
  process.stderr.write(`consume error: ${e.message}\n`);
  process.exit(1);
});
