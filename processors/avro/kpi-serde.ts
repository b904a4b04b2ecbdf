/**
 * Avro values for the KPI topics (`--output-format avro`): the KPI schemas are registered under
 * `<topic>-value` when `run` starts, so serializing stays synchronous with a known id.
 */
import type { Serde } from '../../topology/api/serdes.ts';
import type { CountryKpi, TimeKpi } from '../kpi.ts';
import { decodeBody, encodeFramed, HEADER_BYTES, MAGIC_BYTE, parseSchema, schemaIdOf, type AvroType } from './avro.ts';
import type { RegistryClient } from './registry.ts';
import { countryKpiSchema, timeKpiSchema, valueSubject } from './schemas.ts';

/** Avro `long` fields come back as BigInt: KPI readers want plain numbers. */
const plain = (v: unknown): unknown => {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

/** A framed Avro serde for one registered schema; `deserialize` accepts only that schema id. */
export function avroValueSerde<T>(name: string, type: AvroType, schemaId: number): Serde<T> {
  return {
    name,
    serialize: (v: T) => (v === null || v === undefined ? null : encodeFramed(type, schemaId, v)),
    deserialize: (bytes) => {
      if (bytes === null) return null as T;
      if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC_BYTE) throw new Error(`${name}: not a Confluent-framed Avro record`);
      const id = schemaIdOf(bytes);
      if (id !== schemaId) throw new Error(`${name}: schema id ${id}, expected ${schemaId}`);
      return plain(decodeBody(type, bytes)) as T;
    },
  };
}

export interface KpiSerdes {
  readonly timeKpiSerde: Serde<TimeKpi>;
  readonly countryKpiSerde: Serde<CountryKpi>;
  readonly ids: { readonly time: number; readonly country: number };
}

/** Registers the KPI value schemas for the two KPI topics and returns their serdes. */
export async function registerKpiSerdes(registry: RegistryClient, topics: { readonly time: string; readonly country: string }): Promise<KpiSerdes> {
  const time = await registry.register(valueSubject(topics.time), timeKpiSchema);
  const country = await registry.register(valueSubject(topics.country), countryKpiSchema);
  return {
    timeKpiSerde: avroValueSerde<TimeKpi>('time-kpi-avro', parseSchema(timeKpiSchema), time),
    countryKpiSerde: avroValueSerde<CountryKpi>('country-kpi-avro', parseSchema(countryKpiSchema), country),
    ids: { time, country },
  };
}
