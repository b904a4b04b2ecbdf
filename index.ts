/**
 * Public API of retail-streams: the DSL (`StreamsBuilder`), the Processor API, state stores, the
 * runtimes (`KafkaStreams`, `TopologyTestDriver`, `replayLines`) and the errors.
 *
 * @packageDocumentation
 * @module retail-streams
 */
/// <reference path="./state-stores/rocksdb-binding.d.ts" preserve="true" />

// DSL and topology
export { StreamsBuilder, KStream, KGroupedStream, TimeWindowedKStream, KTable } from './topology/api/builder.ts';
export type { Consumed, Produced, Grouped, Materialized } from './topology/api/builder.ts';
export { Topology } from './topology/internals/compile.ts';
export { TimeWindows, isWindowClosed, windowStartsFor } from './topology/api/windows.ts';
export { Serdes, type Serde } from './topology/api/serdes.ts';

// Processor API
export type { Processor, ProcessorContext, ProcessorSupplier, PunctuationType, Cancellable } from './topology/api/processor.ts';
export type { StreamRecord, RecordOrigin } from './topology/api/record.ts';
export type { ExternalSink, ExternalSinkFactory } from './topology/api/sink.ts';

// State stores
export { Stores, type StoreBuilder, type StoreKind, type StoreBuildOptions, type StoreOptions, type WindowStoreOptions } from './state-stores/stores.ts';
export type { KeyValueStore, WindowStore, Windowed, StateStore, StoreMetrics, StoreCodec } from './state-stores/api.ts';

// Runtimes
export { TopologyTestDriver } from './topology/runtimes/test-driver.ts';
export { KafkaStreams, type KafkaStreamsState, type StateListener, type UncaughtExceptionHandler, type UncaughtExceptionResponse } from './topology/runtimes/kafka/kafka-streams.ts';
export type { KafkaStreamsConfig, Guarantee, OutputTopicSpec } from './topology/runtimes/kafka/config.ts';
export type { KafkaSecurity } from './topology/runtimes/kafka/security.ts';
export { describeKafkaSecurity, kafkaSecurityError } from './topology/runtimes/kafka/security.ts';
export type { QueryableStore, ReadOnlyKeyValueStore, ReadOnlyWindowStore, KeyQueryMetadata, HostInfo, MemberMetadata } from './topology/runtimes/kafka/interactive-queries.ts';
export { replayLines } from './topology/runtimes/file-replay.ts';

// Errors and their handlers
export { RetailStreamsError, TopologyError, type ErrorCode } from './topology/api/errors.ts';
export { RecordRejectedError, deadLetterHeaders, type DeadLetterContext, type DeserializationHandler, type ProductionHandler, type HandlerResponse } from './topology/api/handlers.ts';
