import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import { RecordRejectedError, type DeadLetterContext } from '../../topology/api/handlers.ts';
import type { StreamRecord } from '../../topology/api/record.ts';
import { Serdes, type Serde } from '../../topology/api/serdes.ts';
import { replayLines } from '../../topology/runtimes/file-replay.ts';

// Replay joins only the line that straddles two chunks rather than every chunk to the carry:
// whatever the chunking, every line must come out whole, in order, once.

async function replayed(chunks: readonly Buffer[], batchLines?: number): Promise<{ values: string[]; lines: number; bytes: number }> {
  const values: string[] = [];
  const b = new StreamsBuilder();
  b.stream<unknown, string | null>('in', { keySerde: Serdes.bytes as Serde<unknown>, valueSerde: Serdes.string }).sink(() => ({
    write: (r) => void values.push(r.value ?? '<null>'),
    commit: async () => {},
    close: async () => {},
  }));
  const r = await replayLines(b.build(), Readable.from(chunks), { topic: 'in', ...(batchLines === undefined ? {} : { batchLines }) });
  return { values, lines: r.lines, bytes: r.bytes };
}

/** What replay must read from a text: its lines, CR of CRLF dropped, blank lines skipped. */
function expectedLines(text: string): { values: string[]; lines: number } {
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return { values: parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l !== ''), lines: parts.length };
}

function chunk(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    if (c > from) out.push(bytes.subarray(from, c));
    from = Math.max(from, c);
  }
  return out;
}

describe('replayLines: lines across chunk boundaries', () => {
  it('a line spread over many small chunks, CRLF split between chunks, no final newline', async () => {
    const text = 'first line\r\n' + 'x'.repeat(50) + '\n\n\r\nlast é line';
    const bytes = Buffer.from(text);
    const oneByte = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    const r = await replayed(oneByte, 2);
    expect(r.values).toEqual(expectedLines(text).values);
    expect(r.lines).toBe(5);
    expect(r.bytes).toBe(bytes.length);
  });

  it('gives the same lines however the input is chunked (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', '\r', 'a\r', 'ü€😀')), { maxLength: 30 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 1, max: 5 }),
        async (lines, finalNewline, cuts, batchLines) => {
          const text = lines.join('\n') + (finalNewline ? '\n' : '');
          const bytes = Buffer.from(text);
          const r = await replayed(chunk(bytes, cuts), batchLines);
          const expected = expectedLines(text);
          // Bytes of a character split between chunks are joined before the line is decoded.
          expect(r.values).toEqual(expected.values);
          expect(r.lines).toBe(expected.lines);
          expect(r.bytes).toBe(bytes.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('replayLines: dead letters', () => {
  /** Lines `<event time ms> <word>`; a line without a number is refused. */
  const timed: Serde<{ ts: number; word: string }> = {
    name: 'timed',
    serialize: () => null,
    deserialize: (d) => {
      const [ts = '', word = ''] = new TextDecoder().decode(d!).split(' ');
      if (!/^\d+$/.test(ts)) throw new RecordRejectedError('no-time', `no event time in "${ts} ${word}"`);
      return { ts: Number(ts), word };
    },
  };
  function topology(words: string[]) {
    const b = new StreamsBuilder();
    b.stream<unknown, { ts: number; word: string }>('in', { keySerde: Serdes.bytes as Serde<unknown>, valueSerde: timed, timestampExtractor: (_k, v) => v.ts }).sink(() => ({
      write: (r) => void words.push(r.value.word),
      commit: async () => {},
      close: async () => {},
    }));
    return b.build();
  }
  /** A dead-letter sink that shows what was written, committed and closed, per task. */
  function collecting() {
    const events: string[] = [];
    const written: StreamRecord<Uint8Array | null, DeadLetterContext>[] = [];
    const factory = (taskId: string) => ({
      write: (r: StreamRecord<Uint8Array | null, DeadLetterContext>) => void written.push(r),
      commit: async () => void events.push(`commit ${taskId}`),
      close: async () => void events.push(`close ${taskId}`),
    });
    return { events, written, factory };
  }
  const NOW = 1_000_000_000;
  const input = ['100 a', 'x b', `${NOW + 3_600_001} c`, '200 d'].join('\n');

  it('hands refused lines and lines from the future to deadLetterSink, as the task that read them', async () => {
    const words: string[] = [];
    const sink = collecting();
    const r = await replayLines(topology(words), Readable.from([Buffer.from(input)]), {
      topic: 'in',
      wallClock: () => NOW,
      deserializationExceptionHandler: 'log-and-continue',
      deadLetterSink: sink.factory,
    });
    expect(words).toEqual(['a', 'd']);
    expect(sink.written.map((w) => [w.value.reason, w.value.origin.offset, new TextDecoder().decode(w.value.value!)])).toEqual([
      ['no-time', 2, 'x b'],
      ['future-timestamp', 3, `${NOW + 3_600_001} c`],
    ]);
    expect(sink.events).toEqual(['commit 0_0', 'close 0_0']);
    expect(r.metrics.get('dead-letter-records')).toBe(2);
  });

  it('maxFutureMs: Infinity lets the future line through', async () => {
    const words: string[] = [];
    const sink = collecting();
    await replayLines(topology(words), Readable.from([Buffer.from(input)]), { topic: 'in', wallClock: () => NOW, maxFutureMs: Number.POSITIVE_INFINITY, deserializationExceptionHandler: 'log-and-continue', deadLetterSink: sink.factory });
    expect(words).toEqual(['a', 'c', 'd']);
    expect(sink.written.map((w) => w.value.reason)).toEqual(['no-time']);
  });

  it('stops with a RetailStreamsError under the default handler (log-and-fail)', async () => {
    await expect(replayLines(topology([]), Readable.from([Buffer.from(input)]), { topic: 'in', wallClock: () => NOW })).rejects.toBeInstanceOf(RetailStreamsError);
  });
});
