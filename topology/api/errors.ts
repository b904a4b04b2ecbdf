/**
 * One error type for the library, with a closed set of codes, as clients like kafkajs do.
 * `retriable` tells the runtime whether backing off and trying again can help.
 */
export type ErrorCode =
  | 'duplicate-name'
  | 'unknown-node'
  | 'unknown-store'
  | 'store-unavailable'
  | 'invalid-topology'
  | 'invalid-argument'
  | 'io'
  | 'broker-unreachable'
  | 'sink-unavailable'
  | 'invalid-record'
  | 'fenced'
  | 'fatal';

const RETRIABLE: ReadonlySet<ErrorCode> = new Set(['broker-unreachable', 'sink-unavailable', 'store-unavailable']);

/**
 * The base of every error the library throws: a `code` from a closed set, and whether another
 * attempt can help (`retriable`). Handle errors by code.
 *
 * @example
 * ```ts
 * try { builder.build(); } catch (e) { if (e instanceof RetailStreamsError && e.code === 'duplicate-name') ... }
 * ```
 */
export class RetailStreamsError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetailStreamsError';
    this.code = code;
    this.retriable = RETRIABLE.has(code);
  }
}

/** A topology that cannot be built or run: duplicate or unknown names, a store no processor may use, an invalid graph. */
export class TopologyError extends RetailStreamsError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'TopologyError';
  }
}
