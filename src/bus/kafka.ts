import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../log/logger.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** One kafkajs client per process, logging through pino. */
export function createKafka(brokers: string[], logger: Logger, clientId = 'humiris-webhooks'): Kafka {
  const log = logger.child({ component: 'kafka' });
  return new Kafka({
    clientId,
    brokers,
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info'](rest, message);
      },
    retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
  });
}
