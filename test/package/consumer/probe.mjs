// Which packages importing an entry point loads (every module, import and require alike, through a
// synchronous load hook): argv[2] is the specifier, the rest are the packages to look for.
import { registerHooks } from 'node:module';

const loaded = [];
registerHooks({
  load(url, context, next) {
    loaded.push(url);
    return next(url, context);
  },
});
const [specifier, ...packages] = process.argv.slice(2);
await import(specifier);
const count = (pkg) => loaded.filter((u) => u.includes(`/node_modules/${pkg}/`)).length;
process.stdout.write(JSON.stringify({ modules: loaded.length, ...Object.fromEntries(packages.map((p) => [p, count(p)])) }) + '\n');
