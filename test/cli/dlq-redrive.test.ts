import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { kafkaBrokers, mongodbUri } from '../helpers/servers.js';
import { settle, until } from '../helpers/wait.js';

const exec = promisify(execFile);
// One retry a second after the first attempt: a delivery to a failing endpoint is dead-lettered within seconds.
const api = await startTestApi('dlq-redrive', { WEBHOOKS_RETRY_SCHEDULE: '1s', WEBHOOKS_REQUEST_TIMEOUT: '2s' }, [...ALL_ROLES]);

/** `humiris-webhooks dlq redrive …` against the test service's topics and database; its counts by name. */
async function redrive(...args: string[]): Promise<{ counts: Record<string, number>; stdout: string }> {
  const { stdout } = await exec('node', ['bin/humiris-webhooks.js', 'dlq', 'redrive', ...args], {
    env: {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      MONGODB_URI: mongodbUri(),
      MONGODB_DATABASE: api.config.mongodbDatabase,
      WEBHOOKS_TOPIC_PREFIX: api.config.topicPrefix,
      WEBHOOKS_RETRY_SCHEDULE: '1s',
    },
    timeout: 120_000,
  });
  const counts = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split(' ').slice(0, 2)).map(([name, n]) => [name, Number(n)]));
  return { counts, stdout };
}

async function status(key: string, webhookId: string, deliveryId: string): Promise<string> {
  return (await api.rest('GET', `/v1/webhooks/${webhookId}/deliveries/${deliveryId}`, key)).json.status;
}

describe('humiris-webhooks dlq redrive', () => {
  it('counts in a dry run without sending, then queues each dead-lettered delivery once, skipping one that succeeded since', async () => {
    const receiver = await startReceiver(() => ({ status: 500 }));
    const key = await api.newKey();
    const webhook = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['*'] });
    const other = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['*'] });
    const webhookId = webhook.json.id as string;
    // Four test events to the webhook, one to the other: each fails twice and is dead-lettered.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await api.rest('POST', `/v1/webhooks/${webhookId}/test`, key, {})).json.id);
    const otherId = (await api.rest('POST', `/v1/webhooks/${other.json.id}/test`, key, {})).json.id as string;
    for (const id of ids) await until(`${id} failed`, async () => ((await status(key, webhookId, id)) === 'failed' ? true : undefined), 60_000);
    await until(`${otherId} failed`, async () => ((await status(key, other.json.id, otherId)) === 'failed' ? true : undefined), 60_000);
    expect(receiver.requests).toHaveLength(10);

    // One of them is replayed by hand and succeeds.
    receiver.reply = () => ({ status: 200 });
    expect((await api.rest('POST', `/v1/webhooks/${webhookId}/deliveries/${ids[0]}/retry`, key, {})).status).toBe(200);
    await until('the replay succeeded', async () => ((await status(key, webhookId, ids[0]!)) === 'succeeded' ? true : undefined));
    const before = receiver.requests.length;

    // The dead-letter records may still be on their way: wait until all five are read.
    const dry = await until('five dead letters', async () => {
      const run = await redrive('--webhook', webhookId, '--dry-run');
      return run.counts.read === 5 ? run : undefined;
    }, 60_000);
    expect(dry.counts).toMatchObject({ read: 5, matched: 4, 'skipped-succeeded': 1, 'skipped-other': 0, requeued: 0 });
    expect(dry.stdout).toContain('dry run: 3 would be requeued');
    await settle(2_000);
    expect(receiver.requests).toHaveLength(before);
    for (const id of ids.slice(1)) expect(await status(key, webhookId, id)).toBe('failed');

    // A window that ends before the failures matches none of them; one that starts an hour ago, all.
    expect((await redrive('--webhook', webhookId, '--until', '2000-01-01T00:00:00Z', '--dry-run')).counts).toMatchObject({ read: 5, matched: 0 });

    const real = await redrive('--webhook', webhookId, '--since', '1h');
    expect(real.counts).toMatchObject({ read: 5, matched: 4, 'skipped-succeeded': 1, 'skipped-other': 0, requeued: 3 });
    await receiver.waitFor(before + 3);
    await settle(2_000);
    const sent = receiver.requests.slice(before).map((r) => String(r.headers['x-humiris-delivery']));
    expect(sent.sort()).toEqual(ids.slice(1).sort());
    for (const id of ids) await until(`${id} succeeded`, async () => ((await status(key, webhookId, id)) === 'succeeded' ? true : undefined));
    // The other webhook's delivery was not touched.
    expect(await status(key, other.json.id, otherId)).toBe('failed');

    // Again: every one of them succeeded since, so nothing is sent.
    expect((await redrive('--webhook', webhookId)).counts).toMatchObject({ matched: 4, 'skipped-succeeded': 4, requeued: 0 });
    await settle(1_000);
    expect(receiver.requests).toHaveLength(before + 3);
  }, 300_000);

  it('refuses a time it cannot read', async () => {
    const failed = await redrive('--since', 'yesterday').then(() => null, (error) => error);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('--since takes an ISO 8601 time (2026-11-26T10:00:00Z) or a duration ago (2h), got "yesterday"');
  });
});
