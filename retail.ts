/**
 * The RetailCorp order-intelligence application, built on the library: the KPI topology and its
 * outputs, the invoice decoders and serdes (JSON, Avro with a schema registry), the load simulator
 * and the file sinks (local folder, HDFS). Importing it loads neither the Kafka client nor the
 * schema-registry client until they are used.
 *
 * @packageDocumentation
 * @module retail-streams/retail
 */
/// <reference path="./state-stores/rocksdb-binding.d.ts" preserve="true" />

// The KPI topology and its outputs
export { buildKpiTopology, invoiceSerde, lateSerde, KPI_DEAD_LETTER_HANDLER, PARTIALS, type KpiTopologyOptions, type Output } from './processors/kpi-topology.ts';
export { fileOutputs, deadLetterFiles, DATASETS } from './processors/file-outputs.ts';
export { VALID_RECORDS, LATE_RECORDS, type PartialKpi, type LateRecord } from './processors/kpi-preaggregate.ts';
export { WINDOWS_CLOSED, TIME_STORE, COUNTRY_STORE } from './processors/kpi-combine.ts';
export type { TimeKpi, CountryKpi, WindowJson } from './processors/kpi.ts';

// Invoices: the data contract and its decoders
export { decodeInvoice, validateInvoice, type Invoice, type InvoiceRecord, type InvalidInvoice, type InvalidReason, type DecodedInvoice } from './processors/invoice.ts';
export { createInvoiceSerde, SchemaCache, type InvoiceSerde, type InvoiceSerdeOptions } from './processors/avro/invoice-serde.ts';
export { RegistryClient, StaticSchemaSource, RegistryUnavailableError, SchemaRefusedError, type SchemaSource, type SchemaLookup, type RegistryClientOptions } from './processors/avro/registry.ts';
export { INVOICE_SCHEMAS, timeKpiSchema, countryKpiSchema, valueSubject, type InvoiceSchemaVersion } from './processors/avro/schemas.ts';

// Load simulator
export { InvoiceGenerator, invoiceJsonLine, type GeneratorOptions } from './simulator/generator.ts';
export { simulate, type SimulateOptions, type SimulateResult } from './simulator/producer.ts';

// File sinks: local folder and HDFS, with the temp-then-rename commit protocol
export { fileSink, type FileSinkOptions } from './sinks/file-sink.ts';
export type { FileStore } from './sinks/file-store.ts';
export { LocalFileStore } from './sinks/local-store.ts';
export { WebHdfsFileStore, WebHdfsError, parseHdfsUrl, type WebHdfsLocation, type WebHdfsOptions } from './sinks/webhdfs-store.ts';
export { openFileStore } from './sinks/open-store.ts';
