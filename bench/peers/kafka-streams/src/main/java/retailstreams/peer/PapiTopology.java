package retailstreams.peer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.StreamPartitioner;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * retail-streams' own algorithm (processors/kpi-preaggregate.ts, kpi-combine.ts) in Kafka Streams'
 * Processor API, so that `run` is compared with Kafka Streams doing the same work:
 *
 * <ol>
 *   <li>Stage 1, one task per input partition: decode, dead-letter invalid records, judge lateness
 *       on the partition's own stream time, and sum valid invoices per window and country in
 *       memory. The Processor API has no end-of-poll-batch hook, so the sums leave on a short
 *       wall-clock punctuation (--flush-ms, default 100 ms) instead, followed by the partition's
 *       stream time as a watermark sent to every partition of the repartition topic, and then a
 *       requested commit: commits happen only right after a flush (commit.interval.ms is set out
 *       of the way), so committed input offsets never cover partials still in memory.
 *   <li>One repartition topic, `&lt;application id&gt;-kpi-partials-repartition` (created by
 *       KpiPeer), keyed by window start: partials, plus the broadcast watermarks.
 *   <li>Stage 2: merges partials into a logged, cached in-memory store, keeps the last watermark of
 *       every input partition, and closes (drops) windows once the minimum passes end + grace.
 *       Updates leave once per punctuation, latest per key, as `run` emits once per batch.
 * </ol>
 *
 * Not done, as `run` does: idle partitions leaving the watermark (the bench's partitions never
 * idle), final-mode outputs (the bench reads the update topics), partials buffered in stage 1
 * survive a rebalance (a clean hand-over loses at most one flush interval: none happen in a bench
 * run of one instance).
 */
final class PapiTopology {
  private PapiTopology() {}

  static final String PARTIALS = "kpi-partials-repartition";
  static final String STORE = "kpi-windows";

  /** A repartitioned record: a partial sum (watermark = false) or a partition's stream time. */
  record Message(boolean watermark, int partition, long time, String country, long invoices, long returns, long micros) {}

  static final Serializer<Message> MESSAGE_SER = (topic, m) -> {
    if (m.watermark()) return ByteBuffer.allocate(13).put((byte) 1).putInt(m.partition()).putLong(m.time()).array();
    byte[] c = m.country().getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(33 + c.length).put((byte) 0).putLong(m.time()).putLong(m.invoices()).putLong(m.returns()).putLong(m.micros()).put(c).array();
  };

  static final Deserializer<Message> MESSAGE_DE = (topic, b) -> {
    ByteBuffer buf = ByteBuffer.wrap(b);
    if (buf.get() == 1) return new Message(true, buf.getInt(), buf.getLong(), null, 0, 0, 0);
    long start = buf.getLong();
    long invoices = buf.getLong();
    long returns = buf.getLong();
    long micros = buf.getLong();
    return new Message(false, -1, start, new String(b, 33, b.length - 33, StandardCharsets.UTF_8), invoices, returns, micros);
  };

  /** Partials to the partition of their window, watermarks to every partition. */
  static final StreamPartitioner<Long, Message> PARTITIONER = (topic, key, value, n) -> {
    if (value.watermark()) return Optional.of(IntStream.range(0, n).boxed().collect(Collectors.toSet()));
    return Optional.of(Set.of((int) Math.floorMod(Long.hashCode(key), (long) n)));
  };

