/**
 * Consume throughput of the runtime's own consumer (the @platformatic/kafka adapter behind the
 * client port: its Fetch reading and record batch decoder) with `run`'s fetch settings, doing
 * nothing with the records and committing nothing: what `run` would reach if processing were free.
 * Prints `done <records> <ms since process start> <ms at the first record> <value bytes>` once `expected` records have arrived.
 *
 *   node bench/clients/adapter-consume.ts BROKER TOPIC GROUP EXPECTED
 */
import { silentLogger } from '../../topology/api/log.ts';
import { platformaticClient } from '../../topology/runtimes/kafka/client/platformatic.ts';
import { spreadAssigner } from '../../topology/runtimes/kafka/client/spread-assigner.ts';
import { consumeArgs, Tally } from './tally.ts';

const { broker, topic, group, expected } = consumeArgs('adapter-consume.ts');
const kafka = platformaticClient({ clientId: 'bench-adapter', brokers: [broker], log: silentLogger });
// The stream thread's fetch settings (topology/runtimes/kafka/stream-thread.ts).
const consumer = kafka.consumer({ groupId: group, assigner: spreadAssigner, maxWaitTimeInMs: 50, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
const tally = new Tally(expected);
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({
  eachBatchAutoResolve: true,
  eachBatch: async ({ batch }) => {
    tally.batch(batch.messages);
  },
});
