/** Kafka protocol errors by what the client has to do about them (kafkajs reports them by `type`). */

/** The group moved on: an offset commit of the old generation is lost, the batch is replayed. */
export const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

/** A newer producer with the same transactional id exists: this one is a zombie. */
export const FENCED_ERRORS = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);

/**
 * An idempotent producer's sequence numbers no longer match the broker's (after a leader moved),
 * so every retry by the same producer fails the same way: only a new producer id gets through.
 */
export const SEQUENCE_LOST_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

/**
 * The protocol error type of a kafkajs error, also when it is wrapped by the client's retrier:
 * as `originalError` once retries ran out, as `cause` for an error it would not retry (an offset
 * commit refused with UNKNOWN_MEMBER_ID reaches the caller that way).
 */
export const kafkaErrorType = (e: unknown): string => {
  let at: unknown = e;
  for (let depth = 0; depth < 5 && typeof at === 'object' && at !== null; depth++) {
    const x = at as { type?: unknown; originalError?: unknown; cause?: unknown };
    if (typeof x.type === 'string') return x.type;
    at = x.originalError ?? x.cause;
  }
  return '';
};
