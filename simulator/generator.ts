import { COUNTRIES, makeCatalog, type Product } from './catalog.ts';
import { Random } from './random.ts';

export interface GeneratorOptions {
  readonly seed: number;
  /** Share of invoices moved back in time within the grace period (out of order, still counted). */
  readonly outOfOrderRatio?: number;
  /** Share moved back past window + grace: late, not counted. */
  readonly lateRatio?: number;
  /** Share of malformed records, of every class the decoder rejects. */
  readonly badRatio?: number;
  /** Share of RETURN invoices; 5-10% in the RetailCorp feed. */
  readonly returnRatio?: number;
  readonly graceMs?: number;
  readonly windowMs?: number;
  /**
   * How lines look. `compact` (the default): compact JSON, in event-time order apart from the
   * out-of-order share, byte for byte what the generator has always written. `feed`: the
   * original RetailCorp feed's shape (see `FEED_SHAPE`), which exercises what `compact` hides:
   * wider lines, timestamps that differ from one line to the next, non-ASCII country names.
   */
  readonly shape?: LineShape;
}

export type LineShape = 'compact' | 'feed';
export const LINE_SHAPES: readonly LineShape[] = ['compact', 'feed'];

/**
 * The feed shape's parameters. Event time is the caller's clock (`next(now)`); callers that
 * choose it (bench/dataset.ts, `simulate --start`) use `eventRate` for it by default.
 */
export const FEED_SHAPE = {
  /** Invoices per second of event time: a few dozen, as in the original feed. */
  eventRate: 36,
  /** Share of on-time invoices stamped up to `jitterMs` earlier: out of order by seconds, within grace. */
  jitterRatio: 0.35,
  jitterMs: 5_000,
  /** Share of timestamps written in ISO form with a `+01:00` offset (the same instant). */
  offsetRatio: 0.2,
} as const;

export type GeneratedKind = 'on-time' | 'out-of-order' | 'late' | 'bad';

export interface Generated {
  readonly kind: GeneratedKind;
  readonly text: string;
}

/** One invoice as structured fields: the JSON feed line's fields, for binary formats (Avro). */
export interface InvoiceItemFields {
  readonly SKU: string;
  readonly title: string;
  readonly unit_price: number;
  readonly quantity: number;
}
export interface InvoiceFields {
  readonly invoice_no: number;
  readonly country: string;
  readonly timestamp: string;
  readonly type: string;
  readonly items: readonly InvoiceItemFields[];
}

/**
 * How a structured bad record is bad. `fields`: a well-formed record whose values the decoder
 * rejects (negative quantity, unknown type, impossible timestamp, empty country, NaN price).
 * `truncated`, `bad-magic-byte`, `unknown-schema`: the encoder breaks the framing or the body.
 * `json`: a malformed JSON line (JSON and binary records may share a topic).
 */
export type StructuredFault = 'fields' | 'truncated' | 'bad-magic-byte' | 'unknown-schema' | 'json';

export type GeneratedStructured =
  | { readonly kind: Exclude<GeneratedKind, 'bad'>; readonly invoice: InvoiceFields }
  | { readonly kind: 'bad'; readonly fault: Exclude<StructuredFault, 'json'>; readonly invoice: InvoiceFields; readonly cut: number }
  | { readonly kind: 'bad'; readonly fault: 'json'; readonly text: string };

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));
/** The feed's timestamp format, `YYYY-MM-DD HH:MM:SS` in UTC. */
export const formatFeedTime = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};

/** ISO-8601 at `+01:00` of the instant `ms` (second resolution): `2020-09-18T11:55:23+01:00`. */
export const formatOffsetTime = (ms: number): string => `${formatFeedTime(ms + 3_600_000).replace(' ', 'T')}+01:00`;

/** A number as Python's `repr` writes a float: shortest round-trip digits, `.0` when integral. */
const pythonFloat = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));

/**
 * The line of an invoice as Python's json module writes it (`json.dumps(..., ensure_ascii=False)`):
 * `", "` and `": "` separators, floats by `repr`, non-ASCII characters as UTF-8 rather than escapes.
 */
