import { Serdes, StreamsBuilder, type Serde, type Topology } from 'retail-streams';

/** Where the word count reads its lines and writes its counts. */
export interface WordCountTopics {
  /** Lines of text, any key. */
  readonly input: string;
  /** One record per word and change: the word as the key, its running count as a JSON number. */
  readonly output: string;
}

export const DEFAULT_TOPICS: WordCountTopics = { input: 'sentences', output: 'word-counts' };

/** Serdes of the output topic, for whoever reads it. */
export const countSerdes: { readonly key: Serde<string>; readonly value: Serde<number> } = {
  // Words are never null: the string serde, narrowed to non-null keys.
  key: Serdes.string as Serde<string>,
  value: Serdes.json<number>(),
};

/**
 * The classic word count: split each line into lower-case words, re-key each word by itself
 * (the words then go through a repartition topic, so every count for one word is kept by one
 * task), count per word in a store logged to a compacted changelog, and stream every change.
 */
export function wordCountTopology(topics: WordCountTopics = DEFAULT_TOPICS): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream<string | null, string | null>(topics.input, { keySerde: Serdes.string, valueSerde: Serdes.string })
    .flatMap((_key, line) =>
      (line ?? '')
        .toLowerCase()
        .split(/[^\p{L}\p{N}']+/u)
        .filter((word) => word.length > 0)
        .map((word) => [word, word] as const),
    )
    .groupByKey()
    .count({ storeName: 'word-count-store' })
    .toStream()
    .to(topics.output, { keySerde: countSerdes.key, valueSerde: countSerdes.value });
  return builder.build();
}
