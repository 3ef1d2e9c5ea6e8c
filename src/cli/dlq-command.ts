import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../bus/kafka.js';
import { topicNames } from '../bus/topics.js';
import type { Config } from '../config/config.js';
import { createLogger } from '../log/logger.js';
import { dlqRedrive, REDRIVE_USAGE } from './dlq-redrive.js';
import { withServers } from './servers.js';

export const DLQ_USAGE = `Usage: humiris-webhooks dlq [--follow] [--limit N]
       humiris-webhooks dlq redrive [--webhook ID] [--since T] [--until T] [--dry-run]

  Prints the dead-letter topic, oldest first: one JSON object per record with its
  offset, key (the webhook id), headers and value. --follow keeps waiting for more.
  redrive queues one more attempt of dead-lettered deliveries (redrive --help).
`;

/** One dead-letter record as printed: headers as text, the value parsed when it is JSON. */
export interface DeadLetterLine {
  partition: number;
  offset: string;
  key: string | undefined;
  headers: Record<string, string>;
  value: unknown;
}

/**
 * Reads the dead-letter topic from its first record still kept, without joining any group of the
 * service (nothing is committed): up to each partition's end as of now, or on and on with `follow`
 * until a signal. `each` returns false to stop early.
 */
export async function readDeadLetters(kafka: Kafka, topic: string, follow: boolean, each: (line: DeadLetterLine) => boolean | void): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).catch(() => []);
  await admin.disconnect();
  const end = new Map(ends.map((p) => [p.partition, Number(p.high)]));
  const position = new Map(ends.map((p) => [p.partition, Number(p.low)]));
  const caughtUp = () => [...end].every(([partition, high]) => (position.get(partition) ?? 0) >= high);
  // Nothing to read (no topic, or an empty one) and nothing to wait for.
  if (!follow && caughtUp()) return;

  const consumer = kafka.consumer({ groupId: `humiris-dlq-reader-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      let done = false;
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (done) return;
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          let value: unknown = message.value?.toString('utf8');
          try {
            value = JSON.parse(String(value));
          } catch {
            // Kept as text.
          }
          const more = each({ partition, offset: message.offset, key: message.key?.toString(), headers, value });
          position.set(partition, Number(message.offset) + 1);
          if (more === false || (!follow && caughtUp())) {
            done = true;
            resolve();
          }
        },
      });
      if (follow) {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      }
    });
  } finally {
    await consumer.disconnect();
  }
}

export async function dlqCommand(config: Config, args: string[]): Promise<number> {
  if (args[0] === 'redrive') return dlqRedrive(config, args.slice(1));
  const { values } = parseArgs({ args, options: { follow: { type: 'boolean' }, limit: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(`${DLQ_USAGE}\n${REDRIVE_USAGE}`);
    return 0;
  }
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!Number.isInteger(limit) && limit !== Infinity) throw new TypeError(`--limit takes a whole number, got "${values.limit}"`);
  if (limit <= 0) return 0;

  const servers = await withServers(config, (line) => process.stderr.write(`${line}\n`));
  const topic = topicNames(config.topicPrefix, config.retrySchedule).dlq;
  const kafka = createKafka(servers.kafkaBrokers, createLogger({ level: 'error' }), { clientId: 'humiris-dlq-reader' });
  let printed = 0;
  await readDeadLetters(kafka, topic, values.follow ?? false, (line) => {
    process.stdout.write(`${JSON.stringify(line)}\n`);
    return ++printed < limit;
  });
  return 0;
}
