/**
 * One error type for the library, with a closed set of codes, as clients like kafkajs do.
 * `retriable` tells the runtime whether backing off and trying again can help.
 */
export type ErrorCode =
  | 'duplicate-name'
  | 'unknown-node'
  | 'unknown-store'
  | 'invalid-topology'
  | 'invalid-argument'
  | 'io'
  | 'broker-unreachable'
  | 'sink-unavailable'
  | 'invalid-record'
  | 'fenced'
  | 'fatal';

const RETRIABLE: ReadonlySet<ErrorCode> = new Set(['broker-unreachable', 'sink-unavailable']);

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

export class TopologyError extends RetailStreamsError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'TopologyError';
  }
}
