/** The one logger: leveled lines on stderr, so stdout stays for data and tables. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Lines at `level` and above. The level comes from the caller (the CLI reads `RS_LOG_LEVEL`). */
export function createLogger(name: string, level: LogLevel): Logger {
  const min = ORDER[level];
  const write = (l: LogLevel, message: string) => {
    if (ORDER[l] < min) return;
    process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} [${name}] ${message}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}

/** For a caller that gave no logger. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
