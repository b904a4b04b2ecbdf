// What each entry point loads, from the sources: the method of the kafkajs check in
// test/topology/kafka/kafka-streams.test.ts (a child process records every module Node loads, import
// and require alike, through a synchronous load hook, and the importer of each), extended to
// effect and the schema-registry client, and to the CLI's `--help` and `replay`.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGES = ['kafkajs', 'effect', '@kafkajs/confluent-schema-registry', 'avsc', 'fast-check'] as const;
type Package = (typeof PACKAGES)[number];
interface Loaded {
  readonly count: number;
  /** The import chain to the first module of the package, entry point first. */
  readonly chain: string[];
}

const work = mkdtempSync(join(tmpdir(), 'retail-streams-imports-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const probe = `
  import { registerHooks } from 'node:module';
  const parents = new Map();
  const loaded = [];
  registerHooks({
    resolve(specifier, context, next) {
      const r = next(specifier, context);
      if (context.parentURL !== undefined && !parents.has(r.url)) parents.set(r.url, context.parentURL);
      return r;
    },
    load(url, context, next) {
      loaded.push(url);
      return next(url, context);
    },
  });
  const chainOf = (u) => {
    const chain = [u];
    while (parents.has(chain[0]) && chain.length < 50) chain.unshift(parents.get(chain[0]));
    return chain.slice(1).map((c) => c.replace('file://' + process.cwd() + '/', ''));
  };
  const [what, ...args] = JSON.parse(process.env.PROBE);
  if (what === 'bin') {
    // The command itself: bin/retail-streams.js with these arguments, output discarded.
    process.stdout.write = () => true;
    process.argv = [process.argv[0], 'bin/retail-streams.js', ...args];
    await import('./bin/retail-streams.js');
  } else if (what === 'cli') {
    // The CLI as bin/retail-streams.js runs it, output discarded.
    process.stdout.write = () => true;
    const { main } = await import('./cli/main.ts');
    process.exitCode = await main(args);
  } else {
    await import(what);
  }
  const report = {};
  for (const pkg of ${JSON.stringify(PACKAGES)}) {
    const hits = loaded.filter((u) => u.includes('/node_modules/' + pkg + '/'));
    report[pkg] = { count: hits.length, chain: hits.length === 0 ? [] : chainOf(hits[0]) };
  }
  process.stderr.write('PROBE' + JSON.stringify(report) + '\\n');
`;

const loads = (what: string, ...args: string[]): Promise<Record<Package, Loaded>> =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--input-type=module', '-e', probe],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, PROBE: JSON.stringify([what, ...args]) } },
      (error, _stdout, stderr) => {
        const line = stderr.split('\n').find((l) => l.startsWith('PROBE'));
        if (line === undefined) reject(new Error(`probe of ${what} failed: ${error?.message}\n${stderr}`));
        else resolve(JSON.parse(line.slice('PROBE'.length)) as Record<Package, Loaded>);
      },
    ),
  );

/** Expects none of `packages` loaded, naming the import chain of the first one that was. */
const expectNone = (report: Record<Package, Loaded>, packages: readonly Package[]) => {
  for (const pkg of packages) expect(report[pkg].chain, `${pkg} is loaded through: ${report[pkg].chain.join(' -> ')}`).toEqual([]);
};

describe('what importing loads', () => {
  it('the package root loads no Kafka client, no effect and no registry client', async () => {
    expectNone(await loads('./index.ts'), ['kafkajs', 'effect', '@kafkajs/confluent-schema-registry']);
  });

  it('the retail application loads neither the Kafka client nor the registry client until used', async () => {
    const report = await loads('./retail.ts');
    expectNone(report, ['kafkajs', '@kafkajs/confluent-schema-registry']);
  });

  it('the probe sees each package when it is loaded (the control)', async () => {
    const retry = await loads('./topology/internals/retry.ts');
    expect(retry.effect.count).toBeGreaterThan(0);
    expect(retry.effect.chain[0]).toBe('topology/internals/retry.ts');
    expect((await loads('./topology/runtimes/kafka/client/kafkajs.ts')).kafkajs.count).toBeGreaterThan(0);
    expect((await loads('@kafkajs/confluent-schema-registry'))['@kafkajs/confluent-schema-registry'].count).toBeGreaterThan(0);
  });

  it('`retail-streams --help` loads none of them', async () => {
    expectNone(await loads('cli', '--help'), PACKAGES);
  });

  it('`retail-streams replay` loads neither the Kafka client nor the registry client', async () => {
    const input = join(work, 'one.jsonl');
    writeFileSync(input, readFileSync(join(ROOT, 'samples/invoices.jsonl'), 'utf8').split('\n')[0] + '\n');
    const report = await loads('cli', 'replay', '--input', input, '--out', join(work, 'out'));
    expectNone(report, ['kafkajs', '@kafkajs/confluent-schema-registry']);
    // It does use effect (flags are decoded with Schema): loaded as modules, never through effect's index of every module.
    expect(report.effect.count).toBeGreaterThan(0);
    expect(report.effect.chain.at(-1)).not.toMatch(/node_modules\/effect\/dist\/esm\/index\.js$/);
    // Through main() alone, Schema brings fast-check in (the control for the next test).
    expect(report['fast-check'].count).toBeGreaterThan(0);
  });

  it('bin/retail-streams.js keeps fast-check out: effect/FastCheck resolves to an empty module in the CLI', async () => {
    const input = join(work, 'one.jsonl');
    writeFileSync(input, readFileSync(join(ROOT, 'samples/invoices.jsonl'), 'utf8').split('\n')[0] + '\n');
    const report = await loads('bin', 'replay', '--input', input, '--out', join(work, 'out-bin'), '--overwrite');
    expectNone(report, ['kafkajs', '@kafkajs/confluent-schema-registry', 'fast-check']);
    expect(report.effect.count).toBeGreaterThan(0);
  });
});