export const invoiceFeedLine = (i: InvoiceFields): string => {
  const items = i.items.map((it) => `{"SKU": ${JSON.stringify(it.SKU)}, "title": ${JSON.stringify(it.title)}, "unit_price": ${pythonFloat(it.unit_price)}, "quantity": ${it.quantity}}`).join(', ');
  return `{"invoice_no": ${i.invoice_no}, "country": ${JSON.stringify(i.country)}, "timestamp": ${JSON.stringify(i.timestamp)}, "type": ${JSON.stringify(i.type)}, "items": [${items}]}`;
};

/** The compact JSON line for an invoice: byte for byte what the generator has always written. */
export const invoiceJsonLine = (i: InvoiceFields): string => {
  const items = i.items.map((it) => `{"SKU":"${it.SKU}","title":"${it.title}","unit_price":${it.unit_price.toFixed(2)},"quantity":${it.quantity}}`).join(',');
  return `{"invoice_no":${i.invoice_no},"country":${JSON.stringify(i.country)},"timestamp":"${i.timestamp}","type":"${i.type}","items":[${items}]}`;
};

const countryNames = COUNTRIES.map(([c]) => c);
/**
 * The feed shape's country names: the same mix and weights (so the same draws), some names in
 * their own spelling, two tail entries swapped for countries whose names need UTF-8 and an
 * apostrophe. KPIs group by the name as written: the reference semantics are unchanged.
 */
const FEED_NAMES: Readonly<Record<string, string>> = {
  Spain: 'España',
  Austria: 'Österreich',
  Iceland: 'Ísland',
  'Czech Republic': 'Česko',
  Bahrain: "Côte d'Ivoire",
  Lebanon: 'Curaçao',
};
const feedCountryNames = countryNames.map((c) => FEED_NAMES[c] ?? c);
const countryWeights = COUNTRIES.reduce<number[]>((acc, [, w]) => [...acc, (acc[acc.length - 1] ?? 0) + w], []);

/** Realistic RetailCorp invoices, reproducible from a seed. */
export class InvoiceGenerator {
  private readonly rnd: Random;
  private readonly catalog: Product[];
  private readonly o: Required<GeneratorOptions>;
  private readonly feed: boolean;
  private readonly countries: readonly string[];
  private invoiceNo: number;

  constructor(options: GeneratorOptions) {
    this.o = {
      outOfOrderRatio: 0,
      lateRatio: 0,
      badRatio: 0,
      returnRatio: 0.07,
      graceMs: 600_000,
      windowMs: 60_000,
      shape: 'compact',
      ...options,
    };
    this.feed = this.o.shape === 'feed';
    this.countries = this.feed ? feedCountryNames : countryNames;
    this.rnd = new Random(options.seed);
    this.catalog = makeCatalog(options.seed);
    // 15-digit invoice numbers, as in the original feed.
    this.invoiceNo = 154_132_541_000_000 + this.rnd.int(0, 999_999);
  }

  /** The next record for event time `now` (epoch ms), as a JSON feed line. */
  next(now: number): Generated {
    const r = this.rnd.next();
    const o = this.o;
    if (r < o.badRatio) return { kind: 'bad', text: this.malformed(now) };
    const [kind, eventTime] = this.placement(r, now);
    return { kind, text: this.invoice(eventTime) };
  }

  /**
   * The next record for event time `now` as structured fields, for binary formats. The same
   * mix of on-time, out-of-order, late and bad records as `next`; bad ones include faults only
   * a binary format has (see `StructuredFault`).
   */
  nextStructured(now: number): GeneratedStructured {
    const r = this.rnd.next();
    if (r < this.o.badRatio) return this.malformedStructured(now);
    const [kind, eventTime] = this.placement(r, now);
    return { kind, invoice: this.invoiceFields(eventTime) };
  }

  /** Where a good record lands, from the draw `r` that chose it: kind and event time. */
  private placement(r: number, now: number): [Exclude<GeneratedKind, 'bad'>, number] {
    const o = this.o;
    if (r < o.badRatio + o.lateRatio) {
      const back = o.windowMs + o.graceMs + this.rnd.int(60_000, 600_000);
      return ['late', now - back];
    }
    if (r < o.badRatio + o.lateRatio + o.outOfOrderRatio) {
      // Within the grace period: arrives out of order but is still counted.
      const back = this.rnd.int(1_000, Math.max(1_000, Math.floor(o.graceMs / 2)));
      return ['out-of-order', now - back];
    }
    // Feed shape only (compact draws nothing more, so its lines stay as they were): the feed's
    // invoices arrive seconds out of order, well within grace, so they still count.
    if (this.feed && this.rnd.next() < FEED_SHAPE.jitterRatio) return ['out-of-order', now - this.rnd.int(1_000, FEED_SHAPE.jitterMs)];
    return ['on-time', now];
  }

