/** What a window (overall or for one country) accumulates: exact integers only. */
export interface KpiAccumulator {
  invoices: number;
  returns: number;
  micros: number;
}

export const emptyAccumulator = (): KpiAccumulator => ({ invoices: 0, returns: 0, micros: 0 });

export interface WindowJson {
  readonly start: string;
  readonly end: string;
}

export interface TimeKpi {
  readonly window: WindowJson;
  readonly OPM: number;
  readonly total_sale_volume: number;
  readonly average_transaction_size: number;
  readonly rate_of_return: number;
}

export interface CountryKpi {
  readonly window: WindowJson;
  readonly country: string;
  readonly OPM: number;
  readonly total_sale_volume: number;
  readonly rate_of_return: number;
}

/** numerator / denominator rounded half away from zero (Spark's and BigDecimal's HALF_UP), exactly. */
function roundDiv(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = (2n * n + d) / (2n * d);
  return negative ? -q : q;
}

/** micros / divisor, as a currency amount rounded to 2 decimals (a cent is 10^4 micros). */
export const toMoney = (micros: number, divisor = 1): number => Number(roundDiv(BigInt(micros), BigInt(divisor) * 10_000n)) / 100;

/** returns / invoices rounded to 4 decimals. */
export const toRate = (returns: number, invoices: number): number => Number(roundDiv(BigInt(returns) * 10_000n, BigInt(invoices))) / 10_000;

export const windowJson = (start: number, sizeMs: number): WindowJson => ({
  start: new Date(start).toISOString(),
  end: new Date(start + sizeMs).toISOString(),
});

export const timeKpi = (start: number, sizeMs: number, a: KpiAccumulator): TimeKpi => ({
  window: windowJson(start, sizeMs),
  OPM: a.invoices,
  total_sale_volume: toMoney(a.micros),
  average_transaction_size: toMoney(a.micros, a.invoices),
  rate_of_return: toRate(a.returns, a.invoices),
});

export const countryKpi = (start: number, sizeMs: number, country: string, a: KpiAccumulator): CountryKpi => ({
  window: windowJson(start, sizeMs),
  country,
  OPM: a.invoices,
  total_sale_volume: toMoney(a.micros),
  rate_of_return: toRate(a.returns, a.invoices),
});
