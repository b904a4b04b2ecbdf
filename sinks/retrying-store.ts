import { Duration, Effect, Either, Schedule } from 'effect';
import type { FileStore } from './file-store.ts';
import { RetailStreamsError } from '../topology/api/errors.ts';
import type { Logger } from '../topology/api/log.ts';

export interface RetryPolicy {
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Each delay is the previous one times this, up to maxDelayMs. */
  readonly factor: number;
  readonly maxDelayMs: number;
  /** Stop retrying (and fail with a clear error) once the operation has been failing this long. */
  readonly giveUpAfterMs: number;
  /** Stop after this many retries, if set. */
  readonly maxRetries?: number;
}

/** For the sink's commits: 0.5 s, 1 s, 2 s ... 30 s between attempts, for up to 10 minutes. */
export const SINK_RETRY_POLICY: RetryPolicy = { initialDelayMs: 500, factor: 2, maxDelayMs: 30_000, giveUpAfterMs: 10 * 60_000 };

/** Retriable means a RetailStreamsError that says so (HDFS down, slow, in safe mode ...). */
export const isRetriable = (e: unknown): boolean => e instanceof RetailStreamsError && e.retriable;

export const formatMs = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/**
 * Runs `attempt` until it succeeds, retrying retriable failures with exponential backoff
 * (Effect's Schedule). Each failed attempt is logged once, with the delay before the next one.
 * A failure that is not retriable is thrown at once; when the policy runs out, the last failure
 * is thrown wrapped in a `sink-unavailable` error that says how long it kept failing.
 */
export async function retrying<A>(what: string, attempt: () => Promise<A>, policy: RetryPolicy, log: Logger): Promise<A> {
  const started = Date.now();
  let failures = 0;
  let backoff: Schedule.Schedule<unknown> = Schedule.exponential(Duration.millis(policy.initialDelayMs), policy.factor).pipe(
    Schedule.modifyDelay((_, d) => Duration.min(d, Duration.millis(policy.maxDelayMs))),
    Schedule.upTo(Duration.millis(policy.giveUpAfterMs)),
  );
  if (policy.maxRetries !== undefined) backoff = backoff.pipe(Schedule.intersect(Schedule.recurs(policy.maxRetries)));
  const schedule = Schedule.identity<unknown>().pipe(
    Schedule.whileInput(isRetriable),
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
  const result = await Effect.runPromise(
    Effect.tryPromise({ try: attempt, catch: (e) => e }).pipe(Effect.retry(schedule), Effect.either),
  );
  if (Either.isRight(result)) {
    if (failures > 0) log.info(`${what} succeeded after ${failures} failed attempt${failures === 1 ? '' : 's'} (${formatMs(Date.now() - started)})`);
    return result.right;
  }
  const error = result.left;
  if (!isRetriable(error)) {
    if (failures > 1) log.error(`${what} failed for good (attempt ${failures}): ${messageOf(error)}`);
    throw error;
  }
  const message = `${what}: still failing after ${failures} attempts over ${formatMs(Date.now() - started)}, giving up: ${messageOf(error)}`;
  log.error(message);
  throw new RetailStreamsError('sink-unavailable', message, { cause: error });
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A FileStore whose every operation retries through an outage (see `retrying`). Used under the
 * file sink, whose commit keeps every group it has not renamed yet, and whose caller (the Kafka
 * runtime) commits input offsets only after the sink's commit returns: while the store is down
 * the commit waits, nothing is dropped and no offset moves.
 */
export class RetryingFileStore implements FileStore {
  readonly inner: FileStore;
  readonly description: string;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;

  constructor(inner: FileStore, log: Logger, policy: RetryPolicy = SINK_RETRY_POLICY) {
    this.inner = inner;
    this.description = inner.description;
    this.log = log;
    this.policy = policy;
  }

  mkdirs(path: string): Promise<void> {
    return retrying(`mkdirs ${path}`, () => this.inner.mkdirs(path), this.policy, this.log);
  }

  writeFile(path: string, content: string): Promise<void> {
    return retrying(`write ${path}`, () => this.inner.writeFile(path, content), this.policy, this.log);
  }

  renameNoReplace(from: string, to: string): Promise<boolean> {
    return retrying(`rename ${from} to ${to}`, () => this.inner.renameNoReplace(from, to), this.policy, this.log);
  }

  delete(path: string): Promise<void> {
    return retrying(`delete ${path}`, () => this.inner.delete(path), this.policy, this.log);
  }
}
