import { describe, expect, it } from 'vitest';
import { chunkTopicMessages } from '../../../topology/runtimes/kafka/send-chunks.ts';

const msg = (partition: number, bytes: number, tag: string) => ({ key: Buffer.from(tag), value: Buffer.alloc(bytes), partition, timestamp: '0' });

describe('chunkTopicMessages', () => {
  it('keeps a small commit in one send', () => {
    const tm = [{ topic: 'a', messages: [msg(0, 10, 'a1'), msg(1, 10, 'a2')] }, { topic: 'b', messages: [msg(0, 10, 'b1')] }];
    expect(chunkTopicMessages(tm, 10_000)).toEqual([tm]);
  });

  it('splits a large commit into sends under the limit, keeping every record once and in order', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => msg(i % 3, 1000, `k${i}`));
    const chunks = chunkTopicMessages([{ topic: 'late', messages }], 50_000);
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) {
      const size = c.flatMap((t) => t.messages).reduce((n, m) => n + m.value!.length + m.key!.length + 64, 0);
      expect(size).toBeLessThanOrEqual(50_000);
    }
    const keys = chunks.flatMap((c) => c.flatMap((t) => t.messages.map((m) => m.key!.toString())));
    expect(keys).toEqual(messages.map((m) => m.key.toString()));
  });

  it('sends a record larger than the limit alone', () => {
    const chunks = chunkTopicMessages([{ topic: 't', messages: [msg(0, 10, 'small'), msg(0, 100_000, 'huge'), msg(0, 10, 'after')] }], 50_000);
    expect(chunks.map((c) => c.flatMap((t) => t.messages.map((m) => m.key!.toString())))).toEqual([['small'], ['huge'], ['after']]);
  });

  it('caps the records of a send, however small they are, across topics, keeping order', () => {
    const messages = Array.from({ length: 5_000 }, (_, i) => msg(0, 1, `c${i}`));
    const chunks = chunkTopicMessages([{ topic: 'x-changelog', messages: messages.slice(0, 3_000) }, { topic: 'y-changelog', messages: messages.slice(3_000) }], 10_000_000, 2_000);
    expect(chunks.map((c) => c.reduce((n, t) => n + t.messages.length, 0))).toEqual([2_000, 2_000, 1_000]);
    expect(chunks[1]!.map((t) => [t.topic, t.messages.length])).toEqual([['x-changelog', 1_000], ['y-changelog', 1_000]]);
    expect(chunks.flatMap((c) => c.flatMap((t) => t.messages.map((m) => m.key!.toString())))).toEqual(messages.map((m) => m.key.toString()));
  });
});
