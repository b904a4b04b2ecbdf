#!/usr/bin/env node
// The CLI is TypeScript run by Node's built-in type stripping (Node >= 22.18).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`retail-streams needs Node.js 22.18 or newer (this is ${process.version}); run 'make' targets, which fetch Node 24.\n`);
  process.exit(1);
}
// kafkajs schedules timers from broker throttle times that newer Node reports as negative; harmless noise.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});
// First, before anything loads kafkajs: the fix of its read_committed filter (see the module).
await import('../topology/runtimes/kafka/install-aborted-filter.ts');
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