  private items(): InvoiceItemFields[] {
    // Basket sizes: mostly a few lines, a long tail up to 20.
    const lines = Math.min(20, 1 + Math.floor(-Math.log(1 - this.rnd.next()) * 3));
    const items: InvoiceItemFields[] = [];
    for (let i = 0; i < lines; i++) {
      const p = this.catalog[Math.floor(this.rnd.next() * this.catalog.length)]!;
      const quantity = this.rnd.next() < 0.8 ? this.rnd.int(1, 12) : this.rnd.pick([24, 25, 36, 48, 72, 100]);
      items.push({ SKU: p.sku, title: p.title, unit_price: p.pence / 100, quantity });
    }
    return items;
  }

  /** The next invoice, as structured fields. */
  invoiceFields(eventTime: number): InvoiceFields {
    const type = this.rnd.next() < this.o.returnRatio ? 'RETURN' : 'ORDER';
    const country = this.rnd.weighted(this.countries, countryWeights);
    this.invoiceNo += this.rnd.int(1, 97);
    // Second resolution either way; the feed shape writes some in ISO form at +01:00.
    const timestamp = this.feed && this.rnd.next() < FEED_SHAPE.offsetRatio ? formatOffsetTime(eventTime) : formatFeedTime(eventTime);
    return { invoice_no: this.invoiceNo, country, timestamp, type, items: this.items() };
  }

  /** The next invoice as a JSON line: compact (prices always with two decimals) or feed-shaped. */
  invoice(eventTime: number): string {
    const fields = this.invoiceFields(eventTime);
    return this.feed ? invoiceFeedLine(fields) : invoiceJsonLine(fields);
  }

  /** A structured bad record: value faults, framing faults, or a malformed JSON line. */
  private malformedStructured(now: number): GeneratedStructured {
    const pick = this.rnd.int(0, 7);
    if (pick === 0) return { kind: 'bad', fault: 'json', text: this.malformed(now) };
    const good = this.invoiceFields(now);
    const cut = this.rnd.next();
    if (pick === 1) return { kind: 'bad', fault: 'truncated', invoice: good, cut };
    if (pick === 2) return { kind: 'bad', fault: 'bad-magic-byte', invoice: good, cut };
    if (pick === 3) return { kind: 'bad', fault: 'unknown-schema', invoice: good, cut };
    const items = good.items.map((it, i) => (i === 0 && pick === 4 ? { ...it, quantity: -3 } : i === 0 && pick === 7 ? { ...it, unit_price: Number.NaN } : it));
    const invoice: InvoiceFields = {
      ...good,
      items,
      ...(pick === 5 ? { type: 'EXCHANGE' } : {}),
      ...(pick === 6 ? (cut < 0.5 ? { timestamp: '2020-13-45 99:00:00' } : { country: '' }) : {}),
    };
    return { kind: 'bad', fault: 'fields', invoice, cut };
  }

  /** One of the classes of bad input the decoder must dead-letter, in the line's shape. */
  private malformed(now: number): string {
    const good = this.invoice(now);
    // The member separator of the shape: `:` compact, `: ` feed (the patterns match both).
    const c = this.feed ? ': ' : ':';
    switch (this.rnd.int(0, 7)) {
      case 0:
        return 'this is not json';
      case 1:
        return good.slice(0, Math.max(1, Math.floor(good.length * this.rnd.next())));
      case 2:
        return good.replace(/"invoice_no": ?\d+/, `"invoice_no"${c}"not-a-number"`);
      case 3:
        return good.replace(/"type": ?"\w+"/, `"type"${c}"EXCHANGE"`);
      case 4:
        return good.replace(/"quantity": ?\d+/, `"quantity"${c}-3`);
      case 5:
        return good.replace(/"country": ?"[^"]*", ?/, '');
      case 6:
        return good.replace(/"timestamp": ?"[^"]*"/, `"timestamp"${c}"2020-13-45 99:00:00"`);
      default:
        return good.replace(/"unit_price": ?[\d.]+/, `"unit_price"${c}"free"`);
    }
  }
}
