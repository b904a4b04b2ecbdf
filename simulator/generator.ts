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
}

export type GeneratedKind = 'on-time' | 'out-of-order' | 'late' | 'bad';

export interface Generated {
  readonly kind: GeneratedKind;
  readonly text: string;
}

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));
/** The feed's timestamp format, `YYYY-MM-DD HH:MM:SS` in UTC. */
export const formatFeedTime = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};

const countryNames = COUNTRIES.map(([c]) => c);
const countryWeights = COUNTRIES.reduce<number[]>((acc, [, w]) => [...acc, (acc[acc.length - 1] ?? 0) + w], []);

/** Realistic RetailCorp invoices, reproducible from a seed. */
export class InvoiceGenerator {
  private readonly rnd: Random;
  private readonly catalog: Product[];
  private readonly o: Required<GeneratorOptions>;
  private invoiceNo: number;

  constructor(options: GeneratorOptions) {
    this.o = {
      outOfOrderRatio: 0,
      lateRatio: 0,
      badRatio: 0,
      returnRatio: 0.07,
      graceMs: 600_000,
      windowMs: 60_000,
      ...options,
    };
    this.rnd = new Random(options.seed);
    this.catalog = makeCatalog(options.seed);
    // 15-digit invoice numbers, as in the original feed.
    this.invoiceNo = 154_132_541_000_000 + this.rnd.int(0, 999_999);
  }

  /** The next record for event time `now` (epoch ms). */
  next(now: number): Generated {
    const r = this.rnd.next();
    const o = this.o;
    if (r < o.badRatio) return { kind: 'bad', text: this.malformed(now) };
    if (r < o.badRatio + o.lateRatio) {
      const back = o.windowMs + o.graceMs + this.rnd.int(60_000, 600_000);
      return { kind: 'late', text: this.invoice(now - back) };
    }
    if (r < o.badRatio + o.lateRatio + o.outOfOrderRatio) {
      // Within the grace period: arrives out of order but is still counted.
      const back = this.rnd.int(1_000, Math.max(1_000, Math.floor(o.graceMs / 2)));
      return { kind: 'out-of-order', text: this.invoice(now - back) };
    }
    return { kind: 'on-time', text: this.invoice(now) };
  }

  private items(): string {
    // Basket sizes: mostly a few lines, a long tail up to 20.
    const lines = Math.min(20, 1 + Math.floor(-Math.log(1 - this.rnd.next()) * 3));
    const parts: string[] = [];
    for (let i = 0; i < lines; i++) {
      const p = this.catalog[Math.floor(this.rnd.next() * this.catalog.length)]!;
      const quantity = this.rnd.next() < 0.8 ? this.rnd.int(1, 12) : this.rnd.pick([24, 25, 36, 48, 72, 100]);
      parts.push(`{"SKU":"${p.sku}","title":"${p.title}","unit_price":${(p.pence / 100).toFixed(2)},"quantity":${quantity}}`);
    }
    return parts.join(',');
  }

  invoice(eventTime: number): string {
    const type = this.rnd.next() < this.o.returnRatio ? 'RETURN' : 'ORDER';
    const country = this.rnd.weighted(countryNames, countryWeights);
    this.invoiceNo += this.rnd.int(1, 97);
    return `{"invoice_no":${this.invoiceNo},"country":${JSON.stringify(country)},"timestamp":"${formatFeedTime(eventTime)}","type":"${type}","items":[${this.items()}]}`;
  }

  /** One of the classes of bad input the decoder must dead-letter. */
  private malformed(now: number): string {
    const good = this.invoice(now);
    switch (this.rnd.int(0, 7)) {
      case 0:
        return 'this is not json';
      case 1:
        return good.slice(0, Math.max(1, Math.floor(good.length * this.rnd.next())));
      case 2:
        return good.replace(/"invoice_no":\d+/, '"invoice_no":"not-a-number"');
      case 3:
        return good.replace(/"type":"\w+"/, '"type":"EXCHANGE"');
      case 4:
        return good.replace(/"quantity":\d+/, '"quantity":-3');
      case 5:
        return good.replace(/"country":"[^"]*",/, '');
      case 6:
        return good.replace(/"timestamp":"[^"]*"/, '"timestamp":"2020-13-45 99:00:00"');
      default:
        return good.replace(/"unit_price":[\d.]+/, '"unit_price":"free"');
    }
  }
}
