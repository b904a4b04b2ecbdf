#!/usr/bin/env node
// In the repository this runs the TypeScript sources (Node's built-in type stripping, Node >= 22.18);
// the published package runs dist/bin/retail-streams.js, this file compiled by `npm run build`,
// whose imports tsc rewrites to the compiled .js modules.
import * as nodeModule from 'node:module';
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`retail-streams needs Node.js 22.18 or newer (this is ${process.version}); run 'make' targets, which fetch Node 24.\n`);
  process.exit(1);
}
// Node keeps the compiled code of every module loaded in its cache folder (the OS temp dir, or
// NODE_COMPILE_CACHE), so later starts skip compiling effect's few hundred modules.
nodeModule.enableCompileCache?.();
// effect's Schema module (flags are decoded with it) imports effect/FastCheck, a re-export of the
// whole fast-check package (223 modules, a third of replay's start-up) used only to generate test
// data (Schema arbitraries), which the CLI never does: in this process it resolves to an empty module.
nodeModule.registerHooks?.({
  resolve(specifier, context, next) {
    if (specifier === 'fast-check' && context.parentURL?.endsWith('/effect/dist/esm/FastCheck.js')) return { url: 'data:text/javascript,export{}', format: 'module', shortCircuit: true };
    return next(specifier, context);
  },
});
// kafkajs schedules timers from broker throttle times that newer Node reports as negative; harmless noise.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
