package retailstreams.peer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.TimestampExtractor;

/** The invoice contract of docs/design.md, as processors/invoice.ts implements it. */
final class Invoices {
  private Invoices() {}

  /** What the KPIs need of a valid invoice; money in exact integer millionths. */
  record Invoice(String country, long timestamp, long totalMicros, boolean isReturn) {}

  /** A decoded record: an invoice, or the reason it is not one, with the bytes it came from. */
  record Decoded(Invoice invoice, String reason, String detail, byte[] raw) {}

  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final BigInteger MAX_LONG = BigInteger.valueOf(Long.MAX_VALUE);
  private static final long MAX_SAFE = (1L << 53) - 1;
  private static final Pattern TIMESTAMP =
      Pattern.compile("^(\\d{4})-(\\d{2})-(\\d{2})[T ](\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,9}))?(Z|[+-]\\d{2}(?::?\\d{2})?)?$");

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static Decoded invalid(String reason, String detail, byte[] raw) {
    return new Decoded(null, reason, detail, raw);
  }

  private static String typeName(JsonNode n) {
    if (n.isNull()) return "null";
    if (n.isArray()) return "array";
    if (n.isObject()) return "object";
    if (n.isNumber()) return "number";
    if (n.isBoolean()) return "boolean";
    return "string";
  }

  /** JavaScript's Number.isInteger over a JSON number. */
  private static boolean isInteger(JsonNode n) {
    if (n.isIntegralNumber()) return true;
    double d = n.doubleValue();
    return Double.isFinite(d) && d == Math.rint(d);
  }

  private static final JsonFactory FACTORY = JSON.getFactory();

  /**
   * What a Kafka Streams expert would write for throughput: one pass of Jackson's streaming parser
   * over the bytes, no tree, and a hand-written timestamp parse with a last-value cache (as
   * retail-streams' scanner does). Anything it does not accept as a plain valid invoice goes to
   * the by-the-book tree decoder below, which decides the reason, so both agree on every record.
   */
  static Decoded decode(byte[] bytes) {
    if (bytes != null) {
      Invoice fast = fast(bytes);
      if (fast != null) return new Decoded(fast, null, null, bytes);
    }
    return decodeReference(bytes);
  }

