/** A topology module for `KafkaStreams.fromModule` tests: in -> upper-case -> `data` (the output topic). */
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../topology/api/serdes.ts';

const str = Serdes.string as Serde<string>;

/** What each call got, in this thread (a worker has its own copy of the module). */
export const calls: unknown[] = [];

export function upperCase(output: unknown) {
  calls.push(output);
  const b = new StreamsBuilder();
  b.stream<string, string>('in', { keySerde: str, valueSerde: str })
    .mapValues((v) => v.toUpperCase())
    .to(String(output), { keySerde: str, valueSerde: str });
  return b.build();
}
