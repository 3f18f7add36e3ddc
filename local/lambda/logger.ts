/**
 * The little logging the event-source emulation needs. Method-shaped so that a Powertools `Logger`
 * and `console` both fit.
 */
export interface LocalLambdaLogger {
  debug(message: string, attributes: Record<string, unknown>): void;
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/**
 * Default: warnings and errors as one JSON line each on stderr, nothing else. A failing handler or
 * an unreachable queue must be visible even when the caller forgot to pass a logger.
 */
export const stderrLogger: LocalLambdaLogger = {
  debug() {},
  info() {},
  warn(message, attributes) {
    console.error(JSON.stringify({ level: 'WARN', message, ...attributes }));
  },
  error(message, attributes) {
    console.error(JSON.stringify({ level: 'ERROR', message, ...attributes }));
  },
};

/** An error as plain attributes for a structured log line (an Error's fields are not enumerable). */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message };
  return { errorName: typeof error, errorMessage: String(error) };
}
