// Usage lines of every command, apart from the commands so `--help` loads none of them.
export const simulateUsage =
  'retail-streams simulate --brokers H:P --topic invoices --rate 5000 --duration 60s|--count N --format json|avro --seed 42 [--registry URL --registry-ca FILE --schema-version 1|2 --late-ratio 0.01 --bad-ratio 0.001 --out-of-order-ratio 0.05 --partitions 4 --start ISO --event-rate N --grace 10m --shape compact|feed] [--kafka-config FILE --kafka-tls --kafka-ca FILE --kafka-cert FILE --kafka-key FILE --kafka-sasl-mechanism plain|scram-sha-256|scram-sha-512 --kafka-username USER --kafka-password-file FILE]';
export const runUsage =
  'retail-streams run --brokers H:P --group retail-kpi --input invoices --store memory|rocksdb --sink ./out|hdfs://host:9870/path|swebhdfs://host:9871/path [--window 1m --grace 10m --idle 30s --guarantee at-least-once|exactly-once --client kafkajs|platformatic --state-dir DIR --standby-replicas 0 --threads 1 --topic-prefix P --registry URL --registry-ca FILE --hdfs-ca FILE --output-format json|avro --max-future 1h|off --http PORT --http-host 127.0.0.1 --http-token TOKEN --application-server HOST:PORT] [--kafka-config FILE --kafka-tls --kafka-ca FILE --kafka-cert FILE --kafka-key FILE --kafka-sasl-mechanism plain|scram-sha-256|scram-sha-512 --kafka-username USER --kafka-password-file FILE]';
export const replayUsage =
  'retail-streams replay --input FILE|- --out DIR [--window 1m] [--grace 10m] [--max-future 1h|off] [--overwrite]';
export const watchUsage =
  'retail-streams watch --brokers H:P [--every 5s --windows 5 --topic-prefix P] [--kafka-config FILE --kafka-tls --kafka-ca FILE --kafka-cert FILE --kafka-key FILE --kafka-sasl-mechanism plain|scram-sha-256|scram-sha-512 --kafka-username USER --kafka-password-file FILE]';
export const describeUsage = 'retail-streams describe [--window 1m] [--grace 10m] [the Kafka security flags: shown redacted]';
/** Where the Kafka password comes from: never a flag. */
export const kafkaPasswordUsage = 'Kafka password: KAFKA_PASSWORD or --kafka-password-file FILE (never a flag); the same settings from KAFKA_* variables or --kafka-config FILE; registry: REGISTRY_USERNAME + REGISTRY_PASSWORD or REGISTRY_TOKEN; HDFS: HDFS_DELEGATION_TOKEN';
