/** The daemon's logger (pino): JSON lines on stderr, with every registered secret redacted. */
import pino, { type Logger } from 'pino';
import { redact } from './redact.ts';

export { redact, registerSecret } from './redact.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The daemon's logger: JSON lines on stderr, secrets redacted. */
export function createLogger(level: Level, destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  return pino(
    {
      name: 'ccm-sync',
      level,
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === 'string' ? redact(a) : a)) as Parameters<typeof method>,
          );
        },
      },
      formatters: {
        log(obj) {
          return JSON.parse(redact(JSON.stringify(obj))) as Record<string, unknown>;
        },
      },
    },
    destination,
  );
}

export type { Logger };
