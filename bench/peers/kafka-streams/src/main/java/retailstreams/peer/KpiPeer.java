package retailstreams.peer;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peers of `retail-streams run` for `make bench`, in two forms (--mode):
 *
 * <ul>
 *   <li>{@code dsl}: the idiomatic DSL program: the same decode and validation rules
 *       (Invoices.java), event time from the invoice (a TimestampExtractor), two per-record
 *       groupBy + windowed aggregate chains (two repartition topics), in-memory window stores
 *       logged to changelogs, time and time-and-country KPIs in update mode, invalid records to a
 *       dead-letter topic with the reason in headers. Late records are dropped by its window
 *       stores, judged on the repartitioned stream time (Kafka Streams' rule).
 *   <li>{@code papi}: retail-streams' own algorithm in the Processor API (PapiTopology.java):
 *       per-partition pre-aggregation, one repartition topic of partials and watermarks, a
 *       combine stage closing windows on the minimum watermark.
 * </ul>
 *
 * Client settings match `run`'s (topology/runtimes/kafka/stream-thread.ts): fetches of up to
 * 8 MiB a partition and 32 MiB a request, 50 ms max wait; polls of up to 10,000 records (Kafka
 * Streams' default 1,000 would cut `run`'s batches into ten); producer batches of 512 KiB.
 *
 * <pre>
 * KpiPeer --bootstrap H:P --application-id ID --input TOPIC [--mode dsl|papi] [--output-prefix peer-]
 *         [--window-ms 60000] [--grace-ms 600000] [--threads 1] [--commit-ms 200] [--flush-ms 100]
 *         [--state-dir DIR] [--max-poll-records 10000] [--cache-bytes 67108864]
 * </pre>
 */
public final class KpiPeer {
  private KpiPeer() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = Args.parse(args);
    String input = Args.required(a, "input");
    String bootstrap = Args.required(a, "bootstrap");
    String applicationId = Args.required(a, "application-id");
    String mode = a.getOrDefault("mode", "dsl");
    String prefix = a.getOrDefault("output-prefix", "peer-");
    long windowMs = Long.parseLong(a.getOrDefault("window-ms", "60000"));
    long graceMs = Long.parseLong(a.getOrDefault("grace-ms", "600000"));
    long flushMs = Long.parseLong(a.getOrDefault("flush-ms", "100"));
    boolean papi = mode.equals("papi");
    if (!papi && !mode.equals("dsl")) throw new IllegalArgumentException("--mode must be dsl or papi, got " + mode);

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.getOrDefault("threads", "1")));
    // dsl: commits on a short interval (the bench's caught-up rule waits for a commit, and `run`
    // commits after every batch). papi: a commit is requested right after each flush of partials,
    // so the interval only has to stay out of the way (an interval commit between flushes would
    // commit input offsets whose partials are still in memory).
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, papi ? Integer.MAX_VALUE : Long.parseLong(a.getOrDefault("commit-ms", "200")));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    p.put(StreamsConfig.STATE_DIR_CONFIG, a.getOrDefault("state-dir", System.getProperty("java.io.tmpdir") + "/kafka-streams-peer"));
    // The record cache in front of the stores: the dsl peer's updates are deduplicated per
    // window and key between commits (Kafka Streams' update-mode emission, as `run` emits once
    // per batch); 64 MiB holds every open window of the bench many times over.
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, Long.parseLong(a.getOrDefault("cache-bytes", String.valueOf(64L << 20))));
    p.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), Integer.parseInt(a.getOrDefault("max-poll-records", "10000")));
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_BYTES_CONFIG), 32 << 20);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), 8 << 20);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), 50);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.RECEIVE_BUFFER_CONFIG), 4 << 20);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 512 << 10);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.BUFFER_MEMORY_CONFIG), 64L << 20);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.SEND_BUFFER_CONFIG), 4 << 20);

    Topology topology;
    if (papi) {
      int partitions;
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
        partitions = admin.describeTopics(List.of(input)).allTopicNames().get().get(input).partitions().size();
        // The Processor API has no internal-topic declaration: the repartition topic is made here,
        // as Kafka Streams makes the DSL's (as many partitions as the input, the group's prefix).
        String repartition = applicationId + "-" + PapiTopology.PARTIALS;
        try {
          // Infinite time retention, as Kafka Streams gives its own repartition topics: partials carry
          // event times (2020 here), which the broker's default 7 days would delete before stage 2 reads them.
          admin.createTopics(List.of(new NewTopic(repartition, partitions, (short) 1).configs(Map.of("retention.ms", "-1", "cleanup.policy", "delete")))).all().get();
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) throw e;
        }
      }
      topology = PapiTopology.build(input, prefix, windowMs, graceMs, flushMs, partitions, applicationId);
    } else {
      topology = topology(input, prefix, windowMs, graceMs);
    }
    KafkaStreams streams = new KafkaStreams(topology, p);
    CountDownLatch done = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      System.err.println("kafka-streams-peer: state " + before + " -> " + now);
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) done.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(20));
      done.countDown();
    }));
    System.err.println(topology.describe());
    streams.start();
    done.await();
  }

  static Topology topology(String input, String prefix, long windowMs, long graceMs) {
    StreamsBuilder b = new StreamsBuilder();
    KStream<byte[], Invoices.Decoded> decoded = b.stream(input,
        Consumed.with(Serdes.ByteArray(), Invoices.decodedSerde()).withTimestampExtractor(new Invoices.EventTime()));
    Map<String, KStream<byte[], Invoices.Decoded>> branches = decoded.split(Named.as("decode-"))
        .branch((k, v) -> v.invoice() != null, Branched.as("valid"))
        .defaultBranch(Branched.as("invalid"));

    branches.get("decode-invalid")
        .processValues(DeadLetter::new, Named.as("dead-letter-headers"))
        .to(prefix + "dead-letter", Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));

    KStream<byte[], Invoices.Invoice> valid = branches.get("decode-valid").mapValues(Invoices.Decoded::invoice, Named.as("enrich"));
    TimeWindows windows = TimeWindows.ofSizeAndGrace(Duration.ofMillis(windowMs), Duration.ofMillis(graceMs));
    Duration retention = Duration.ofMillis(windowMs + graceMs);

    valid.groupBy((k, v) -> v.country(), Grouped.with("by-country", Serdes.String(), Invoices.invoiceSerde()))
        .windowedBy(windows)
        .aggregate(Kpi::new, (k, v, acc) -> acc.plus(v),
            Materialized.<String, Kpi>as(Stores.inMemoryWindowStore("country-kpis", retention, Duration.ofMillis(windowMs), false))
                .withKeySerde(Serdes.String()).withValueSerde(Kpi.serde()))
        .toStream(Named.as("country-updates"))
        .map((Windowed<String> w, Kpi k) -> KeyValue.pair(iso(w.window().start()) + "|" + w.key(), k.countryJson(w.window().start(), w.window().end(), w.key())))
        .to(prefix + "kpi-time-country", Produced.with(Serdes.String(), Serdes.String()));

    valid.groupBy((k, v) -> "all", Grouped.with("overall", Serdes.String(), Invoices.invoiceSerde()))
        .windowedBy(windows)
        .aggregate(Kpi::new, (k, v, acc) -> acc.plus(v),
            Materialized.<String, Kpi>as(Stores.inMemoryWindowStore("time-kpis", retention, Duration.ofMillis(windowMs), false))
                .withKeySerde(Serdes.String()).withValueSerde(Kpi.serde()))
        .toStream(Named.as("time-updates"))
        .map((Windowed<String> w, Kpi k) -> KeyValue.pair(iso(w.window().start()), k.timeJson(w.window().start(), w.window().end())))
        .to(prefix + "kpi-time", Produced.with(Serdes.String(), Serdes.String()));
    return b.build();
  }

  private static final DateTimeFormatter ISO = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  /** As JavaScript's Date.toISOString(). */
  static String iso(long ms) {
    return ISO.format(Instant.ofEpochMilli(ms));
  }

  /** The reason and origin headers of a dead (or late) letter, under retail-streams' names. */
  static Headers deadLetterHeaders(Headers h, String reason, String detail, Optional<RecordMetadata> origin) {
    h.add("rs-reason", Invoices.utf8(reason));
    h.add("rs-detail", Invoices.utf8(detail));
    origin.ifPresent(m -> {
      h.add("rs-source-topic", Invoices.utf8(m.topic()));
      h.add("rs-source-partition", Invoices.utf8(Integer.toString(m.partition())));
      h.add("rs-source-offset", Invoices.utf8(Long.toString(m.offset())));
    });
    return h;
  }

  /** Raw bytes out, reason and origin in headers, as retail-streams' dead-letter topic has them. */
  static final class DeadLetter implements FixedKeyProcessor<byte[], Invoices.Decoded, byte[]> {
    private FixedKeyProcessorContext<byte[], byte[]> ctx;

    @Override
    public void init(FixedKeyProcessorContext<byte[], byte[]> context) {
      this.ctx = context;
    }

    @Override
    public void process(FixedKeyRecord<byte[], Invoices.Decoded> r) {
      deadLetterHeaders(r.headers(), r.value().reason(), r.value().detail(), ctx.recordMetadata());
      ctx.forward(r.withValue(r.value().raw()));
    }
  }
}
