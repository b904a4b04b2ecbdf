import * as Schema from 'effect/Schema';

/** `host:port[,host:port...]`, validated once for every command that talks to Kafka. */
export const Brokers = Schema.String.pipe(
  Schema.filter((s) => s.split(',').every((b) => /^[^\s:,]+:\d{1,5}$/.test(b.trim())) || `expected host:port[,host:port...], got "${s}"`),
  Schema.transform(Schema.Array(Schema.String), { strict: true, decode: (s) => s.split(',').map((b) => b.trim()), encode: (a) => a.join(',') }),
);
