// Deno 2 (the npm package `deno`, a devDependency): the test-driver suites run under Deno through
// vitest itself (Deno runs vitest's CLI, whose workers are Deno too), and `replay` runs under Deno
// from the sources and gives the same files as under Node. Deno resolves `node:` built-ins and
// the npm packages of package.json from node_modules, and strips the types of the .ts sources.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DENO = join(ROOT, 'node_modules/.bin/deno');
const ENV = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
const work = mkdtempSync(join(tmpdir(), 'retail-streams-deno-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The suites that run under Deno: the DSL, operators, windows, suppression, dead letters and file
 * replay on the test driver (test/topology/*, not the Kafka runtime's folder), the conformance
 * suite's driver half, the KPI topology, the replay command, and the page-view example.
 */
const SUITES = [
  ...readdirSync(join(ROOT, 'test/topology'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/topology/${f}`),
  'test/conformance/driver.test.ts',
  'test/processors/kpi-topology.test.ts',
  'test/cli/replay.test.ts',
  'test/examples/page-views.test.ts',
].filter((f) => existsSync(join(ROOT, f)));

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}
const run = (command: string, args: readonly string[], timeoutMs: number): Promise<Ran> =>
  new Promise((resolve) =>
    execFile(command, args, { cwd: ROOT, env: ENV, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    ),
  );

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

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numTotalTests: number;
  testResults: { name: string; status: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

describe('under Deno', () => {
  it('is Deno 2', async () => {
    const r = await run(DENO, ['--version'], 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deno 2\./);
  }, 60_000);

  it(`passes the test-driver suites (${SUITES.length} files, vitest run by Deno)`, async () => {
    const report = join(work, 'report.json');
    const r = await run(DENO, ['run', '-A', 'node_modules/vitest/vitest.mjs', 'run', '--project', 'unit', '--reporter=json', `--outputFile=${report}`, ...SUITES], 480_000);
    expect(existsSync(report), `no report from vitest under Deno (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`).toBe(true);
    const result = JSON.parse(readFileSync(report, 'utf8')) as VitestReport;
    const failed = result.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${f.name}: ${a.fullName}\n${a.failureMessages.join('\n').slice(0, 1500)}`));
    expect(failed, failed.join('\n\n')).toEqual([]);
    expect(result.testResults.map((f) => relative(ROOT, f.name)).sort()).toEqual([...SUITES].sort());
    expect(result.numPassedTests).toBeGreaterThan(100);
    console.log(`under Deno: ${result.numPassedTests} passed, ${result.numFailedTests} failed in ${SUITES.length} files`);
    expect(r.code).toBe(0);
  }, 600_000);

  it('replays a file with the CLI from the sources, to the same files as Node', async () => {
    const sample = join(ROOT, 'samples/invoices.jsonl');
    const [byNode, byDeno] = [join(work, 'node'), join(work, 'deno')];
    const n = await run(process.execPath, ['bin/retail-streams.js', 'replay', '--input', sample, '--out', byNode], 120_000);
    expect(n.code, n.stderr).toBe(0);
    const d = await run(DENO, ['run', '-A', 'bin/retail-streams.js', 'replay', '--input', sample, '--out', byDeno], 120_000);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/read\s+6000\n\s+valid\s+5970/);
    const files = tree(byDeno);
    expect(Object.keys(files).length).toBeGreaterThan(10);
    expect(files).toEqual(tree(byNode));
  }, 240_000);
});
