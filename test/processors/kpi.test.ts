import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countryKpi, timeKpi, toMoney, toRate } from '../../processors/kpi.ts';

/**
 * `num / den` rounded HALF_UP (half away from zero) to `places` decimals, by long division on
 * the decimal digits, returned as the decimal text a user would write.
 */
function halfUpText(num: bigint, den: bigint, places: number): string {
  const negative = num < 0n !== den < 0n && num !== 0n;
  let n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  const whole = n / d;
  n %= d;
  let digits = '';
  for (let i = 0; i < places; i++) {
    n *= 10n;
    digits += String(n / d);
    n %= d;
  }
  // Next digit decides: >= 5 rounds the magnitude up.
  const next = (n * 10n) / d;
  let scaled = BigInt(`${whole}${digits}`);
  if (next >= 5n) scaled += 1n;
  const text = scaled.toString().padStart(places + 1, '0');
  const out = places === 0 ? text : `${text.slice(0, -places)}.${text.slice(-places)}`;
  return negative && scaled !== 0n ? `-${out}` : out;
}

describe('toMoney: micros to a currency amount, 2 decimals, HALF_UP', () => {
  it('rounds half a cent away from zero', () => {
    expect(toMoney(5_000)).toBe(0.01);
    expect(toMoney(4_999)).toBe(0);
    expect(toMoney(15_000)).toBe(0.02);
    expect(toMoney(25_000)).toBe(0.03); // HALF_UP, not banker's rounding (which gives 0.02)
    expect(toMoney(1_234_565_000)).toBe(1234.57);
    expect(toMoney(1_234_564_999)).toBe(1234.56);
    expect(toMoney(29_700_000)).toBe(29.7);
  });

  it('rounds negatives symmetrically, and never gives -0', () => {
    expect(toMoney(-5_000)).toBe(-0.01);
    expect(toMoney(-25_000)).toBe(-0.03);
    expect(toMoney(-1_234_565_000)).toBe(-1234.57);
    expect(toMoney(-4_999)).toBe(0);
    expect(Object.is(toMoney(-4_999), -0)).toBe(false);
    expect(toMoney(0)).toBe(0);
  });

  it('divides exactly before rounding (average transaction size)', () => {
    expect(toMoney(50_000, 2)).toBe(0.03); // 0.025
    expect(toMoney(-50_000, 2)).toBe(-0.03);
    expect(toMoney(1_000_000, 3)).toBe(0.33);
    expect(toMoney(2_000_000, 3)).toBe(0.67);
    expect(toMoney(-2_000_000, 3)).toBe(-0.67);
    expect(toMoney(1_234_560_000, 12)).toBe(102.88);
    // 0.145 is below 0.145 as a double; exact arithmetic still rounds it up.
    expect(toMoney(145_000 * 7, 7)).toBe(0.15);
  });

  it('agrees with decimal long division (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), fc.integer({ min: 1, max: 100_000 }), (micros, divisor) => {
        expect(toMoney(micros, divisor)).toBe(Number(halfUpText(BigInt(micros), BigInt(divisor) * 1_000_000n, 2)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('toRate: returns / invoices, 4 decimals, HALF_UP', () => {
  it('rounds at the half', () => {
    expect(toRate(0, 5)).toBe(0);
    expect(toRate(5, 5)).toBe(1);
    expect(toRate(1, 3)).toBe(0.3333);
    expect(toRate(2, 3)).toBe(0.6667);
    expect(toRate(1, 8)).toBe(0.125);
    expect(toRate(1, 32)).toBe(0.0313); // 0.03125
    expect(toRate(3, 32)).toBe(0.0938); // 0.09375
    expect(toRate(1, 20_000)).toBe(0.0001); // 0.00005
    expect(toRate(1, 20_001)).toBe(0);
    expect(toRate(1, 12)).toBe(0.0833);
  });

  it('rounds negatives away from zero', () => {
    expect(toRate(-1, 32)).toBe(-0.0313);
    expect(toRate(1, -3)).toBe(-0.3333);
  });

  it('agrees with decimal long division (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.nat(), (invoices, r) => {
        const returns = r % (invoices + 1);
        expect(toRate(returns, invoices)).toBe(Number(halfUpText(BigInt(returns), BigInt(invoices), 4)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('KPI records', () => {
  const start = Date.UTC(2020, 8, 18, 10, 55);

  it('time KPI has the layout of the Spark JSON sink', () => {
    expect(JSON.stringify(timeKpi(start, 60_000, { invoices: 12, returns: 1, micros: 1_234_560_000 }))).toBe(
      '{"window":{"start":"2020-09-18T10:55:00.000Z","end":"2020-09-18T10:56:00.000Z"},"OPM":12,"total_sale_volume":1234.56,"average_transaction_size":102.88,"rate_of_return":0.0833}',
    );
  });

  it('country KPI has the layout of the Spark JSON sink', () => {
    expect(JSON.stringify(countryKpi(start, 60_000, 'Germany', { invoices: 1, returns: 0, micros: 61_460_000 }))).toBe(
      '{"window":{"start":"2020-09-18T10:55:00.000Z","end":"2020-09-18T10:56:00.000Z"},"country":"Germany","OPM":1,"total_sale_volume":61.46,"rate_of_return":0}',
    );
  });

  it('shows negative volumes when returns dominate', () => {
    expect(timeKpi(start, 60_000, { invoices: 2, returns: 2, micros: -50_000 })).toEqual({
      window: { start: '2020-09-18T10:55:00.000Z', end: '2020-09-18T10:56:00.000Z' },
      OPM: 2,
      total_sale_volume: -0.05,
      average_transaction_size: -0.03,
      rate_of_return: 1,
    });
  });
});
