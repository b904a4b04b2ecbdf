/**
 * A brute-force reference for the KPIs, written apart from the application: exact decimal
 * arithmetic on the price text, lateness replayed record by record per partition.
 */
export interface RefItem {
  readonly unit_price: number;
  readonly quantity: number;
}
export interface RefInvoice {
  readonly invoice_no: number;
  readonly country: string;
  /** Event time, epoch ms. */
  readonly ts: number;
  readonly type: 'ORDER' | 'RETURN';
  readonly items: readonly RefItem[];
}
export interface RefInput {
  readonly partition: number;
  readonly invoice: RefInvoice;
}

/** Decimal text of a price to an exact count of 1e-6 units. */
function priceMicros(p: number): bigint {
  const text = p.toFixed(6);
  const [int, frac = ''] = text.split('.');
  return BigInt(int!) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
}

function roundHalfUp(num: bigint, den: bigint): bigint {
  const neg = num < 0n;
  const n = neg ? -num : num;
  const q = n / den;
  const r = n - q * den;
  const out = 2n * r >= den ? q + 1n : q;
  return neg ? -out : out;
}

export interface RefKpis {
  /** JSON lines of the time KPIs, ordered by window. */
  readonly time: string[];
  /** JSON lines of the country KPIs, ordered by window then country. */
  readonly country: string[];
  readonly late: number;
}

export function referenceKpis(records: readonly RefInput[], windowMs: number, graceMs: number): RefKpis {
  const maxByPartition = new Map<number, number>();
  const windows = new Map<number, Map<string, { n: bigint; r: bigint; m: bigint }>>();
  let late = 0;
  for (const { partition, invoice } of records) {
    const seen = Math.max(maxByPartition.get(partition) ?? -Infinity, invoice.ts);
    maxByPartition.set(partition, seen);
    const start = Math.floor(invoice.ts / windowMs) * windowMs;
    if (start + windowMs + graceMs <= seen) {
      late++;
      continue;
    }
    let w = windows.get(start);
    if (!w) windows.set(start, (w = new Map()));
    let total = 0n;
    for (const it of invoice.items) total += priceMicros(it.unit_price) * BigInt(it.quantity);
    if (invoice.type === 'RETURN') total = -total;
    const c = w.get(invoice.country) ?? { n: 0n, r: 0n, m: 0n };
    w.set(invoice.country, { n: c.n + 1n, r: c.r + (invoice.type === 'RETURN' ? 1n : 0n), m: c.m + total });
  }
  const money = (micros: bigint, div: bigint) => Number(roundHalfUp(micros, div * 10_000n)) / 100;
  const rate = (r: bigint, n: bigint) => Number(roundHalfUp(r * 10_000n, n)) / 10_000;
  const time: string[] = [];
  const country: string[] = [];
  for (const start of [...windows.keys()].sort((a, b) => a - b)) {
    const w = windows.get(start)!;
    const win = { start: new Date(start).toISOString(), end: new Date(start + windowMs).toISOString() };
    let n = 0n, r = 0n, m = 0n;
    for (const c of w.values()) {
      n += c.n;
      r += c.r;
      m += c.m;
    }
    time.push(JSON.stringify({ window: win, OPM: Number(n), total_sale_volume: money(m, 1n), average_transaction_size: money(m, n), rate_of_return: rate(r, n) }));
    const names = [...w.keys()].sort();
    for (const name of names) {
      const c = w.get(name)!;
      country.push(JSON.stringify({ window: win, country: name, OPM: Number(c.n), total_sale_volume: money(c.m, 1n), rate_of_return: rate(c.r, c.n) }));
    }
  }
  return { time, country, late };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** Formats an epoch ms as the feed's `YYYY-MM-DD HH:MM:SS`. */
export const feedTimestamp = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};

export const invoiceJson = (i: RefInvoice): string =>
  JSON.stringify({ invoice_no: i.invoice_no, country: i.country, timestamp: feedTimestamp(i.ts), type: i.type, items: i.items.map((it, k) => ({ SKU: String(10000 + k), title: 'ITEM', unit_price: it.unit_price, quantity: it.quantity })) });

const FEED_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/**
 * An independent reading of one feed line (feed-format timestamps only, as the simulator
 * writes them): the invoice, or null when the line is not a valid invoice.
 */
export function parseFeedLine(text: string): RefInvoice | null {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof d !== 'object' || d === null) return null;
  const o = d as Record<string, unknown>;
  if (typeof o.invoice_no !== 'number' || !Number.isInteger(o.invoice_no) || o.invoice_no < 0) return null;
  if (typeof o.country !== 'string' || o.country.trim() === '') return null;
  if (o.type !== 'ORDER' && o.type !== 'RETURN') return null;
  if (typeof o.timestamp !== 'string') return null;
  const m = FEED_TIME.exec(o.timestamp);
  if (!m) return null;
  const [y, mo, da, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ts = Date.UTC(y, mo - 1, da, h, mi, s);
  const back = new Date(ts);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== da || h > 23 || mi > 59 || s > 59) return null;
  if (!Array.isArray(o.items)) return null;
  const items: RefItem[] = [];
  for (const it of o.items as unknown[]) {
    if (typeof it !== 'object' || it === null) return null;
    const { unit_price, quantity } = it as Record<string, unknown>;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0) return null;
    if (typeof unit_price !== 'number' || !(unit_price >= 0)) return null;
    items.push({ unit_price, quantity });
  }
  return { invoice_no: o.invoice_no, country: o.country, ts, type: o.type, items };
}

/** Latest value per key, as a reader of a compacted topic sees it. */
export const latestByKey = (records: readonly { key: string | null; value: string | null }[]): Map<string, string> => {
  const m = new Map<string, string>();
  for (const r of records) if (r.key !== null && r.value !== null) m.set(r.key, r.value);
  return m;
};
