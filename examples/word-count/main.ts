// Word count on Kafka: node examples/word-count/main.ts --bootstrap-servers localhost:9092
// Reads lines from `sentences`, writes every changed count to `word-counts`, until Ctrl-C.
import { parseArgs } from 'node:util';
import { KafkaStreams } from 'retail-streams';
import { DEFAULT_TOPICS, wordCountTopology } from './word-count.ts';

const { values } = parseArgs({
  options: {
    'bootstrap-servers': { type: 'string', default: 'localhost:9092' },
    'application-id': { type: 'string', default: 'word-count' },
    input: { type: 'string', default: DEFAULT_TOPICS.input },
    output: { type: 'string', default: DEFAULT_TOPICS.output },
  },
});

const topology = wordCountTopology({ input: values.input, output: values.output });
console.log(topology.describe());

// The application id names the consumer group, the internal topics and the state folder.
const streams = new KafkaStreams(topology, { applicationId: values['application-id'], bootstrapServers: values['bootstrap-servers'] });
streams.setStateListener((next, previous) => console.log(`word-count: ${previous} -> ${next}`));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  // close() commits what has been processed and leaves the group, so a restart goes on from there.
  void streams.close().then(() => console.log('word-count: stopped'));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

await streams.start();
