import type { RecordOrigin } from './record.ts';
import { RetailStreamsError } from './errors.ts';

/** A record on its way to the dead-letter path: what was read, where from, and why it failed. */
export interface DeadLetterContext {
  readonly origin: RecordOrigin;
  /** A short machine-readable reason: `deserialization-failed`, `future-timestamp`, or a serde's own. */
  readonly reason: string;
  readonly error: unknown;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestamp: number;
}

/** What an error handler decides for a record: skip it and go on, or fail the instance. */
export type HandlerResponse = 'continue' | 'fail';

/**
 * Kafka Streams' `default.deserialization.exception.handler`: `log-and-fail` (the default) stops
 * the instance with an error, `log-and-continue` skips the record, or a function decides per
 * record. With a dead-letter topic configured the record is written there first, either way.
 */
export type DeserializationHandler = 'log-and-fail' | 'log-and-continue' | ((context: DeadLetterContext) => HandlerResponse);

/** A record the runtime could not produce (serialization failed, record too large, topic refused). */
export interface ProductionContext {
  readonly topic: string;
  readonly error: unknown;
}

/** Kafka Streams' `default.production.exception.handler`: `fail` (the default), `continue`, or a function. */
export type ProductionHandler = 'fail' | 'continue' | ((context: ProductionContext) => HandlerResponse);

/**
 * A serde's way to refuse a record with a reason of its own (say `invalid-json`): the source
 * sends it to the dead-letter path under that reason instead of `deserialization-failed`.
 */
export class RecordRejectedError extends RetailStreamsError {
  readonly reason: string;
  constructor(reason: string, detail: string) {
    super('invalid-record', detail);
    this.name = 'RecordRejectedError';
    this.reason = reason;
  }
}

export const DEAD_LETTER_HEADERS = {
  reason: 'rs-reason',
  detail: 'rs-detail',
  topic: 'rs-source-topic',
  partition: 'rs-source-partition',
  offset: 'rs-source-offset',
} as const;

/**
 * Headers of a dead-letter record: the reason and origin under `rs-*`, and the same facts under
 * the names KIP-1034 gives them, so tools written for Kafka Streams' dead-letter queues read them.
 */
export function deadLetterHeaders(c: Pick<DeadLetterContext, 'origin' | 'reason' | 'error'>): Record<string, string> {
  const e = c.error;
  const message = e instanceof Error ? e.message : String(e);
  return {
    [DEAD_LETTER_HEADERS.reason]: c.reason,
    [DEAD_LETTER_HEADERS.detail]: message,
    [DEAD_LETTER_HEADERS.topic]: c.origin.topic,
    [DEAD_LETTER_HEADERS.partition]: String(c.origin.partition),
    [DEAD_LETTER_HEADERS.offset]: String(c.origin.offset),
    '__streams.errors.exception': e instanceof Error ? e.name : typeof e,
    '__streams.errors.message': message,
    '__streams.errors.topic': c.origin.topic,
    '__streams.errors.partition': String(c.origin.partition),
    '__streams.errors.offset': String(c.origin.offset),
  };
}

/** What a handler answers for one record; function handlers that throw count as `fail`. */
export function decide<C>(handler: 'log-and-fail' | 'log-and-continue' | 'fail' | 'continue' | ((c: C) => HandlerResponse), context: C): HandlerResponse {
  if (handler === 'log-and-continue' || handler === 'continue') return 'continue';
  if (handler === 'log-and-fail' || handler === 'fail') return 'fail';
  try {
    return handler(context) === 'continue' ? 'continue' : 'fail';
  } catch {
    return 'fail';
  }
}
