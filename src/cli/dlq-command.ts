import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createKafka } from '../bus/kafka.js';
import { topicNames } from '../bus/topics.js';
import type { Config } from '../config/config.js';
import { createLogger } from '../log/logger.js';
import { withServers } from './servers.js';

export const DLQ_USAGE = `Usage: humiris-webhooks dlq [--follow] [--limit N]

  Prints the dead-letter topic, oldest first: one JSON object per record with its
  offset, key (the webhook id), headers and value. --follow keeps waiting for more.
`;

/** Reads the dead-letter topic without joining any group of the service (nothing is committed). */
export async function dlqCommand(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { follow: { type: 'boolean' }, limit: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(DLQ_USAGE);
    return 0;
  }
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!Number.isInteger(limit) && limit !== Infinity) throw new TypeError(`--limit takes a whole number, got "${values.limit}"`);

  const servers = await withServers(config, (line) => process.stderr.write(`${line}\n`));
  const topic = topicNames(config.topicPrefix, config.retrySchedule).dlq;
  const kafka = createKafka(servers.kafkaBrokers, createLogger({ level: 'error' }), 'humiris-dlq-reader');
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).catch(() => []);
  await admin.disconnect();
  // Read up to each partition's end as of now, from its first record still kept (retention removes older ones).
  const end = new Map(ends.map((p) => [p.partition, Number(p.high)]));
  const position = new Map(ends.map((p) => [p.partition, Number(p.low)]));
  const caughtUp = () => [...end].every(([partition, high]) => (position.get(partition) ?? 0) >= high);
  // Nothing to print (no topic, or an empty one) and nothing to wait for.
  if (!values.follow && caughtUp()) return 0;

  const consumer = kafka.consumer({ groupId: `humiris-dlq-reader-${randomBytes(4).toString('hex')}` });
  let printed = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (printed >= limit) return resolve();
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          let value: unknown = message.value?.toString('utf8');
          try {
            value = JSON.parse(String(value));
          } catch {
            // Printed as text.
          }
          process.stdout.write(`${JSON.stringify({ partition, offset: message.offset, key: message.key?.toString(), headers, value })}\n`);
          printed++;
          position.set(partition, Number(message.offset) + 1);
          if (printed >= limit || (!values.follow && caughtUp())) resolve();
        },
      });
      if (values.follow) {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      }
    });
  } finally {
    await consumer.disconnect();
  }
  return 0;
}
