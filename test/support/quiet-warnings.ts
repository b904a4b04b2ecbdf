// kafkajs schedules timers from broker throttle times that newer Node reports as negative:
// harmless, and the same filter the CLI applies (bin/retail-streams.js).
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});
