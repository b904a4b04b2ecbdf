/**
 * The report of one `make bench` run: every figure (each the median of its repetitions), the
 * ratios to the docs/design.md targets computed within the run, as JSON, a Markdown table, an SVG
 * chart of the ratios, and the README's "## Benchmarks" section.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, spread } from './support/stats.ts';

export type Status = 'ok' | 'not built' | 'not installable' | 'failed' | 'skipped';

export interface Figure {
  readonly label: string;
  readonly unit: string;
  readonly reps: number[];
  readonly median: number;
  readonly status: Status;
  readonly note?: string;
  /** Lower is better (latency, memory). */
  readonly lowerIsBetter?: boolean;
}

export interface Ratio {
  readonly target: string;
  readonly measured: string;
  /** The measured ratio (or the measured value, for latency). */
  readonly value: number;
  readonly goal: number;
  readonly kind: 'at-least' | 'at-most';
  /** How value and goal read: a ratio (shown as %) or milliseconds; default ratio for at-least, ms for at-most. */
  readonly unit?: 'ratio' | 'ms';
  readonly met: boolean | null;
  readonly note?: string;
}

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly java: string;
  readonly kafka: string;
}

export interface Report {
  readonly date: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly official: boolean;
  readonly machine: Machine;
  readonly config: Record<string, unknown>;
  readonly figures: Record<string, Figure>;
  readonly ratios: Ratio[];
  readonly notes: string[];
}

export const figure = (label: string, unit: string, reps: number[], extra: Partial<Figure> = {}): Figure => ({
  label,
  unit,
  reps,
  median: median(reps),
  status: reps.length > 0 ? 'ok' : 'failed',
  ...extra,
});

export const missing = (label: string, unit: string, status: Status, note: string): Figure => ({ label, unit, reps: [], median: Number.NaN, status, note });

/** a / b as a ratio of two figures' medians; NaN when either is missing. */
export const ratioOf = (a: Figure | undefined, b: Figure | undefined): number =>
  a === undefined || b === undefined || a.status !== 'ok' || b.status !== 'ok' ? Number.NaN : a.median / b.median;

export function makeRatio(target: string, measured: string, value: number, goal: number, kind: 'at-least' | 'at-most', note?: string, unit: 'ratio' | 'ms' = kind === 'at-most' ? 'ms' : 'ratio'): Ratio {
  const met = Number.isNaN(value) ? null : kind === 'at-least' ? value >= goal : value <= goal;
  return { target, measured, value, goal, kind, unit, met, ...(note === undefined ? {} : { note }) };
}

const fmt = (x: number, unit: string): string => {
  if (!Number.isFinite(x)) return '—';
  if (unit === 'ratio') return `${(x * 100).toFixed(0)}%`;
  if (unit === 'ms' || unit === 'MiB' || unit === 's') return x >= 100 ? x.toFixed(0) : x.toFixed(1);
  return Math.round(x).toLocaleString('en-US');
};

const figureValue = (f: Figure): string => (f.status === 'ok' ? fmt(f.median, f.unit) : f.status);

const unitOf = (r: Ratio): 'ratio' | 'ms' => r.unit ?? (r.kind === 'at-most' ? 'ms' : 'ratio');
const amount = (r: Ratio, x: number): string => (unitOf(r) === 'ms' ? `${x.toFixed(0)} ms` : `${(x * 100).toFixed(0)}%`);
const goalText = (r: Ratio): string => `${r.kind === 'at-least' ? '≥' : '≤'} ${amount(r, r.goal)}`;
const ratioText = (r: Ratio): string => (Number.isNaN(r.value) ? '—' : amount(r, r.value));
const metText = (r: Ratio): string => (r.met === null ? 'not measured' : r.met ? 'met' : 'not met');

