package retailstreams.peer;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
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
 * The idiomatic Kafka Streams program for retail-streams' KPIs, the JVM baseline of `make bench`:
 * the same decode and validation rules (Invoices.java), event time from the invoice (a
 * TimestampExtractor), tumbling windows with the same size and grace, in-memory window stores
 * (logged to changelogs, as ours are), time and time-and-country KPIs in update mode to topics,
 * invalid records to a dead-letter topic with the reason in headers. Late records are dropped
 * by Kafka Streams' window stores (its dropped-records metric), where retail-streams writes them
 * to a topic.
 *
 * <pre>
 * KpiPeer --bootstrap H:P --application-id ID --input TOPIC [--output-prefix peer-]
 *         [--window-ms 60000] [--grace-ms 600000] [--threads 1] [--commit-ms 1000]
 * </pre>
 */
public final class KpiPeer {
  private KpiPeer() {}

  public static void main(String[] args) throws InterruptedException {
    Map<String, String> a = Args.parse(args);
    String input = Args.required(a, "input");
    String prefix = a.getOrDefault("output-prefix", "peer-");
    long windowMs = Long.parseLong(a.getOrDefault("window-ms", "60000"));
    long graceMs = Long.parseLong(a.getOrDefault("grace-ms", "600000"));

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, Args.required(a, "application-id"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, Args.required(a, "bootstrap"));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.getOrDefault("threads", "1")));
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(a.getOrDefault("commit-ms", "1000")));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    p.put(StreamsConfig.STATE_DIR_CONFIG, a.getOrDefault("state-dir", System.getProperty("java.io.tmpdir") + "/kafka-streams-peer"));

    Topology topology = topology(input, prefix, windowMs, graceMs);
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

  /** Raw bytes out, reason and origin in headers, as retail-streams' dead-letter topic has them. */
  static final class DeadLetter implements FixedKeyProcessor<byte[], Invoices.Decoded, byte[]> {
    private FixedKeyProcessorContext<byte[], byte[]> ctx;

    @Override
    public void init(FixedKeyProcessorContext<byte[], byte[]> context) {
      this.ctx = context;
    }

    @Override
    public void process(FixedKeyRecord<byte[], Invoices.Decoded> r) {
      var h = r.headers();
      h.add("rs-reason", Invoices.utf8(r.value().reason()));
      h.add("rs-detail", Invoices.utf8(r.value().detail()));
      ctx.recordMetadata().ifPresent(m -> {
        h.add("rs-source-topic", Invoices.utf8(m.topic()));
        h.add("rs-source-partition", Invoices.utf8(Integer.toString(m.partition())));
        h.add("rs-source-offset", Invoices.utf8(Long.toString(m.offset())));
      });
      ctx.forward(r.withValue(r.value().raw()));
    }
  }
}
