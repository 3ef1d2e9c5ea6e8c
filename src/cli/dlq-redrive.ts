import { parseArgs } from 'node:util';
import { createKafka } from '../bus/kafka.js';
import { KafkaTaskQueue } from '../bus/task-queue.js';
import { topicNames } from '../bus/topics.js';
import type { Config } from '../config/config.js';
import { parseDuration } from '../domain/duration.js';
import { createLogger } from '../log/logger.js';
import { PipelineActions } from '../pipeline/delivery-actions.js';
import type { DeliveryRecord } from '../pipeline/ports.js';
import { DeliveryStore } from '../store/delivery-store.js';
import { connectMongo } from '../store/mongo.js';
import { ReplayClaimStore } from '../store/replay-claims.js';
import { readDeadLetters } from './dlq-command.js';
import { withServers } from './servers.js';

export const REDRIVE_USAGE = `Usage: humiris-webhooks dlq redrive [--webhook ID] [--since T] [--until T] [--dry-run]

  Queues one more (manual) attempt of each delivery in the dead-letter topic, read up to
  its end as of now: of one webhook with --webhook, dead-lettered at or after --since and
  before --until (an ISO 8601 time such as 2026-11-26T10:00:00Z, or a duration ago such as
  2h). A delivery that succeeded since it was dead-lettered is skipped, as is one whose
  replay is in progress or whose record is no longer kept; a delivery dead-lettered twice is
  queued once. --dry-run counts what would be queued and changes nothing. Prints the counts:
  read, matched, skipped-succeeded, skipped-other, requeued.
`;

/** `2026-11-26T10:00:00Z`, or a duration before now (`2h`). */
function timeArg(name: string, text: string | undefined, now: number): Date | null {
  if (text === undefined) return null;
  if (/^\d+(ms|s|m|h|d)$/.test(text.trim())) return new Date(now - parseDuration(text));
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim()) || Number.isNaN(ms)) {
    throw new TypeError(`--${name} takes an ISO 8601 time (2026-11-26T10:00:00Z) or a duration ago (2h), got "${text}"`);
  }
  return new Date(ms);
}

interface Letter {
  deliveryId: string;
  webhookId: string;
  failedAt: number;
}

/** The delivery a dead-letter record is about, or null for a record that is not one of ours. */
function letterOf(key: string | undefined, headers: Record<string, string>, value: unknown): Letter | null {
  const v = value as { delivery?: { id?: unknown }; webhook_id?: unknown; failed_at?: unknown } | null;
  const deliveryId = typeof v?.delivery?.id === 'string' ? v.delivery.id : headers['x-humiris-delivery'];
  const webhookId = typeof v?.webhook_id === 'string' ? v.webhook_id : (headers['x-humiris-webhook'] ?? key);
  const failedAt = typeof v?.failed_at === 'string' ? Date.parse(v.failed_at) : NaN;
  if (!deliveryId || !webhookId || Number.isNaN(failedAt)) return null;
  return { deliveryId, webhookId, failedAt };
}

export interface RedriveCounts {
  read: number;
  matched: number;
  skippedSucceeded: number;
  skippedOther: number;
  requeued: number;
}

export async function dlqRedrive(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { webhook: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(REDRIVE_USAGE);
    return 0;
  }
  const now = Date.now();
  let since: Date | null;
  let until: Date | null;
  try {
    since = timeArg('since', values.since, now);
    until = timeArg('until', values.until, now);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${REDRIVE_USAGE}`);
    return 2;
  }
  const dryRun = values['dry-run'] ?? false;

  const servers = await withServers(config, (line) => process.stderr.write(`${line}\n`));
  const topics = topicNames(config.topicPrefix, config.retrySchedule);
  const logger = createLogger({ level: 'error' });
  const kafka = createKafka(servers.kafkaBrokers, logger, { clientId: 'humiris-dlq-redrive' });

  const counts: RedriveCounts = { read: 0, matched: 0, skippedSucceeded: 0, skippedOther: 0, requeued: 0 };
  // Many records of one delivery (dead-lettered, replayed by hand, dead-lettered by a later chain) make one attempt.
  const matched = new Set<string>();
  await readDeadLetters(kafka, topics.dlq, false, ({ key, headers, value }) => {
    counts.read++;
    const letter = letterOf(key, headers, value);
    if (!letter) return;
    if (values.webhook !== undefined && letter.webhookId !== values.webhook) return;
    if ((since && letter.failedAt < since.getTime()) || (until && letter.failedAt >= until.getTime())) return;
    counts.matched++;
    matched.add(letter.deliveryId);
  });

  const mongo = await connectMongo(servers.mongodbUri, config.mongodbDatabase);
  try {
    const store = new DeliveryStore(mongo.db);
    // Read as they stand now: one that succeeded since (a replay, a recovery) is not sent again.
    const states = await store.byIds([...matched]);
    const failed: DeliveryRecord[] = [];
    for (const state of states) {
      if (state.status === 'succeeded') counts.skippedSucceeded++;
      else if (state.status === 'failed') failed.push(state);
    }
    // Not failed nor succeeded (a replay in progress), or no record kept of it, or the same delivery again.
    counts.skippedOther = counts.matched - counts.skippedSucceeded - failed.length;
    if (dryRun) {
      print(counts, `requeued 0 (dry run: ${failed.length} would be requeued)`);
      return 0;
    }
    const queue = new KafkaTaskQueue(kafka, topics);
    await queue.connect();
    try {
      const { queued } = await new PipelineActions(store, queue, new ReplayClaimStore(mongo.db)).retryMany(failed);
      counts.requeued = queued.length;
      counts.skippedOther += failed.length - queued.length;
    } finally {
      await queue.close();
    }
    print(counts, `requeued ${counts.requeued}`);
    return 0;
  } finally {
    await mongo.client.close();
  }
}

function print(counts: RedriveCounts, last: string): void {
  process.stdout.write(
    [`read ${counts.read}`, `matched ${counts.matched}`, `skipped-succeeded ${counts.skippedSucceeded}`, `skipped-other ${counts.skippedOther}`, last].join('\n') + '\n',
  );
}
