// Real Apache Kafka (KRaft) for tests: wraps infra/kafka/kafka.sh, which runs the brokers as plain
// Java processes from jars cached in .cache/kafka (fetched from Maven Central on first use).
//
//   const kafka = await startKafka({ brokers: 3 });
//   ... kafka.bootstrap ...            // ["127.0.0.1:P1", "127.0.0.1:P2", "127.0.0.1:P3"]
//   await kafka.stopNode(2, { kill: true }); await kafka.startNode(2);
//   await kafka.stop();
//
// Brokers never outlive the test process: stop() ends them, an 'exit' hook SIGKILLs what is left,
// and kafka.sh's watchdog (--owner-pid) SIGKILLs them and removes the dir if this process dies
// without running its hooks (SIGKILL, a signal, a crash). RETAIL_STREAMS_KEEP_KAFKA=1 keeps the
// cluster dir (logs, data) after stop() for a post-mortem.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** What `kafka.sh start-secure` made for the run (DIR/secure/): the CA, the users and their passwords. */
export interface SecureCluster {
  /** PEM of the CA that signed the broker certificate, and its file. */
  readonly ca: string;
  readonly caFile: string;
  /** A client certificate and key of that CA (PEM files). */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** The super user. */
  readonly admin: { readonly username: string; readonly password: string; readonly propertiesFile: string };
  /** The application's user, with no ACL until a test grants some. */
  readonly app: { readonly username: string; readonly password: string; readonly propertiesFile: string; readonly passwordFile: string };
}

export interface KafkaCluster {
  readonly bootstrap: string[];
  readonly dir: string;
  /** Set when started with `secure: true`: the only listener is SASL_SSL, with ACLs enforced. */
  readonly secure?: SecureCluster;
  /** Runs a Kafka tool of kafka.sh (`acls`, `topics`, `configs`) against this cluster, as the super user when secure. */
  tool(name: 'acls' | 'topics' | 'configs', args: readonly string[]): Promise<string>;
  stop(): Promise<void>;
  stopNode(id: number, opts?: { kill?: boolean }): Promise<void>;
  startNode(id: number): Promise<void>;
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const script = join(repoRoot, "infra", "kafka", "kafka.sh");

// first use may download the jars and build the class-data archive
const START_TIMEOUT_MS = 10 * 60_000;
const STOP_TIMEOUT_MS = 60_000;

const liveDirs = new Set<string>();
let exitHookInstalled = false;

function runScript(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [script, ...args],
      { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`infra/kafka/kafka.sh ${args[0] ?? ""} failed: ${error.message}\n${stderr}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** PIDs in DIR/node-N.pid whose process really is that node (guards against reused PIDs). */
function nodePids(dir: string): number[] {
  const pids: number[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return pids;
  }
  for (const name of names) {
    const m = /^node-(\d+)\.pid$/.exec(name);
    if (!m) continue;
    try {
      const pid = Number(readFileSync(join(dir, name), "utf8").trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (pid > 0 && cmdline.includes(join(dir, `node-${m[1]}.properties`))) pids.push(pid);
    } catch {
      // gone already
    }
  }
  return pids;
}

function killAllSync(): void {
  for (const dir of liveDirs) {
    for (const pid of nodePids(dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (process.env.RETAIL_STREAMS_KEEP_KAFKA !== "1") {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // the watchdog removes it too
      }
    }
  }
  liveDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", killAllSync);
}

/** `secure: true`: `kafka.sh start-secure` (one node, SASL_SSL, a CA made for the run, StandardAuthorizer). */
export async function startKafka(opts?: { brokers?: 1 | 3; secure?: boolean }): Promise<KafkaCluster> {
  const brokers = opts?.brokers ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "retail-streams-kafka-"));
  installExitHook();
  liveDirs.add(dir);
  let stdout: string;
  try {
    stdout = await runScript(
      // --fast-start: C1-only JIT, quicker start and less CPU on 2 cores (benchmarks start their own)
      [opts?.secure === true ? "start-secure" : "start", "--dir", dir, "--brokers", String(brokers), "--fast-start",
        "--owner-pid", String(process.pid), "--owner-rm"],
      START_TIMEOUT_MS,
    );
  } catch (err) {
    liveDirs.delete(dir);
    for (const pid of nodePids(dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    if (process.env.RETAIL_STREAMS_KEEP_KAFKA !== "1") rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const lines = stdout.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  const bootstrap = last.split(",").filter((s) => /^127\.0\.0\.1:\d+$/.test(s));
  if (bootstrap.length !== brokers) {
    throw new Error(`infra/kafka/kafka.sh start printed no bootstrap list: ${JSON.stringify(stdout)}`);
  }

  let secure: SecureCluster | undefined;
  if (opts?.secure === true) {
    const sd = join(dir, "secure");
    const env = new Map(readFileSync(join(sd, "credentials.env"), "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    const get = (k: string) => env.get(k) ?? (() => { throw new Error(`no ${k} in ${sd}/credentials.env`); })();
    secure = {
      ca: readFileSync(join(sd, "ca.pem"), "utf8"),
      caFile: join(sd, "ca.pem"),
      clientCertFile: join(sd, "client.pem"),
      clientKeyFile: join(sd, "client.key"),
      admin: { username: get("ADMIN_USER"), password: get("ADMIN_PASSWORD"), propertiesFile: join(sd, "admin.properties") },
      app: { username: get("APP_USER"), password: get("APP_PASSWORD"), propertiesFile: join(sd, "retail.properties"), passwordFile: join(sd, "retail.password") },
    };
  }
  let stopped = false;
  const cluster: KafkaCluster = {
    bootstrap,
    dir,
    ...(secure === undefined ? {} : { secure }),
    tool: (name, args) => runScript([name, "--dir", dir, ...args], START_TIMEOUT_MS),
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        await runScript(["stop", "--dir", dir], STOP_TIMEOUT_MS);
      } finally {
        liveDirs.delete(dir);
        if (process.env.RETAIL_STREAMS_KEEP_KAFKA !== "1") rmSync(dir, { recursive: true, force: true });
      }
    },
    async stopNode(id: number, o?: { kill?: boolean }): Promise<void> {
      if (stopped) throw new Error("kafka cluster already stopped");
      const args = ["stop-node", "--dir", dir, "--id", String(id)];
      if (o?.kill) args.push("--kill");
      await runScript(args, STOP_TIMEOUT_MS);
    },
    async startNode(id: number): Promise<void> {
      if (stopped) throw new Error("kafka cluster already stopped");
      await runScript(["start-node", "--dir", dir, "--id", String(id)], START_TIMEOUT_MS);
    },
  };
  return cluster;
}
