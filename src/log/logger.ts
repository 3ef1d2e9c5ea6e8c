import { pino, type Logger } from 'pino';

export type { Logger };

/** Never let credentials reach a log line, whatever object carries them. */
const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'signing_secret',
  '*.signing_secret',
  'signingSecret',
  '*.signingSecret',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
  'apiKey',
  '*.apiKey',
];

export interface LoggerOptions {
  level: string;
  pretty?: boolean;
  name?: string;
}

export function createLogger({ level, pretty = false, name = 'humiris-webhooks' }: LoggerOptions): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
