import * as Data from 'effect/Data';

/** Every way a command can fail, each with a message for the user and an exit code. */
export class UsageError extends Data.TaggedError('UsageError')<{ readonly message: string }> {}
export class InputError extends Data.TaggedError('InputError')<{ readonly message: string }> {}
export class BrokerError extends Data.TaggedError('BrokerError')<{ readonly message: string }> {}
export class SinkError extends Data.TaggedError('SinkError')<{ readonly message: string }> {}
/** Kafka refused the connection for security: authentication, an untrusted certificate, an ACL. Never retried. */
export class AccessError extends Data.TaggedError('AccessError')<{ readonly message: string }> {}

export type CliError = UsageError | InputError | BrokerError | SinkError | AccessError;

export const exitCodeOf = (e: CliError): number => {
  switch (e._tag) {
    case 'UsageError':
      return 2;
    case 'InputError':
      return 3;
    case 'BrokerError':
      return 4;
    case 'SinkError':
      return 5;
    case 'AccessError':
      return 6;
  }
};
