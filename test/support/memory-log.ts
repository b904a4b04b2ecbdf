import type { Logger } from '../../topology/api/log.ts';

/** A logger that keeps its lines (`<level> <message>`), for tests that assert on what was logged. */
export function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log: Logger = {
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
  return { log, lines };
}