export function markdown(r: Report): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`Run of ${r.startedAt} (${(r.durationSeconds / 60).toFixed(1)} min): ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, ${m.java}, Kafka ${m.kafka} (one KRaft broker on 127.0.0.1). Each figure is the median of ${r.config['reps']} repetitions (fresh consumer group each).`);
  lines.push('');
  lines.push('| Target (DESIGN.md) | Measured | Ratio / value | Goal | |');
  lines.push('|---|---|---|---|---|');
  for (const t of r.ratios) lines.push(`| ${t.target} | ${t.measured} | ${ratioText(t)} | ${goalText(t)} | ${metText(t)} |`);
  lines.push('');
  lines.push('| Measurement | Median | Unit | Repetitions | Spread | Note |');
  lines.push('|---|---:|---|---|---:|---|');
  for (const f of Object.values(r.figures)) {
    const reps = f.reps.map((x) => fmt(x, f.unit)).join(', ');
    const sp = f.reps.length > 1 ? `${(spread(f.reps) * 100).toFixed(0)}%` : '';
    lines.push(`| ${f.label} | ${figureValue(f)} | ${f.unit} | ${reps} | ${sp} | ${f.note ?? ''} |`);
  }
  if (r.notes.length > 0) {
    lines.push('');
    for (const n of r.notes) lines.push(`- ${n}`);
  }
  return lines.join('\n') + '\n';
}

const esc = (s: string) => s.replace(/`/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Bars of each target's measured value as a share of its goal (100% = exactly on target). */
export function svg(r: Report): string {
  const rows = r.ratios;
  const W = 760;
  const left = 300;
  const barW = 380;
  const rowH = 34;
  const top = 50;
  const H = top + rows.length * rowH + 40;
  const max = 2; // 200% of target at the right edge
  const x = (share: number) => left + (Math.min(max, Math.max(0, share)) / max) * barW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="13">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">retail-streams vs DESIGN.md targets (${esc(r.date)})</text>`);
  out.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">bar = share of the goal reached (goal = 100%; latency: goal / p99)</text>`);
  for (const tick of [0, 0.5, 1, 1.5, 2]) {
    out.push(`<line x1="${x(tick)}" y1="${top - 4}" x2="${x(tick)}" y2="${top + rows.length * rowH}" stroke="${tick === 1 ? '#333' : '#ddd'}" stroke-width="${tick === 1 ? 2 : 1}"/>`);
    out.push(`<text x="${x(tick)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${tick * 100}%</text>`);
  }
  rows.forEach((t, i) => {
    const y = top + i * rowH;
    const share = Number.isNaN(t.value) ? Number.NaN : t.kind === 'at-least' ? t.value / t.goal : t.goal / Math.max(t.value, 1e-9);
    out.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(t.target)}</text>`);
    if (Number.isNaN(share)) {
      out.push(`<text x="${left + 6}" y="${y + rowH / 2 + 4}" fill="#888">not measured</text>`);
      return;
    }
    const colour = t.met ? '#2e7d32' : '#c62828';
    out.push(`<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(share) - left)}" height="${rowH - 12}" fill="${colour}" opacity="0.85"/>`);
    const label = `${ratioText(t)}${share > max ? ' (off scale)' : ''}`;
    out.push(`<text x="${Math.min(x(share), left + barW - 60) + 6}" y="${y + rowH / 2 + 4}" fill="#000">${esc(label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The README's Benchmarks section for a report: what `make bench` is, the tables and the chart. */
export const readmeBody = (r: Report): string =>
  `\`make bench\` (bench/run.ts; sizes in bench/config.ts) starts a broker, preloads the topics and measures everything below in one run, in about ${Math.ceil(r.durationSeconds / 60)} minutes. Latest results ([${r.date}.md](bench/results/${r.date}.md), [json](bench/results/${r.date}.json), chart below):\n\n${markdown(r)}\n![ratios to the targets](bench/results/${r.date}.svg)\n`;

/** Writes a report's JSON, Markdown and chart into `dir`, and the README's section when it is the committed one. */
export function writeReport(r: Report, dir: string, readme: string | undefined): void {
  writeFileSync(join(dir, `${r.date}.json`), JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(join(dir, `${r.date}.md`), `# Benchmark ${r.date}\n\n${markdown(r)}`);
  writeFileSync(join(dir, `${r.date}.svg`), svg(r));
  if (readme !== undefined) updateReadme(readme, readmeBody(r));
}

/** Replaces the README's "## Benchmarks" section (up to the next "## " heading or the end). */
export function updateReadme(path: string, body: string): void {
  const text = readFileSync(path, 'utf8');
  const heading = '## Benchmarks';
  const at = text.indexOf(`\n${heading}\n`);
  const section = `${heading}\n\n${body.trimEnd()}\n`;
  if (at < 0) {
    writeFileSync(path, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const from = at + 1;
  const next = text.indexOf('\n## ', from + heading.length);
  const rest = next < 0 ? '' : text.slice(next);
  writeFileSync(path, `${text.slice(0, from)}${section}${rest}`);
}
