import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../log/logger.js';
import { SettlingErrors } from './kafka-log.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/**
 * kafkajs 2.2.4 arms a negative timeout after each response (its request queue starts with
 * throttledUntil = -1). Node has always run those after 1 ms; Node 24 also prints a
 * TimeoutNegativeWarning each time. Only that warning, and only when kafkajs set the timer, is dropped.
 */
let negativeTimeoutsQuieted = false;
function quietKafkajsNegativeTimeouts(): void {
  if (negativeTimeoutsQuieted) return;
  negativeTimeoutsQuieted = true;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'TimeoutNegativeWarning' && /[\\/]kafkajs[\\/]/.test(new Error().stack ?? '')) return;
    return (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
}

/** One kafkajs client per process, logging through pino; errors of a settling broker or topic stay at debug unless they persist. */
export function createKafka(brokers: string[], logger: Logger, clientId = 'humiris-webhooks'): Kafka {
  quietKafkajsNegativeTimeouts();
  const log = logger.child({ component: 'kafka' });
  const settling = new SettlingErrors();
  return new Kafka({
    clientId,
    brokers,
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const { level: as, failingForMs } = settling.level(LEVELS[level] ?? 'info', [message, rest.error]);
        log[as](failingForMs === undefined ? rest : { ...rest, failingForMs }, message);
      },
    retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
  });
}