  static Topology build(String input, String prefix, long windowMs, long graceMs, long flushMs, int inputPartitions, String applicationId) {
    String repartition = applicationId + "-" + PARTIALS;
    Topology t = new Topology();
    t.addSource(org.apache.kafka.streams.AutoOffsetReset.earliest(), "invoices", new Invoices.EventTime(), Serdes.ByteArray().deserializer(), Invoices.decodedSerde().deserializer(), input);
    t.addProcessor("kpi-preaggregate", () -> new PreAggregate(windowMs, graceMs, flushMs), "invoices");
    t.addSink("dead-letter", prefix + "dead-letter", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer(), "kpi-preaggregate");
    // Two sinks to one topic: a sink shared by both stages would fuse them into one sub-topology.
    t.addSink("late", prefix + "late", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer(), "kpi-preaggregate");
    t.addSink("partials", repartition, Serdes.Long().serializer(), MESSAGE_SER, PARTITIONER, "kpi-preaggregate");
    t.addSource("partials-source", Serdes.Long().deserializer(), MESSAGE_DE, repartition);
    t.addProcessor("kpi-combine", () -> new Combine(windowMs, graceMs, flushMs, inputPartitions), "partials-source");
    t.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(STORE), Serdes.Bytes(), Kpi.serde()).withCachingEnabled(), "kpi-combine");
    t.addSink("late-partials", prefix + "late", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer(), "kpi-combine");
    t.addSink("kpi-time", prefix + "kpi-time", Serdes.String().serializer(), Serdes.String().serializer(), "kpi-combine");
    t.addSink("kpi-time-country", prefix + "kpi-time-country", Serdes.String().serializer(), Serdes.String().serializer(), "kpi-combine");
    return t;
  }

  /** Stage 1: see the class comment. */
  static final class PreAggregate implements Processor<byte[], Invoices.Decoded, Object, Object> {
    private final long windowMs;
    private final long graceMs;
    private final long flushMs;
    private ProcessorContext<Object, Object> ctx;
    /** window start -> country -> {invoices, returns, micros}, since the last flush. */
    private final Map<Long, Map<String, long[]>> batch = new HashMap<>();
    private long sentStreamTime = Long.MIN_VALUE;
    private long streamTime = Long.MIN_VALUE;
    private boolean dirty;

    PreAggregate(long windowMs, long graceMs, long flushMs) {
      this.windowMs = windowMs;
      this.graceMs = graceMs;
      this.flushMs = flushMs;
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
      ctx = context;
      ctx.schedule(Duration.ofMillis(flushMs), PunctuationType.WALL_CLOCK_TIME, now -> flush());
    }

    @Override
    public void process(Record<byte[], Invoices.Decoded> r) {
      Invoices.Decoded d = r.value();
      dirty = true;
      if (d.invoice() == null) {
        ctx.forward(new Record<Object, Object>(r.key(), d.raw(), r.timestamp(), KpiPeer.deadLetterHeaders(r.headers(), d.reason(), d.detail(), ctx.recordMetadata())), "dead-letter");
        return;
      }
      Invoices.Invoice v = d.invoice();
      // The task has already moved the partition's stream time to include this record.
      streamTime = ctx.currentStreamTimeMs();
      long start = v.timestamp() - Math.floorMod(v.timestamp(), windowMs);
      if (streamTime >= start + windowMs + graceMs) {
        String detail = "window " + KpiPeer.iso(start) + " closed at stream time " + KpiPeer.iso(streamTime);
        ctx.forward(new Record<Object, Object>(r.key(), d.raw(), v.timestamp(), KpiPeer.deadLetterHeaders(r.headers(), "late", detail, ctx.recordMetadata())), "late");
        return;
      }
      long[] p = batch.computeIfAbsent(start, s -> new HashMap<>()).computeIfAbsent(v.country(), c -> new long[3]);
      p[0]++;
      if (v.isReturn()) p[1]++;
      p[2] += v.totalMicros();
    }

    private void flush() {
      if (!dirty) return;
      for (Map.Entry<Long, Map<String, long[]>> w : batch.entrySet()) {
        long start = w.getKey();
        for (Map.Entry<String, long[]> c : w.getValue().entrySet()) {
          long[] p = c.getValue();
          ctx.forward(new Record<Object, Object>(start, new Message(false, -1, start, c.getKey(), p[0], p[1], p[2]), start), "partials");
        }
      }
      batch.clear();
      if (streamTime > sentStreamTime) {
        int partition = ctx.taskId().partition();
        ctx.forward(new Record<Object, Object>((long) partition, new Message(true, partition, streamTime, null, 0, 0, 0), streamTime), "partials");
        sentStreamTime = streamTime;
      }
      dirty = false;
      // Commit now, right after the flush: the input offsets committed never run ahead of it.
      ctx.commit();
    }
  }

  /** Store key: the window start (sign bit flipped, big-endian, so byte order is time order), then the country ("" overall). */
  static Bytes key(long start, String country) {
    byte[] c = country.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(ByteBuffer.allocate(8 + c.length).putLong(start ^ Long.MIN_VALUE).put(c).array());
  }

  static long startOf(Bytes key) {
    return ByteBuffer.wrap(key.get()).getLong() ^ Long.MIN_VALUE;
  }

  /** Stage 2: see the class comment. */
  static final class Combine implements Processor<Long, Message, Object, Object> {
    private final long windowMs;
    private final long graceMs;
    private final long flushMs;
    private final long[] watermarks;
    private long watermark = Long.MIN_VALUE;
    private boolean processed;
    private ProcessorContext<Object, Object> ctx;
    private KeyValueStore<Bytes, Kpi> store;
    private final TreeSet<Long> dirtyWindows = new TreeSet<>();
    private final LinkedHashMap<Bytes, KeyValue<Long, String>> dirtyCountries = new LinkedHashMap<>();

    Combine(long windowMs, long graceMs, long flushMs, int inputPartitions) {
      this.windowMs = windowMs;
      this.graceMs = graceMs;
      this.flushMs = flushMs;
      this.watermarks = new long[inputPartitions];
      java.util.Arrays.fill(watermarks, Long.MIN_VALUE);
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
      ctx = context;
      store = context.getStateStore(STORE);
      // Every record processed since the last punctuation (watermarks too) gets committed, so the
      // repartition topic's committed offsets reach its end once the input is done.
      ctx.schedule(Duration.ofMillis(flushMs), PunctuationType.WALL_CLOCK_TIME, now -> {
        emitPending();
        if (processed) ctx.commit();
        processed = false;
      });
    }

    @Override
    public void process(Record<Long, Message> r) {
      Message m = r.value();
      processed = true;
      if (m.watermark()) {
        if (m.partition() < 0 || m.partition() >= watermarks.length) return;
        watermarks[m.partition()] = Math.max(watermarks[m.partition()], m.time());
        long min = Long.MAX_VALUE;
        for (long w : watermarks) min = Math.min(min, w);
        if (min > watermark) {
          watermark = min;
          closeWindows();
        }
        return;
      }
      long start = m.time();
      if (watermark != Long.MIN_VALUE && watermark >= start + windowMs + graceMs) {
        // Only possible for a partition the watermark once left out: never here (no idle rule).
        ctx.forward(new Record<Object, Object>(null, ("{\"start\":" + start + ",\"country\":\"" + m.country() + "\",\"invoices\":" + m.invoices() + "}").getBytes(StandardCharsets.UTF_8), start), "late-partials");
        return;
      }
      add(key(start, ""), m);
      Bytes ck = key(start, m.country());
      add(ck, m);
      dirtyWindows.add(start);
      dirtyCountries.putIfAbsent(ck, KeyValue.pair(start, m.country()));
    }

    private void add(Bytes k, Message m) {
      Kpi a = store.get(k);
      store.put(k, (a == null ? new Kpi() : a).plus(m.invoices(), m.returns(), m.micros()));
    }

    /** The latest value of every key changed since the last emission; true if any. */
    private boolean emitPending() {
      if (dirtyWindows.isEmpty()) return false;
      for (long start : dirtyWindows) {
        Kpi a = store.get(key(start, ""));
        if (a != null) ctx.forward(new Record<Object, Object>(KpiPeer.iso(start), a.timeJson(start, start + windowMs), start), "kpi-time");
      }
      for (Map.Entry<Bytes, KeyValue<Long, String>> e : dirtyCountries.entrySet()) {
        long start = e.getValue().key;
        String country = e.getValue().value;
        Kpi a = store.get(e.getKey());
        if (a != null) ctx.forward(new Record<Object, Object>(KpiPeer.iso(start) + "|" + country, a.countryJson(start, start + windowMs, country), start), "kpi-time-country");
      }
      dirtyWindows.clear();
      dirtyCountries.clear();
      return true;
    }

    /** Windows whose end + grace the watermark has passed: last updates out first, then dropped. */
    private void closeWindows() {
      long lastClosedStart = watermark - windowMs - graceMs;
      if (watermark < Long.MIN_VALUE + windowMs + graceMs) return;
      emitPending();
      List<Bytes> closed = new ArrayList<>();
      try (KeyValueIterator<Bytes, Kpi> it = store.all()) {
        while (it.hasNext()) {
          Bytes k = it.next().key;
          if (startOf(k) > lastClosedStart) break;
          closed.add(k);
        }
      }
      for (Bytes k : closed) store.delete(k);
    }
  }
}
