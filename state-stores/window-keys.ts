/**
 * How a window entry is named. In the changelog (and a store's record cache): the window start,
 * '@', then the encoded key. On disk: the window start as 8 bytes that sort as the number does,
 * then the encoded key's UTF-8, so one window's entries are one contiguous key range and a
 * range of window starts is a range scan in (start, key) order.
 */

/** Changelog key of a window entry: the window start, then the encoded key (which may itself hold '@'). */
export const windowEntryKey = (start: number, key: string): string => `${start}@${key}`;

export const parseWindowEntryKey = (entryKey: string): { start: number; key: string } => {
  const at = entryKey.indexOf('@');
  return { start: Number(entryKey.slice(0, at)), key: entryKey.slice(at + 1) };
};

const TWO_32 = 2 ** 32;
export const START_BYTES = 8;
/** Window starts are whole milliseconds within the safe integers; bounds outside are clamped. */
export const MIN_START = Number.MIN_SAFE_INTEGER;
export const MAX_START = Number.MAX_SAFE_INTEGER;

/** Writes `start` as a big-endian 64-bit integer with the sign bit flipped, so bytes sort as numbers do. */
export function writeStart(buf: Buffer, start: number, offset = 0): void {
  const hi = Math.floor(start / TWO_32);
  buf.writeUInt32BE((hi + 0x80000000) >>> 0, offset);
  buf.writeUInt32BE(start - hi * TWO_32, offset + 4);
}

export function readStart(buf: Uint8Array, offset = 0): number {
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return (view.readUInt32BE(offset) - 0x80000000) * TWO_32 + view.readUInt32BE(offset + 4);
}

/** The first disk key of window `start` (and the exclusive end of every window before it). */
export function startBound(start: number): Buffer {
  const buf = Buffer.allocUnsafe(START_BYTES);
  writeStart(buf, Math.min(MAX_START, Math.max(MIN_START, start)));
  return buf;
}

/** Disk key of a window entry: its start, then the encoded key. */
export function windowDiskKey(start: number, encodedKey: string): Buffer {
  const buf = Buffer.allocUnsafe(START_BYTES + Buffer.byteLength(encodedKey, 'utf8'));
  writeStart(buf, start);
  buf.write(encodedKey, START_BYTES, 'utf8');
  return buf;
}

/** The encoded key of a disk key. */
export const diskKeyOf = (diskKey: Buffer): string => diskKey.toString('utf8', START_BYTES);
