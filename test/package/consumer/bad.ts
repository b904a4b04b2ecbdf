// Must not compile: the stream's values are numbers, the mapper wants a string.
import { Serdes, StreamsBuilder, type Serde } from 'retail-streams';

const b = new StreamsBuilder();
b.stream<string, number>('prices', { keySerde: Serdes.string as Serde<string>, valueSerde: Serdes.json<number>() })
  .mapValues((price: string) => price.trim())
  .to('out');
