// One KRaft node in one JVM: formats the node's storage first when asked, then runs kafka.Kafka.
// Formatting in the broker's own JVM saves a whole JVM start (class loading) per node, the largest
// share of a test cluster's start on a 2-core machine. kafka.sh compiles this into .cache/kafka and
// falls back to a separate kafka.tools.StorageTool run when javac is missing.
//
//   java -cp ... KafkaNode [--format STORAGE-TOOL-ARGS... --] server.properties
import java.util.Arrays;

public final class KafkaNode {
    public static void main(String[] args) throws Exception {
        int from = 0;
        if (args.length > 0 && args[0].equals("--format")) {
            int end = Arrays.asList(args).indexOf("--");
            if (end < 0) {
                System.err.println("KafkaNode: --format ARGS... must end with --");
                System.exit(2);
            }
            int rc;
            try {
                rc = kafka.tools.StorageTool.execute(Arrays.copyOfRange(args, 1, end), System.out);
            } catch (Throwable t) {
                System.err.println("KafkaNode: formatting storage failed: " + t);
                rc = 1;
            }
            if (rc != 0) {
                System.err.println("KafkaNode: formatting storage failed (exit " + rc + ")");
                System.exit(rc);
            }
            from = end + 1;
        }
        kafka.Kafka.main(Arrays.copyOfRange(args, from, args.length));
    }
}
