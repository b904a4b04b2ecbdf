/**
 * Sizes and switches of `make bench`. Full size by default; while developing, shrink it:
 *
 *   BENCH_SCALE=0.05 node bench/run.ts             # 5% of every size: a quick pass
 *   BENCH_ONLY=replay,run node bench/run.ts         # some measurements only
 *   BENCH_REPS=1 BENCH_BOOTSTRAP=127.0.0.1:PORT ...  # one repetition, an already running broker
 *
 * Results of a full-size run of every measurement go to bench/results/<date>.{json,md,svg} and
 * the README; any other run writes to bench/results/raw/ (git-ignored).
 */
const num = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
};

/** `peer`: the Kafka Streams peers; `peers`: @kafkats/flow and Quix Streams. */
export const STEPS = ['broker', 'clients', 'run', 'peer', 'peers', 'replay', 'latency', 'state'] as const;
export type Step = (typeof STEPS)[number];

const scale = num('BENCH_SCALE', 1);
const only = (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
for (const s of only) if (!(STEPS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown step "${s}" (steps: ${STEPS.join(', ')})`);

export const config = {
  scale,
  reps: Math.max(1, Math.round(num('BENCH_REPS', 3))),
  /** `make bench` must finish within this: later throughput rounds are dropped to keep to it. */
  budgetMinutes: num('BENCH_BUDGET_MIN', 75),
  steps: new Set<Step>(only.length > 0 ? (only as Step[]) : STEPS),
  /** An already running broker to use instead of starting one. */
  bootstrap: process.env.BENCH_BOOTSTRAP,
  /**
   * Invoices preloaded into the input topic (JSON, and Avro when built): enough that the JVM
   * peers' start-up (JVM, group join, first batch: 1-1.6 s) is under 5% of their runs.
   */
  invoices: Math.max(10_000, Math.round(4_000_000 * scale)),
  /** The topic a peer too slow for the whole one within the bench's time runs on (@kafkats/flow, ~140 invoices/s). */
  tinyInvoices: 10_000,
  partitions: 4,
  /** Lines of the file for replay and the bare parse loop. */
  replayLines: Math.max(10_000, Math.round(1_000_000 * scale)),
  /** Records per kafka-producer-perf-test repetition. */
  perfProducerRecords: Math.max(10_000, Math.round(1_000_000 * scale)),
  /** Measured seconds of each latency repetition (after the warm-up). */
  latencySeconds: Math.max(5, Math.round(20 * Math.min(1, scale * 4))),
  latencyWarmupSeconds: 5,
  /**
   * State (bench/state.ts, issue 12), sizes fixed by the issue whatever BENCH_SCALE: restore of a
   * 1M-entry changelog (and a checkpointed restart reading a 5,000-record tail), peak RSS with 5M
   * distinct keys in a 256 MiB heap, one run each; and the count store's throughput in RocksDB
   * against in memory on 200,000 keys counted 5 times (1M records), 3 runs of each, interleaved.
   */
  state: { changelogKeys: 1_000_000, tail: 5_000, rssKeys: 5_000_000, heapMiB: 256, throughputKeys: 200_000, throughputRounds: 5, throughputReps: 3 },
  /** The data set: a busy retailer, 1,000 invoices per second of event time (4M: 67 minutes). */
  seed: 42,
  eventRate: 1000,
  start: '2020-09-18T00:00:00Z',
  outOfOrderRatio: 0.05,
  // No late records: Kafka Streams judges lateness at its repartitioned stage, `run` per input
  // partition (docs/design.md), so late records would make the two count differently on purpose.
  lateRatio: 0,
  badRatio: 0.001,
  windowMs: 60_000,
  graceMs: 600_000,
  /** Whether this run produces the committed report (full size, every step, >= 3 repetitions). */
  get official(): boolean {
    return scale === 1 && only.length === 0 && this.reps >= 3 && process.env.BENCH_OUT === undefined;
  },
};

export type BenchConfig = typeof config;
