import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../log/logger.js';
import { SettlingErrors } from './kafka-log.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** One kafkajs client per process, logging through pino; errors of a settling broker or topic stay at debug unless they persist. */
export function createKafka(brokers: string[], logger: Logger, clientId = 'humiris-webhooks'): Kafka {
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
