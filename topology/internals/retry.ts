// Modules of effect rather than its index, which loads all of them (start-up time).
import * as Cause from 'effect/Cause';
import * as Duration from 'effect/Duration';
import * as Effect from 'effect/Effect';
import * as Exit from 'effect/Exit';
import * as Option from 'effect/Option';
import * as Schedule from 'effect/Schedule';
import { RetailStreamsError, type ErrorCode } from '../api/errors.ts';
import type { Logger } from '../api/log.ts';

/** How an operation is retried: exponential backoff, bounded in time and optionally in count. */
export interface RetryPolicy {
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Each delay is the previous one times this, up to maxDelayMs. */
  readonly factor: number;
  readonly maxDelayMs: number;
  /**
   * Stop retrying once the operation has been failing this long. `Infinity` retries until the
   * operation succeeds or the call's `signal` aborts.
   */
  readonly giveUpAfterMs: number;
  /** Stop after this many retries, if set. */
  readonly maxRetries?: number;
  /** Which failures another attempt can fix; by default a `RetailStreamsError` that says it is retriable. */
  readonly retriable?: (error: unknown) => boolean;
  /**
   * When the policy runs out on a retriable failure: wrap it in an error of this code that says
   * how long it kept failing. Without it the last failure is thrown as it is, so a caller can
   * still tell one broker error from another.
   */
  readonly giveUpAs?: ErrorCode;
  /**
   * Log a failed attempt at most this often (the first one always): a wait expected to last
   * minutes then says so every so often instead of at every attempt. By default every attempt.
   */
  readonly warnEveryMs?: number;
}

/** Where a retried operation stands when `retrying` logs about it. */
export interface RetryFailure {
  /** Failed attempts so far. */
  readonly failures: number;
  readonly failingForMs: number;
  /** The last failure. */
  readonly error: unknown;
}

export interface RetryOptions {
  /**
   * Aborting ends the wait at once, between attempts or during one (whose result is then
   * ignored): `retrying` rejects with the signal's reason and logs nothing more.
   */
  readonly signal?: AbortSignal;
  /** The warning after a failed attempt that will be retried, instead of the default one. */
  readonly retryingMessage?: (failure: RetryFailure, retryInMs: number) => string;
  /** The line after a success that needed retries, instead of the default one. */
  readonly succeededMessage?: (failure: RetryFailure) => string;
}

/** Retriable means a RetailStreamsError that says so (HDFS down, slow, in safe mode ...). */
export const isRetriable = (e: unknown): boolean => e instanceof RetailStreamsError && e.retriable;

/**
 * Broker operations (sends, transactions, offset look-ups): 0.2 s doubling to 5 s, nine
 * retries, about half a minute in all, as long as a broker failover takes.
 */
export const BROKER_RETRY_POLICY: RetryPolicy = { initialDelayMs: 200, factor: 2, maxDelayMs: 5_000, giveUpAfterMs: 120_000, maxRetries: 9, retriable: () => true };

export const formatMs = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The one retry helper: runs `attempt` until it succeeds, retrying the failures the policy calls
 * retriable with exponential backoff (Effect's Schedule). Each failed attempt is logged (at most
 * once per `warnEveryMs`), with the delay before the next one. A failure that is not retriable
 * is thrown at once.
 */
export async function retrying<A>(what: string, attempt: () => Promise<A>, policy: RetryPolicy, log: Logger, options: RetryOptions = {}): Promise<A> {
  const { signal } = options;
  signal?.throwIfAborted();
  const retriable = policy.retriable ?? isRetriable;
  const started = Date.now();
  let failures = 0;
  let lastError: unknown;
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  const failure = (): RetryFailure => ({ failures, failingForMs: Date.now() - started, error: lastError });
  let backoff: Schedule.Schedule<unknown> = Schedule.exponential(Duration.millis(policy.initialDelayMs), policy.factor).pipe(
    Schedule.modifyDelay((_, d) => Duration.min(d, Duration.millis(policy.maxDelayMs))),
  );
  if (Number.isFinite(policy.giveUpAfterMs)) backoff = backoff.pipe(Schedule.upTo(Duration.millis(policy.giveUpAfterMs)));
  if (policy.maxRetries !== undefined) backoff = backoff.pipe(Schedule.intersect(Schedule.recurs(policy.maxRetries)));
  const schedule = Schedule.identity<unknown>().pipe(
    Schedule.whileInput(retriable),
    Schedule.intersect(Schedule.delays(backoff)),
    Schedule.onDecision(([error, delay], decision) =>
      Effect.sync(() => {
        failures++;
        lastError = error;
        if (decision._tag !== 'Continue') return;
        const now = Date.now();
        if (policy.warnEveryMs !== undefined && now - lastWarnAt < policy.warnEveryMs) return;
        lastWarnAt = now;
        const retryInMs = Duration.toMillis(delay);
        log.warn(
          options.retryingMessage?.(failure(), retryInMs) ??
            `${what} failed (attempt ${failures}, failing for ${formatMs(now - started)}): ${messageOf(error)}; retrying in ${formatMs(retryInMs)}`,
        );
      }),
    ),
  );
  const program = Effect.tryPromise({ try: attempt, catch: (e) => e }).pipe(Effect.retry(schedule));
  const exit = await Effect.runPromiseExit(program, signal === undefined ? undefined : { signal });
  if (Exit.isSuccess(exit)) {
    if (failures > 0) {
      log.info(options.succeededMessage?.(failure()) ?? `${what} succeeded after ${failures} failed attempt${failures === 1 ? '' : 's'} (${formatMs(Date.now() - started)})`);
    }
    return exit.value;
  }
  if (signal?.aborted === true) throw signal.reason;
  const failed = Cause.failureOption(exit.cause);
  // Not a failure of the attempt: a defect (a `retriable` or logger that threw).
  if (Option.isNone(failed)) throw Cause.squash(exit.cause);
  const error = failed.value;
  if (!retriable(error) || policy.giveUpAs === undefined) {
    if (failures > 1) log.error(`${what} failed for good (attempt ${failures}): ${messageOf(error)}`);
    throw error;
  }
  const message = `${what}: still failing after ${failures} attempts over ${formatMs(Date.now() - started)}, giving up: ${messageOf(error)}`;
  log.error(message);
  throw new RetailStreamsError(policy.giveUpAs, message, { cause: error });
}
