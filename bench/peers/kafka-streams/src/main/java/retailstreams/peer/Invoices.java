package retailstreams.peer;

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

  static Decoded decode(byte[] bytes) {
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

  /** Event time from the decoded invoice; an invalid record keeps its broker timestamp. */
  static final class EventTime implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      if (record.value() instanceof Decoded d && d.invoice() != null) return d.invoice().timestamp();
      return record.timestamp() >= 0 ? record.timestamp() : Math.max(0, partitionTime);
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
