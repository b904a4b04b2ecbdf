import type { FileStore } from './file-store.ts';
import type { Logger } from '../topology/api/log.ts';
import { retrying, type RetryPolicy } from '../topology/internals/retry.ts';

/**
 * For the sink's commits: 0.5 s, 1 s, 2 s ... 30 s between attempts, for up to 10 minutes, then
 * a `sink-unavailable` error that says how long the store kept failing.
 */
export const SINK_RETRY_POLICY: RetryPolicy = { initialDelayMs: 500, factor: 2, maxDelayMs: 30_000, giveUpAfterMs: 10 * 60_000, giveUpAs: 'sink-unavailable' };

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
    // The sink reports an outage that outlasts the policy as sink-unavailable, whatever the timings.
    this.policy = { ...policy, giveUpAs: policy.giveUpAs ?? 'sink-unavailable' };
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
