package retailstreams.peer;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** A window's accumulator (exact integers) and its KPI JSON, rounded as processors/kpi.ts rounds. */
final class Kpi {
  final long invoices;
  final long returns;
  final long micros;

  Kpi() {
    this(0, 0, 0);
  }

  Kpi(long invoices, long returns, long micros) {
    this.invoices = invoices;
    this.returns = returns;
    this.micros = micros;
  }

  Kpi plus(Invoices.Invoice v) {
    return new Kpi(invoices + 1, returns + (v.isReturn() ? 1 : 0), micros + v.totalMicros());
  }

  Kpi plus(long moreInvoices, long moreReturns, long moreMicros) {
    return new Kpi(invoices + moreInvoices, returns + moreReturns, micros + moreMicros);
  }

  /** numerator / denominator rounded half away from zero. */
  private static BigInteger roundDiv(BigInteger n, BigInteger d) {
    boolean negative = n.signum() < 0 != d.signum() < 0;
    BigInteger q = n.abs().shiftLeft(1).add(d.abs()).divide(d.abs().shiftLeft(1));
    return negative ? q.negate() : q;
  }

  private static String money(long micros, long divisor) {
    BigInteger cents = roundDiv(BigInteger.valueOf(micros), BigInteger.valueOf(divisor).multiply(BigInteger.valueOf(10_000)));
    return decimal(cents, 2);
  }

  private static String rate(long returns, long invoices) {
    return decimal(roundDiv(BigInteger.valueOf(returns).multiply(BigInteger.valueOf(10_000)), BigInteger.valueOf(invoices)), 4);
  }

  /**
   * unscaled / 10^scale as JavaScript prints Number(unscaled) / 10^scale: no trailing zeros, no
   * exponent (Double.toString would write 1.8E7 for a busy window's volume). Exact for any
   * amount below 2^53 cents, where the double's shortest form is this decimal.
   */
  private static String decimal(BigInteger unscaled, int scale) {
    return new BigDecimal(unscaled, scale).stripTrailingZeros().toPlainString();
  }

  private static String window(long start, long end) {
    return "{\"start\":\"" + KpiPeer.iso(start) + "\",\"end\":\"" + KpiPeer.iso(end) + "\"}";
  }

  String timeJson(long start, long end) {
    return "{\"window\":" + window(start, end) + ",\"OPM\":" + invoices + ",\"total_sale_volume\":" + money(micros, 1)
        + ",\"average_transaction_size\":" + money(micros, invoices) + ",\"rate_of_return\":" + rate(returns, invoices) + "}";
  }

  String countryJson(long start, long end, String country) {
    StringBuilder c = new StringBuilder("\"");
    for (char ch : country.toCharArray()) {
      if (ch == '"' || ch == '\\') c.append('\\').append(ch);
      else if (ch < 0x20) c.append(String.format("\\u%04x", (int) ch));
      else c.append(ch);
    }
    c.append('"');
    return "{\"window\":" + window(start, end) + ",\"country\":" + c + ",\"OPM\":" + invoices + ",\"total_sale_volume\":" + money(micros, 1)
        + ",\"rate_of_return\":" + rate(returns, invoices) + "}";
  }

  static Serde<Kpi> serde() {
    Serializer<Kpi> ser = (topic, k) -> k == null ? null : ByteBuffer.allocate(24).putLong(k.invoices).putLong(k.returns).putLong(k.micros).array();
    Deserializer<Kpi> de = (topic, b) -> {
      if (b == null) return null;
      ByteBuffer buf = ByteBuffer.wrap(b);
      return new Kpi(buf.getLong(), buf.getLong(), buf.getLong());
    };
    return Serdes.serdeFrom(ser, de);
  }
}
