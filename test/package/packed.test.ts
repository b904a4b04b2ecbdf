// The published form, as a user gets it: `npm pack` (which runs the build), then the tarball
// installed into an empty project (its dependencies from the npm cache the repo's own install
// filled), used from JavaScript, from TypeScript, by an example, by the CLI, and by Deno.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/package/consumer');
const NPM = existsSync(join(dirname(process.execPath), 'npm')) ? join(dirname(process.execPath), 'npm') : 'npm';
const DENO = join(ROOT, 'node_modules/.bin/deno');
const SAMPLE = join(ROOT, 'samples/invoices.jsonl');
const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; never rejects, so a test can assert on a failure's output. */
const run = (command: string, args: readonly string[], cwd: string, timeoutMs = 300_000, env: NodeJS.ProcessEnv = process.env): Promise<Ran> =>
  new Promise((resolve) =>
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    ),
  );

const ok = (r: Ran, what: string): string => {
  expect(r.code, `${what} failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
};

/** Every file under a folder, relative, with its content. */
const tree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
};

let work: string;
let project: string;
let packed: { filename: string; files: { path: string }[] };
const cli = () => join(project, 'node_modules/.bin/retail-streams');

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'retail-streams-pack-'));
  // prepack builds dist/ with tsc; --json prints the tarball's name and file list on stdout.
  const pack = ok(await run(NPM, ['pack', '--pack-destination', work, '--json', '--loglevel=error'], ROOT), 'npm pack');
  [packed] = JSON.parse(pack) as [typeof packed];
  project = join(work, 'consumer');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  cpSync(FIXTURES, project, { recursive: true });
  // The same compiler and Node types as the repo, so they come from the cache too.
  ok(
    await run(
      NPM,
      ['install', join(work, packed.filename), `typescript@${version('typescript')}`, `@types/node@${version('@types/node')}`, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
      project,
    ),
    'npm install of the tarball',
  );
}, 600_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds compiled JavaScript and declarations, no sources, tests or bench results', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/retail.js', 'dist/retail.d.ts', 'dist/bin/retail-streams.js', 'dist/cli/main.js'])
      expect(files).toContain(f);
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /^(test|bench|examples|infra|samples)\/|\/results\/|\.test\./.test(f))).toEqual([]);
    // Declarations leave @internal members out.
    const builder = readFileSync(join(project, 'node_modules/retail-streams/dist/topology/api/builder.d.ts'), 'utf8');
    expect(builder).toContain('mapValues<V2>');
    expect(builder).not.toContain('addNode');
  }, 60_000);

  it('is imported from JavaScript, root and retail entry points', async () => {
    const out = JSON.parse(ok(await run(process.execPath, ['consumer.mjs'], project), 'consumer.mjs')) as Record<string, unknown>;
    expect(out).toEqual({ counts: [['a', 3], ['b', 1], ['c', 1]], code: 'duplicate-name', invoice: 5_000_000, datasets: 'time-kpis', kpiSubtopologies: 2 });
  }, 60_000);

  it('loads no Kafka client, effect or registry client on importing the root, nor a Kafka or registry client for the retail entry', async () => {
    const probe = async (specifier: string) =>
      JSON.parse(ok(await run(process.execPath, ['probe.mjs', specifier, 'kafkajs', 'effect', '@kafkajs/confluent-schema-registry'], project), `probe ${specifier}`)) as Record<string, number>;
    expect(await probe('retail-streams')).toMatchObject({ kafkajs: 0, effect: 0, '@kafkajs/confluent-schema-registry': 0 });
    expect(await probe('retail-streams/retail')).toMatchObject({ kafkajs: 0, '@kafkajs/confluent-schema-registry': 0 });
    // The control: the probe does see kafkajs when it loads.
    expect((await probe('kafkajs')).kafkajs).toBeGreaterThan(0);
  }, 60_000);

  it('type-checks a TypeScript consumer (strict, no skipLibCheck), which then runs', async () => {
    ok(await run(join(project, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], project), 'tsc on consumer.ts');
    const out = JSON.parse(ok(await run(process.execPath, ['consumer.ts'], project), 'node consumer.ts')) as Record<string, unknown>;
    expect(out).toEqual({ sums: [['ann', 10.25], ['ann', 15.25]], kpi: true, sample: { OPM: 1 } });
  }, 120_000);

  it('refuses to compile a mapValues whose mapper takes the wrong value type', async () => {
    const bad = await run(
      join(project, 'node_modules/.bin/tsc'),
      ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2023', '--types', 'node', '--skipLibCheck', 'false', 'bad.ts'],
      project,
    );
    expect(bad.code).not.toBe(0);
    const errors = bad.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    // Exactly the one error, where the mapper is, about number against string.
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^bad\.ts\(6,\d+\): error TS2345:/);
    expect(bad.stdout).toMatch(/Type 'number' is not assignable to type 'string'/);
  }, 120_000);

  it('runs examples/page-views as a user who copied it', async () => {
    cpSync(join(ROOT, 'examples/page-views'), join(project, 'page-views'), { recursive: true });
    const out = ok(await run(process.execPath, ['page-views/main.ts'], project), 'node page-views/main.ts');
    expect(out.trim().split('\n').slice(-4)).toEqual([
      '2024-01-01T12:00:00.000Z /home  3',
      '2024-01-01T12:01:00.000Z /home  1',
      '2024-01-01T12:00:00.000Z /cart  1',
      '2024-01-01T12:02:00.000Z /cart  1',
    ]);
  }, 60_000);

  it('installs a retail-streams command that prints its usage and replays a file like the sources do', async () => {
    const help = await run(cli(), ['--help'], project);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('retail-streams replay --input FILE');
    const installed = ok(await run(cli(), ['replay', '--input', SAMPLE, '--out', join(project, 'out')], project), 'installed replay');
    expect(installed).toMatch(/read\s+6000/);
    const fromSource = join(work, 'out-source');
    ok(await run(process.execPath, [join(ROOT, 'bin/retail-streams.js'), 'replay', '--input', SAMPLE, '--out', fromSource], ROOT), 'replay from the sources');
    const a = tree(join(project, 'out'));
    expect(Object.keys(a).length).toBeGreaterThan(10);
    expect(a).toEqual(tree(fromSource));
  }, 120_000);

  // The targets (docs/design.md) are --help within 4x and a one-line replay within 8x of a bare
  // `node -e 0`, best of 5, on a quiet machine: `make startup` measures exactly that. Here the other
  // test files share the two cores, which slows a 200 ms replay far more than a 25 ms `node -e 0`:
  // --help (no module beyond the usage text) is held to its target, replay to twice its target,
  // a guard against loading something it does not use (test/package/imports.test.ts pins what it loads).
  it('starts fast: --help within 4x of `node -e 0`, a one-line replay within 16x under test load (best of 5)', async () => {
    const oneLine = join(project, 'one.jsonl');
    writeFileSync(oneLine, readFileSync(SAMPLE, 'utf8').split('\n')[0] + '\n');
    const best = async (command: string, args: readonly string[]) => {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        ok(await run(command, args, project), `${command} ${args.join(' ')}`);
        min = Math.min(min, performance.now() - t0);
      }
      return min;
    };
    // Warm the compile cache the CLI enables, as any earlier use has.
    ok(await run(cli(), ['replay', '--input', oneLine, '--out', join(project, 'one'), '--overwrite'], project), 'warm-up');
    const bare = await best(process.execPath, ['-e', '0']);
    const help = await best(cli(), ['--help']);
    const replay = await best(cli(), ['replay', '--input', oneLine, '--out', join(project, 'one'), '--overwrite']);
    const line = `start-up of the installed CLI, best of 5: node -e 0 ${bare.toFixed(0)} ms, --help ${help.toFixed(0)} ms (${(help / bare).toFixed(1)}x), one-line replay ${replay.toFixed(0)} ms (${(replay / bare).toFixed(1)}x)`;
    console.log(line);
    expect(help / bare, line).toBeLessThanOrEqual(4);
    expect(replay / bare, line).toBeLessThanOrEqual(16);
  }, 120_000);

  it('runs under Deno too: the JavaScript consumer and the installed CLI', async () => {
    const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
    const node = ok(await run(process.execPath, ['consumer.mjs'], project), 'node consumer.mjs');
    expect(ok(await run(DENO, ['run', '-A', 'consumer.mjs'], project, 120_000, env), 'deno run consumer.mjs')).toBe(node);
    const [byNode, byDeno] = [join(project, 'replay-node'), join(project, 'replay-deno')];
    ok(await run(cli(), ['replay', '--input', SAMPLE, '--out', byNode], project), 'node replay');
    ok(await run(DENO, ['run', '-A', 'node_modules/retail-streams/dist/bin/retail-streams.js', 'replay', '--input', SAMPLE, '--out', byDeno], project, 120_000, env), 'deno replay');
    expect(tree(byDeno)).toEqual(tree(byNode));
  }, 180_000);
});
