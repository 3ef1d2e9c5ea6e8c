import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deadLetterRecord } from '../../src/bus/task-queue.js';
import { kafkaBrokers, mongodbUri, useKafka } from '../helpers/servers.js';

const exec = promisify(execFile);
const kafka = await useKafka('dlq-cli');

describe('humiris-webhooks dlq', () => {
  it('prints each dead letter with its headers, then exits', async () => {
    const topic = `${kafka.prefix}.webhooks.dlq`;
    await kafka.createTopics([{ topic, numPartitions: 2 }]);
    const producer = await kafka.producer();
    const startedAt = new Date('2026-01-01T00:00:00Z');
    const letters = ['dlv_a', 'dlv_b', 'dlv_c'].map((deliveryId) =>
      deadLetterRecord(
        {
          task: {
            deliveryId,
            webhookId: 'whk_1',
            workspace: 'acme',
            eventId: 'evt_1',
            eventType: 'card.refund',
            agent: null,
            payload: '{"id":"evt_1","type":"card.refund","created_at":"2026-01-01T00:00:00.000Z","agent":null,"data":{}}',
            attempt: 6,
            dueAt: 0,
            manual: false,
            attempts: [],
            createdAt: startedAt.getTime(),
          },
          attempts: [{ number: 1, startedAt, durationMs: 5, responseStatus: 500, responseBodyExcerpt: '', error: 'status 500', manual: false }],
          failedAt: startedAt,
          lastError: 'status 500',
        },
        `${kafka.prefix}.events.card.refund`,
      ),
    );
    await producer.send({ topic, messages: letters });

    const { stdout } = await exec('node', ['bin/humiris-webhooks.js', 'dlq'], {
      env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), MONGODB_URI: mongodbUri(), WEBHOOKS_TOPIC_PREFIX: kafka.prefix },
      timeout: 60_000,
    });
    const records = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(records.map((r) => r.value.delivery.id).sort()).toEqual(['dlv_a', 'dlv_b', 'dlv_c']);
    expect(records[0]).toMatchObject({
      key: 'whk_1',
      headers: { 'x-humiris-error': 'status 500', 'x-humiris-attempts': '1', 'x-humiris-original-topic': `${kafka.prefix}.events.card.refund` },
      value: { workspace: 'acme', last_error: 'status 500', event: { id: 'evt_1' } },
    });
  });
});
