/**
 * The Avro schemas of the invoice feed and of the KPI topics. An invoice in Avro is the same
 * logical record as the JSON feed line: the same field names, the timestamp and type as text,
 * so both formats go through the one validation (`validateInvoice`).
 */

const item = {
  type: 'record',
  name: 'Item',
  fields: [
    { name: 'SKU', type: 'string' },
    { name: 'title', type: 'string' },
    { name: 'unit_price', type: 'double' },
    { name: 'quantity', type: 'int' },
  ],
} as const;

const baseFields = [
  { name: 'invoice_no', type: 'long', doc: 'Up to 2^63-1: decoded as a BigInt, never through a double.' },
  { name: 'country', type: 'string' },
  { name: 'timestamp', type: 'string', doc: 'UTC, YYYY-MM-DD HH:MM:SS (ISO-8601 with an offset is accepted too)' },
  { name: 'type', type: 'string', doc: 'ORDER or RETURN' },
  { name: 'items', type: { type: 'array', items: item } },
] as const;

/** Version 1: exactly the fields of the JSON feed. */
export const invoiceSchemaV1 = {
  type: 'record',
  name: 'Invoice',
  namespace: 'com.retailcorp.invoices',
  fields: baseFields,
} as const;

/** Version 2: adds optional fields with defaults, so it is BACKWARD compatible with version 1. */
export const invoiceSchemaV2 = {
  type: 'record',
  name: 'Invoice',
  namespace: 'com.retailcorp.invoices',
  fields: [
    ...baseFields,
    { name: 'customer_id', type: ['null', 'string'], default: null },
    { name: 'currency', type: 'string', default: 'GBP' },
  ],
} as const;

/**
 * Not BACKWARD compatible with the others: a new field without a default, which a reader of this
 * version could not fill from older records. A registry under BACKWARD compatibility refuses it.
 */
export const invoiceSchemaIncompatible = {
  type: 'record',
  name: 'Invoice',
  namespace: 'com.retailcorp.invoices',
  fields: [...baseFields, { name: 'store_id', type: 'int' }],
} as const;

export type InvoiceSchemaVersion = '1' | '2' | 'incompatible';

export const INVOICE_SCHEMAS: Readonly<Record<InvoiceSchemaVersion, object>> = {
  '1': invoiceSchemaV1,
  '2': invoiceSchemaV2,
  incompatible: invoiceSchemaIncompatible,
};

const windowSchema = {
  type: 'record',
  name: 'Window',
  fields: [
    { name: 'start', type: 'string', doc: 'ISO-8601 UTC' },
    { name: 'end', type: 'string', doc: 'ISO-8601 UTC' },
  ],
} as const;

/** Value of the `kpi-time` topic with `--output-format avro`. */
export const timeKpiSchema = {
  type: 'record',
  name: 'TimeKpi',
  namespace: 'com.retailcorp.kpi',
  fields: [
    { name: 'window', type: windowSchema },
    { name: 'OPM', type: 'long' },
    { name: 'total_sale_volume', type: 'double' },
    { name: 'average_transaction_size', type: 'double' },
    { name: 'rate_of_return', type: 'double' },
  ],
} as const;

/** Value of the `kpi-time-country` topic with `--output-format avro`. */
export const countryKpiSchema = {
  type: 'record',
  name: 'CountryKpi',
  namespace: 'com.retailcorp.kpi',
  fields: [
    { name: 'window', type: windowSchema },
    { name: 'country', type: 'string' },
    { name: 'OPM', type: 'long' },
    { name: 'total_sale_volume', type: 'double' },
    { name: 'rate_of_return', type: 'double' },
  ],
} as const;

/** The registry subject of a topic's values (Confluent's TopicNameStrategy). */
export const valueSubject = (topic: string): string => `${topic}-value`;