  private static Invoice fast(byte[] bytes) {
    try (JsonParser p = FACTORY.createParser(bytes)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return null;
      boolean haveNo = false;
      boolean haveItems = false;
      String country = null;
      long ts = Long.MIN_VALUE;
      int type = -1;
      long micros = 0;
      long count = 0;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        switch (name) {
          case "invoice_no" -> {
            // Duplicates, floats, big or negative numbers: the reference decides.
            if (haveNo || v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) return null;
            haveNo = true;
          }
          case "country" -> {
            if (country != null || v != JsonToken.VALUE_STRING) return null;
            country = p.getText();
            if (!hasVisibleChar(country)) return null;
          }
          case "timestamp" -> {
            if (ts != Long.MIN_VALUE || v != JsonToken.VALUE_STRING) return null;
            ts = fastTimestamp(p.getText());
            if (ts == Long.MIN_VALUE) return null;
          }
          case "type" -> {
            if (type != -1 || v != JsonToken.VALUE_STRING) return null;
            String text = p.getText();
            if (text.equals("ORDER")) type = 0;
            else if (text.equals("RETURN")) type = 1;
            else return null;
          }
          case "items" -> {
            if (haveItems || v != JsonToken.START_ARRAY) return null;
            haveItems = true;
            JsonToken it;
            while ((it = p.nextToken()) != JsonToken.END_ARRAY) {
              if (it != JsonToken.START_OBJECT) return null;
              long quantity = -1;
              double price = Double.NaN;
              while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken fv = p.nextToken();
                if (field.equals("quantity")) {
                  if (quantity != -1 || fv != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) return null;
                  quantity = p.getLongValue();
                  if (quantity <= 0) return null;
                } else if (field.equals("unit_price")) {
                  if (!Double.isNaN(price) || (fv != JsonToken.VALUE_NUMBER_INT && fv != JsonToken.VALUE_NUMBER_FLOAT)) return null;
                  price = p.getDoubleValue();
                  if (!Double.isFinite(price) || price < 0) return null;
                } else {
                  p.skipChildren();
                }
              }
              if (quantity == -1 || Double.isNaN(price)) return null;
              double line = (double) Math.round(price * 1_000_000) * quantity;
              if (Math.abs(line) > MAX_SAFE || Math.abs(micros + line) > MAX_SAFE || count + quantity > MAX_SAFE) return null;
              micros += (long) line;
              count += quantity;
            }
          }
          default -> p.skipChildren();
        }
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) return null;
      if (!haveNo || country == null || ts == Long.MIN_VALUE || type == -1 || !haveItems) return null;
      return new Invoice(country, ts, type == 1 ? -micros : micros, type == 1);
    } catch (Exception e) {
      return null;
    }
  }

  /** Not blank under any notion of white space (JavaScript's trim is wider than Java's). */
  private static boolean hasVisibleChar(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c > ' ' && !Character.isWhitespace(c) && !Character.isSpaceChar(c) && c != '\uFEFF') return true;
    }
    return false;
  }

  /** The last text parsed and its value, published as one object so threads never see a torn pair. */
  private record Cached(String text, long ts) {}

  private static volatile Cached cache = new Cached("", Long.MIN_VALUE);

  /**
   * `YYYY-MM-DD HH:MM:SS` by hand, any other form through the regex parser. Many invoices share
   * a second: the last text is remembered (shared by stream threads: a miss, never a wrong value).
   */
  static long fastTimestamp(String text) {
    Cached c = cache;
    if (text.equals(c.text())) return c.ts();
    long ts = text.length() == 19 ? plainTimestamp(text) : Long.MIN_VALUE;
    if (ts == Long.MIN_VALUE) ts = parseTimestamp(text);
    cache = new Cached(text, ts);
    return ts;
  }

  private static int digits(String s, int from, int n) {
    int v = 0;
    for (int i = from; i < from + n; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v;
  }

  private static final int[] DAYS_IN_MONTH = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

  private static long plainTimestamp(String s) {
    if (s.charAt(4) != '-' || s.charAt(7) != '-' || (s.charAt(10) != ' ' && s.charAt(10) != 'T') || s.charAt(13) != ':' || s.charAt(16) != ':') return Long.MIN_VALUE;
    int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2), h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) return Long.MIN_VALUE;
    boolean leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > (mo == 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1])) return Long.MIN_VALUE;
    // Days from the civil date (Howard Hinnant's algorithm), proleptic Gregorian as Date.UTC.
    int yy = mo <= 2 ? y - 1 : y;
    int era = Math.floorDiv(yy, 400);
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long days = (long) era * 146097 + doe - 719468;
    return ((days * 24 + h) * 60 + mi) * 60_000L + se * 1000L;
  }

  static Decoded decodeReference(byte[] bytes) {
    if (bytes == null) return invalid("not-json", "record has no value", null);
    JsonNode doc;
    try {
      doc = JSON.readTree(bytes);
    } catch (Exception e) {
      return invalid("not-json", String.valueOf(e.getMessage()), bytes);
    }
    if (doc == null || doc.isMissingNode() || !doc.isObject()) return invalid("not-an-object", "expected a JSON object", bytes);
    JsonNode invoiceNo = doc.get("invoice_no");
    JsonNode country = doc.get("country");
    JsonNode timestamp = doc.get("timestamp");
    JsonNode type = doc.get("type");
    JsonNode items = doc.get("items");
    if (invoiceNo == null) return invalid("missing-field", "invoice_no is missing", bytes);
    if (country == null) return invalid("missing-field", "country is missing", bytes);
    if (timestamp == null) return invalid("missing-field", "timestamp is missing", bytes);
    if (type == null) return invalid("missing-field", "type is missing", bytes);
    if (items == null) return invalid("missing-field", "items is missing", bytes);
    if (!invoiceNo.isNumber()) return invalid("wrong-type", "invoice_no must be an integer, got " + typeName(invoiceNo), bytes);
    if (invoiceNo.isIntegralNumber()) {
      BigInteger v = invoiceNo.bigIntegerValue();
      if (v.signum() < 0) return invalid("bad-invoice-no", "invoice_no must not be negative", bytes);
      if (v.compareTo(MAX_LONG) > 0) return invalid("bad-invoice-no", "invoice_no is beyond 2^63-1", bytes);
    } else if (!isInteger(invoiceNo) || Math.abs(invoiceNo.doubleValue()) > MAX_SAFE || invoiceNo.doubleValue() < 0) {
      return invalid("bad-invoice-no", "invoice_no must be an integer", bytes);
    }
    if (!country.isTextual()) return invalid("wrong-type", "country must be a string, got " + typeName(country), bytes);
    if (country.textValue().trim().isEmpty()) return invalid("bad-country", "country is empty", bytes);
    if (!timestamp.isTextual()) return invalid("wrong-type", "timestamp must be a string, got " + typeName(timestamp), bytes);
    long ts = parseTimestamp(timestamp.textValue());
    if (ts == Long.MIN_VALUE) return invalid("bad-timestamp", "timestamp is not YYYY-MM-DD HH:MM:SS or ISO-8601", bytes);
    if (!type.isTextual()) return invalid("wrong-type", "type must be a string, got " + typeName(type), bytes);
    boolean isReturn;
    if (type.textValue().equals("ORDER")) isReturn = false;
    else if (type.textValue().equals("RETURN")) isReturn = true;
    else return invalid("unknown-type", "type must be ORDER or RETURN", bytes);
    if (!items.isArray()) return invalid("wrong-type", "items must be an array, got " + typeName(items), bytes);
    long micros = 0;
    long count = 0;
    for (int i = 0; i < items.size(); i++) {
      JsonNode item = items.get(i);
      if (!item.isObject()) return invalid("bad-items", "items[" + i + "] must be an object", bytes);
      JsonNode quantity = item.get("quantity");
      JsonNode unitPrice = item.get("unit_price");
      if (quantity == null) return invalid("missing-field", "items[" + i + "].quantity is missing", bytes);
      if (unitPrice == null) return invalid("missing-field", "items[" + i + "].unit_price is missing", bytes);
      if (!quantity.isNumber()) return invalid("wrong-type", "items[" + i + "].quantity must be a number", bytes);
      if (!isInteger(quantity) || quantity.doubleValue() <= 0) return invalid("bad-quantity", "items[" + i + "].quantity must be a positive integer", bytes);
      if (!unitPrice.isNumber()) return invalid("wrong-type", "items[" + i + "].unit_price must be a number", bytes);
      double price = unitPrice.doubleValue();
      if (!Double.isFinite(price) || price < 0) return invalid("bad-unit-price", "items[" + i + "].unit_price must be a finite number >= 0", bytes);
      // Prices are exact to a millionth: the double rounded to 6 places, as the TypeScript decoder does.
      double q = quantity.doubleValue();
      double line = (double) Math.round(price * 1_000_000) * q;
      if (Math.abs(line) > MAX_SAFE || Math.abs(micros + line) > MAX_SAFE || count + q > MAX_SAFE)
        return invalid("bad-unit-price", "invoice total is beyond the exact range of 2^53 micros", bytes);
      micros += (long) line;
      count += (long) q;
    }
    return new Decoded(new Invoice(country.textValue(), ts, isReturn ? -micros : micros, isReturn), null, null, bytes);
  }

  /** Epoch ms, or Long.MIN_VALUE when the text is not a real instant. */
  static long parseTimestamp(String text) {
    Matcher m = TIMESTAMP.matcher(text);
    if (!m.matches()) return Long.MIN_VALUE;
    try {
      int nanos = 0;
      if (m.group(7) != null) nanos = Integer.parseInt((m.group(7) + "000").substring(0, 3)) * 1_000_000;
      LocalDateTime t = LocalDateTime.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
          Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)), Integer.parseInt(m.group(6)), nanos);
      int offsetMin = 0;
      String zone = m.group(8);
      if (zone != null && !zone.equals("Z")) {
        String digits = zone.substring(1).replace(":", "");
        int oh = Integer.parseInt(digits.substring(0, 2));
        int om = digits.length() > 2 ? Integer.parseInt(digits.substring(2, 4)) : 0;
        if (oh > 23 || om > 59) return Long.MIN_VALUE;
        offsetMin = (zone.charAt(0) == '-' ? -1 : 1) * (oh * 60 + om);
      }
      return t.toInstant(ZoneOffset.UTC).toEpochMilli() - offsetMin * 60_000L;
    } catch (DateTimeException | NumberFormatException e) {
      return Long.MIN_VALUE;
    }
  }

  /**
   * Event time from the decoded invoice. An invalid record says nothing about event time: it
   * gets the partition's time so far (never moving stream time, as retail-streams leaves it
   * alone), or 0 before any, since a negative time would make Kafka Streams drop the record
   * before it reaches the dead-letter branch.
   */
  static final class EventTime implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      if (record.value() instanceof Decoded d && d.invoice() != null) return d.invoice().timestamp();
      return Math.max(0, partitionTime);
    }
  }

  /** Source-side only: decoding never throws, so a bad record never stops the pipeline. */
  static Serde<Decoded> decodedSerde() {
    Serializer<Decoded> ser = (topic, d) -> d == null ? null : d.raw();
    Deserializer<Decoded> de = (topic, bytes) -> decode(bytes);
    return Serdes.serdeFrom(ser, de);
  }

  /** The repartitioned value: country, event time, total in micros, return flag. */
  static Serde<Invoice> invoiceSerde() {
    Serializer<Invoice> ser = (topic, v) -> {
      if (v == null) return null;
      byte[] c = utf8(v.country());
      return ByteBuffer.allocate(17 + c.length).putLong(v.timestamp()).putLong(v.totalMicros()).put((byte) (v.isReturn() ? 1 : 0)).put(c).array();
    };
    Deserializer<Invoice> de = (topic, bytes) -> {
      if (bytes == null) return null;
      ByteBuffer b = ByteBuffer.wrap(bytes);
      long ts = b.getLong();
      long micros = b.getLong();
      boolean ret = b.get() == 1;
      return new Invoice(new String(bytes, 17, bytes.length - 17, StandardCharsets.UTF_8), ts, micros, ret);
    };
    return Serdes.serdeFrom(ser, de);
  }
}
