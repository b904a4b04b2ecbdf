/**
 * Renders a report again from its JSON (bench/results/<date>.json) after a change to the report's
 * layout: the Markdown, the chart and, for a committed (official) report, the README's section.
 * Measures nothing.
 *
 *   node bench/render.ts bench/results/2026-12-02.json
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeReport, type Report } from './report.ts';
import { repoRoot } from './support/kafka.ts';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: render.ts REPORT.json\n');
  process.exit(2);
}
// JSON has no NaN: missing values were written as null.
const report = JSON.parse(readFileSync(file, 'utf8'), (_k, v: unknown) => (v === null ? Number.NaN : v)) as Report;
writeReport(report, dirname(file), report.official ? join(repoRoot, 'README.md') : undefined);
process.stdout.write(`rendered ${file}\n`);
