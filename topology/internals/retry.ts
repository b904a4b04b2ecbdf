import { Duration, Effect, Either, Schedule } from 'effect';
import { RetailStreamsError, type ErrorCode } from '../api/errors.ts';
import type { Logger } from '../api/log.ts';

/** How an operation is retried: exponential backoff, bounded in time and optionally in count. */
export interface RetryPolicy {
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Each delay is the previous one times this, up to maxDelayMs. */
  readonly factor: number;
  readonly maxDelayMs: number;
  /** Stop retrying once the operation has been failing this long. */
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

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The one retry helper: runs `attempt` until it succeeds, retrying the failures the policy calls
 * retriable with exponential backoff (Effect's Schedule). Each failed attempt is logged once,
 * with the delay before the next one. A failure that is not retriable is thrown at once.
 */
export async function retrying<A>(what: string, attempt: () => Promise<A>, policy: RetryPolicy, log: Logger): Promise<A> {
  const retriable = policy.retriable ?? isRetriable;
  const started = Date.now();
  let failures = 0;
  let backoff: Schedule.Schedule<unknown> = Schedule.exponential(Duration.millis(policy.initialDelayMs), policy.factor).pipe(
    Schedule.modifyDelay((_, d) => Duration.min(d, Duration.millis(policy.maxDelayMs))),
    Schedule.upTo(Duration.millis(policy.giveUpAfterMs)),
  );
  if (policy.maxRetries !== undefined) backoff = backoff.pipe(Schedule.intersect(Schedule.recurs(policy.maxRetries)));
  const schedule = Schedule.identity<unknown>().pipe(
    Schedule.whileInput(retriable),
    Schedule.intersect(Schedule.delays(backoff)),
    Schedule.onDecision(([error, delay], decision) =>
      Effect.sync(() => {
        failures++;
        if (decision._tag === 'Continue') {
          log.warn(`${what} failed (attempt ${failures}, failing for ${formatMs(Date.now() - started)}): ${messageOf(error)}; retrying in ${formatMs(Duration.toMillis(delay))}`);
        }
      }),
    ),
  );
  const result = await Effect.runPromise(Effect.tryPromise({ try: attempt, catch: (e) => e }).pipe(Effect.retry(schedule), Effect.either));
  if (Either.isRight(result)) {
    if (failures > 0) log.info(`${what} succeeded after ${failures} failed attempt${failures === 1 ? '' : 's'} (${formatMs(Date.now() - started)})`);
    return result.right;
  }
  const error = result.left;
  if (!retriable(error) || policy.giveUpAs === undefined) {
    if (failures > 1) log.error(`${what} failed for good (attempt ${failures}): ${messageOf(error)}`);
    throw error;
  }
  const message = `${what}: still failing after ${failures} attempts over ${formatMs(Date.now() - started)}, giving up: ${messageOf(error)}`;
  log.error(message);
  throw new RetailStreamsError(policy.giveUpAs, message, { cause: error });
}
