package retailstreams.peer;

import java.util.HashMap;
import java.util.Map;

/** `--name value` pairs. */
final class Args {
  private Args() {}

  static Map<String, String> parse(String[] args) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) usage("bad argument " + args[i]);
      out.put(args[i].substring(2), args[++i]);
    }
    return out;
  }

  static String required(Map<String, String> a, String name) {
    String v = a.get(name);
    if (v == null || v.isEmpty()) usage("--" + name + " is required");
    return v;
  }

  private static void usage(String why) {
    System.err.println("kafka-streams-peer: " + why);
    System.err.println("usage: KpiPeer --bootstrap H:P --application-id ID --input TOPIC [--mode dsl|papi] [--output-prefix peer-] "
        + "[--window-ms 60000] [--grace-ms 600000] [--threads 1] [--commit-ms 200 (dsl)] [--flush-ms 100 (papi)] [--state-dir DIR] "
        + "[--max-poll-records 10000] [--cache-bytes 67108864]");
    System.exit(2);
  }
}
