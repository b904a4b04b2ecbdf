import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Serdes, TopologyTestDriver, type Serde } from 'retail-streams';
import { PAGE_VIEW_COUNTS, PAGE_VIEWS, pageViewCountSerde, pageViewSerde, pageViewTopology, type PageView, type PageViewCount } from '../../examples/page-views/page-views.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const MINUTE = 60_000;

function driver(partitions = 1, graceMs = 10_000) {
  const d = new TopologyTestDriver(pageViewTopology({ windowMs: MINUTE, graceMs }), { partitions: { [PAGE_VIEWS]: partitions }, wallClockStart: T0 });
  const views = d.createInputTopic(PAGE_VIEWS, Serdes.string, pageViewSerde);
  const counts = d.createOutputTopic(PAGE_VIEW_COUNTS, Serdes.string as Serde<string>, pageViewCountSerde);
  const view = (user: string, page: string, atMs: number) => views.pipeInput(user, { page, user } satisfies PageView, { timestamp: T0 + atMs });
  return { d, view, counts };
}

const window = (page: string, minute: number, views: number): PageViewCount => ({
  page,
  windowStart: new Date(T0 + minute * MINUTE).toISOString(),
  windowEnd: new Date(T0 + (minute + 1) * MINUTE).toISOString(),
  views,
});

describe('examples/page-views on the test driver', () => {
  it('counts views per page and minute, written once when the window closes', () => {
    const { d, view, counts } = driver();
    view('alice', '/home', 1_000);
    view('bob', '/home', 30_000);
    view('alice', '/cart', 59_999);
    // Nothing yet: the first window closes at 60 s + 10 s of grace.
    expect(counts.readValuesToList()).toEqual([]);
    view('carol', '/home', 65_000);
    expect(counts.readValuesToList()).toEqual([]);
    view('dave', '/about', 70_000); // stream time reaches end + grace: minute 0 closes
    // A closing window's counts come out in key order.
    expect(counts.readKeyValuesToList()).toEqual([
      ['/cart', window('/cart', 0, 1)],
      ['/home', window('/home', 0, 2)],
    ]);
    d.endOfInput();
    expect(counts.readValuesToList()).toEqual([window('/about', 1, 1), window('/home', 1, 1)]);
  });

  it('counts an out-of-order view within grace, and drops one after its window closed', () => {
    const { d, view, counts } = driver();
    view('a', '/home', 10_000);
    view('b', '/home', 65_000);
    view('c', '/home', 55_000); // 10 s out of order, its window still open: counted
    view('d', '/home', 75_000); // closes minute 0
    view('e', '/home', 50_000); // minute 0 is closed: late
    d.endOfInput();
    expect(counts.readValuesToList()).toEqual([window('/home', 0, 2), window('/home', 1, 2)]);
    expect(d.metric('late-records')).toBe(1);
  });

  it('gives the same counts however the views are spread over partitions', () => {
    const run = (partitions: number) => {
      const { d, view, counts } = driver(partitions, 5 * MINUTE);
      for (let i = 0; i < 300; i++) view(`user-${i % 17}`, `/page-${i % 5}`, i * 1_000 + ((i * 7919) % 20_000));
      d.endOfInput();
      return counts.readValuesToList().sort((x, y) => x.windowStart.localeCompare(y.windowStart) || x.page.localeCompare(y.page));
    };
    const one = run(1);
    expect(one.reduce((n, c) => n + c.views, 0)).toBe(300);
    expect(run(4)).toEqual(one);
  });

  it('skips views without a page', () => {
    const { d, view, counts } = driver();
    view('a', '', 1_000);
    view('b', '/home', 2_000);
    d.endOfInput();
    expect(counts.readValuesToList()).toEqual([window('/home', 0, 1)]);
  });

  it('runs as a program (main.ts) and prints the final counts', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--conditions=retail-streams-source', 'examples/page-views/main.ts'], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) =>
        error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
      ),
    );
    expect(out).toContain('Sub-topology: 1');
    expect(out.trim().split('\n').slice(-4)).toEqual([
      '2024-01-01T12:00:00.000Z /home  3',
      '2024-01-01T12:01:00.000Z /home  1',
      '2024-01-01T12:00:00.000Z /cart  1',
      '2024-01-01T12:02:00.000Z /cart  1',
    ]);
  });
});
