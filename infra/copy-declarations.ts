// After `tsc -p tsconfig.build.json`: copies the hand-written declaration files of the sources
// (such as state-stores/rocksdb-binding.d.ts, the types of a binding that ships none) into dist/,
// where tsc leaves them out, and points the `/// <reference path>` directives tsc kept (written
// relative to the sources, so outside dist/) at the copies, so a consumer's tsc resolves them.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = process.cwd();
const DIST = join(ROOT, 'dist');
const FOLDERS = ['topology', 'processors', 'state-stores', 'sinks', 'simulator', 'cli'];

const copied: string[] = [];
for (const folder of FOLDERS) {
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
    const source = join(entry.parentPath, entry.name);
    mkdirSync(dirname(join(DIST, source)), { recursive: true });
    copyFileSync(source, join(DIST, source));
    copied.push(source);
  }
}

const fixed: string[] = [];
for (const entry of readdirSync(DIST, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = join(entry.parentPath, entry.name);
  const text = readFileSync(file, 'utf8');
  const out = text.replace(/^(\/\/\/\s*<reference\s+path=")([^"]+)(")/gm, (line, open: string, path: string, close: string) => {
    const target = resolve(dirname(file), path);
    if (!relative(DIST, target).startsWith('..')) return line;
    // Outside dist/: the source tree's file, whose copy is at the same place under dist/.
    const inDist = join(DIST, relative(ROOT, target));
    const rel = relative(dirname(file), inDist);
    return `${open}${rel.startsWith('.') ? rel : `./${rel}`}${close}`;
  });
  if (out !== text) {
    writeFileSync(file, out);
    fixed.push(relative(ROOT, file));
  }
}
process.stderr.write(`dist/: copied ${copied.join(', ') || 'no declaration files'}; references fixed in ${fixed.join(', ') || 'none'}\n`);
