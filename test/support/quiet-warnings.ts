// kafkajs schedules timers from broker throttle times that newer Node reports as negative:
// harmless, and the same filter the CLI applies (bin/retail-streams.js).
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

// Tests read committed topics with kafkajs too: the same fix of its aborted-transaction filter
// as the CLI's, before any test file loads kafkajs.
import '../../topology/runtimes/kafka/install-aborted-filter.ts';
