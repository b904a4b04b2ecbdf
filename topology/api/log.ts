/** The one logger: leveled lines on stderr, so stdout stays for data and tables. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(name: string, level: LogLevel = (process.env.RS_LOG_LEVEL as LogLevel | undefined) ?? 'info'): Logger {
  const min = ORDER[level] ?? ORDER.info;
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
