/**
 * What every throughput contender of `make bench` is: a program that consumes the preloaded input
 * topic as a consumer group and is measured by one stopping rule (kpi-run.ts `measureCaughtUp`:
 * from process start until the group's committed offsets reach the input's end offsets). Peers
 * that compute the KPIs write them where the cross-check (bench/cross-check.ts) reads them:
 * `<prefix>kpi-time`, `<prefix>kpi-time-country` (update mode, JSON values laid out as DESIGN.md's
 * data contract, key = window start ISO string, or `<window start>|<country>`), and
 * `<prefix>dead-letter` (one record per invalid input record).
 */
import type { Admin } from 'kafkajs';
import type { BenchConfig } from '../config.ts';
import type { CaughtUpRun } from '../kpi-run.ts';

export type BenchTopic = 'full' | 'short' | 'tiny';

/** Everything a contender's run needs from the harness. */
export interface RunContext {
  readonly admin: Admin;
  readonly c: BenchConfig;
  readonly bootstrap: string;
  readonly input: string;
  readonly inputEnd: ReadonlyMap<number, number>;
  /** Unique per contender and repetition: the consumer group / application id to use. */
  readonly group: string;
  readonly logFile: string;
  readonly timeoutMs: number;
}

export interface Contender {
  /** Figure key in the report, e.g. `peer.kstreams.papi.1t`. */
  readonly key: string;
  readonly label: string;
  readonly unit: 'invoices/s' | 'records/s';
  /** Output topics' prefix when it writes KPIs (cross-checked against `run`), else undefined. */
  readonly outputPrefix?: string;
  /**
   * Which of the bench's topics it is measured on: the whole one (default), or for a peer too
   * slow for that within the bench's time, its first tenth (`short`) or first 10,000 (`tiny`),
   * compared with `run` over the same records.
   */
  readonly topic?: BenchTopic;
  /**
   * Install / build / create topics, outside the timed rounds. Rejects with an Error whose message
   * says exactly why the contender cannot run here; the report then shows that reason.
   */
  prepare(ctx: Omit<RunContext, 'group' | 'logFile' | 'timeoutMs'> & { logFile: string }): Promise<void>;
  run(ctx: RunContext): Promise<CaughtUpRun>;
}
